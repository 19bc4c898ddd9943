// The Paystack driver: Paystack's REST API (https://paystack.com/docs/api/)
// spoken over HTTPS with libcurl. Requests and answers keep Paystack's own
// field names; this file is the one place that knows them.

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/core/hash.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/payments/http_client.hpp"

namespace souk::payments {

using nlohmann::json;

std::string_view to_string(charge_status s) noexcept {
  switch (s) {
  case charge_status::pending:
    return "pending";
  case charge_status::abandoned:
    return "abandoned";
  case charge_status::failed:
    return "failed";
  case charge_status::success:
    return "success";
  case charge_status::reversed:
    return "reversed";
  }
  return "pending";
}

bool final_transfer_status(std::string_view s) noexcept {
  return s == "success" || s == "failed" || s == "reversed" || s == "abandoned"
         || s == "blocked" || s == "rejected";
}

std::string paystack_signature(std::string_view secret_key,
                               std::string_view body) {
  return hmac_sha512_hex(secret_key, body);
}

bool valid_charge_reference(std::string_view r) noexcept {
  return !r.empty() && r.size() <= 100
         && std::all_of(r.begin(), r.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '-'
                     || c == '.' || c == '=';
            });
}

bool valid_transfer_reference(std::string_view r) noexcept {
  return r.size() >= 16 && r.size() <= 50
         && std::all_of(r.begin(), r.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_';
            });
}

namespace {

// Paystack writes some numbers as strings (refund webhooks send "amount":
// "10000"); both forms are read, anything else is 0.
int64_t integer_of(const json& v) {
  if (v.is_number_integer())
    return v.get<int64_t>();
  if (v.is_number_unsigned())
    return static_cast<int64_t>(v.get<uint64_t>());
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)
        && s.size() < 19)
      return std::stoll(s);
  }
  return 0;
}

uint64_t id_of(const json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (!s.empty() && s.size() < 20
        && std::all_of(s.begin(), s.end(), ::isdigit))
      return std::stoull(s);
  }
  return 0;
}

std::string text_of(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null())
    return {};
  if (it->is_string())
    return it->get<std::string>();
  return it->dump();
}

charge_status charge_status_of(std::string_view s) {
  if (s == "success")
    return charge_status::success;
  if (s == "failed")
    return charge_status::failed;
  if (s == "abandoned")
    return charge_status::abandoned;
  if (s == "reversed")
    return charge_status::reversed;
  // ongoing, pending, processing, queued, and anything new: not final.
  return charge_status::pending;
}

class paystack final : public gateway {
public:
  explicit paystack(paystack_options opts) : opts_(std::move(opts)) {}

  std::string_view name() const noexcept override { return "paystack"; }

  expected<checkout_session> initialize(const charge_request& r) override {
    json body{{"email", r.email},
              {"amount", r.amount},
              {"currency", r.currency},
              {"reference", r.reference}};
    if (!r.callback_url.empty())
      body["callback_url"] = r.callback_url;
    if (!r.metadata.empty())
      body["metadata"] = r.metadata; // Paystack takes it as a JSON string
    auto data = call("POST", "/transaction/initialize", body.dump());
    if (!data)
      return data.err();
    checkout_session out;
    out.authorization_url = text_of(*data, "authorization_url");
    out.access_code = text_of(*data, "access_code");
    out.reference = text_of(*data, "reference");
    if (out.authorization_url.empty() || out.reference != r.reference)
      return error{errc::unavailable,
                   "paystack: initialize answered without an authorization "
                   "URL for the reference"};
    return out;
  }

  expected<charge> verify(const std::string& reference) override {
    auto data = call("GET", "/transaction/verify/" + reference, {});
    if (!data)
      return data.err();
    return charge_of(*data);
  }

  expected<refund> start_refund(const refund_request& r) override {
    json body{{"transaction", r.transaction}};
    if (r.amount)
      body["amount"] = *r.amount;
    if (!r.currency.empty())
      body["currency"] = r.currency;
    if (!r.merchant_note.empty())
      body["merchant_note"] = r.merchant_note;
    auto data = call("POST", "/refund", body.dump());
    if (!data)
      return data.err();
    refund out;
    out.id = id_of(data->value("id", json{}));
    out.status = text_of(*data, "status");
    out.amount = integer_of(data->value("amount", json{}));
    out.currency = text_of(*data, "currency");
    if (auto tx = data->find("transaction");
        tx != data->end() && tx->is_object())
      out.transaction_reference = text_of(*tx, "reference");
    out.raw = data->dump();
    return out;
  }

