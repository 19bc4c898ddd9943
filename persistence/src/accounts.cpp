#include "souk/persistence/accounts.hpp"

#include <soci/soci.h>

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::opt_string;

constexpr const char* user_columns
  = "u.id, u.email, u.password_hash, u.role, u.created_at, u.updated_at";

// Reads the user columns starting at `first`.
user_row read_user(const soci::row& r, size_t first) {
  user_row u;
  u.id = r.get<std::string>(first);
  u.email = r.get<std::string>(first + 1);
  u.password_hash = r.get<std::string>(first + 2);
  u.role = r.get<std::string>(first + 3);
  u.created_at = r.get<std::string>(first + 4);
  u.updated_at = r.get<std::string>(first + 5);
  return u;
}

api_key_row read_key(const soci::row& r) {
  api_key_row k;
  k.id = r.get<std::string>(0);
  k.user_id = r.get<std::string>(1);
  k.name = r.get<std::string>(2);
  k.prefix = r.get<std::string>(3);
  k.key_hash = r.get<std::string>(4);
  k.created_at = r.get<std::string>(5);
  k.last_used_at = opt_string(r, 6);
  k.revoked_at = opt_string(r, 7);
  return k;
}

constexpr const char* key_columns = "k.id, k.user_id, k.name, k.prefix, "
                                    "k.key_hash, k.created_at, "
                                    "k.last_used_at, k.revoked_at";

expected<std::optional<user_row>> find_user_where(database& db,
                                                  const std::string& column,
                                                  const std::string& value) {
  std::optional<user_row> out;
  auto st = db.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + user_columns
                       + " FROM users u WHERE u." + column + " = :v",
                     soci::use(value)};
    for (auto& r : rows)
      out = read_user(r, 0);
  });
  if (st)
    return st;
  return out;
}

} // namespace

status account_repository::insert_user(const user_row& row) {
  return db_.transact([&](soci::session& sql) -> status {
    // ON CONFLICT rather than "count, then insert": two sign-ups with one
    // email at once must give one account and one conflict, never an error.
    const long long st_rows
      = rows::exec(sql,
                   "INSERT INTO users (id, email, password_hash, role, "
                   "created_at, updated_at) VALUES (:id, :e, :h, :r, :c, "
                   ":u) ON CONFLICT (email) DO NOTHING",
                   soci::use(row.id), soci::use(row.email),
                   soci::use(row.password_hash), soci::use(row.role),
                   soci::use(row.created_at), soci::use(row.updated_at));
    if (st_rows == 0)
      return error{errc::conflict, "an account with this email exists",
                   "email"};
    return {};
  });
}

expected<std::optional<user_row>>
account_repository::find_user_by_email(const std::string& email) {
  return find_user_where(db_, "email", email);
}

expected<std::optional<user_row>>
account_repository::find_user(const std::string& id) {
  return find_user_where(db_, "id", id);
}

status account_repository::update_password_hash(const std::string& id,
                                                const std::string& hash) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql, "UPDATE users SET password_hash = :h WHERE id = :id",
               soci::use(hash), soci::use(id));
  });
}

status account_repository::insert_session(const session_row& row) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "INSERT INTO sessions (id, user_id, token_hash, created_at, "
               "expires_at, remote, user_agent) VALUES (:id, :u, :t, :c, :x, "
               ":r, :a)",
               soci::use(row.id), soci::use(row.user_id),
               soci::use(row.token_hash), soci::use(row.created_at),
               soci::use(row.expires_at), soci::use(row.remote),
               soci::use(row.user_agent));
  });
}

expected<std::optional<std::pair<session_row, user_row>>>
account_repository::find_live_session(const std::string& token_hash,
                                      const std::string& now) {
  std::optional<std::pair<session_row, user_row>> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT s.id, s.created_at, s.expires_at, "}
                       + user_columns
                       + " FROM sessions s JOIN users u ON u.id = "
                         "s.user_id WHERE s.token_hash = :t AND "
                         "s.revoked_at IS NULL AND s.expires_at > :now",
                     soci::use(token_hash), soci::use(now)};
    for (auto& r : rows) {
      session_row s;
      s.id = r.get<std::string>(0);
      s.created_at = r.get<std::string>(1);
      s.expires_at = r.get<std::string>(2);
      s.token_hash = token_hash;
      auto u = read_user(r, 3);
      s.user_id = u.id;
      out.emplace(std::move(s), std::move(u));
    }
  });
  if (st)
    return st;
  return out;
}

