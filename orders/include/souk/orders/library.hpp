#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/flows/template.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::orders {

using template_ptr = std::shared_ptr<const flows::flow_template>;

/// The flow templates a node knows: the shipped ones (compiled into souk from
/// `templates/flows/`), those of a configured directory, and every template
/// an order ever pinned (kept in the `flow_templates` table by hash). New
/// orders start on `current(name)`; an order in flight always runs on
/// `pinned(its hash)`, whatever the files say now.
///
/// Thread-safe. `pin` and `pinned` may block on the database.
class flow_library {
public:
  /// `actions` must outlive the library. `db` may be null for a library
  /// that only loads and lists (then `pin`/`pinned` of an unknown hash
  /// fail).
  flow_library(const flows::action_catalog& actions,
               std::shared_ptr<persistence::database> db);

  /// Loads the shipped templates, then every `*.yaml` in `dir` (if not
  /// empty); a file there replaces the shipped template of the same name.
  /// Fails with the loader's "FILE:LINE:COL: message" on the first invalid
  /// template, or if two files in `dir` define one flow.
  status load(const std::string& dir);

  /// Adds (or replaces) one template from text; `file_name` labels errors.
  status add(std::string_view yaml, std::string_view file_name);

  /// The template new orders of flow `name` start with (`errc::not_found`).
  expected<template_ptr> current(std::string_view name) const;

  /// Every current template, sorted by name.
  std::vector<template_ptr> list() const;

  /// Makes sure `tpl`'s exact text is in `flow_templates` (once per process
  /// per hash), so orders pinning it can always be rebuilt. Blocking.
  status pin(const flows::flow_template& tpl);

  /// The template with `hash`: from memory, else read back from
  /// `flow_templates` and parsed. `errc::not_found` if no template with
  /// that hash was ever pinned. Blocking on a miss.
  expected<template_ptr> pinned(const std::string& hash);

private:
  struct entry {
    template_ptr tpl;
    std::string source;
  };

  // Parses `yaml` and makes it `into[name]` (and known by hash).
  expected<template_ptr>
  add_locked(std::string_view yaml, std::string_view file_name,
             std::map<std::string, entry, std::less<>>& into);

  const flows::action_catalog& actions_;
  std::shared_ptr<persistence::database> db_;
  mutable std::mutex mx_;
  std::map<std::string, entry, std::less<>> current_; // by name
  std::map<std::string, entry, std::less<>> by_hash_;
  std::set<std::string> saved_; // hashes known to be in flow_templates
};

/// The shipped templates as (file name, text), compiled in.
const std::vector<std::pair<std::string_view, std::string_view>>&
shipped_templates();

} // namespace souk::orders
