#include "souk/core/hash.hpp"

#include <sodium.h>
#include <stdexcept>

namespace souk {

namespace {

void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok)
    throw std::runtime_error("libsodium failed to initialise");
}

template<size_t N>
std::string hex_of(const unsigned char (&digest)[N]) {
  char hex[N * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, N);
  return hex;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

} // namespace

std::string sha256_hex(std::string_view data) {
  init_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, bytes(data), data.size());
  return hex_of(digest);
}

std::string hmac_sha512_hex(std::string_view key, std::string_view data) {
  init_sodium();
  // The streaming form takes a key of any length (hashed first when longer
  // than a block), as HMAC defines and Paystack's secret keys need.
  crypto_auth_hmacsha512_state st;
  crypto_auth_hmacsha512_init(&st, bytes(key), key.size());
  crypto_auth_hmacsha512_update(&st, bytes(data), data.size());
  unsigned char digest[crypto_auth_hmacsha512_BYTES];
  crypto_auth_hmacsha512_final(&st, digest);
  return hex_of(digest);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  if (a.empty())
    return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace souk
