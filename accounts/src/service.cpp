#include "souk/accounts/service.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "souk/config/settings.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/accounts.hpp"
#include "souk/persistence/database.hpp"

namespace souk::accounts {

namespace {

user to_user(const persistence::user_row& row) {
  return user{row.id, row.email, row.role, row.created_at};
}

api_key_info to_info(const persistence::api_key_row& row) {
  return api_key_info{row.id,         row.name,         row.prefix,
                      row.created_at, row.last_used_at, row.revoked_at};
}

// Header values are bytes of any kind; the database wants valid text.
std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (unsigned char c : text.substr(0, max))
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  return out;
}

error wrong_credentials() {
  return error{errc::unauthorized, "the email or the password is wrong"};
}

error throttled(timestamp until) {
  auto wait = std::chrono::ceil<std::chrono::seconds>(until - now());
  error err{errc::rate_limited,
            fmt::format("too many failed logins for this email; try again in "
                        "{} seconds",
                        std::max<int64_t>(1, wait.count()))};
  err.retry_after = std::max(wait, std::chrono::seconds{1});
  return err;
}

} // namespace

policy policy_of(const config::auth_settings& cfg) {
  policy p;
  p.cost = hash_cost{cfg.password_hash_ops, cfg.password_hash_memory};
  p.password_min_length = cfg.password_min_length;
  p.session_ttl = cfg.session_ttl;
  p.failures_before_block = cfg.login_failures_before_block;
  p.block_initial = cfg.login_block_initial;
  p.block_max = cfg.login_block_max;
  return p;
}

service::service(std::shared_ptr<persistence::database> db, policy p)
  : db_(std::move(db)), policy_(p) {}

expected<user> service::create(std::string_view email,
                               std::string_view password,
                               std::string_view role) {
  auto normal = normalize_email(email);
  if (!normal)
    return normal.err();
  if (auto err = check_password(password, *normal, policy_.password_min_length))
    return err;
  auto hash = hash_password(password, policy_.cost);
  if (!hash)
    return hash.err();
  persistence::user_row row;
  row.id = new_uuid();
  row.email = *normal;
  row.password_hash = *hash;
  row.role = std::string{role};
  row.created_at = row.updated_at = to_iso(now());
  if (auto err = persistence::account_repository{*db_}.insert_user(row))
    return err;
  return to_user(row);
}

expected<user> service::sign_up(std::string_view email,
                                std::string_view password,
                                std::string_view role) {
  if (role != customer && role != creator)
    return error{errc::invalid_field, "role must be customer or creator",
                 "role"};
  return create(email, password, role);
}

expected<user> service::create_operator(std::string_view email,
                                        std::string_view password) {
  return create(email, password, operator_role);
}

expected<login_result> service::log_in(std::string_view email,
                                       std::string_view password,
                                       const std::string& remote,
                                       const std::string& user_agent) {
  auto normal = normalize_email(email);
  if (!normal)
    return normal.err();
  if (password.empty())
    return error{errc::invalid_field, "password is required", "password"};
  persistence::account_repository repo{*db_};
  // Count the attempt before checking the password: parallel guesses then
  // meet the block as soon as the threshold is reached.
  auto attempt = repo.begin_login_attempt(
    *normal, to_iso(now()), [this](int failures) -> std::string {
      auto over = failures - static_cast<int>(policy_.failures_before_block);
      if (over < 0)
        return {};
      auto block = policy_.block_initial;
      for (int i = 0; i < over && block < policy_.block_max; ++i)
        block *= 2;
      return to_iso(now() + std::min(block, policy_.block_max));
    });
  if (!attempt)
    return attempt.err();
  if (!attempt->allowed) {
    auto until = parse_iso(attempt->blocked_until);
    return throttled(until ? *until : now() + std::chrono::seconds(1));
  }
  auto found = repo.find_user_by_email(*normal);
  if (!found)
    return found.err();
  bool ok = false;
  if (*found)
    ok = verify_password((*found)->password_hash, password);
  else
    equalize_timing(policy_.cost);
  if (!ok)
    return wrong_credentials();
  auto& account = **found;
  if (auto err = repo.clear_throttle(*normal))
    return err;
  if (needs_rehash(account.password_hash, policy_.cost)) {
    // The cost settings changed since this hash was made.
    if (auto rehashed = hash_password(password, policy_.cost))
      (void)repo.update_password_hash(account.id, *rehashed);
  }
  login_result out;
  out.token = new_session_token();
  out.csrf_token = csrf_token_for(out.token);
  persistence::session_row s;
  s.id = new_uuid();
  s.user_id = account.id;
  s.token_hash = token_hash(out.token);
  auto start = now();
  s.created_at = to_iso(start);
  s.expires_at = to_iso(start + policy_.session_ttl);
  s.remote = printable(remote, 64);
  s.user_agent = printable(user_agent, 512);
  if (auto err = repo.insert_session(s))
    return err;
  out.expires_at = s.expires_at;
  out.who = to_user(account);
  return out;
}

