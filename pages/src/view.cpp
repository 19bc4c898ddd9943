#include "view.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "souk/core/hash.hpp"
#include "souk/core/mustache_json.hpp"
#include "souk/core/time.hpp"
#include "souk/core/units.hpp"

namespace souk::pages {

// Generated from templates/pages/ (pages/CMakeLists.txt).
const std::vector<std::pair<std::string_view, std::string_view>>&
shipped_page_files();

namespace {

namespace mus = kainjow::mustache;

std::string content_type_of(const std::string& name) {
  if (name.ends_with(".css"))
    return "text/css; charset=utf-8";
  if (name.ends_with(".js"))
    return "text/javascript; charset=utf-8";
  if (name.ends_with(".svg"))
    return "image/svg+xml";
  if (name.ends_with(".png"))
    return "image/png";
  if (name.ends_with(".jpg") || name.ends_with(".jpeg"))
    return "image/jpeg";
  if (name.ends_with(".webp"))
    return "image/webp";
  if (name.ends_with(".ico"))
    return "image/x-icon";
  if (name.ends_with(".woff2"))
    return "font/woff2";
  return "application/octet-stream";
}

expected<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof())
    return error{errc::config, "cannot read " + path.string()};
  return buf.str();
}

// The regular files directly in `dir`, by name; none if it does not exist
// and `optional`.
expected<std::map<std::string, std::filesystem::path>>
files_in(const std::filesystem::path& dir, bool optional) {
  namespace fs = std::filesystem;
  std::map<std::string, fs::path> out;
  std::error_code ec;
  if (optional && !fs::exists(dir, ec))
    return out;
  for (auto& entry : fs::directory_iterator{dir, ec})
    // Hidden files (.htaccess, an editor's .swp) are never served.
    if (entry.is_regular_file()
        && !entry.path().filename().string().starts_with("."))
      out[entry.path().filename().string()] = entry.path();
  if (ec)
    return error{errc::config, fmt::format("cannot read page templates in "
                                           "{}: {}",
                                           dir.string(), ec.message())};
  return out;
}

} // namespace

expected<views> views::load(const std::string& directory) {
  views out;
  auto add_asset = [&](const std::string& file, std::string_view content) {
    out.assets_[file] = asset{content, content_type_of(file),
                              "\"" + sha256_hex(content).substr(0, 16) + "\""};
  };
  // Where each template came from, for errors.
  std::map<std::string, std::string> origin;
  for (auto& [name, content] : shipped_page_files()) {
    std::string n{name};
    if (n.starts_with("static/")) {
      add_asset(n.substr(7), content);
      continue;
    }
    out.templates_[n] = std::string{content};
    origin[n] = "templates/pages/" + n;
  }
  if (!directory.empty()) {
    namespace fs = std::filesystem;
    auto top = files_in(directory, false);
    if (!top)
      return top.err();
    for (auto& [file, path] : *top) {
      if (!file.ends_with(".html"))
        continue;
      auto text = read_file(path);
      if (!text)
        return text.err();
      out.templates_[file] = std::move(*text);
      origin[file] = path.string();
    }
    auto statics = files_in(fs::path{directory} / "static", true);
    if (!statics)
      return statics.err();
    for (auto& [file, path] : *statics) {
      auto bytes = read_file(path);
      if (!bytes)
        return bytes.err();
      out.owned_[file] = std::move(*bytes);
      add_asset(file, out.owned_[file]);
    }
  }
  for (auto& [name, text] : out.templates_) {
    mus::mustache tmpl{text};
    if (!tmpl.is_valid())
      return error{errc::config,
                   fmt::format("{}: {}", origin[name], tmpl.error_message())};
  }
  if (!out.templates_.count("layout.html"))
    return error{errc::config, "templates/pages/layout.html is missing"};
  // Static URLs carry this (?v=): a replaced file gets a new one.
  std::string all;
  for (auto& [file, a] : out.assets_)
    all += a.etag;
  out.version_ = sha256_hex(all).substr(0, 12);
  return out;
}

