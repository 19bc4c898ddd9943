#pragma once

// Paystack's input rules, one function each, so that the routes and the
// tests agree on them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "souk/core/error.hpp"

namespace souk::sandbox {

/// The largest amount accepted, in minor units (10^15: far above any real
/// charge, far below where fees or `amount_delta` could overflow).
constexpr int64_t max_amount = 1'000'000'000'000'000;

/// An amount in minor units: a JSON integer or a string of digits (Paystack
/// takes both), 1 to `max_amount`. The error names `name`.
expected<int64_t> amount_of(const nlohmann::json& value,
                            const std::string& name);

/// The string member `name` of `body`: nullopt if absent or null; an error
/// naming it if it is not a string or longer than `max_length` bytes.
expected<std::optional<std::string>> optional_text(const nlohmann::json& body,
                                                   const std::string& name,
                                                   size_t max_length = 1000);

/// Like `optional_text`, but absent, null or empty is an error.
expected<std::string> required_text(const nlohmann::json& body,
                                    const std::string& name,
                                    size_t max_length = 1000);

/// Transaction references: 1 to 100 of alphanumerics, '-', '.', '='.
bool valid_transaction_reference(std::string_view text) noexcept;

/// Transfer references: 16 to 50 of lowercase a-z, digits, '-', '_'.
bool valid_transfer_reference(std::string_view text) noexcept;

/// One '@' between a non-empty local part and a dotted domain, no spaces or
/// control characters, at most 254 bytes. Deliberately loose: souk checks
/// emails itself; this only refuses what Paystack would certainly refuse.
bool valid_email(std::string_view text) noexcept;

/// NGN, USD, GHS, ZAR or KES.
bool supported_currency(std::string_view code) noexcept;

/// An absolute http(s) URL without spaces or control characters (it ends
/// up in a Location header).
bool valid_url(std::string_view text) noexcept;

/// `amount + delta`, saturating instead of overflowing.
int64_t shifted(int64_t amount, int64_t delta) noexcept;

/// `text` percent-encoded for a query value (unreserved characters kept).
std::string query_escape(std::string_view text);

} // namespace souk::sandbox
