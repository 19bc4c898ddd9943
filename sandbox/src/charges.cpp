// Charges: initialize, verify, the buyer's pay / decline, refunds.

#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/core/units.hpp"

#include "engine.hpp"
#include "fields.hpp"

namespace souk::sandbox {

namespace {

constexpr uint64_t integration_id = 100'032;

std::string now_iso() {
  return to_iso(souk::now());
}

json or_null(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

// Paystack's fee is a percentage; 1.5% is its local-card rate (no cap here).
int64_t fees_of(int64_t amount) {
  return amount > 0 ? amount / 1000 * 15 + amount % 1000 * 15 / 1000 : 0;
}

} // namespace

const customer& engine::customer_of(const std::string& email) {
  auto it = customers_.find(email);
  if (it == customers_.end())
    it = customers_
           .emplace(email, customer{next_id_++, email, "CUS_" + random_hex(7)})
           .first;
  return it->second;
}

transaction* engine::find_transaction(const json& key) {
  // A reference first (references may be all digits), then an id.
  std::string text;
  if (key.is_string())
    text = key.get<std::string>();
  else if (key.is_number_unsigned())
    text = std::to_string(key.get<uint64_t>());
  else
    return nullptr;
  if (auto it = transactions_.find(text); it != transactions_.end())
    return &it->second;
  auto id = parse_uint(text);
  if (!id)
    return nullptr;
  if (auto it = by_id_.find(*id); it != by_id_.end())
    return &transactions_.at(it->second);
  return nullptr;
}

json engine::verify_data(const transaction& t) const {
  auto amount = shifted(t.amount, opts_.misbehave.amount_delta);
  auto& who = customers_.at(t.email);
  // Paystack reports no card for a transaction nobody tried to pay.
  auto card = json::object();
  if (!t.authorization_code.empty())
    card = {{"authorization_code", t.authorization_code},
            {"bin", "408408"},
            {"last4", "4081"},
            {"exp_month", "12"},
            {"exp_year", "2030"},
            {"channel", "card"},
            {"card_type", "visa"},
            {"bank", "TEST BANK"},
            {"country_code", "NG"},
            {"brand", "visa"},
            {"reusable", true},
            {"signature", "SIG_" + t.authorization_code.substr(5)},
            {"account_name", nullptr}};
  return {{"id", t.id},
          {"domain", "test"},
          {"status", t.status},
          {"reference", t.reference},
          {"amount", amount},
          {"requested_amount", amount},
          {"currency", t.currency},
          {"gateway_response", t.gateway_response},
          {"message", nullptr},
          {"paid_at", or_null(t.paid_at)},
          {"paidAt", or_null(t.paid_at)},
          {"created_at", t.created_at},
          {"createdAt", t.created_at},
          {"transaction_date", t.created_at},
          {"channel", "card"},
          {"ip_address", or_null(t.ip_address)},
          {"metadata", t.metadata},
          {"log", nullptr},
          {"fees", fees_of(amount)},
          {"fees_split", nullptr},
          {"plan", nullptr},
          {"customer",
           {{"id", who.id},
            {"first_name", nullptr},
            {"last_name", nullptr},
            {"email", who.email},
            {"customer_code", who.code},
            {"phone", nullptr},
            {"metadata", nullptr},
            {"risk_action", "default"}}},
          {"authorization", std::move(card)}};
}

answer engine::initialize(const json& body) {
  std::lock_guard guard{mtx_};
  ++calls_.initialize_calls;
  auto email = required_text(body, "email", 254);
  if (!email)
    return refusal(400, email.err().detail);
  if (!valid_email(*email))
    return refusal(400, "Invalid Email Address Passed: email must look like "
                        "name@example.com");
  auto amount_field = body.find("amount");
  if (amount_field == body.end() || amount_field->is_null())
    return refusal(400, "amount is required");
  auto amount = amount_of(*amount_field, "amount");
  if (!amount)
    return refusal(400, amount.err().detail);
  auto currency = optional_text(body, "currency", 3);
  if (!currency)
    return refusal(400, currency.err().detail);
  auto code = currency->value_or("NGN");
  if (!supported_currency(code))
    return refusal(400, fmt::format("Currency not supported by merchant: "
                                    "currency must be one of NGN, USD, GHS, "
                                    "ZAR, KES"));
  std::string reference;
  if (auto it = body.find("reference"); it != body.end() && !it->is_null()) {
    if (!it->is_string()
        || !valid_transaction_reference(it->get<std::string>()))
      return refusal(400, "Invalid transaction reference: reference may only "
                          "contain letters, digits, '-', '.' and '=' (at "
                          "most 100)");
    reference = it->get<std::string>();
  }
  auto callback = optional_text(body, "callback_url", 2000);
  if (!callback)
    return refusal(400, callback.err().detail);
  if (*callback && !(*callback)->empty() && !valid_url(**callback))
    return refusal(400, "Invalid callback_url: it must be an absolute "
                        "http(s) URL");
  if (auto it = body.find("channels"); it != body.end() && !it->is_null()) {
    auto strings = it->is_array();
    for (auto& c : *it)
      strings = strings && c.is_string();
    if (!strings)
      return refusal(400, "channels must be an array of strings");
  }
  auto metadata = body.value("metadata", json(nullptr));
  if (reference.empty()) {
    do
      reference = random_hex(10);
    while (transactions_.count(reference));
  } else if (transactions_.count(reference)) {
    return refusal(400, "Duplicate Transaction Reference");
  }
  transaction t;
  t.id = next_id_++;
  t.reference = reference;
  do
    t.access_code = random_hex(8);
  while (by_access_code_.count(t.access_code));
  t.email = *email;
  t.amount = *amount;
  t.currency = code;
  t.callback_url = callback->value_or("");
  t.metadata = std::move(metadata);
  t.created_at = now_iso();
  customer_of(t.email);
  by_access_code_[t.access_code] = reference;
  by_id_[t.id] = reference;
  auto url = opts_.public_url + "/checkout/" + t.access_code;
  auto access_code = t.access_code;
  transactions_.emplace(reference, std::move(t));
  return success(200, "Authorization URL created",
                 {{"authorization_url", url},
                  {"access_code", access_code},
                  {"reference", reference}});
}

answer engine::verify(const std::string& reference) {
  std::lock_guard guard{mtx_};
  ++calls_.verify_calls;
  auto it = transactions_.find(reference);
  if (it == transactions_.end())
    return refusal(400, "Transaction reference not found");
  auto& t = it->second;
  if (++t.verify_calls <= opts_.misbehave.verify_errors) {
    ++calls_.verify_errors;
    return refusal(500, "Internal server error");
  }
  return success(200, "Verification successful", verify_data(t));
}

std::optional<engine::checkout_view>
engine::find_checkout(const std::string& access_code) {
  std::lock_guard guard{mtx_};
  auto it = by_access_code_.find(access_code);
  if (it == by_access_code_.end())
    return std::nullopt;
  auto& t = transactions_.at(it->second);
  return checkout_view{t.reference, t.email,  t.amount,
                       t.currency,  t.status, t.callback_url};
}

expected<engine::checkout_view>
engine::finish(const std::string& reference, bool pay, const std::string& ip) {
  std::lock_guard guard{mtx_};
  auto it = transactions_.find(reference);
  if (it == transactions_.end())
    return error{errc::not_found, "Transaction reference not found"};
  auto& t = it->second;
  if (t.status != "abandoned") {
    auto what = t.status == "failed" ? "declined" : "paid";
    return error{errc::conflict,
                 fmt::format("This transaction has already been {}", what)};
  }
  t.authorization_code = "AUTH_" + random_hex(5);
  t.ip_address = ip;
  if (pay) {
    t.status = "success";
    t.gateway_response = "Successful";
    t.paid_at = now_iso();
    // Handed over under the lock, so events leave in the order they
    // happened (unless `reorder` says otherwise).
    webhooks_.send("charge.success", t.reference, verify_data(t),
                   opts_.misbehave);
  } else {
    // Paystack sends no webhook for a failed charge: souk must poll.
    t.status = "failed";
    t.gateway_response = "Declined";
  }
  return checkout_view{t.reference, t.email,  t.amount,
                       t.currency,  t.status, t.callback_url};
}

expected<engine::checkout_view>
engine::finish_by_code(const std::string& access_code, bool pay,
                       const std::string& ip) {
  std::string reference;
  {
    std::lock_guard guard{mtx_};
    auto it = by_access_code_.find(access_code);
    if (it == by_access_code_.end())
      return error{errc::not_found, "No such checkout"};
    reference = it->second;
  }
  return finish(reference, pay, ip);
}

answer engine::finish_json(const std::string& reference, bool pay) {
  auto done = finish(reference, pay);
  if (!done)
    return refusal(done.err().code == errc::not_found ? 404 : 409,
                   done.err().detail);
  std::lock_guard guard{mtx_};
  return success(200, pay ? "Transaction paid" : "Transaction declined",
                 verify_data(transactions_.at(reference)));
}

// -- refunds ------------------------------------------------------------------

json engine::refund_data(const refund& r) const {
  auto& t = transactions_.at(r.transaction);
  return {{"transaction",
           {{"id", t.id},
            {"domain", "test"},
            {"reference", t.reference},
            {"amount", t.amount},
            {"paid_at", or_null(t.paid_at)},
            {"channel", "card"},
            {"currency", t.currency},
            {"authorization", {{"authorization_code", t.authorization_code}}},
            {"customer", {{"email", t.email}}}}},
          {"integration", integration_id},
          {"deducted_amount", 0},
          {"channel", nullptr},
          {"merchant_note", r.merchant_note},
          {"customer_note", r.customer_note},
          {"status", r.status},
          {"refunded_by", "sandbox@souk.invalid"},
          {"expected_at", r.expected_at},
          {"currency", r.currency},
          {"domain", "test"},
          {"amount", r.amount},
          {"fully_deducted", true},
          {"id", r.id},
          {"createdAt", r.created_at},
          {"updatedAt", r.updated_at}};
}

answer engine::create_refund(const json& body) {
  std::lock_guard guard{mtx_};
  ++calls_.refund_calls;
  auto key = body.find("transaction");
  if (key == body.end() || key->is_null())
    return refusal(400, "transaction is required");
  if (!key->is_string() && !key->is_number_unsigned())
    return refusal(400, "transaction must be a reference or a transaction id");
  std::optional<int64_t> amount;
  if (auto it = body.find("amount"); it != body.end() && !it->is_null()) {
    auto a = amount_of(*it, "amount");
    if (!a)
      return refusal(400, a.err().detail);
    amount = *a;
  }
  auto currency = optional_text(body, "currency", 3);
  auto customer_note = optional_text(body, "customer_note");
  auto merchant_note = optional_text(body, "merchant_note");
  for (auto* f : {&currency, &customer_note, &merchant_note})
    if (!*f)
      return refusal(400, f->err().detail);
  auto* t = find_transaction(*key);
  if (!t)
    return refusal(400, "Transaction not found");
  if (t->status == "reversed" || t->refunds_requested >= t->amount)
    return refusal(400, "Transaction has been fully reversed");
  if (t->status != "success")
    return refusal(400, "Transaction has not been completed, so it cannot "
                        "be refunded");
  if (*currency && **currency != t->currency)
    return refusal(
      400, fmt::format("currency must be the transaction's ({})", t->currency));
  auto left = t->amount - t->refunds_requested;
  if (amount && *amount > t->amount)
    return refusal(400, "Refund amount cannot be more than the transaction "
                        "amount");
  if (amount && *amount > left)
    return refusal(400, fmt::format("Refund amount cannot be more than what "
                                    "is left to refund ({})",
                                    left));
  refund r;
  r.id = next_id_++;
  r.transaction = t->reference;
  r.amount = amount.value_or(left);
  r.currency = t->currency;
  r.customer_note = customer_note->value_or(
    fmt::format("Refund for transaction {}", t->reference));
  r.merchant_note = merchant_note->value_or(
    fmt::format("Refund for transaction {} by sandbox", t->reference));
  r.created_at = r.updated_at = now_iso();
  r.expected_at = to_iso(souk::now() + opts_.refund_delay);
  t->refunds_requested += r.amount;
  auto id = r.id;
  auto& stored = refunds_.emplace(id, std::move(r)).first->second;
  timers_.after(opts_.refund_delay, [this, id] { complete_refund(id); });
  return success(200, "Refund has been queued for processing",
                 refund_data(stored));
}

answer engine::list_refunds(const refund_query& q) {
  std::lock_guard guard{mtx_};
  ++calls_.refund_list_calls;
  uint64_t per_page = 50, page = 1;
  for (auto [name, text, into, most] :
       {std::tuple{"perPage", &q.per_page, &per_page, uint64_t{100}},
        std::tuple{"page", &q.page, &page, uint64_t{1'000'000}}}) {
    if (!text->has_value())
      continue;
    auto n = parse_uint(**text);
    if (!n || *n == 0 || *n > most)
      return refusal(
        400, fmt::format("{} must be a whole number from 1 to {}", name, most));
    *into = *n;
  }
  // A transaction the gateway does not know has no refunds: Paystack
  // answers an empty list, not an error.
  const transaction* t
    = q.transaction ? find_transaction(json(*q.transaction)) : nullptr;
  const bool unknown = q.transaction && t == nullptr;
  std::vector<const refund*> found; // newest first, as Paystack lists them
  for (auto it = refunds_.rbegin(); it != refunds_.rend() && !unknown; ++it)
    if ((!t || it->second.transaction == t->reference)
        && (!q.currency || it->second.currency == *q.currency))
      found.push_back(&it->second);
  auto data = json::array();
  auto skipped = (page - 1) * per_page;
  for (auto i = skipped; i < found.size() && i < skipped + per_page; ++i) {
    auto& r = *found[i];
    auto& of = transactions_.at(r.transaction);
    // In a list, `transaction` is the charge's id, not the object a new
    // refund's answer carries.
    data.push_back({{"id", r.id},
                    {"integration", integration_id},
                    {"domain", "test"},
                    {"transaction", of.id},
                    {"dispute", nullptr},
                    {"settlement", nullptr},
                    {"amount", r.amount},
                    {"deducted_amount", r.status == "processed" ? r.amount : 0},
                    {"fully_deducted", r.status == "processed"},
                    {"currency", r.currency},
                    {"channel", "card"},
                    {"status", r.status},
                    {"refunded_by", "sandbox@souk.invalid"},
                    {"refunded_at", r.status == "processed" ? json(r.updated_at)
                                                            : json(nullptr)},
                    {"expected_at", r.expected_at},
                    {"customer_note", r.customer_note},
                    {"merchant_note", r.merchant_note},
                    {"created_at", r.created_at},
                    {"updated_at", r.updated_at}});
  }
  auto total = static_cast<uint64_t>(found.size());
  return {200,
          {{"status", true},
           {"message", "Refunds retrieved"},
           {"data", std::move(data)},
           {"meta",
            {{"total", total},
             {"skipped", skipped},
             {"perPage", per_page},
             {"page", page},
             {"pageCount", (total + per_page - 1) / per_page}}}}};
}

void engine::complete_refund(uint64_t id) {
  std::lock_guard guard{mtx_};
  auto& r = refunds_.at(id);
  auto& t = transactions_.at(r.transaction);
  r.status = "processed";
  r.updated_at = now_iso();
  t.refunds_processed += r.amount;
  if (t.refunds_processed >= t.amount)
    t.status = "reversed";
  json data{{"id", r.id},
            {"integration", integration_id},
            {"status", r.status},
            {"transaction_reference", t.reference},
            {"refund_reference", nullptr},
            {"amount", r.amount},
            {"currency", r.currency},
            {"processor", "sandbox"},
            {"customer",
             {{"first_name", nullptr},
              {"last_name", nullptr},
              {"email", t.email},
              {"phone", nullptr}}},
            {"domain", "test"},
            {"merchant_note", r.merchant_note},
            {"customer_note", r.customer_note},
            {"created_at", r.created_at},
            {"updated_at", r.updated_at}};
  webhooks_.send("refund.processed", t.reference, data, opts_.misbehave);
}

} // namespace souk::sandbox
