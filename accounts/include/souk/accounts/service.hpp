#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "souk/accounts/credentials.hpp"
#include "souk/core/error.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::config {
struct auth_settings;
} // namespace souk::config

namespace souk::accounts {

/// The roles souk knows. Operators are created by `soukctl admin create`,
/// never by sign-up.
inline constexpr std::string_view customer = "customer";
inline constexpr std::string_view creator = "creator";
inline constexpr std::string_view operator_role = "operator";

/// An account as the API shows it (never the password hash).
struct user {
  std::string id;
  std::string email;
  std::string role;
  std::string created_at;
};

/// Who is calling: the user, and the credential that proved it.
struct principal {
  enum class via { session, api_key };
  user who;
  via credential = via::session;
  std::string credential_id; ///< sessions.id or api_keys.id
};

struct login_result {
  std::string token; ///< shown once; only its hash is stored
  std::string expires_at;
  std::string csrf_token; ///< for cookie-authenticated writes
  user who;
};

/// An API key as listed (without the key).
struct api_key_info {
  std::string id;
  std::string name;
  std::string prefix;
  std::string created_at;
  std::string last_used_at;
  std::string revoked_at;
};

struct api_key_created {
  api_key_info info;
  std::string key; ///< shown once; only its hash is stored
};

/// Policy knobs, with the defaults of `config::auth_settings`.
struct policy {
  hash_cost cost;
  uint32_t password_min_length = 10;
  std::chrono::milliseconds session_ttl{14ll * 24 * 3600 * 1000};
  /// Failed logins for one email before it is blocked...
  uint32_t failures_before_block = 5;
  /// ...for this long, doubling with each further failure...
  std::chrono::milliseconds block_initial{30'000};
  /// ...up to this.
  std::chrono::milliseconds block_max{15 * 60'000};
};

/// The policy the `auth:` config section describes.
policy policy_of(const config::auth_settings& cfg);

/// Accounts, sessions and API keys. Every call blocks (database, Argon2id):
/// run it on worker threads, never on an event loop or CAF scheduler thread.
/// Thread-safe.
class service {
public:
  service(std::shared_ptr<persistence::database> db, policy p);

  const policy& rules() const noexcept { return policy_; }

  /// Creates a customer or creator. `errc::invalid_field` names the bad
  /// field; `errc::conflict` if the email is taken.
  expected<user> sign_up(std::string_view email, std::string_view password,
                         std::string_view role);

  /// Creates an operator (for `soukctl admin create`).
  expected<user> create_operator(std::string_view email,
                                 std::string_view password);

  /// Checks the password and opens a session. Wrong email and wrong password
  /// are the same `errc::unauthorized` and take the same time; an email with
  /// too many recent failures gets `errc::rate_limited` with `retry_after`
  /// (without checking the password), whether or not the account exists.
  expected<login_result> log_in(std::string_view email,
                                std::string_view password,
                                const std::string& remote,
                                const std::string& user_agent);

  /// Revokes the session `p` came with. `errc::forbidden` for API keys.
  status log_out(const principal& p);

  /// The principal for a bearer token or session cookie value;
  /// `errc::unauthorized` if unknown, expired or revoked.
  expected<principal> authenticate(std::string_view token);

  /// A new API key for `p`'s user. REQUIRES: `p` is a creator.
  expected<api_key_created> create_api_key(const principal& p,
                                           std::string_view name);

  /// `p`'s keys, newest first.
  expected<std::vector<api_key_info>> list_api_keys(const principal& p);

  /// Revokes key `id` if it belongs to `p` (operators: any key);
  /// `errc::not_found` otherwise, so other users' keys stay invisible.
  /// Revoking a revoked key succeeds.
  status revoke_api_key(const principal& p, const std::string& id);

private:
  expected<user> create(std::string_view email, std::string_view password,
                        std::string_view role);

  std::shared_ptr<persistence::database> db_;
  policy policy_;
};

} // namespace souk::accounts
