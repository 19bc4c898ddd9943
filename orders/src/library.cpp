#include "souk/orders/library.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "souk/persistence/flow_templates.hpp"

namespace souk::orders {

flow_library::flow_library(const flows::action_catalog& actions,
                           std::shared_ptr<persistence::database> db)
  : actions_(actions), db_(std::move(db)) {}

expected<template_ptr>
flow_library::add_locked(std::string_view yaml, std::string_view file_name,
                         std::map<std::string, entry, std::less<>>& into) {
  auto tpl = flows::load_template(yaml, file_name, actions_);
  if (!tpl)
    return tpl.err();
  auto ptr = std::make_shared<const flows::flow_template>(std::move(*tpl));
  entry e{ptr, std::string{yaml}};
  by_hash_.emplace(ptr->hash, e);
  into[ptr->name] = std::move(e);
  return ptr;
}

status flow_library::load(const std::string& dir) {
  std::map<std::string, entry, std::less<>> fresh;
  std::lock_guard guard{mx_};
  for (auto& [file, text] : shipped_templates())
    if (auto tpl = add_locked(text, file, fresh); !tpl)
      return tpl.err();
  if (!dir.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> files;
    for (auto& item : fs::directory_iterator{dir, ec})
      if (item.path().extension() == ".yaml")
        files.push_back(item.path());
    if (ec)
      return error{errc::config, fmt::format("{}: cannot read the flow "
                                             "template directory: {}",
                                             dir, ec.message())};
    std::sort(files.begin(), files.end());
    std::map<std::string, std::string> seen; // flow name -> file
    for (auto& path : files) {
      std::ifstream in{path, std::ios::binary};
      if (!in)
        return error{errc::not_found,
                     path.string() + ": cannot open the flow template"};
      std::ostringstream text;
      text << in.rdbuf();
      auto tpl = add_locked(text.str(), path.string(), fresh);
      if (!tpl)
        return tpl.err();
      auto [i, added] = seen.emplace((*tpl)->name, path.string());
      if (!added)
        return error{errc::invalid_field,
                     fmt::format("{}:1:1: flow '{}' is already defined in {}",
                                 path.string(), (*tpl)->name, i->second)};
    }
  }
  current_ = std::move(fresh);
  return {};
}

status flow_library::add(std::string_view yaml, std::string_view file_name) {
  std::lock_guard guard{mx_};
  auto tpl = add_locked(yaml, file_name, current_);
  return tpl ? status{} : tpl.err();
}

expected<template_ptr> flow_library::current(std::string_view name) const {
  std::lock_guard guard{mx_};
  auto i = current_.find(name);
  if (i == current_.end())
    return error{errc::not_found, fmt::format("no flow template '{}'", name)};
  return i->second.tpl;
}

std::vector<template_ptr> flow_library::list() const {
  std::lock_guard guard{mx_};
  std::vector<template_ptr> out;
  for (auto& [name, e] : current_)
    out.push_back(e.tpl);
  return out;
}

status flow_library::pin(const flows::flow_template& tpl) {
  std::string source;
  {
    std::lock_guard guard{mx_};
    if (saved_.contains(tpl.hash))
      return {};
    auto i = by_hash_.find(tpl.hash);
    if (i == by_hash_.end())
      return error{errc::internal,
                   fmt::format("flow '{}' (hash {}) was not loaded by this "
                               "library",
                               tpl.name, tpl.hash)};
    source = i->second.source;
  }
  if (!db_)
    return error{errc::internal, "the flow library has no database"};
  persistence::flow_template_repository repo{*db_};
  if (auto err = repo.save(
        {tpl.hash, tpl.name, static_cast<int32_t>(tpl.version), source, {}}))
    return err;
  std::lock_guard guard{mx_};
  saved_.insert(tpl.hash);
  return {};
}

expected<template_ptr> flow_library::pinned(const std::string& hash) {
  {
    std::lock_guard guard{mx_};
    auto i = by_hash_.find(hash);
    if (i != by_hash_.end())
      return i->second.tpl;
  }
  auto missing = error{errc::not_found,
                       fmt::format("no flow template with hash {}", hash)};
  if (!db_)
    return missing;
  persistence::flow_template_repository repo{*db_};
  auto row = repo.find(hash);
  if (!row)
    return row.err();
  if (!row->has_value())
    return missing;
  auto label = fmt::format("flow_templates[{}]", hash.substr(0, 12));
  auto tpl = flows::load_template((*row)->source, label, actions_);
  if (!tpl)
    return tpl.err();
  if (tpl->hash != hash)
    return error{errc::internal,
                 fmt::format("{}: stored text hashes to {}", label, tpl->hash)};
  auto ptr = std::make_shared<const flows::flow_template>(std::move(*tpl));
  std::lock_guard guard{mx_};
  by_hash_.emplace(hash, entry{ptr, (*row)->source});
  saved_.insert(hash);
  return ptr;
}

} // namespace souk::orders
