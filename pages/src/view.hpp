#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "souk/core/error.hpp"
#include "souk/http/message.hpp"

namespace souk::pages {

/// The page templates and static files (templates/pages/), parsed once.
/// Thread-safe after construction.
class views {
public:
  views() = default;
  // Static files read from a directory live in `owned_`, which `assets_`
  // points into: a copy would point into the original's.
  views(const views&) = delete;
  views& operator=(const views&) = delete;
  views(views&&) = default;
  views& operator=(views&&) = default;

  /// Loads the shipped files, then `directory`'s (if not empty): its
  /// `NAME.html` files add to or replace the shipped templates, its
  /// `static/FILE` files the static files. Fails naming the file that
  /// cannot be read or does not parse.
  static expected<views> load(const std::string& directory = {});

  /// Renders template `name` (e.g. "home.html") with `view` and puts it in
  /// the layout, which sees `view` too plus `body`. Every `{{value}}` is
  /// HTML-escaped; templates use `{{{ }}}` only for `body` and for markup
  /// souk made itself (SVG).
  std::string page(const std::string& name, const nlohmann::json& view) const;

  /// Renders template `name` alone (a fragment for live updates).
  std::string fragment(const std::string& name,
                       const nlohmann::json& view) const;

  /// A static file under `static/` and its ETag, or null.
  struct asset {
    std::string_view content;
    std::string content_type;
    std::string etag;
  };
  const asset* find_asset(const std::string& name) const;

  /// A short hash of every static file, to version their URLs.
  const std::string& asset_version() const { return version_; }

private:
  std::map<std::string, std::string> templates_;
  std::map<std::string, asset> assets_;
  /// The bytes of static files read from a directory (assets_ views them;
  /// a map's elements stay where they are when it moves).
  std::map<std::string, std::string> owned_;
  std::string version_;
};

// -- presentation helpers (for people; the API keeps the exact values)

/// "NGN 5,000.00" from an API money object `{amount, currency}`.
std::string money_text(const nlohmann::json& money);

/// "22 Nov 2026, 14:03 UTC" from an ISO timestamp (or the text unchanged).
std::string time_text(const std::string& iso);

/// "2.1 MB" from a size in bytes.
std::string size_text(int64_t bytes);

/// Minor units from what a person typed in major units ("5000", "5,000.50",
/// "12.5"); nullopt if it is not such a number (at most 2 decimals).
std::optional<int64_t> parse_major(std::string_view text);

/// `text` as a sentence: a capital first letter and a full stop.
std::string sentence(std::string text);

/// "5000.50" from minor units, for a form field.
std::string major_text(int64_t minor);

/// The response headers every page carries: a strict CSP (scripts and
/// styles only from souk, forms only to souk and `form_origins`), no
/// framing, no MIME sniffing, same-origin referrers, no caching.
void secure(http::response& res, const std::string& form_origins);

/// An HTML response with `secure` applied.
http::response html(unsigned status, std::string body,
                    const std::string& form_origins);

/// A 303 to `location`.
http::response see_other(const std::string& location);

} // namespace souk::pages
