// Payouts: transfer recipients and transfers from the sandbox balance.

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "engine.hpp"
#include "fields.hpp"

namespace souk::sandbox {

namespace {

constexpr uint64_t integration_id = 100'032;

constexpr std::array<std::string_view, 4> recipient_types{
  "nuban", "ghipss", "mobile_money", "basa"};

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

json engine::recipient_data(const recipient& r) const {
  return {{"active", true},
          {"createdAt", r.created_at},
          {"updatedAt", r.created_at},
          {"currency", r.currency},
          {"description", nullptr},
          {"domain", "test"},
          {"email", nullptr},
          {"id", r.id},
          {"integration", integration_id},
          {"metadata", nullptr},
          {"name", r.name},
          {"recipient_code", r.code},
          {"type", r.type},
          {"is_deleted", false},
          {"details",
           {{"authorization_code", nullptr},
            {"account_number", r.account_number},
            {"account_name", r.name},
            {"bank_code", r.bank_code},
            {"bank_name", "TEST BANK"}}}};
}

answer engine::create_recipient(const json& body) {
  auto type = required_text(body, "type", 20);
  auto name = required_text(body, "name", 200);
  auto account = required_text(body, "account_number", 30);
  auto bank = required_text(body, "bank_code", 20);
  auto currency = required_text(body, "currency", 3);
  for (auto* f : {&type, &name, &account, &bank, &currency})
    if (!*f)
      return refusal(400, f->err().detail);
  if (std::find(recipient_types.begin(), recipient_types.end(), *type)
      == recipient_types.end())
    return refusal(400, "Invalid type: type must be one of nuban, ghipss, "
                        "mobile_money, basa");
  if (!all_digits(*account))
    return refusal(400, "account_number must be a string of digits");
  if (!supported_currency(*currency))
    return refusal(400, "Currency not supported by merchant: currency must "
                        "be one of NGN, USD, GHS, ZAR, KES");
  std::lock_guard guard{mtx_};
  // Paystack answers a known account with the recipient it already has.
  auto account_key = *type + '\n' + *account + '\n' + *bank;
  if (auto it = recipient_by_account_.find(account_key);
      it != recipient_by_account_.end())
    return success(200, "Transfer recipient created successfully",
                   recipient_data(recipients_.at(it->second)));
  recipient r;
  r.id = next_id_++;
  do
    r.code = "RCP_" + random_hex(7);
  while (recipients_.count(r.code));
  r.type = *type;
  r.name = *name;
  r.account_number = *account;
  r.bank_code = *bank;
  r.currency = *currency;
  r.created_at = to_iso(souk::now());
  recipient_by_account_[account_key] = r.code;
  auto& stored = recipients_.emplace(r.code, std::move(r)).first->second;
  return success(201, "Transfer recipient created successfully",
                 recipient_data(stored));
}

json engine::transfer_data(const transfer& t, bool recipient_object) const {
  auto& r = recipients_.at(t.recipient);
  json who = r.id;
  if (recipient_object)
    who = recipient_data(r);
  auto finished = t.status != "pending";
  return {{"integration", integration_id},
          {"domain", "test"},
          {"amount", t.amount},
          {"currency", t.currency},
          {"source", "balance"},
          {"source_details", nullptr},
          {"reason", t.reason},
          {"recipient", std::move(who)},
          {"status", t.status},
          {"failures", nullptr},
          {"transfer_code", t.code},
          {"id", t.id},
          {"reference", t.reference},
          {"transferred_at",
           t.status == "success" ? json(t.updated_at) : json(nullptr)},
          {"gateway_response", finished ? json(t.status) : json(nullptr)},
          {"createdAt", t.created_at},
          {"updatedAt", t.updated_at}};
}

answer engine::create_transfer(const json& body) {
  std::lock_guard guard{mtx_};
  ++calls_.transfer_calls;
  auto source = required_text(body, "source", 20);
  auto recipient_code = required_text(body, "recipient", 100);
  auto reference = required_text(body, "reference", 100);
  auto reason = optional_text(body, "reason", 500);
  auto currency = optional_text(body, "currency", 3);
  for (auto* f : {&source, &recipient_code, &reference})
    if (!*f)
      return refusal(400, f->err().detail);
  for (auto* f : {&reason, &currency})
    if (!*f)
      return refusal(400, f->err().detail);
  if (*source != "balance")
    return refusal(400, "Invalid source: source must be \"balance\"");
  auto amount_field = body.find("amount");
  if (amount_field == body.end() || amount_field->is_null())
    return refusal(400, "amount is required");
  auto amount = amount_of(*amount_field, "amount");
  if (!amount)
    return refusal(400, amount.err().detail);
  if (!valid_transfer_reference(*reference))
    return refusal(400, "Invalid transfer reference: reference must be 16 to "
                        "50 characters of lowercase a-z, digits, '-' and '_'");
  auto rcp = recipients_.find(*recipient_code);
  if (rcp == recipients_.end())
    return refusal(400, "Recipient specified is invalid");
  auto code = currency->value_or(rcp->second.currency);
  if (code != rcp->second.currency)
    return refusal(400, fmt::format("currency must be the recipient's ({})",
                                    rcp->second.currency));
  // Not Paystack: the same reference with the same amount and recipient is
  // a retry and gets the transfer as it stands, so that a client that lost
  // the first answer can never pay twice nor be told a lie. Anything else
  // under a used reference is refused.
  if (auto it = transfers_.find(*reference); it != transfers_.end()) {
    auto& t = it->second;
    if (t.amount != *amount || t.recipient != *recipient_code
        || t.currency != code)
      return refusal(400, "Duplicate Transfer Reference");
    return success(200,
                   t.status == "pending" ? "Transfer has been queued"
                                         : "Transfer has already been "
                                           "processed",
                   transfer_data(t, false));
  }
  if (*amount > balance_)
    return refusal(400, "Your balance is not enough to fulfill this request");
  balance_ -= *amount;
  transfer t;
  t.id = next_id_++;
  t.code = "TRF_" + random_hex(7);
  t.reference = *reference;
  t.amount = *amount;
  t.currency = code;
  t.reason = reason->value_or("");
  t.recipient = *recipient_code;
  t.outcome = transfer_outcome_;
  t.created_at = t.updated_at = to_iso(souk::now());
  auto& stored = transfers_.emplace(t.reference, std::move(t)).first->second;
  timers_.after(opts_.transfer_delay,
                [this, ref = stored.reference] { complete_transfer(ref); });
  return success(200, "Transfer has been queued", transfer_data(stored, false));
}

void engine::complete_transfer(const std::string& reference) {
  std::lock_guard guard{mtx_};
  auto& t = transfers_.at(reference);
  t.status = t.outcome;
  t.updated_at = to_iso(souk::now());
  if (t.status != "success")
    balance_ += t.amount; // the money comes back
  webhooks_.send("transfer." + t.status, t.reference, transfer_data(t, true),
                 opts_.misbehave);
}

answer engine::verify_transfer(const std::string& reference) {
  std::lock_guard guard{mtx_};
  auto it = transfers_.find(reference);
  if (it == transfers_.end())
    return refusal(400, "Transfer not found");
  return success(200, "Transfer retrieved", transfer_data(it->second, true));
}

} // namespace souk::sandbox
