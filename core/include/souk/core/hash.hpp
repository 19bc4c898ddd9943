#pragma once

#include <string>
#include <string_view>

namespace souk {

/// SHA-256 of `data`, lowercase hex (64 characters). Thread-safe.
std::string sha256_hex(std::string_view data);

} // namespace souk
