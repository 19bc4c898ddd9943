#include "souk/persistence/product_files.hpp"

#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

// A product's files are part of it: readers and caches see a new version.
void bump_version(soci::session& sql, const std::string& product_id,
                  const std::string& now_text) {
  rows::exec(sql,
             "UPDATE products SET version = version + 1, updated_at = :u "
             "WHERE id = :p",
             soci::use(now_text), soci::use(product_id));
}

} // namespace

expected<std::optional<product_file_repository::owner>>
product_file_repository::product_owner(const std::string& product_id) {
  std::optional<owner> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT creator_id, status "
                     "FROM products WHERE id = "
                     ":id",
                     soci::use(product_id)};
    for (auto& r : rows)
      out = owner{r.get<std::string>(0), r.get<std::string>(1)};
  });
  if (st)
    return st;
  return out;
}

expected<std::string>
product_file_repository::remove(const std::string& product_id,
                                const std::string& file_id) {
  std::string key;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.transact([&](soci::session& sql) -> status {
    // The product and the file locked first: a publish, an archive, an
    // upload and a grant's foreign key wait for this transaction (a grant
    // then fails and is retried without the file).
    std::string status_text;
    soci::indicator product_ind = soci::i_null;
    rows::exec(sql,
               std::string{"SELECT status FROM products WHERE id = :p"}
                 + (pg ? " FOR UPDATE" : ""),
               soci::use(product_id), soci::into(status_text, product_ind));
    if (product_ind != soci::i_ok)
      return error{errc::not_found, "no product " + product_id};
    if (status_text == "archived")
      return error{errc::conflict,
                   "the product is archived; files cannot change"};
    soci::indicator ind = soci::i_null;
    rows::exec(sql,
               std::string{"SELECT storage_key FROM product_files WHERE id = "
                           ":f AND product_id = :p"}
                 + (pg ? " FOR UPDATE" : ""),
               soci::use(file_id), soci::use(product_id), soci::into(key, ind));
    if (ind != soci::i_ok)
      return error{errc::not_found, "the product has no file " + file_id};
    long long files = 0;
    rows::exec(sql, "SELECT COUNT(*) FROM product_files WHERE product_id = :p",
               soci::use(product_id), soci::into(files));
    if (status_text == "published" && files <= 1)
      return error{errc::conflict,
                   "a published product keeps at least one file: upload "
                   "another first, or archive the product"};
    long long granted = 0;
    rows::exec(sql, "SELECT COUNT(*) FROM download_grants WHERE file_id = :f",
               soci::use(file_id), soci::into(granted));
    if (granted > 0)
      return error{errc::conflict,
                   fmt::format("buyers have this file ({} grant{}): it "
                               "stays; upload a new one under the same name "
                               "to replace what their links serve",
                               granted, granted == 1 ? "" : "s")};
    rows::exec(sql, "DELETE FROM product_files WHERE id = :f",
               soci::use(file_id));
    bump_version(sql, product_id, to_iso(now()));
    return {};
  });
  if (st)
    return st;
  return key;
}

expected<std::unordered_set<std::string>>
product_file_repository::storage_keys() {
  std::unordered_set<std::string> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql, "SELECT storage_key FROM product_files"};
    for (auto& r : rows)
      out.insert(r.get<std::string>(0));
  });
  if (st)
    return st;
  return out;
}

expected<std::pair<product_file_row, std::string>>
product_file_repository::put(const product_file_row& row) {
  product_file_row stored = row;
  std::string replaced;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.transact([&](soci::session& sql) -> status {
    std::string id, key;
    soci::indicator ind = soci::i_null;
    rows::exec(sql,
               std::string{"SELECT id, storage_key FROM product_files WHERE "
                           "product_id = :p AND name = :n"}
                 + (pg ? " FOR UPDATE" : ""),
               soci::use(row.product_id), soci::use(row.name),
               soci::into(id, ind), soci::into(key));
    auto now_text = to_iso(now());
    long long size = row.size;
    if (ind == soci::i_ok) {
      stored.id = id;
      replaced = key;
      rows::exec(
        sql,
        "UPDATE product_files SET storage_key = :k, size = :s, sha256 = "
        ":h, content_type = :t, updated_at = :u WHERE id = :id",
        soci::use(row.storage_key), soci::use(size), soci::use(row.sha256),
        soci::use(row.content_type), soci::use(now_text), soci::use(id));
    } else {
      stored.id = new_uuid();
      stored.created_at = now_text;
      rows::exec(
        sql,
        "INSERT INTO product_files (id, product_id, name, storage_key, "
        "size, sha256, content_type, created_at, updated_at) VALUES "
        "(:id, :p, :n, :k, :s, :h, :t, :c, :u)",
        soci::use(stored.id), soci::use(row.product_id), soci::use(row.name),
        soci::use(row.storage_key), soci::use(size), soci::use(row.sha256),
        soci::use(row.content_type), soci::use(now_text), soci::use(now_text));
    }
    stored.updated_at = now_text;
    bump_version(sql, row.product_id, now_text);
    return {};
  });
  if (st)
    return st;
  return std::make_pair(stored, replaced);
}

} // namespace souk::persistence
