#include "fields.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include <fmt/format.h>

#include "souk/core/units.hpp"

namespace souk::sandbox {

namespace {

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

bool is_visible(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

} // namespace

expected<int64_t> amount_of(const nlohmann::json& value,
                            const std::string& name) {
  auto bad = [&] {
    return error{errc::invalid_field,
                 fmt::format("Invalid {} sent: {} must be a positive whole "
                             "number of minor units (kobo, cents), as a "
                             "number or a string of digits",
                             name, name),
                 name};
  };
  // Negative integers, fractions, booleans and the rest are all refused.
  uint64_t amount = 0;
  if (value.is_number_unsigned()) {
    amount = value.get<uint64_t>();
  } else if (value.is_string()) {
    auto parsed = parse_uint(value.get_ref<const std::string&>());
    if (!parsed)
      return bad();
    amount = *parsed;
  } else {
    return bad();
  }
  if (amount == 0)
    return bad();
  if (amount > static_cast<uint64_t>(max_amount))
    return error{errc::invalid_field,
                 fmt::format("Invalid {} sent: {} is too large", name, name),
                 name};
  return static_cast<int64_t>(amount);
}

expected<std::optional<std::string>> optional_text(const nlohmann::json& body,
                                                   const std::string& name,
                                                   size_t max_length) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null())
    return std::optional<std::string>{};
  if (!it->is_string())
    return error{errc::invalid_field, fmt::format("{} must be a string", name),
                 name};
  auto& text = it->get_ref<const std::string&>();
  if (text.size() > max_length)
    return error{
      errc::invalid_field,
      fmt::format("{} is longer than {} characters", name, max_length), name};
  return std::optional<std::string>{text};
}

expected<std::string> required_text(const nlohmann::json& body,
                                    const std::string& name,
                                    size_t max_length) {
  auto text = optional_text(body, name, max_length);
  if (!text)
    return std::move(text).err();
  if (!*text || (*text)->empty())
    return error{errc::invalid_field, fmt::format("{} is required", name),
                 name};
  return std::move(**text);
}

bool valid_transaction_reference(std::string_view text) noexcept {
  return !text.empty() && text.size() <= 100
         && std::all_of(text.begin(), text.end(), [](char c) {
              return is_alnum(c) || c == '-' || c == '.' || c == '=';
            });
}

bool valid_transfer_reference(std::string_view text) noexcept {
  return text.size() >= 16 && text.size() <= 50
         && std::all_of(text.begin(), text.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_';
            });
}

bool valid_email(std::string_view text) noexcept {
  if (text.size() > 254 || !std::all_of(text.begin(), text.end(), is_visible))
    return false;
  auto at = text.find('@');
  if (at == 0 || at == std::string_view::npos
      || text.find('@', at + 1) != std::string_view::npos)
    return false;
  auto domain = text.substr(at + 1);
  auto dot = domain.find('.');
  return dot != std::string_view::npos && dot > 0 && domain.back() != '.';
}

bool supported_currency(std::string_view code) noexcept {
  static constexpr std::array<std::string_view, 5> codes{"NGN", "USD", "GHS",
                                                         "ZAR", "KES"};
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

bool valid_url(std::string_view text) noexcept {
  auto rest = text;
  if (rest.substr(0, 7) == "http://")
    rest.remove_prefix(7);
  else if (rest.substr(0, 8) == "https://")
    rest.remove_prefix(8);
  else
    return false;
  return !rest.empty() && rest.front() != '/' && text.size() <= 2000
         && std::all_of(text.begin(), text.end(), is_visible);
}

int64_t shifted(int64_t amount, int64_t delta) noexcept {
  int64_t out = 0;
  if (__builtin_add_overflow(amount, delta, &out))
    return delta > 0 ? std::numeric_limits<int64_t>::max()
                     : std::numeric_limits<int64_t>::min();
  return out;
}

std::string query_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

} // namespace souk::sandbox
