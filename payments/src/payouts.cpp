// Payouts on the gateway's side (docs/wallet.md, "Payouts"). The rules that
// keep a creator's money safe here:
//  * the transfer reference is fixed when the payout is asked for, so the
//    `payment.transfer` step may send it again after any failure: the
//    gateway answers a retry with the transfer it has, never a second one;
//  * nothing the gateway sends moves a payout by itself: a webhook is
//    checked with the gateway's verify, and only a verified final status
//    reaches the flow (deduplicated on reference and status);
//  * money comes back to the creator only on a verified failure or
//    reversal, or when the gateway refused the transfer outright, or when
//    it still knows nothing of it long after its step gave up.

#include "souk/payments/payouts.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/catalog/money.hpp"
#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/flows/interpreter.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"
#include "souk/persistence/payouts.hpp"

#include "idempotency.hpp"

namespace souk::payments {

using nlohmann::json;
using std::chrono::milliseconds;
namespace sp = souk::persistence;

const std::vector<std::string>& payout_actions() {
  static const std::vector<std::string> all{"payment.transfer"};
  return all;
}

json describe(const sp::payout_view& v) {
  auto& p = v.payout;
  auto reason = !p.reason.empty() ? p.reason : v.last_error;
  return {
    {"id", p.id},
    {"status", v.state},
    {"amount", {{"amount", p.amount}, {"currency", p.currency}}},
    {"reference", p.reference},
    {"transfer",
     {{"status", p.transfer_status},
      {"code", p.transfer_code.empty() ? json(nullptr) : json(p.transfer_code)},
      {"gateway_status",
       p.gateway_status.empty() ? json(nullptr) : json(p.gateway_status)}}},
    {"reason", reason.empty() ? json(nullptr) : json(reason)},
    {"created_at", p.created_at},
    {"status_since", v.state_entered_at}};
}

json describe(const sp::payout_account_row& a) {
  return {{"currency", a.currency},
          {"gateway", a.gateway},
          {"recipient_code", a.recipient_code},
          {"type", a.type},
          {"account_name", a.account_name},
          {"bank_code", a.bank_code},
          {"account_last4", a.account_last4},
          {"updated_at", a.updated_at}};
}

namespace {

// souk's word for a transfer status the gateway reports, and the flow
// event it means; empty for one that is not final.
struct verdict {
  std::string status; ///< success, failed, reversed; empty: not final
  std::string event;
};

verdict verdict_of(const std::string& gateway_status) {
  if (gateway_status == "success")
    return {"success", "transfer.success"};
  if (gateway_status == "reversed")
    return {"reversed", "transfer.reversed"};
  if (final_transfer_status(gateway_status))
    return {"failed", "transfer.failed"}; // failed, abandoned, blocked, ...
  return {};
}

std::string event_of(const std::string& transfer_status) {
  if (transfer_status == "success" || transfer_status == "failed"
      || transfer_status == "reversed")
    return "transfer." + transfer_status;
  return {};
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

} // namespace

struct payouts::impl {
  std::shared_ptr<sp::database> db;
  std::shared_ptr<gateway> gw;
  order_port orders;
  payout_options opts;

  sp::payout_repository repo() { return sp::payout_repository{*db}; }

