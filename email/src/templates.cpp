#include "souk/email/templates.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "souk/core/mustache_json.hpp"

namespace souk::email {

// Generated from templates/email/ (email/CMakeLists.txt).
const std::vector<std::pair<std::string_view, std::string_view>>&
shipped_email_templates();

namespace {

namespace mus = kainjow::mustache;

bool part_name(const std::string& file) {
  return file.ends_with(".subject") || file.ends_with(".txt")
         || file.ends_with(".html");
}

status check(const std::string& origin, const std::string& source) {
  mus::mustache tmpl{source};
  if (!tmpl.is_valid())
    return error{errc::config,
                 fmt::format("{}: {}", origin, tmpl.error_message())};
  return {};
}

} // namespace

expected<templates> templates::load(const std::string& directory) {
  templates out;
  for (auto& [name, content] : shipped_email_templates())
    out.files_[std::string{name}] = std::string{content};
  if (!directory.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto& entry : fs::directory_iterator{directory, ec}) {
      auto file = entry.path().filename().string();
      if (!entry.is_regular_file() || !part_name(file))
        continue;
      std::ifstream in{entry.path(), std::ios::binary};
      std::stringstream buf;
      buf << in.rdbuf();
      if (!in && !in.eof())
        return error{errc::config, "cannot read " + entry.path().string()};
      if (auto err = check(entry.path().string(), buf.str()))
        return err;
      out.files_[file] = buf.str();
    }
    if (ec)
      return error{errc::config, fmt::format("cannot read email templates in "
                                             "{}: {}",
                                             directory, ec.message())};
  }
  for (auto& [file, source] : out.files_) {
    if (auto err = check(file, source))
      return err;
    auto dot = file.rfind('.');
    auto base = file.substr(0, dot);
    for (auto part : {".subject", ".txt"})
      if (!out.files_.count(base + part))
        return error{
          errc::config,
          fmt::format("email template {} has no {}{} part", base, base, part)};
  }
  return out;
}

bool templates::has(const std::string& name) const {
  return files_.count(name + ".txt") > 0;
}

bool templates::mentions(const std::string& name, std::string_view word) const {
  for (auto part : {".subject", ".txt", ".html"}) {
    auto it = files_.find(name + part);
    if (it != files_.end() && it->second.find(word) != std::string::npos)
      return true;
  }
  return false;
}

expected<rendered> templates::render(const std::string& name,
                                     const nlohmann::json& model) const {
  if (!has(name))
    return error{errc::invalid_field, "no email template " + name, "template"};
  auto data = mustache_data(model);
  auto run
    = [&](const std::string& file, bool escape) -> expected<std::string> {
    auto it = files_.find(file);
    if (it == files_.end())
      return std::string{};
    mus::mustache tmpl{it->second};
    if (!escape)
      tmpl.set_custom_escape([](const std::string& s) { return s; });
    auto text = tmpl.render(data);
    if (!tmpl.is_valid())
      return error{
        errc::invalid_field,
        fmt::format("email template {}: {}", file, tmpl.error_message()),
        "template"};
    return text;
  };
  rendered out;
  auto subject = run(name + ".subject", false);
  if (!subject)
    return subject.err();
  auto text = run(name + ".txt", false);
  if (!text)
    return text.err();
  auto html = run(name + ".html", true);
  if (!html)
    return html.err();
  out.subject = std::move(*subject);
  while (!out.subject.empty()
         && (out.subject.back() == '\n' || out.subject.back() == '\r'))
    out.subject.pop_back();
  out.text = std::move(*text);
  out.html = std::move(*html);
  return out;
}

} // namespace souk::email