  expected<std::vector<refund>> refunds_of(const charge& c) override {
    if (c.id == 0)
      return error{errc::invalid_field,
                   "paystack: charge " + c.reference
                     + " has no transaction id to list refunds of"};
    // Paystack filters by the transaction's id and pages its lists; a
    // charge has few refunds, so the first page nearly always ends it.
    std::vector<refund> out;
    constexpr int most_pages = 20;
    for (int page = 1; page <= most_pages; ++page) {
      auto listed = call_any(
        "GET",
        fmt::format("/refund?transaction={}&perPage=100&page={}", c.id, page),
        {});
      if (!listed)
        return listed.err();
      auto& [data, meta] = *listed;
      if (!data.is_array())
        return error{errc::unavailable,
                     "paystack: GET /refund answered without a data list"};
      for (auto& item : data) {
        if (!item.is_object())
          continue;
        // Only this charge's, whatever the filter did.
        auto tx = item.value("transaction", json{});
        auto of = tx.is_object() ? id_of(tx.value("id", json{})) : id_of(tx);
        if (of != c.id)
          continue;
        refund r;
        r.id = id_of(item.value("id", json{}));
        r.status = text_of(item, "status");
        r.amount = integer_of(item.value("amount", json{}));
        r.currency = text_of(item, "currency");
        r.transaction_reference = c.reference;
        r.raw = item.dump();
        out.push_back(std::move(r));
      }
      // The last page: as `meta` says, or (without it) one not full.
      auto pages
        = meta.is_object() ? integer_of(meta.value("pageCount", json{})) : 0;
      if (data.empty() || (pages > 0 && page >= pages)
          || (pages <= 0 && data.size() < 100))
        return out;
    }
    return error{errc::unavailable,
                 fmt::format("paystack: charge {} lists more than {} pages of "
                             "refunds",
                             c.reference, most_pages)};
  }

  expected<recipient> create_recipient(const recipient_request& r) override {
    json body{{"type", r.type},
              {"name", r.name},
              {"account_number", r.account_number},
              {"bank_code", r.bank_code},
              {"currency", r.currency}};
    auto data = call("POST", "/transferrecipient", body.dump());
    if (!data)
      return data.err();
    recipient out;
    out.recipient_code = text_of(*data, "recipient_code");
    out.raw = data->dump();
    if (out.recipient_code.empty())
      return error{errc::unavailable,
                   "paystack: transferrecipient answered without a "
                   "recipient_code"};
    return out;
  }

  expected<transfer> start_transfer(const transfer_request& r) override {
    json body{{"source", "balance"},      {"amount", r.amount},
              {"recipient", r.recipient}, {"reference", r.reference},
              {"reason", r.reason},       {"currency", r.currency}};
    auto data = call("POST", "/transfer", body.dump());
    if (!data)
      return data.err();
    return transfer_of(*data);
  }

  expected<transfer> verify_transfer(const std::string& reference) override {
    auto data = call("GET", "/transfer/verify/" + reference, {});
    if (!data)
      return data.err();
    return transfer_of(*data);
  }

  bool check_signature(std::string_view body,
                       std::string_view signature) const override {
    if (signature.size() != 128 || opts_.secret_key.empty())
      return false;
    std::string given{signature};
    std::transform(given.begin(), given.end(), given.begin(), ::tolower);
    return constant_time_equal(paystack_signature(opts_.secret_key, body),
                               given);
  }

