#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "souk/core/error.hpp"

namespace souk::email {

/// One rendered email.
struct rendered {
  std::string subject;
  std::string text;
  std::string html; ///< empty when the template has no HTML part
};

/// Email templates: for each NAME, `NAME.subject` and `NAME.txt` (required)
/// and `NAME.html` (optional), Mustache (kainjow-mustache). The shipped ones
/// (templates/email/) are compiled in; a directory may add more or replace
/// them file by file. Thread-safe after construction (read-only).
class templates {
public:
  /// The shipped templates, then `directory`'s (if not empty). Errors name
  /// the file: a template that does not parse, a missing part.
  static expected<templates> load(const std::string& directory = {});

  /// True if a template `name` exists.
  bool has(const std::string& name) const;

  /// True if a part of template `name` contains `word` (e.g. a section's
  /// name): callers read data only for templates that show it.
  bool mentions(const std::string& name, std::string_view word) const;

  /// Renders `name` with `model` (a JSON object): HTML-escaped in the HTML
  /// part, verbatim in the subject and text. `errc::invalid_field` for an
  /// unknown name or a render error.
  expected<rendered> render(const std::string& name,
                            const nlohmann::json& model) const;

private:
  std::map<std::string, std::string> files_; ///< "receipt.txt" → source
};

} // namespace souk::email
