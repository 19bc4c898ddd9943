#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

struct user_row {
  std::string id;
  std::string email;
  std::string password_hash;
  std::string role; ///< customer | creator | operator
  std::string created_at;
  std::string updated_at;
};

struct session_row {
  std::string id;
  std::string user_id;
  std::string token_hash;
  std::string created_at;
  std::string expires_at;
  std::string revoked_at; ///< empty while live
  std::string remote;
  std::string user_agent;
};

struct api_key_row {
  std::string id;
  std::string user_id;
  std::string name;
  std::string prefix;
  std::string key_hash;
  std::string created_at;
  std::string last_used_at; ///< empty if never used
  std::string revoked_at;   ///< empty while live
};

struct throttle_row {
  std::string email;
  int failures = 0;
  std::string last_failure_at;
  std::string blocked_until; ///< empty if not blocked
};

/// Users, sessions, API keys and the login throttle. Blocking: call from
/// database or worker threads. Timestamps are ISO-8601 UTC text
/// (`souk::to_iso`).
class account_repository {
public:
  explicit account_repository(database& db) : db_(db) {}

  /// Inserts a user; `errc::conflict` if the email is taken.
  status insert_user(const user_row& row);
  expected<std::optional<user_row>>
  find_user_by_email(const std::string& email);
  expected<std::optional<user_row>> find_user(const std::string& id);
  status update_password_hash(const std::string& id, const std::string& hash);

  status insert_session(const session_row& row);
  /// The session with `token_hash` that is neither revoked nor expired at
  /// `now`, with its user.
  expected<std::optional<std::pair<session_row, user_row>>>
  find_live_session(const std::string& token_hash, const std::string& now);
  status revoke_session(const std::string& id, const std::string& at);

  status insert_api_key(const api_key_row& row);
  /// The unrevoked key with `key_hash`, with its user.
  expected<std::optional<std::pair<api_key_row, user_row>>>
  find_live_api_key(const std::string& key_hash);
  expected<std::optional<api_key_row>> find_api_key(const std::string& id);
  /// A user's keys, newest first (revoked ones included).
  expected<std::vector<api_key_row>> list_api_keys(const std::string& user_id);
  /// Sets revoked_at unless already set.
  status revoke_api_key(const std::string& id, const std::string& at);
  status touch_api_key(const std::string& id, const std::string& at);

  expected<std::optional<throttle_row>> find_throttle(const std::string& email);
  /// The outcome of `begin_login_attempt`.
  struct attempt {
    bool allowed = false;      ///< false: blocked, do not check the password
    std::string blocked_until; ///< when refused: until when
  };

  /// Counts a login attempt for `email` before its password is checked, in
  /// one transaction (row-locked), so parallel guesses cannot slip past the
  /// block: an attempt while `blocked_until` is in the future is refused and
  /// not counted; otherwise the failure count goes up, and if
  /// `block_for(count)` returns a time the email is blocked until then at
  /// once (a successful login clears it with `clear_throttle`).
  expected<attempt> begin_login_attempt(
    const std::string& email, const std::string& now,
    const std::function<std::string(int failures)>& block_for);
  status clear_throttle(const std::string& email);

private:
  database& db_;
};

} // namespace souk::persistence