  expected<payout_answer> request_owned(const payout_request& r);
  status apply(const sp::payout_row& p, const transfer& t,
               std::string_view via);
  status tell_flow(const std::string& id, std::string_view via);
  void reconcile(const sp::payout_row& p);
  status transfer_step(const std::string& id);
  std::string flow_state(const std::string& id) {
    auto snap = sp::order_repository{*db}.load(id);
    return snap && *snap ? (*snap)->order.state : std::string{};
  }
};

payouts::payouts(std::shared_ptr<sp::database> db, std::shared_ptr<gateway> gw,
                 order_port orders, payout_options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->db = std::move(db);
  impl_->gw = std::move(gw);
  impl_->orders = std::move(orders);
  impl_->opts = std::move(opts);
}

payouts::~payouts() = default;

// -- payout accounts

expected<sp::payout_account_row>
payouts::save_account(const account_request& r) {
  auto& d = *impl_;
  if (!d.opts.minimum.contains(r.currency))
    return error{errc::invalid_field,
                 "currency must be one souk pays out in (NGN or USD)",
                 "currency"};
  static const std::vector<std::string> types{"nuban", "ghipss", "mobile_money",
                                              "basa"};
  if (std::find(types.begin(), types.end(), r.type) == types.end())
    return error{errc::invalid_field,
                 "type must be nuban, ghipss, mobile_money or basa", "type"};
  if (r.name.empty() || r.name.size() > 200)
    return error{errc::invalid_field,
                 "name (the account holder's) must be 1-200 characters",
                 "name"};
  if (!all_digits(r.account_number) || r.account_number.size() < 6
      || r.account_number.size() > 20)
    return error{errc::invalid_field, "account_number must be 6-20 digits",
                 "account_number"};
  if (!all_digits(r.bank_code) || r.bank_code.size() > 10)
    return error{errc::invalid_field, "bank_code must be 1-10 digits",
                 "bank_code"};
  recipient_request req;
  req.type = r.type;
  req.name = r.name;
  req.account_number = r.account_number;
  req.bank_code = r.bank_code;
  req.currency = r.currency;
  auto rcp = d.gw->create_recipient(req);
  if (!rcp) {
    log::warn("payout account of {}: the gateway refused: {}", r.creator_id,
              rcp.err().detail);
    if (rcp.err().code == errc::invalid_field)
      return error{errc::invalid_field,
                   "the payment gateway refused this account: "
                     + rcp.err().detail,
                   "account_number"};
    error down{errc::unavailable,
               "the payment gateway is not answering; try again shortly"};
    down.retry_after = std::chrono::seconds{5};
    return down;
  }
  sp::payout_account_row a;
  a.creator_id = r.creator_id;
  a.currency = r.currency;
  a.gateway = std::string{d.gw->name()};
  a.recipient_code = rcp->recipient_code;
  a.type = r.type;
  a.account_name = r.name;
  a.bank_code = r.bank_code;
  a.account_last4 = r.account_number.substr(r.account_number.size() - 4);
  if (auto err = d.repo().save_account(a))
    return err;
  auto stored = d.repo().account(r.creator_id, r.currency);
  if (!stored)
    return stored.err();
  if (!*stored)
    return error{errc::internal, "the payout account was not stored"};
  log::info("payout account of {} for {}: {}", r.creator_id, r.currency,
            a.recipient_code);
  return std::move(**stored);
}

// -- asking for a payout

expected<payout_answer> payouts::request(const payout_request& r) {
  auto keys = sp::payment_repository{*impl_->db};
  auto claimed = detail::claim_key(
    keys, r.scope, r.idempotency_key, r.request_hash, impl_->opts.key_lock,
    "retrying a payout request never asks twice");
  if (!claimed)
    return claimed.err();
  if (*claimed)
    return payout_answer{static_cast<unsigned>((*claimed)->status),
                         (*claimed)->body, true};
  auto out = impl_->request_owned(r);
  if (!out)
    if (auto err = keys.release_key(r.scope, r.idempotency_key))
      log::warn("payout: cannot release Idempotency-Key: {}", err.detail);
  return out;
}

expected<payout_answer> payouts::impl::request_owned(const payout_request& r) {
  auto minimum = opts.minimum.find(r.currency);
  if (minimum == opts.minimum.end())
    return error{errc::invalid_field,
                 "currency must be one souk pays out in (NGN or USD)",
                 "currency"};
  if (r.amount < minimum->second)
    return error{
      errc::invalid_field,
      fmt::format("amount must be at least {} (the smallest payout)",
                  catalog::to_display({minimum->second, r.currency})),
      "amount"};
  auto account = repo().account(r.creator_id, r.currency);
  if (!account)
    return account.err();
  if (!*account)
    return error{errc::payout_account_missing,
                 fmt::format("no payout account for {}: register one with PUT "
                             "/api/v1/payout-account first",
                             r.currency)};
  // A first look, so that a plain overdraft is refused here; the flow's
  // reservation is the guard that holds under concurrency.
  auto available = sp::ledger_repository{*db}.account(
    sp::creator_account(r.creator_id, r.currency, "available"));
  if (!available)
    return available.err();
  int64_t has = *available ? (*available)->balance : 0;
  if (has < r.amount)
    return error{errc::insufficient_funds,
                 fmt::format("the available balance is {}; a payout of {} "
                             "needs that much available",
                             catalog::to_display({has, r.currency}),
                             catalog::to_display({r.amount, r.currency})),
                 "amount"};
  sp::order_row base;
  base.kind = "payout";
  base.amount = r.amount;
  base.currency = r.currency;
  auto creation = orders.prepare(base, opts.flow);
  if (!creation)
    return creation.err();
  sp::payout_rows rows;
  rows.instance = creation->order;
  rows.first_event = creation->first_event;
  rows.timers = creation->timers;
  rows.outbox = creation->outbox;
  auto& p = rows.payout;
  p.creator_id = r.creator_id;
  p.amount = r.amount;
  p.currency = r.currency;
  p.gateway = std::string{gw->name()};
  p.recipient_code = (*account)->recipient_code;
  p.reference = "payout-" + creation->order.id; // 43 characters
  if (!valid_transfer_reference(p.reference))
    return error{errc::internal, "bad transfer reference " + p.reference};
  p.created_at = creation->order.created_at; // the answer shows the same
  p.next_check_at = to_iso(now() + opts.reconcile_after);
  sp::payout_view v{p, creation->order.state, "",
                    creation->order.state_entered_at};
  v.payout.id = creation->order.id;
  v.payout.created_at = creation->order.created_at;
  rows.answer = {r.scope, r.idempotency_key, 201, describe(v).dump()};
  if (auto err = repo().create(rows))
    return err;
  orders.started(*creation);
  log::info("payout {} of {} {} asked by {}", v.payout.id, r.amount, r.currency,
            r.creator_id);
  return payout_answer{201, rows.answer.body, false};
}

// -- what the gateway says

// Tells the payout's flow what its row says, once the row holds a final
// status; then reconciliation need not look again.
status payouts::impl::tell_flow(const std::string& id, std::string_view via) {
  auto found = repo().find(id);
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::not_found, "no payout " + id};
  auto& p = **found;
  auto event = event_of(p.transfer_status);
  if (event.empty())
    return {};
  json detail{{"reference", p.reference},
              {"transfer_code", p.transfer_code},
              {"gateway_status", p.gateway_status},
              {"reason", p.reason},
              {"via", via}};
  orders::event_input in{event, "gateway:" + p.gateway, detail.dump(),
                         "transfer:" + p.reference + ":" + p.transfer_status};
  auto result = orders.deliver(p.id, in);
  if (!result)
    return result.err();
  if (*result == orders::outcome::ignored && event == "transfer.success") {
    // Paid after its money went back to the creator: a person sorts it.
    auto why = fmt::format("the gateway reports transfer {} paid after the "
                           "payout left it (state {})",
                           p.reference, flow_state(p.id));
    log::error("payout {}: {}", p.id, why);
    if (auto err = orders.park(p.id, why))
      return err;
  }
  return repo().close_checks(p.id);
}

// Records what the gateway's verify (or its answer to a transfer) says.
status payouts::impl::apply(const sp::payout_row& p, const transfer& t,
                            std::string_view via) {
  if (!t.reference.empty() && t.reference != p.reference)
    return error{errc::unavailable, "the gateway answered about transfer "
                                      + t.reference + ", not " + p.reference};
  if (t.amount != p.amount || t.currency != p.currency) {
    // Not what we asked: a person looks before any money moves.
    auto why
      = fmt::format("the gateway reports transfer {} as {} {}, the "
                    "payout is {} {}",
                    p.reference, t.amount, t.currency, p.amount, p.currency);
    log::error("payout {}: {}", p.id, why);
    if (auto err = orders.park(p.id, why))
      return err;
    return repo().close_checks(p.id);
  }
  auto v = verdict_of(t.status);
  if (v.status.empty()) {
    if (p.transfer_status == "unsent") {
      auto moved = repo().record_transfer(p.id, "pending", t.transfer_code,
                                          t.status, "");
      if (!moved)
        return moved.err();
    }
    auto next
      = now()
        + flows::backoff(opts.reconcile_after, 2.0, opts.reconcile_max_interval,
                         static_cast<uint32_t>(p.checks) + 1);
    return repo().reschedule(p.id, to_iso(next), t.status);
  }
  auto reason
    = v.status == "success"
        ? std::string{}
        : fmt::format("the gateway reports the transfer {}", t.status);
  auto moved
    = repo().record_transfer(p.id, v.status, t.transfer_code, t.status, reason);
  if (!moved)
    return moved.err();
  if (*moved) {
    log::info("payout {}: transfer {} {} ({})", p.id, p.reference, t.status,
              via);
    return tell_flow(p.id, via);
  }
  auto stored = repo().find(p.id);
  if (!stored)
    return stored.err();
  if (!*stored)
    return error{errc::not_found, "no payout " + p.id};
  auto& now_row = **stored;
  if (event_of(now_row.transfer_status).empty())
    // Not recorded: a request for the transfer is in flight; its answer
    // comes first, then this is looked at again.
    return error{errc::unavailable,
                 "the transfer is being sent; its outcome is recorded after"};
  if (now_row.transfer_status != v.status) {
    // The gateway now says something else than the final word we acted on
    // (e.g. paid after we gave the money back): a person sorts it out.
    auto why = fmt::format("the gateway reports transfer {} {} ({}), but "
                           "souk recorded it {}; check the gateway before "
                           "moving any money",
                           p.reference, t.status, via, now_row.transfer_status);
    log::error("payout {}: {}", p.id, why);
    if (auto err = orders.park(p.id, why))
      return err;
    return repo().close_checks(p.id);
  }
  return tell_flow(p.id, via);
}

status payouts::on_event(const webhook_event& ev) {
  auto& d = *impl_;
  auto found = d.repo().find_by_reference(ev.reference);
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::not_found, "no payout with reference " + ev.reference};
  auto t = d.gw->verify_transfer(ev.reference);
  if (!t) {
    if (t.err().code == errc::not_found)
      return error{errc::unavailable, "the gateway's verify does not know "
                                      "transfer "
                                        + ev.reference + " (yet)"};
    return t.err();
  }
  // The webhook names an outcome its verify must confirm; until it does,
  // the event is tried again later.
  if (verdict_of(t->status).event != ev.event)
    return error{errc::unavailable,
                 fmt::format("{} for {}, but the gateway's verify says {}",
                             ev.event, ev.reference, t->status)};
  return d.apply(**found, *t, "webhook");
}

