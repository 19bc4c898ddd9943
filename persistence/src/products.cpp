#include "souk/persistence/products.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <soci/soci.h>

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::get_int;
using rows::opt_string;

constexpr const char* product_columns
  = "p.id, p.creator_id, p.title, p.description, p.price_amount, "
    "p.currency, p.min_amount, p.flow, p.status, p.version, p.created_at, "
    "p.updated_at, p.published_at, p.archived_at";

product_row read_product(const soci::row& r) {
  product_row p;
  p.id = r.get<std::string>(0);
  p.creator_id = r.get<std::string>(1);
  p.title = r.get<std::string>(2);
  p.description = r.get<std::string>(3);
  p.price_amount = get_int(r, 4);
  p.currency = r.get<std::string>(5);
  if (r.get_indicator(6) == soci::i_ok)
    p.min_amount = get_int(r, 6);
  p.flow = r.get<std::string>(7);
  p.status = r.get<std::string>(8);
  p.version = get_int(r, 9);
  p.created_at = r.get<std::string>(10);
  p.updated_at = r.get<std::string>(11);
  p.published_at = opt_string(r, 12);
  p.archived_at = opt_string(r, 13);
  return p;
}

// Binds an optional text column: empty means NULL.
soci::indicator null_if_empty(const std::string& s) {
  return s.empty() ? soci::i_null : soci::i_ok;
}

} // namespace

std::string product_repository::escape_like(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_')
      out += '\\';
    out += c;
  }
  return out;
}

status product_repository::insert(const product_row& row) {
  return db_.write([&](soci::session& sql) {
    long long price = row.price_amount;
    long long min = row.min_amount.value_or(0);
    soci::indicator min_ind = row.min_amount ? soci::i_ok : soci::i_null;
    int version = static_cast<int>(row.version);
    auto pub_ind = null_if_empty(row.published_at);
    auto arch_ind = null_if_empty(row.archived_at);
    rows::exec(
      sql,
      "INSERT INTO products (id, creator_id, title, description, "
      "price_amount, currency, min_amount, flow, status, version, "
      "created_at, updated_at, published_at, archived_at) VALUES (:id, "
      ":c, :t, :d, :p, :cur, :min, :f, :s, :v, :ca, :ua, :pa, :aa)",
      soci::use(row.id), soci::use(row.creator_id), soci::use(row.title),
      soci::use(row.description), soci::use(price), soci::use(row.currency),
      soci::use(min, min_ind), soci::use(row.flow), soci::use(row.status),
      soci::use(version), soci::use(row.created_at), soci::use(row.updated_at),
      soci::use(row.published_at, pub_ind),
      soci::use(row.archived_at, arch_ind));
  });
}

