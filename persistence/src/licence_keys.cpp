#include "souk/persistence/licence_keys.hpp"

#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/ids.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

constexpr const char* key_columns
  = "id, product_id, pool, secret, added_at, order_id, issued_at, "
    "revoked_at, revoked_reason";

licence_key_row key_of(const soci::row& r) {
  licence_key_row k;
  k.id = r.get<std::string>(0);
  k.product_id = r.get<std::string>(1);
  k.pool = r.get<std::string>(2);
  k.secret = r.get<std::string>(3);
  k.added_at = r.get<std::string>(4);
  k.order_id = rows::opt_string(r, 5);
  k.issued_at = rows::opt_string(r, 6);
  k.revoked_at = rows::opt_string(r, 7);
  k.revoked_reason = rows::opt_string(r, 8);
  return k;
}

} // namespace

expected<licence_keys_added> licence_key_repository::add(
  const std::string& product_id, const std::string& pool,
  const std::vector<std::string>& secrets, const std::string& now_text) {
  licence_keys_added out;
  auto st = db_.transact([&](soci::session& sql) -> status {
    // Ids sort in the order keys were added (pages follow them): the time
    // of the upload, a random part, then the key's place in the upload.
    std::string stamp;
    for (char c : now_text)
      if (c >= '0' && c <= '9')
        stamp += c;
    auto batch = "lk" + stamp + random_hex(4);
    int64_t n = 0;
    for (auto& secret : secrets) {
      auto id = fmt::format("{}{:05}", batch, n++);
      out.added += rows::exec(
        sql,
        "INSERT INTO licence_keys (id, product_id, pool, secret, added_at) "
        "VALUES (:i, :p, :pool, :s, :t) "
        "ON CONFLICT (product_id, pool, secret) DO NOTHING",
        soci::use(id), soci::use(product_id), soci::use(pool),
        soci::use(secret), soci::use(now_text));
    }
    out.already_present = static_cast<int64_t>(secrets.size()) - out.added;
    return {};
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<licence_key_row>> licence_key_repository::issue(
  const std::string& order_id, const std::string& product_id,
  const std::string& pool, const std::string& now_text) {
  std::optional<licence_key_row> out;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.transact([&](soci::session& sql) -> status {
    {
      rows::query held{sql,
                       fmt::format("SELECT {} FROM licence_keys WHERE "
                                   "order_id = :o AND pool = :pool",
                                   key_columns),
                       soci::use(order_id), soci::use(pool)};
      for (auto& r : held)
        out = key_of(r);
    }
    if (out)
      return {};
    // The pool's oldest key left. PostgreSQL first skips keys other
    // orders' transactions are taking; if that leaves none, it waits for
    // them, as one of them may roll back and leave its key. SQLite's
    // writers take turns. `order_id IS NULL` again outside: a key given
    // meanwhile (rechecked after a lock wait) is never given twice.
    auto take = [&](const char* lock) {
      rows::query taken{
        sql,
        fmt::format("UPDATE licence_keys SET order_id = :o, issued_at = :t "
                    "WHERE order_id IS NULL AND id = (SELECT id FROM "
                    "licence_keys WHERE product_id = :p AND pool = :pool AND "
                    "order_id IS NULL ORDER BY added_at, id LIMIT 1{}) "
                    "RETURNING {}",
                    lock, key_columns),
        soci::use(order_id),
        soci::use(now_text),
        soci::use(product_id),
        soci::use(pool)};
      for (auto& r : taken)
        out = key_of(r);
    };
    take(pg ? " FOR UPDATE SKIP LOCKED" : "");
    if (!out && pg)
      take(" FOR UPDATE");
    return {};
  });
  if (st)
    return st;
  return out;
}

expected<licence_pool_level>
licence_key_repository::level(const std::string& product_id,
                              const std::string& pool, int64_t cap) {
  licence_pool_level out;
  long long probe = cap + 1;
  // One statement, so one snapshot on both backends: keys added between
  // the count and the restock mark would tie an old count to a new mark.
  auto st = db_.run([&](soci::session& sql) {
    long long left = 0;
    soci::indicator mark_ind = soci::i_null;
    rows::exec(sql,
               "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM licence_keys WHERE "
               "product_id = :p1 AND pool = :pool1 AND order_id IS NULL LIMIT "
               ":n) l), (SELECT MAX(id) FROM licence_keys WHERE product_id = "
               ":p2 AND pool = :pool2), u.email, p.title FROM products p JOIN "
               "users u ON u.id = p.creator_id WHERE p.id = :p3",
               soci::use(product_id), soci::use(pool), soci::use(probe),
               soci::use(product_id), soci::use(pool), soci::use(product_id),
               soci::into(left), soci::into(out.restock, mark_ind),
               soci::into(out.creator_email), soci::into(out.product_title));
    out.left = left;
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<licence_key_row>>
licence_key_repository::of_order(const std::string& order_id) {
  std::vector<licence_key_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rs{sql,
                   fmt::format("SELECT {} FROM licence_keys WHERE order_id = "
                               ":o ORDER BY issued_at, pool",
                               key_columns),
                   soci::use(order_id)};
    for (auto& r : rs)
      out.push_back(key_of(r));
  });
  if (st)
    return st;
  return out;
}

expected<int64_t>
licence_key_repository::revoke_order(const std::string& order_id,
                                     const std::string& reason,
                                     const std::string& now_text) {
  int64_t n = 0;
  auto st = db_.write([&](soci::session& sql) {
    n = rows::exec(sql,
                   "UPDATE licence_keys SET revoked_at = :t, revoked_reason "
                   "= :r WHERE order_id = :o AND revoked_at IS NULL",
                   soci::use(now_text), soci::use(reason), soci::use(order_id));
  });
  if (st)
    return st;
  return n;
}

expected<std::vector<licence_pool_stock>>
licence_key_repository::stock(const std::string& product_id) {
  std::vector<licence_pool_stock> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rs{
      sql,
      "SELECT pool, "
      "SUM(CASE WHEN order_id IS NULL THEN 1 ELSE 0 END), "
      "SUM(CASE WHEN order_id IS NULL THEN 0 ELSE 1 END), "
      "SUM(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END) "
      "FROM licence_keys WHERE product_id = :p GROUP BY pool ORDER BY pool",
      soci::use(product_id)};
    for (auto& r : rs)
      out.push_back({r.get<std::string>(0), rows::get_int(r, 1),
                     rows::get_int(r, 2), rows::get_int(r, 3)});
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<licence_key_row>>
licence_key_repository::list(const std::string& product_id,
                             const std::string& pool, licence_key_filter filter,
                             const std::string& after_id, uint32_t limit) {
  std::vector<licence_key_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::builder b;
    b.sql(fmt::format("SELECT {} FROM licence_keys WHERE product_id = ",
                      key_columns))
      .text(product_id);
    if (!pool.empty())
      b.sql(" AND pool = ").text(pool);
    switch (filter) {
    case licence_key_filter::all:
      break;
    case licence_key_filter::left:
      b.sql(" AND order_id IS NULL");
      break;
    case licence_key_filter::issued:
      b.sql(" AND order_id IS NOT NULL AND revoked_at IS NULL");
      break;
    case licence_key_filter::revoked:
      b.sql(" AND revoked_at IS NOT NULL");
      break;
    }
    if (!after_id.empty())
      b.sql(" AND id > ").text(after_id);
    b.sql(" ORDER BY id LIMIT ").integer(limit);
    rows::query rs{sql, b};
    for (auto& r : rs)
      out.push_back(key_of(r));
  });
  if (st)
    return st;
  return out;
}

status licence_key_repository::withdraw(const std::string& product_id,
                                        const std::string& key_id) {
  return db_.transact([&](soci::session& sql) -> status {
    std::string id, order_id;
    soci::indicator found = soci::i_null, issued = soci::i_null;
    const bool pg = db_.kind() == backend::postgresql;
    rows::read_one(sql,
                   std::string{"SELECT id, order_id FROM licence_keys WHERE "
                               "id = :k AND product_id = :p"}
                     + (pg ? " FOR UPDATE" : ""),
                   soci::use(key_id), soci::use(product_id),
                   soci::into(id, found), soci::into(order_id, issued));
    if (found != soci::i_ok)
      return error{errc::not_found, "the product has no licence key " + key_id};
    if (issued == soci::i_ok)
      return error{errc::conflict,
                   "this key was issued to order " + order_id
                     + " and stays on record; refund the order to revoke it"};
    rows::exec(sql, "DELETE FROM licence_keys WHERE id = :k",
               soci::use(key_id));
    return {};
  });
}

} // namespace souk::persistence