void payouts::impl::reconcile(const sp::payout_row& p) {
  auto later = [&](const std::string& gateway_status) {
    auto next
      = now()
        + flows::backoff(opts.reconcile_after, 2.0, opts.reconcile_max_interval,
                         static_cast<uint32_t>(p.checks) + 1);
    if (auto err = repo().reschedule(p.id, to_iso(next), gateway_status))
      log::warn("payout {}: {}", p.id, err.detail);
  };
  if (!event_of(p.transfer_status).empty()) {
    // Final, but the flow may not have heard (a crash in between).
    if (auto err = tell_flow(p.id, "reconciliation")) {
      log::warn("payout {}: reconciliation: {}", p.id, err.detail);
      later({});
    }
    return;
  }
  auto t = gw->verify_transfer(p.reference);
  if (t) {
    if (auto err = apply(p, *t, "reconciliation")) {
      log::warn("payout {}: reconciliation: {}", p.id, err.detail);
      later({});
    }
    return;
  }
  auto created = parse_iso(p.created_at);
  auto age = now() - (created ? *created : now());
  if (t.err().code == errc::not_found && p.transfer_status == "unsent"
      && p.checks >= 3 && age > opts.reconcile_for
      && flow_state(p.id) == "in_transit") {
    // Its step gave up long ago and the gateway never got it: no retry can
    // reach the gateway any more, so the money goes back.
    auto why = fmt::format(
      "the gateway never received the transfer ({}h "
      "after it was asked for)",
      std::chrono::duration_cast<std::chrono::hours>(age).count());
    auto moved = repo().record_transfer(p.id, "failed", "", "not_found", why);
    if (!moved)
      log::warn("payout {}: {}", p.id, moved.err().detail);
    else if (auto err = tell_flow(p.id, "reconciliation"))
      log::warn("payout {}: {}", p.id, err.detail);
    return;
  }
  log::warn("payout {}: reconciliation: {}", p.id, t.err().detail);
  later({});
}

