#pragma once

// The sandbox gateway: a local, stateful stand-in for Paystack. It serves
// Paystack's API shapes (initialize, verify, refund, transfer recipients,
// transfers), a hosted checkout page where a person or a test plays the
// buyer, and signed webhooks delivered on Paystack's retry schedule
// (compressed). It can misbehave on purpose (`behaviour`) so that souk's
// payment code is tested against duplicates, delays, drops, reordering,
// failing verifies and wrong amounts. Everything lives in memory; nothing
// survives a restart. See docs/sandbox.md.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::http {
class router;
} // namespace souk::http

namespace souk::sandbox {

/// How the sandbox misbehaves; may be changed while it runs.
struct behaviour {
  /// Each webhook is delivered this many times (>= 1; 0 counts as 1), each
  /// copy with its own retry chain.
  uint32_t copies = 1;
  /// Every webhook waits this long before its first attempt.
  std::chrono::milliseconds delay{0};
  /// Webhooks are never sent (counted in `counters::webhooks_dropped`).
  bool drop = false;
  /// Webhooks are held for `reorder_window` (from the first one held), then
  /// sent newest first, one after the other.
  bool reorder = false;
  std::chrono::milliseconds reorder_window{300};
  /// The first N verify calls for each known reference answer HTTP 500.
  uint32_t verify_errors = 0;
  /// Verify answers and charge.success webhooks report the transaction's
  /// amount + delta (the charge itself, refunds and the page are unchanged).
  int64_t amount_delta = 0;
};

/// What the gateway is, fixed at construction (except the two URLs, which
/// have setters).
struct options {
  /// Expected as `Authorization: Bearer <secret_key>`; also the webhook
  /// signing key.
  std::string secret_key = "sk_test_souk_sandbox";
  /// How browsers reach the sandbox, without trailing slash, e.g.
  /// "http://127.0.0.1:8080/sandbox";
  /// authorization_url = public_url + "/checkout/" + access_code.
  std::string public_url;
  /// Where signed events are POSTed; empty: none (events count as dropped).
  std::string webhook_url;
  /// Paystack's live schedule compressed: 4 retries `retry_first` apart
  /// (Paystack: 3 min), then every `retry_later` (Paystack: hourly) until
  /// `retry_for` after the first attempt (Paystack: 72 h).
  std::chrono::milliseconds retry_first{1'000};
  std::chrono::milliseconds retry_later{20'000};
  std::chrono::milliseconds retry_for{24 * 60'000};
  /// Per attempt; a non-2xx answer or a timeout is a failed attempt.
  std::chrono::milliseconds webhook_timeout{5'000};
  /// A refund goes pending -> processed after this, then refund.processed
  /// is sent.
  std::chrono::milliseconds refund_delay{200};
  /// A transfer goes pending -> its outcome after this, then
  /// transfer.<outcome> is sent.
  std::chrono::milliseconds transfer_delay{200};
  /// What the integration may pay out with transfers, in minor units of any
  /// currency (one pot); failed and reversed transfers give it back.
  int64_t balance = 1'000'000'000'000;
  /// Delivery attempts remembered for `attempts()` (and /_sandbox/stats);
  /// older ones are forgotten so that a long-running sandbox does not grow
  /// without bound. The load generator raises it to compare every webhook
  /// with souk's inbox.
  size_t attempts_kept = 10'000;
  behaviour misbehave;
};

class engine;

/// The simulator. Thread-safe: HTTP handlers, the webhook senders and any
/// caller may use it at once. Handlers never block (no network calls on the
/// event loop); webhooks go out from two sender threads.
class gateway {
public:
  explicit gateway(options o);
  /// Stops the sender and timer threads (see `stop`).
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  /// Registers every route under `prefix` ("" standalone, "/sandbox" inside
  /// soukd). The routes share this gateway's state and keep it alive.
  void add_routes(http::router& r, const std::string& prefix);

  void set_behaviour(behaviour b);
  behaviour current_behaviour() const;

  /// soukd knows its own port only after start. Applies to attempts made
  /// from now on, retries of earlier events included.
  void set_webhook_url(std::string url);
  void set_public_url(std::string url);

  /// Acts as the buyer on the hosted page, for tests: same effect as the
  /// page's Pay / Decline button. Errors: `errc::not_found` (no such
  /// reference), `errc::conflict` (already paid or declined).
  status pay(const std::string& reference);
  status decline(const std::string& reference);

  /// Transfers queued from now on finish as `status`: "success" (default),
  /// "failed" or "reversed". Errors: `errc::invalid_field` for anything else.
  status set_transfer_outcome(std::string status);

  struct counters {
    uint64_t verify_calls = 0;
    uint64_t verify_errors = 0;      ///< verify calls answered 500 on purpose
    uint64_t webhook_attempts = 0;   ///< HTTP attempts, retries included
    uint64_t webhooks_delivered = 0; ///< copies answered 2xx
    uint64_t webhooks_dropped = 0;   ///< copies never sent (`drop`, no URL)
    uint64_t initialize_calls = 0;
    uint64_t refund_calls = 0;
    uint64_t refund_list_calls = 0; ///< `GET /refund`
    uint64_t transfer_calls = 0;
    uint64_t webhooks_given_up = 0; ///< copies whose retries ran out
  };
  /// API calls count once authorised, whether or not they succeed.
  counters stats() const;

  /// Verify calls for `reference` so far (0 for an unknown one).
  uint64_t verify_calls(const std::string& reference) const;

  /// One delivery attempt: event name, reference (the transaction's for
  /// charge and refund events, the transfer's for transfer events), copy
  /// (1-based), attempt number (1-based), HTTP status (0 if none), time.
  struct attempt {
    std::string event;
    std::string reference;
    uint32_t copy = 0;
    uint32_t number = 0;
    long status = 0;
    std::string at;
  };
  /// Every delivery attempt so far, oldest first (the latest
  /// `options::attempts_kept`).
  std::vector<attempt> attempts() const;

  /// Stops the timers and webhook senders; queued retries are abandoned.
  /// Returns once the threads are joined: at once unless an attempt is in
  /// flight, which ends within `webhook_timeout`. Idempotent. After it, API
  /// calls still answer but nothing more is sent.
  void stop();

private:
  std::shared_ptr<engine> engine_;
};

/// Paystack's webhook signature of `body`: hex HMAC-SHA512 keyed with the
/// secret key, as sent in `x-paystack-signature`.
std::string signature(std::string_view secret_key, std::string_view body);

} // namespace souk::sandbox
