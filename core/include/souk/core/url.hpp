#pragma once

#include <string>

namespace souk {

/// `url` with the password of its user-info part, if any, replaced by "***"
/// ("postgresql://u:secret@h/db" -> "postgresql://u:***@h/db"), for logs and
/// error messages.
std::string redact_url(const std::string& url);

} // namespace souk