size_t payouts::run_due() {
  auto& d = *impl_;
  size_t handled = 0;
  for (; handled < d.opts.batch; ++handled) {
    auto t = now();
    auto due = d.repo().claim_due(to_iso(t), to_iso(t + d.opts.lease), 1);
    if (!due) {
      log::warn("payouts: cannot claim payouts to reconcile: {}",
                due.err().detail);
      break;
    }
    if (due->empty())
      break;
    d.reconcile(due->front());
  }
  return handled;
}

// -- the flow's step

status payouts::impl::transfer_step(const std::string& id) {
  auto found = repo().find(id);
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::invalid_field, "no payout " + id};
  auto& p = **found;
  if (p.transfer_status != "unsent") {
    // The gateway has it; a final word the flow missed is told again.
    return event_of(p.transfer_status).empty() ? status{}
                                               : tell_flow(id, "transfer");
  }
  // One sender at a time; while it asks, no failure is recorded.
  auto t0 = now();
  auto claimed = repo().claim_send(id, to_iso(t0), to_iso(t0 + 2 * opts.lease));
  if (!claimed)
    return claimed.err();
  if (!*claimed)
    return error{errc::unavailable, "the transfer is being sent already"};
  auto give_back = [&] {
    if (auto err = repo().release_send(id))
      log::warn("payout {}: {}", id, err.detail);
  };
  // Ask first whether the gateway has it (an earlier attempt whose answer
  // was lost): then it is never asked for again.
  auto t = gw->verify_transfer(p.reference);
  if (!t && t.err().code != errc::not_found) {
    give_back();
    return error{errc::unavailable, t.err().detail};
  }
  bool refused = false;
  std::string refusal;
  if (!t) {
    transfer_request req;
    req.amount = p.amount;
    req.currency = p.currency;
    req.recipient = p.recipient_code;
    req.reference = p.reference;
    req.reason = "souk payout " + p.id;
    t = gw->start_transfer(req);
    if (!t
        && (t.err().code == errc::conflict
            || t.err().code == errc::invalid_field)) {
      // Refused — or a reused reference, or a 4xx that is neither: only a
      // gateway that then knows no such transfer has truly refused it.
      auto why = t.err().detail;
      t = gw->verify_transfer(p.reference);
      if (!t && t.err().code == errc::not_found) {
        refused = true;
        refusal = why;
      }
    }
  }
  give_back();
  if (t)
    return apply(p, *t, "transfer");
  if (refused) {
    log::warn("payout {}: the gateway refused the transfer: {}", id, refusal);
    auto moved
      = repo().record_transfer(id, "failed", "", "refused",
                               "the gateway refused the transfer: " + refusal);
    if (!moved)
      return moved.err();
    return tell_flow(id, "transfer");
  }
  // Not done, or no answer: the next attempt asks the gateway first.
  auto& err = t.err();
  return err.code == errc::not_found || err.code == errc::invalid_field
           ? error{errc::unavailable, err.detail}
           : err;
}

status payouts::run_action(const std::string& action,
                           const std::string& payout_id,
                           const std::string& /*idempotency_key*/) {
  if (action == "payment.transfer")
    return impl_->transfer_step(payout_id);
  return error{errc::invalid_field, "payouts have no action " + action};
}

} // namespace souk::payments