status service::log_out(const principal& p) {
  if (p.credential != principal::via::session)
    return error{errc::forbidden,
                 "an API key cannot log out; revoke it with DELETE "
                 "/api/v1/api-keys/{id}"};
  return persistence::account_repository{*db_}.revoke_session(p.credential_id,
                                                              to_iso(now()));
}

expected<principal> service::authenticate(std::string_view token) {
  if (token.empty() || token.size() > 256)
    return error{errc::unauthorized, "invalid credentials"};
  persistence::account_repository repo{*db_};
  auto hash = token_hash(token);
  if (is_api_key(token)) {
    auto found = repo.find_live_api_key(hash);
    if (!found)
      return found.err();
    if (!*found)
      return error{errc::unauthorized, "unknown or revoked API key"};
    auto& [key, account] = **found;
    // Refresh last_used_at at most once a minute: not a write per request.
    auto last = parse_iso(key.last_used_at);
    if (!last || now() - *last > std::chrono::minutes(1))
      (void)repo.touch_api_key(key.id, to_iso(now()));
    return principal{to_user(account), principal::via::api_key, key.id};
  }
  auto found = repo.find_live_session(hash, to_iso(now()));
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::unauthorized, "the session is unknown, expired or "
                                     "logged out; log in again"};
  auto& [session, account] = **found;
  return principal{to_user(account), principal::via::session, session.id};
}

expected<api_key_created> service::create_api_key(const principal& p,
                                                  std::string_view name) {
  auto space
    = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!name.empty() && space(name.front()))
    name.remove_prefix(1);
  while (!name.empty() && space(name.back()))
    name.remove_suffix(1);
  std::string label{name};
  if (label.empty() || label.size() > 100)
    return error{errc::invalid_field, "name must be 1 to 100 characters",
                 "name"};
  api_key_created out;
  out.key = new_api_key();
  persistence::api_key_row row;
  row.id = new_uuid();
  row.user_id = p.who.id;
  row.name = label;
  row.prefix = api_key_prefix(out.key);
  row.key_hash = token_hash(out.key);
  row.created_at = to_iso(now());
  if (auto err = persistence::account_repository{*db_}.insert_api_key(row))
    return err;
  out.info = to_info(row);
  return out;
}

expected<std::vector<api_key_info>> service::list_api_keys(const principal& p) {
  auto rows = persistence::account_repository{*db_}.list_api_keys(p.who.id);
  if (!rows)
    return rows.err();
  std::vector<api_key_info> out;
  for (auto& r : *rows)
    out.push_back(to_info(r));
  return out;
}

status service::revoke_api_key(const principal& p, const std::string& id) {
  persistence::account_repository repo{*db_};
  auto key = repo.find_api_key(id);
  if (!key)
    return key.err();
  bool visible
    = *key && ((*key)->user_id == p.who.id || p.who.role == operator_role);
  if (!visible)
    return error{errc::not_found, "no API key " + id};
  return repo.revoke_api_key(id, to_iso(now()));
}

} // namespace souk::accounts
