#pragma once

// The sandbox's state and operations, shared by the public `gateway`, the
// HTTP routes and the checkout page. Every operation takes the request as
// parsed JSON and returns Paystack's answer (HTTP status + envelope), so the
// routes stay thin and the rules live in one place.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "souk/sandbox/gateway.hpp"

#include "scheduler.hpp"
#include "webhooks.hpp"

namespace souk::sandbox {

using json = nlohmann::json;

/// An HTTP status and a Paystack envelope `{"status","message"[,"data"]}`.
struct answer {
  unsigned http_status = 200;
  json body;
};

/// `{"status": false, "message": message}` with `http_status`.
answer refusal(unsigned http_status, std::string message);

/// `{"status": true, "message": message, "data": data}`.
answer success(unsigned http_status, std::string message, json data);

struct customer {
  uint64_t id = 0;
  std::string email;
  std::string code; ///< CUS_...
};

struct transaction {
  uint64_t id = 0;
  std::string reference;
  std::string access_code;
  std::string email;
  int64_t amount = 0; ///< minor units, as initialized
  std::string currency;
  std::string callback_url;
  json metadata; ///< as given: object, string or null
  /// "abandoned" (unpaid), "success", "failed" or "reversed".
  std::string status = "abandoned";
  std::string gateway_response = "The transaction was not completed";
  std::string created_at;
  std::string paid_at; ///< empty while unpaid
  std::string ip_address;
  std::string authorization_code;
  int64_t refunds_requested = 0; ///< pending and processed
  int64_t refunds_processed = 0;
  uint64_t verify_calls = 0;
};

struct refund {
  uint64_t id = 0;
  std::string transaction; ///< reference
  int64_t amount = 0;
  std::string currency;
  std::string status = "pending";
  std::string customer_note;
  std::string merchant_note;
  std::string created_at;
  std::string updated_at;
  std::string expected_at;
};

/// The filters of `GET /refund` (Paystack's names), as given.
struct refund_query {
  std::optional<std::string> transaction; ///< the charge's id or reference
  std::optional<std::string> currency;
  std::optional<std::string> per_page; ///< 1 to 100, default 50
  std::optional<std::string> page;     ///< from 1
};

struct recipient {
  uint64_t id = 0;
  std::string code; ///< RCP_...
  std::string type;
  std::string name;
  std::string account_number;
  std::string bank_code;
  std::string currency;
  std::string created_at;
};

struct transfer {
  uint64_t id = 0;
  std::string code; ///< TRF_...
  std::string reference;
  int64_t amount = 0;
  std::string currency;
  std::string reason;
  std::string recipient; ///< code
  std::string status = "pending";
  std::string outcome; ///< what it becomes after `transfer_delay`
  std::string created_at;
  std::string updated_at;
};

/// See `gateway`; this is its implementation. Thread-safe: one mutex guards
/// the state; webhooks are handed to the sender, never sent under it.
class engine {
public:
  explicit engine(options o);
  ~engine();

  /// True if `authorization` is "Bearer <secret key>".
  bool authorized(std::optional<std::string_view> authorization) const;

  answer initialize(const json& body);
  answer verify(const std::string& reference);
  answer create_refund(const json& body);
  answer list_refunds(const refund_query& q);
  answer create_recipient(const json& body);
  answer create_transfer(const json& body);
  answer verify_transfer(const std::string& reference);

  /// The control API's view of behaviour and stats.
  answer behaviour_json() const;
  answer put_behaviour(const json& body);
  answer stats_json() const;
  answer put_transfer_outcome(const json& body);

  /// What the checkout page shows for `access_code`.
  struct checkout_view {
    std::string reference;
    std::string email;
    int64_t amount = 0;
    std::string currency;
    std::string status;
    std::string callback_url;
  };
  std::optional<checkout_view> find_checkout(const std::string& access_code);

  /// The buyer pays (`pay`) or declines on the page, or a test acts as the
  /// buyer. Errors: not_found, conflict (already finished; the detail says
  /// how). `ip` is the buyer's address if known.
  expected<checkout_view> finish(const std::string& reference, bool pay,
                                 const std::string& ip = {});
  expected<checkout_view> finish_by_code(const std::string& access_code,
                                         bool pay, const std::string& ip);

  /// The control API's pay / decline: the verify data, or a refusal.
  answer finish_json(const std::string& reference, bool pay);

  void set_behaviour(behaviour b);
  behaviour current_behaviour() const;
  void set_webhook_url(std::string url);
  void set_public_url(std::string url);
  status set_transfer_outcome(std::string status);
  gateway::counters stats() const;
  uint64_t verify_calls(const std::string& reference) const;
  std::vector<gateway::attempt> attempts() const;
  void stop();

private:
  // Everything below runs with `mtx_` held.
  json verify_data(const transaction& t) const;
  json refund_data(const refund& r) const;
  json recipient_data(const recipient& r) const;
  json transfer_data(const transfer& t, bool recipient_object) const;
  transaction* find_transaction(const json& key);
  const customer& customer_of(const std::string& email);
  void complete_refund(uint64_t id);
  void complete_transfer(const std::string& reference);

  mutable std::mutex mtx_;
  options opts_;
  std::string transfer_outcome_ = "success";
  int64_t balance_ = 0;
  uint64_t next_id_ = 0;
  gateway::counters calls_;
  std::map<std::string, transaction> transactions_; ///< by reference
  std::map<std::string, std::string> by_access_code_;
  std::map<uint64_t, std::string> by_id_;
  std::map<std::string, customer> customers_; ///< by email
  std::map<uint64_t, refund> refunds_;
  std::map<std::string, recipient> recipients_; ///< by code
  std::map<std::string, std::string> recipient_by_account_;
  std::map<std::string, transfer> transfers_; ///< by reference
  // Last, so that they stop before the state their tasks use goes away.
  webhook_sender webhooks_;
  scheduler timers_{1};
};

} // namespace souk::sandbox
