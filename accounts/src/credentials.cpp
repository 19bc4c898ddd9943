#include "souk/accounts/credentials.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>
#include <sodium.h>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "souk/core/hash.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/text.hpp"

namespace souk::accounts {

// Generated from accounts/data/common-passwords.txt (see CMakeLists.txt).
const std::vector<std::pair<std::string_view, std::string_view>>&
embedded_password_lists();

namespace {

constexpr std::string_view api_key_marker = "souk_sk_";

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok)
    throw std::runtime_error("libsodium failed to initialise");
}

const std::set<std::string>& common_passwords() {
  static const auto list = [] {
    std::set<std::string> out;
    for (auto& [name, text] : embedded_password_lists()) {
      std::string_view rest = text;
      while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{}
                                            : rest.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
          line.remove_suffix(1);
        if (!line.empty() && line.front() != '#')
          out.insert(ascii_lower(line));
      }
    }
    return out;
  }();
  return list;
}

error bad_email(std::string detail) {
  return error{errc::invalid_field, std::move(detail), "email"};
}

} // namespace

expected<std::string> normalize_email(std::string_view text) {
  while (!text.empty()
         && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.empty())
    return bad_email("email is required");
  if (text.size() > 254)
    return bad_email("email is longer than 254 characters");
  for (unsigned char c : text)
    if (c >= 0x80)
      return bad_email("email must be ASCII (internationalised addresses "
                       "are not supported yet)");
  for (unsigned char c : text)
    if (c <= ' ' || c == 0x7f || c == '"' || c == ',' || c == ';' || c == '<'
        || c == '>' || c == '(' || c == ')' || c == '[' || c == ']'
        || c == '\\')
      return bad_email("email contains characters an address cannot have");
  auto at = text.find('@');
  if (at == std::string_view::npos
      || text.find('@', at + 1) != std::string_view::npos)
    return bad_email("email must contain exactly one '@'");
  auto local = text.substr(0, at);
  auto domain = text.substr(at + 1);
  if (local.empty() || local.size() > 64)
    return bad_email("the part before '@' must be 1 to 64 characters");
  auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0
      || domain.back() == '.' || domain.find("..") != std::string_view::npos
      || domain.front() == '-')
    return bad_email("the part after '@' must be a domain like example.com");
  return ascii_lower(text);
}

status check_password(std::string_view password, std::string_view email,
                      uint32_t min_length) {
  auto bad = [](std::string detail) {
    return error{errc::invalid_field, std::move(detail), "password"};
  };
  // Characters, not bytes: UTF-8 continuation bytes do not count.
  auto chars = std::count_if(password.begin(), password.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  });
  if (chars < static_cast<std::ptrdiff_t>(min_length))
    return bad(
      fmt::format("password must be at least {} characters", min_length));
  if (password.size() > 1024)
    return bad("password must be at most 1024 bytes");
  auto low = ascii_lower(password);
  if (common_passwords().count(low))
    return bad("password is one of the most common passwords; choose another");
  if (std::all_of(password.begin(), password.end(),
                  [&](char c) { return c == password.front(); }))
    return bad("password must not be one character repeated");
  auto mail = ascii_lower(email);
  auto local = mail.substr(0, mail.find('@'));
  if (low == mail || (!local.empty() && low == local))
    return bad("password must not be your email address");
  return {};
}

expected<std::string> hash_password(std::string_view password,
                                    const hash_cost& cost) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), cost.ops,
                        static_cast<size_t>(cost.memory))
      != 0)
    return error{errc::internal, "password hashing ran out of memory"};
  return std::string{out};
}

bool verify_password(const std::string& hash, std::string_view password) {
  ensure_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(),
                                  password.size())
         == 0;
}

bool needs_rehash(const std::string& hash, const hash_cost& cost) {
  ensure_sodium();
  return crypto_pwhash_str_needs_rehash(hash.c_str(), cost.ops,
                                        static_cast<size_t>(cost.memory))
         != 0;
}

void equalize_timing(const hash_cost& cost) {
  // A hash made once per cost setting; verifying against it costs what a
  // real verification costs.
  static std::mutex mx;
  static std::string dummy;
  static hash_cost dummy_cost{0, 0};
  std::string h;
  {
    std::lock_guard guard{mx};
    if (dummy.empty() || dummy_cost.ops != cost.ops
        || dummy_cost.memory != cost.memory) {
      auto made = hash_password(random_hex(16), cost);
      if (!made)
        return;
      dummy = *made;
      dummy_cost = cost;
    }
    h = dummy;
  }
  (void)verify_password(h, "not the password");
}

std::string new_session_token() {
  return random_token(32);
}

std::string new_api_key() {
  return std::string{api_key_marker} + random_token(32);
}

bool is_api_key(std::string_view token) noexcept {
  return token.starts_with(api_key_marker);
}

std::string api_key_prefix(std::string_view key) {
  return std::string{key.substr(0, 12)};
}

std::string token_hash(std::string_view token) {
  return sha256_hex(token);
}

std::string csrf_token_for(std::string_view session_token) {
  // A different input than `token_hash`, so the stored hash does not give
  // the CSRF token away either.
  return token_hash(std::string{"souk csrf v1:"} + std::string{session_token});
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace souk::accounts
