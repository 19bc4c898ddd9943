#include "souk/core/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <sodium.h>
#include <stdexcept>
#include <string_view>

namespace souk {

namespace {

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok)
    throw std::runtime_error("libsodium failed to initialise");
}

constexpr char hex_digits[] = "0123456789abcdef";

std::string to_hex(const uint8_t* data, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += hex_digits[data[i] >> 4];
    out += hex_digits[data[i] & 0x0f];
  }
  return out;
}

} // namespace

std::string new_uuid() {
  ensure_sodium();
  static std::mutex mx;
  static uint64_t last_ms = 0;
  static uint16_t counter = 0;
  std::array<uint8_t, 16> b{};
  randombytes_buf(b.data(), b.size());
  uint64_t ms = 0;
  uint16_t seq = 0;
  {
    std::lock_guard guard{mx};
    using namespace std::chrono;
    auto now = static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch())
        .count());
    if (now > last_ms) {
      last_ms = now;
      // Start low in a fresh millisecond so the counter rarely overflows.
      counter = static_cast<uint16_t>((b[6] << 8 | b[7]) & 0x01ff);
    } else if (++counter > 0x0fff) {
      ++last_ms; // counter exhausted: borrow the next millisecond
      counter = 0;
    }
    ms = last_ms;
    seq = counter;
  }
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | ((seq >> 8) & 0x0f));
  b[7] = static_cast<uint8_t>(seq & 0xff);
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));
  auto hex = to_hex(b.data(), b.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4)
         + '-' + hex.substr(16, 4) + '-' + hex.substr(20);
}

bool is_uuid(std::string_view text) noexcept {
  if (text.size() != 36)
    return false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string random_hex(size_t bytes) {
  ensure_sodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return to_hex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

std::string random_token(size_t bytes) {
  ensure_sodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out(
    sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
    '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

} // namespace souk