  expected<webhook_event> parse_webhook(std::string_view body) const override {
    auto doc = json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return error{errc::malformed_request, "the event is not a JSON object"};
    auto event = doc.find("event");
    auto data = doc.find("data");
    if (event == doc.end() || !event->is_string()
        || event->get_ref<const std::string&>().empty())
      return error{errc::malformed_request, "the event has no 'event' name"};
    if (data == doc.end() || !data->is_object())
      return error{errc::malformed_request, "the event has no 'data' object"};
    webhook_event out;
    out.event = event->get<std::string>();
    out.status = text_of(*data, "status");
    out.amount = integer_of(data->value("amount", json{}));
    out.currency = text_of(*data, "currency");
    out.data = data->dump();
    auto id = text_of(*data, "id");
    if (out.event.starts_with("refund.")) {
      out.reference = text_of(*data, "transaction_reference");
      if (out.reference.empty())
        if (auto tx = data->find("transaction");
            tx != data->end() && tx->is_object())
          out.reference = text_of(*tx, "reference");
    } else {
      out.reference = text_of(*data, "reference");
    }
    if (id.empty() && out.reference.empty())
      return error{errc::malformed_request,
                   "the event names neither an id nor a reference"};
    // Paystack sends no event id; the event name with the object's id (and
    // status, for objects that move through several) is stable across its
    // retries and distinct between events.
    out.key = fmt::format("{}:{}:{}", out.event,
                          id.empty() ? out.reference : id, out.status);
    return out;
  }

private:
  // One API call; the answer's `data` (an object) when `status` is true.
  expected<json> call(const std::string& method, const std::string& path,
                      std::string body) {
    auto answer = call_any(method, path, std::move(body));
    if (!answer)
      return answer.err();
    if (!answer->first.is_object())
      return error{errc::unavailable, fmt::format("paystack: {} {} answered "
                                                  "without a data object",
                                                  method, path)};
    return std::move(answer->first);
  }

  // One API call; its `data` (any JSON) and `meta` (null if absent): lists
  // have an array and the paging in `meta`.
  expected<std::pair<json, json>> call_any(const std::string& method,
                                           const std::string& path,
                                           std::string body) {
    http_call c;
    c.method = method;
    auto base = opts_.base_url_fn ? opts_.base_url_fn() : opts_.base_url;
    while (base.ends_with('/'))
      base.pop_back();
    c.url = base + path;
    c.body = std::move(body);
    c.timeout = opts_.timeout;
    c.headers = {{"Authorization", "Bearer " + opts_.secret_key},
                 {"Accept", "application/json"}};
    if (method != "GET")
      c.headers.emplace_back("Content-Type", "application/json");
    auto answer = send(c);
    if (!answer)
      return error{answer.err().code, "paystack: " + answer.err().detail};
    auto doc = json::parse(answer->body, nullptr, false);
    auto message = doc.is_object() ? text_of(doc, "message") : std::string{};
    auto what
      = fmt::format("paystack: {} {} answered {}{}{}", method, path,
                    answer->status, message.empty() ? "" : ": ", message);
    if (answer->status >= 500 || answer->status == 429 || answer->status == 408)
      return error{errc::unavailable, std::move(what)};
    if (answer->status == 401 || answer->status == 403)
      return error{errc::config, what + " (check the secret key)"};
    if (!doc.is_object())
      return error{answer->status >= 400 ? errc::invalid_field
                                         : errc::unavailable,
                   what + " (not JSON)"};
    bool ok = doc.value("status", false) == true;
    if (answer->status >= 400 || !ok) {
      auto lower = message;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower.find("duplicate") != std::string::npos)
        return error{errc::conflict, std::move(what)};
      if (answer->status == 404 || lower.find("not found") != std::string::npos)
        return error{errc::not_found, std::move(what)};
      return error{errc::invalid_field, std::move(what)};
    }
    auto data = doc.find("data");
    if (data == doc.end() || data->is_null())
      return error{errc::unavailable, what + " without data"};
    auto meta = doc.find("meta");
    return std::pair{std::move(*data),
                     meta == doc.end() ? json{} : std::move(*meta)};
  }

  static charge charge_of(const json& d) {
    charge out;
    out.reference = text_of(d, "reference");
    out.id = id_of(d.value("id", json{}));
    out.status_text = text_of(d, "status");
    out.status = charge_status_of(out.status_text);
    out.amount = integer_of(d.value("amount", json{}));
    out.currency = text_of(d, "currency");
    out.fees = integer_of(d.value("fees", json{}));
    out.paid_at = text_of(d, "paid_at");
    if (out.paid_at.empty())
      out.paid_at = text_of(d, "paidAt");
    out.channel = text_of(d, "channel");
    out.gateway_response = text_of(d, "gateway_response");
    out.raw = d.dump();
    return out;
  }

  static transfer transfer_of(const json& d) {
    transfer out;
    out.transfer_code = text_of(d, "transfer_code");
    out.reference = text_of(d, "reference");
    out.status = text_of(d, "status");
    out.amount = integer_of(d.value("amount", json{}));
    out.currency = text_of(d, "currency");
    out.raw = d.dump();
    return out;
  }

  paystack_options opts_;
};

} // namespace

std::shared_ptr<gateway> make_paystack(paystack_options opts) {
  return std::make_shared<paystack>(std::move(opts));
}

} // namespace souk::payments
