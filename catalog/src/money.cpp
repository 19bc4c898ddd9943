#include "souk/catalog/money.hpp"

#include <fmt/format.h>

namespace souk::catalog {

namespace {

std::string name(std::string_view field, std::string_view member) {
  return fmt::format("{}.{}", field, member);
}

} // namespace

const std::vector<std::string>& known_currencies() {
  static const std::vector<std::string> all{"NGN", "USD"};
  return all;
}

std::optional<int64_t> gateway_minimum(std::string_view currency) noexcept {
  // Paystack refuses smaller charges; checking here turns a failed checkout
  // later into a clear error now.
  if (currency == "NGN")
    return 5000;
  if (currency == "USD")
    return 200;
  return std::nullopt;
}

std::string to_display(const money& m) {
  auto sign = m.amount < 0 ? "-" : "";
  // Unsigned so that the most negative int64 has a magnitude too.
  auto abs = m.amount < 0 ? 0 - static_cast<uint64_t>(m.amount)
                          : static_cast<uint64_t>(m.amount);
  return fmt::format("{} {}{}.{:02}", m.currency, sign, abs / 100, abs % 100);
}

status check_price(const money& m, std::string_view field) {
  auto minimum = gateway_minimum(m.currency);
  if (!minimum)
    return error{
      errc::invalid_field,
      fmt::format("{} must be one of NGN, USD", name(field, "currency")),
      name(field, "currency")};
  if (m.amount <= 0)
    return error{errc::invalid_field,
                 fmt::format("{} must be a positive number of minor units "
                             "(kobo, cents)",
                             name(field, "amount")),
                 name(field, "amount")};
  if (m.amount < *minimum)
    return error{errc::invalid_field,
                 fmt::format("{} must be at least {} ({} minor units), the "
                             "payment gateway's minimum",
                             name(field, "amount"),
                             to_display({*minimum, m.currency}), *minimum),
                 name(field, "amount")};
  return {};
}

status check_min_price(const money& min, const money& price,
                       std::string_view field) {
  if (auto err = check_price(min, field))
    return err;
  if (min.currency != price.currency)
    return error{errc::invalid_field,
                 fmt::format("{} must be the price's currency, {}",
                             name(field, "currency"), price.currency),
                 name(field, "currency")};
  if (min.amount > price.amount)
    return error{errc::invalid_field,
                 fmt::format("{} must not exceed the price ({})",
                             name(field, "amount"), to_display(price)),
                 name(field, "amount")};
  return {};
}

} // namespace souk::catalog
