#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::catalog {

/// An amount of money: integer minor units (kobo, cents) with its ISO 4217
/// currency. Never floating point.
struct money {
  int64_t amount = 0;
  std::string currency;

  friend bool operator==(const money&, const money&) = default;
};

/// The currencies souk sells in, in the order documents list them.
const std::vector<std::string>& known_currencies();

/// The smallest charge the payment gateway accepts in `currency`, in minor
/// units (Paystack: NGN 50.00 = 5000 kobo, USD 2.00 = 200 cents); nullopt for
/// a currency souk does not sell in.
std::optional<int64_t> gateway_minimum(std::string_view currency) noexcept;

/// `m` for people: "NGN 50.00". Both known currencies have two decimals.
std::string to_display(const money& m);

/// Checks a price: a known currency and an amount of at least the gateway's
/// minimum. Errors are `errc::invalid_field` naming `field + ".currency"` or
/// `field + ".amount"` (e.g. "price.amount"), currency first.
status check_price(const money& m, std::string_view field);

/// Checks a pay-what-you-want minimum against its `price` (assumed valid):
/// what `check_price` checks, plus the same currency as `price` and an amount
/// of at most `price.amount`. Errors name `field + ".currency"` or
/// `field + ".amount"`.
status check_min_price(const money& min, const money& price,
                       std::string_view field);

} // namespace souk::catalog
