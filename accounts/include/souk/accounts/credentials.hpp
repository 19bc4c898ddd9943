#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"

/// The pure parts of accounts: email normalisation, the password policy,
/// Argon2id password hashing, and the tokens souk hands out. No I/O.
namespace souk::accounts {

/// Trims, lowercases and checks an email address ("  Ada@Example.COM " ->
/// "ada@example.com"). Fails with `errc::invalid_field` (field "email") on
/// anything that is not one local part, one '@' and a dotted domain, or that
/// is longer than 254 characters.
expected<std::string> normalize_email(std::string_view text);

/// The password rules: at least `min_length` characters (and at most 1024
/// bytes), not one of the most common passwords, not the email or its local
/// part, not a single repeated character. Errors name the field "password".
status check_password(std::string_view password, std::string_view email,
                      uint32_t min_length);

/// Argon2id cost parameters (libsodium `crypto_pwhash_str`).
struct hash_cost {
  uint64_t ops = 2;              ///< crypto_pwhash_OPSLIMIT_INTERACTIVE
  uint64_t memory = 64ull << 20; ///< bytes; crypto_pwhash_MEMLIMIT_INTERACTIVE
};

/// The Argon2id hash of `password` in libsodium's self-describing string
/// form. CPU- and memory-heavy by design: call it off the event loops.
expected<std::string> hash_password(std::string_view password,
                                    const hash_cost& cost);

/// True if `password` matches `hash`. As slow as `hash_password`.
bool verify_password(const std::string& hash, std::string_view password);

/// True if `hash` was made with other parameters than `cost` (rehash on the
/// next successful login).
bool needs_rehash(const std::string& hash, const hash_cost& cost);

/// Spends the time of one `verify_password`, so that a login for an unknown
/// email takes as long as one with a wrong password.
void equalize_timing(const hash_cost& cost);

/// A new session token: 256 random bits, base64url.
std::string new_session_token();

/// A new API key: "souk_sk_" followed by 256 random bits, base64url. The
/// prefix tells keys and session tokens apart.
std::string new_api_key();

/// True if `token` has the API key form.
bool is_api_key(std::string_view token) noexcept;

/// The display prefix of an API key (its first 12 characters), stored so that
/// creators can tell their keys apart; not enough to use the key.
std::string api_key_prefix(std::string_view key);

/// How tokens and keys are stored: SHA-256, hex. They carry 256 random bits,
/// so a fast hash is enough; the database never holds a usable token.
std::string token_hash(std::string_view token);

/// The CSRF token that goes with a session token: derived from it (so nothing
/// more is stored), useless without it, unknowable to other sites.
std::string csrf_token_for(std::string_view session_token);

/// Compares two strings in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace souk::accounts
