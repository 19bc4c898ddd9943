#pragma once

// The gateway interface: what souk asks of a payment gateway, in souk's own
// terms (integer minor units, ISO currencies, closed status sets). A driver
// (Paystack today) maps it onto one gateway's API; the sandbox gateway in
// `sandbox/` serves Paystack's API locally so the same driver runs in tests.
//
// Every call is blocking (network): run it on a worker thread. Errors:
//  * `errc::unavailable` — not done: the gateway was not reached, or said
//    it failed (5xx, 429); safe to retry later, with the same reference;
//  * `errc::timeout` — no answer: the gateway may or may not have done it
//    (matters for calls that are not idempotent at the gateway: refunds);
//  * `errc::conflict` — refused as a duplicate (a reused reference);
//  * `errc::not_found` — the gateway knows no such reference;
//  * `errc::invalid_field` — refused for another reason (the gateway's
//    message is in `detail`): retrying the same call will not help.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::payments {

/// A charge to start: the buyer pays it on the gateway's hosted page.
struct charge_request {
  std::string email;
  int64_t amount = 0; ///< minor units
  std::string currency;
  /// Ours, unique per charge: alphanumerics, '-', '.', '='.
  std::string reference;
  /// Where the buyer's browser returns (`?reference=` is added).
  std::string callback_url;
  /// A JSON object stored with the charge (e.g. the order id).
  std::string metadata;
};

/// Where to send the buyer.
struct checkout_session {
  std::string authorization_url;
  std::string access_code;
  std::string reference;
};

/// What a charge is, as the gateway reports it.
enum class charge_status {
  pending,   ///< not finished: pending, ongoing, processing, queued
  abandoned, ///< started, never completed (may still be completed)
  failed,    ///< declined
  success,   ///< paid
  reversed,  ///< paid, then reversed (refunded in full or charged back)
};

std::string_view to_string(charge_status s) noexcept;

/// A charge as `verify` reports it.
struct charge {
  std::string reference;
  uint64_t id = 0; ///< the gateway's transaction id
  charge_status status = charge_status::pending;
  std::string status_text; ///< the gateway's own word, e.g. "ongoing"
  int64_t amount = 0;      ///< what the gateway says was charged
  std::string currency;
  int64_t fees = 0;
  std::string paid_at; ///< as the gateway wrote it; empty if unpaid
  std::string channel;
  std::string gateway_response; ///< e.g. "Approved"
  std::string raw;              ///< the response's `data`, as JSON
};

/// A refund to start against a paid charge.
struct refund_request {
  std::string transaction; ///< the charge's reference
  /// Minor units; none refunds what is left of the charge.
  std::optional<int64_t> amount;
  std::string currency;
  std::string merchant_note;
};

/// A refund as the gateway reports it.
struct refund {
  uint64_t id = 0;
  std::string status; ///< pending, processing, processed, failed
  int64_t amount = 0;
  std::string currency;
  std::string transaction_reference;
  std::string raw;
};

/// A creator's bank account, to pay out to.
struct recipient_request {
  std::string type = "nuban"; ///< nuban, ghipss, mobile_money, basa
  std::string name;
  std::string account_number;
  std::string bank_code;
  std::string currency;
};

struct recipient {
  std::string recipient_code; ///< RCP_...
  std::string raw;
};

/// A payout from the platform's balance.
struct transfer_request {
  int64_t amount = 0;
  std::string currency;
  std::string recipient; ///< recipient_code
  /// Ours, stable across retries so a retry can never pay twice: 16-50
  /// characters of a-z, 0-9, '-', '_'.
  std::string reference;
  std::string reason;
};

/// What a transfer is: final statuses are success, failed, reversed,
/// abandoned, blocked, rejected; pending, otp, received are not.
struct transfer {
  std::string transfer_code; ///< TRF_...
  std::string reference;
  std::string status;
  int64_t amount = 0;
  std::string currency;
  std::string raw;
};

/// True for a transfer status that will not change any more.
bool final_transfer_status(std::string_view status) noexcept;

/// A webhook event, parsed (its signature already checked).
struct webhook_event {
  std::string event; ///< e.g. "charge.success", "refund.processed"
  /// Unique per event and stable across the gateway's retries: the inbox
  /// deduplicates on it.
  std::string key;
  /// The charge reference the event is about (refunds: the refunded
  /// charge's), or the transfer reference; may be empty.
  std::string reference;
  std::string status; ///< `data.status`
  int64_t amount = 0;
  std::string currency;
  std::string data; ///< the event's `data`, as JSON
};

/// One gateway. Implementations are thread-safe.
class gateway {
public:
  virtual ~gateway() = default;

  /// "paystack" (the name in `payments.gateway` and in the inbox).
  virtual std::string_view name() const noexcept = 0;

  virtual expected<checkout_session> initialize(const charge_request& r) = 0;
  virtual expected<charge> verify(const std::string& reference) = 0;
  virtual expected<refund> start_refund(const refund_request& r) = 0;
  /// Every refund the gateway holds against the charge `c` (as `verify`
  /// reported it), whoever asked for it: souk, or someone in the gateway's
  /// dashboard. Failed ones included; `transaction_reference` is
  /// `c.reference`.
  virtual expected<std::vector<refund>> refunds_of(const charge& c) = 0;
  virtual expected<recipient> create_recipient(const recipient_request& r) = 0;
  virtual expected<transfer> start_transfer(const transfer_request& r) = 0;
  virtual expected<transfer> verify_transfer(const std::string& reference) = 0;

  /// True if `signature` (the header's value) signs exactly `body`, the raw
  /// bytes received. Constant time.
  virtual bool check_signature(std::string_view body,
                               std::string_view signature) const = 0;

  /// The event in a body whose signature passed; `errc::malformed_request`
  /// naming what is missing otherwise.
  virtual expected<webhook_event>
  parse_webhook(std::string_view body) const = 0;
};

/// Settings of the Paystack driver.
struct paystack_options {
  /// `https://api.paystack.co`, or the sandbox gateway's URL.
  std::string base_url = "https://api.paystack.co";
  /// Overrides `base_url` when set, asked at every call: the built-in
  /// sandbox's URL is known only once soukd's server has its port.
  std::function<std::string()> base_url_fn;
  std::string secret_key;
  /// Per call, connecting included.
  std::chrono::milliseconds timeout{15'000};
};

/// The Paystack driver: Paystack's REST API over HTTPS (libcurl).
std::shared_ptr<gateway> make_paystack(paystack_options opts);

/// Paystack's webhook signature of `body`: hex HMAC-SHA-512 keyed with the
/// secret key.
std::string paystack_signature(std::string_view secret_key,
                               std::string_view body);

/// True if `reference` is a valid Paystack transaction reference.
bool valid_charge_reference(std::string_view reference) noexcept;

/// True if `reference` is a valid Paystack transfer reference.
bool valid_transfer_reference(std::string_view reference) noexcept;

} // namespace souk::payments