std::string views::fragment(const std::string& name,
                            const nlohmann::json& view) const {
  auto it = templates_.find(name);
  if (it == templates_.end())
    return "<p>missing template " + name + "</p>";
  auto data = mustache_data(view, true);
  // Templates named "_NAME.html" are partials: {{> _NAME}}. (The prefix
  // keeps them from hiding a value of the same name.)
  for (auto& [other, text] : templates_) {
    if (!other.starts_with("_"))
      continue;
    auto copy = text;
    data.set(other.substr(0, other.size() - 5),
             mus::partial{[copy] { return copy; }});
  }
  // Parsed per render: kainjow's render is not const, and a page is small
  // next to the database round trips behind it.
  mus::mustache tmpl{it->second};
  return tmpl.render(data);
}

std::string views::page(const std::string& name,
                        const nlohmann::json& view) const {
  auto framed = view;
  framed["body"] = fragment(name, view);
  framed["asset_version"] = version_;
  return fragment("layout.html", framed);
}

const views::asset* views::find_asset(const std::string& name) const {
  auto it = assets_.find(name);
  return it == assets_.end() ? nullptr : &it->second;
}

std::string money_text(const nlohmann::json& money) {
  if (!money.is_object() || !money.contains("amount"))
    return "";
  return format_money(money.value("amount", int64_t{0}),
                      money.value("currency", std::string{}));
}

std::string time_text(const std::string& iso) {
  auto t = parse_iso(iso);
  if (!t)
    return iso;
  auto secs = std::chrono::floor<std::chrono::seconds>(*t);
  auto day = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{secs - day};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format(
    "{} {} {}, {:02}:{:02} UTC", static_cast<unsigned>(ymd.day()),
    months[static_cast<unsigned>(ymd.month()) - 1],
    static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count());
}

std::string size_text(int64_t bytes) {
  if (bytes < 1000)
    return fmt::format("{} bytes", bytes);
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1000 && u < 3) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::optional<int64_t> parse_major(std::string_view text) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  if (text.empty())
    return std::nullopt;
  int64_t whole = 0;
  int64_t cents = 0;
  int decimals = -1; // -1: no point seen
  bool digits = false;
  for (char c : text) {
    if (c == ',' && decimals < 0)
      continue;
    if (c == '.' && decimals < 0) {
      decimals = 0;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
    digits = true;
    if (decimals < 0) {
      if (whole > 9'000'000'000'000)
        return std::nullopt;
      whole = whole * 10 + (c - '0');
    } else if (++decimals > 2) {
      return std::nullopt;
    } else {
      cents = cents * 10 + (c - '0');
    }
  }
  if (!digits)
    return std::nullopt;
  if (decimals == 1)
    cents *= 10;
  return whole * 100 + cents;
}

std::string sentence(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z')
    text[0] = static_cast<char>(text[0] - 'a' + 'A');
  if (!text.empty() && text.back() != '.' && text.back() != '!'
      && text.back() != '?' && text.back() != ')')
    text += '.';
  return text;
}

std::string major_text(int64_t minor) {
  if (minor % 100 == 0)
    return std::to_string(minor / 100);
  return fmt::format("{}.{:02}", minor / 100, minor % 100);
}

void secure(http::response& res, const std::string& form_origins) {
  res.header("Content-Security-Policy",
             "default-src 'none'; script-src 'self'; style-src 'self'; "
             "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
             "form-action 'self'"
               + (form_origins.empty() ? "" : " " + form_origins)
               + "; frame-ancestors 'none'; base-uri 'none'");
  res.header("X-Frame-Options", "DENY");
  res.header("Referrer-Policy", "same-origin");
  res.header("Cache-Control", "no-store");
}

http::response html(unsigned status, std::string body,
                    const std::string& form_origins) {
  http::response res;
  res.status = status;
  res.content_type = "text/html; charset=utf-8";
  res.body = std::move(body);
  secure(res, form_origins);
  return res;
}

http::response see_other(const std::string& location) {
  http::response res;
  res.status = 303;
  res.content_type.clear();
  res.header("Location", location);
  res.header("Cache-Control", "no-store");
  return res;
}

} // namespace souk::pages