expected<std::optional<product_row>>
product_repository::find(const std::string& id) {
  std::optional<product_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + product_columns
                       + " FROM products p WHERE p.id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = read_product(r);
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<product_row>>
product_repository::list(const product_filter& filter) {
  std::vector<product_row> out;
  // Only the conditions in use are added, so each shape of the query can use
  // its index (products_status or products_creator, both ending in id).
  std::string query
    = std::string{"SELECT "} + product_columns + " FROM products p WHERE 1 = 1";
  if (!filter.creator_id.empty())
    query += " AND p.creator_id = :creator";
  if (!filter.status.empty())
    query += " AND p.status = :status";
  std::string pattern;
  if (!filter.title_contains.empty()) {
    // lower() on both sides rather than ILIKE: SQLite has no ILIKE, and its
    // LIKE would ignore case anyway; the escape keeps `%` and `_` literal.
    pattern = "%" + escape_like(filter.title_contains) + "%";
    query += " AND lower(p.title) LIKE lower(:pattern) ESCAPE '\\'";
  }
  if (!filter.before_id.empty())
    query += " AND p.id < :before";
  query += " ORDER BY p.id DESC LIMIT :limit";
  int limit = static_cast<int>(filter.limit);
  auto st = db_.run([&](soci::session& sql) {
    auto prep = (sql.prepare << query);
    if (!filter.creator_id.empty())
      prep, soci::use(filter.creator_id, "creator");
    if (!filter.status.empty())
      prep, soci::use(filter.status, "status");
    if (!pattern.empty())
      prep, soci::use(pattern, "pattern");
    if (!filter.before_id.empty())
      prep, soci::use(filter.before_id, "before");
    prep, soci::use(limit, "limit");
    soci::rowset<soci::row> rows(prep);
    for (auto& r : rows)
      out.push_back(read_product(r));
  });
  if (st)
    return st;
  return out;
}

expected<bool>
product_repository::update(const product_row& row, int64_t expected_version,
                           requirement require,
                           const std::vector<std::string>& pools) {
  bool changed = false;
  auto st = db_.transact([&](soci::session& sql) -> status {
    long long price = row.price_amount;
    long long min = row.min_amount.value_or(0);
    soci::indicator min_ind = row.min_amount ? soci::i_ok : soci::i_null;
    int version = static_cast<int>(row.version);
    int expected = static_cast<int>(expected_version);
    auto pub_ind = null_if_empty(row.published_at);
    auto arch_ind = null_if_empty(row.archived_at);
    std::string query
      = "UPDATE products SET title = :t, description = :d, price_amount = "
        ":p, currency = :cur, min_amount = :min, flow = :f, status = :s, "
        "version = :v, updated_at = :ua, published_at = :pa, archived_at = "
        ":aa WHERE id = :id AND version = :expected";
    bool file
      = require == requires_file || require == requires_file_and_licence_key;
    bool keys = require == requires_licence_key
                || require == requires_file_and_licence_key;
    if (file)
      query += " AND EXISTS (SELECT 1 FROM product_files f WHERE "
               "f.product_id = :idf)";
    if (keys)
      for (size_t i = 0; i < std::max<size_t>(pools.size(), 1); ++i)
        query += fmt::format(
          " AND EXISTS (SELECT 1 FROM licence_keys k "
          "WHERE k.product_id = :idk{}{})",
          i, pools.empty() ? "" : fmt::format(" AND k.pool = :kp{}", i));
    auto prep = (sql.prepare << query);
    prep, soci::use(row.title, "t"), soci::use(row.description, "d"),
      soci::use(price, "p"), soci::use(row.currency, "cur"),
      soci::use(min, min_ind, "min"), soci::use(row.flow, "f"),
      soci::use(row.status, "s"), soci::use(version, "v"),
      soci::use(row.updated_at, "ua"),
      soci::use(row.published_at, pub_ind, "pa"),
      soci::use(row.archived_at, arch_ind, "aa"), soci::use(row.id, "id"),
      soci::use(expected, "expected");
    // A second name for the same value: PostgreSQL's backend numbers
    // placeholders by occurrence.
    if (file)
      prep, soci::use(row.id, "idf");
    if (keys)
      for (size_t i = 0; i < std::max<size_t>(pools.size(), 1); ++i) {
        prep, soci::use(row.id, "idk" + std::to_string(i));
        if (!pools.empty())
          prep, soci::use(pools[i], "kp" + std::to_string(i));
      }
    soci::statement stmt(prep);
    stmt.execute(true);
    changed = stmt.get_affected_rows() > 0;
    return {};
  });
  if (st)
    return st;
  return changed;
}

expected<std::vector<product_file_info>>
product_repository::files_of(const std::vector<std::string>& product_ids) {
  std::vector<product_file_info> out;
  if (product_ids.empty())
    return out;
  std::string query = "SELECT f.id, f.product_id, f.name, f.size, f.sha256, "
                      "f.content_type FROM product_files f WHERE "
                      "f.product_id IN (";
  for (size_t i = 0; i < product_ids.size(); ++i)
    query += (i ? ", :p" : ":p") + std::to_string(i);
  query += ") ORDER BY f.product_id, f.name";
  auto st = db_.run([&](soci::session& sql) {
    for (auto& r : rows::query{sql, query, product_ids}) {
      product_file_info f;
      f.id = r.get<std::string>(0);
      f.product_id = r.get<std::string>(1);
      f.name = r.get<std::string>(2);
      f.size = get_int(r, 3);
      f.sha256 = r.get<std::string>(4);
      f.content_type = r.get<std::string>(5);
      out.push_back(std::move(f));
    }
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<std::pair<std::string, std::string>>>
product_repository::pools_with_keys_left(
  const std::vector<std::pair<std::string, std::string>>& wanted) {
  std::vector<std::pair<std::string, std::string>> out;
  // One derived table per pair, each at most one row from the partial
  // index of keys left; in parts, within SQLite's limits on the terms of a
  // compound SELECT (500) and on bound values (999 before 3.32).
  constexpr size_t per_query = 200;
  for (size_t from = 0; from < wanted.size(); from += per_query) {
    std::string query;
    std::vector<std::string> values;
    for (size_t i = from; i < std::min(wanted.size(), from + per_query); ++i) {
      auto n = i - from;
      query += fmt::format(
        "{}SELECT product_id, pool FROM (SELECT product_id, pool FROM "
        "licence_keys WHERE product_id = :p{} AND pool = :p{} AND order_id IS "
        "NULL LIMIT 1) AS k{}",
        n ? " UNION ALL " : "", 2 * n, 2 * n + 1, n);
      values.push_back(wanted[i].first);
      values.push_back(wanted[i].second);
    }
    auto st = db_.run([&](soci::session& sql) {
      const std::vector<std::string>& bound = values;
      for (auto& r : rows::query{sql, query, bound})
        out.emplace_back(r.get<std::string>(0), r.get<std::string>(1));
    });
    if (st)
      return st;
  }
  return out;
}

expected<int64_t>
product_repository::count_licence_keys(const std::string& product_id,
                                       const std::string& pool) {
  int64_t n = 0;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT count(*) FROM licence_keys WHERE "
                     "product_id = :id AND pool = :pool",
                     soci::use(product_id), soci::use(pool)};
    for (auto& r : rows)
      n = get_int(r, 0);
  });
  if (st)
    return st;
  return n;
}

expected<int64_t>
product_repository::count_files(const std::string& product_id) {
  int64_t n = 0;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT count(*) FROM product_files WHERE "
                     "product_id = :id",
                     soci::use(product_id)};
    for (auto& r : rows)
      n = get_int(r, 0);
  });
  if (st)
    return st;
  return n;
}

} // namespace souk::persistence