status account_repository::revoke_session(const std::string& id,
                                          const std::string& at) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE sessions SET revoked_at = :at WHERE id = :id AND "
               "revoked_at IS NULL",
               soci::use(at), soci::use(id));
  });
}

status account_repository::insert_api_key(const api_key_row& row) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, "
               "created_at) VALUES (:id, :u, :n, :p, :h, :c)",
               soci::use(row.id), soci::use(row.user_id), soci::use(row.name),
               soci::use(row.prefix), soci::use(row.key_hash),
               soci::use(row.created_at));
  });
}

expected<std::optional<std::pair<api_key_row, user_row>>>
account_repository::find_live_api_key(const std::string& key_hash) {
  std::optional<std::pair<api_key_row, user_row>> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + key_columns + ", " + user_columns
                       + " FROM api_keys k JOIN users u ON u.id = "
                         "k.user_id WHERE k.key_hash = :h AND "
                         "k.revoked_at IS NULL",
                     soci::use(key_hash)};
    for (auto& r : rows)
      out.emplace(read_key(r), read_user(r, 8));
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<api_key_row>>
account_repository::find_api_key(const std::string& id) {
  std::optional<api_key_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + key_columns
                       + " FROM api_keys k "
                         "WHERE k.id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = read_key(r);
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<api_key_row>>
account_repository::list_api_keys(const std::string& user_id) {
  std::vector<api_key_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + key_columns
                       + " FROM api_keys k WHERE k.user_id = :u ORDER BY "
                         "k.created_at DESC, k.id DESC",
                     soci::use(user_id)};
    for (auto& r : rows)
      out.push_back(read_key(r));
  });
  if (st)
    return st;
  return out;
}

status account_repository::revoke_api_key(const std::string& id,
                                          const std::string& at) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE api_keys SET revoked_at = :at WHERE id = :id AND "
               "revoked_at IS NULL",
               soci::use(at), soci::use(id));
  });
}

status account_repository::touch_api_key(const std::string& id,
                                         const std::string& at) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql, "UPDATE api_keys SET last_used_at = :at WHERE id = :id",
               soci::use(at), soci::use(id));
  });
}

expected<std::optional<throttle_row>>
account_repository::find_throttle(const std::string& email) {
  std::optional<throttle_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT email, failures, "
                     "last_failure_at, blocked_until FROM "
                     "login_throttle WHERE email = :e",
                     soci::use(email)};
    for (auto& r : rows) {
      throttle_row t;
      t.email = r.get<std::string>(0);
      t.failures = r.get<int>(1);
      t.last_failure_at = r.get<std::string>(2);
      t.blocked_until = opt_string(r, 3);
      out = std::move(t);
    }
  });
  if (st)
    return st;
  return out;
}

expected<account_repository::attempt> account_repository::begin_login_attempt(
  const std::string& email, const std::string& now,
  const std::function<std::string(int)>& block_for) {
  attempt out;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.transact([&](soci::session& sql) -> status {
    rows::exec(sql,
               "INSERT INTO login_throttle (email, failures, last_failure_at) "
               "VALUES (:e, 0, :now) ON CONFLICT (email) DO NOTHING",
               soci::use(email), soci::use(now));
    // SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL locks
    // the row until commit.
    int failures = 0;
    std::string blocked;
    soci::indicator blocked_ind = soci::i_null;
    rows::exec(sql,
               std::string{"SELECT failures, blocked_until FROM login_throttle "
                           "WHERE email = :e"}
                 + (pg ? " FOR UPDATE" : ""),
               soci::use(email), soci::into(failures),
               soci::into(blocked, blocked_ind));
    if (blocked_ind == soci::i_ok && blocked > now) {
      out.blocked_until = blocked;
      return {};
    }
    ++failures;
    auto until = block_for(failures);
    soci::indicator until_ind = until.empty() ? soci::i_null : soci::i_ok;
    rows::exec(
      sql,
      "UPDATE login_throttle SET failures = :f, last_failure_at = :now, "
      "blocked_until = :u WHERE email = :e",
      soci::use(failures), soci::use(now), soci::use(until, until_ind),
      soci::use(email));
    out.allowed = true;
    return {};
  });
  if (st)
    return st;
  return out;
}

status account_repository::clear_throttle(const std::string& email) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql, "DELETE FROM login_throttle WHERE email = :e",
               soci::use(email));
  });
}

} // namespace souk::persistence
