#pragma once

#include <cstddef>
#include <string>

namespace souk {

/// A new UUIDv7 (RFC 9562) in its 36-character lowercase form. The first 48
/// bits are the Unix time in milliseconds and the next 12 a per-process
/// counter, so IDs from one process sort by creation; the remaining 62 bits
/// are random, so IDs from different nodes never collide in practice.
/// Thread-safe.
std::string new_uuid();

/// True if `text` is a UUID in canonical 8-4-4-4-12 lowercase hex form.
bool is_uuid(std::string_view text) noexcept;

/// `bytes` cryptographically random bytes, lowercase hex. Thread-safe.
std::string random_hex(size_t bytes);

/// `bytes` cryptographically random bytes, base64url without padding (for
/// tokens that travel in URLs and headers). Thread-safe.
std::string random_token(size_t bytes);

} // namespace souk
