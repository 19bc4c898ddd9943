// The payments service. Principle 4 of DESIGN.md in code: nothing the
// gateway sends moves an order by itself; every path (webhook, returning
// browser, reconciliation) ends in `settle`, which asks the gateway's verify
// API, compares amount and currency with what we recorded, and only then
// delivers `payment.succeeded`, deduplicated on the payment reference so the
// order moves once whoever arrives first.

#include "souk/payments/service.hpp"

#include <algorithm>
#include <atomic>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/accounts/credentials.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/handoff.hpp"
#include "souk/core/hash.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/flows/interpreter.hpp"
#include "souk/orders/requests.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

#include "idempotency.hpp"

namespace souk::payments {

using nlohmann::json;
using std::chrono::milliseconds;

const std::vector<std::string>& actions() {
  static const std::vector<std::string> all{"payment.refund"};
  return all;
}

namespace {

json money_json(int64_t amount, const std::string& currency) {
  return {{"amount", amount}, {"currency", currency}};
}

double jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.8, 1.2}(rng);
}

// The idempotency key of a `refunds` row recording a refund the gateway
// made without souk asking (in its dashboard): this prefix and the
// gateway's refund id.
constexpr std::string_view outside_key_prefix = "gateway:";

bool made_outside(const persistence::refund_row& r) {
  return r.idempotency_key.starts_with(outside_key_prefix);
}

} // namespace

struct service::impl {
  std::shared_ptr<persistence::database> db;
  std::shared_ptr<gateway> gw;
  std::shared_ptr<catalog::service> catalog;
  order_port orders;
  service_options opts;
  // Webhooks stored leased to this process, for `run_due` to work on.
  handoff<persistence::inbox_row> handed;

  persistence::payment_repository repo() {
    return persistence::payment_repository{*db};
  }

  expected<checkout_answer> checkout_owned(const checkout_request& r);
  // `event_id`: the inbox row of the webhook being processed, marked
  // processed with the payment's checks closed (then `*finished` is set).
  expected<settlement> deliver_paid(const persistence::payment_row& p,
                                    std::string_view via,
                                    const std::string& event_id = {},
                                    bool* finished = nullptr);
  // What follows the order's answer to `payment.succeeded`: an order that
  // no longer waits for the money is parked; then the event (`event_id`)
  // and the payment's checks are closed.
  expected<settlement> after_paid(const persistence::payment_row& p,
                                  orders::outcome result,
                                  const std::string& event_id, bool* finished);
  expected<settlement> park_mismatch(const persistence::payment_row& p);
  // Settles `p` as succeeded in the same transaction as the order's
  // `payment.succeeded` (and, with `event_id`, marks that event processed
  // and closes the payment's checks); nullopt when that could not be done
  // together (the caller settles on its own and delivers after).
  std::optional<expected<settlement>>
  settle_with_order(persistence::payment_row& p, const charge& ch,
                    const std::string& gateway_id, std::string_view via,
                    const std::string& event_id, bool* finished);
  std::string order_state(const std::string& order_id);
  expected<settlement> settle(const std::string& reference,
                              std::string_view via,
                              const std::string& event_id = {},
                              bool* finished = nullptr);
  status process_event(const persistence::inbox_row& e);
  status refund_event(const webhook_event& ev);
  // A refund the gateway made without souk asking (no `refunds` row of
  // souk's matches): recorded, and taken by the order as a refund request.
  status outside_refund(const persistence::payment_row& p,
                        const webhook_event& ev, const std::string& gateway_id);
  // The order of an outside refund (its whole snapshot: pending steps
  // included), and why the refund or its outcome cannot reach it now
  // (`unavailable`: parked, or steps still running).
  expected<persistence::order_snapshot> order_of(const std::string& order_id);
  static status busy(const persistence::order_snapshot& o,
                     std::string_view what);
  // The outcome of such a refund, once its order has run the refund's
  // steps.
  status outside_outcome(const persistence::refund_row& r,
                         const persistence::payment_row& p,
                         const webhook_event& ev);
  void reconcile(const persistence::payment_row& p);
  status refund(const std::string& order_id, const std::string& key);
};

service::service(std::shared_ptr<persistence::database> db,
                 std::shared_ptr<gateway> gw,
                 std::shared_ptr<catalog::service> catalog, order_port orders,
                 service_options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->db = std::move(db);
  impl_->gw = std::move(gw);
  impl_->catalog = std::move(catalog);
  impl_->orders = std::move(orders);
  impl_->opts = std::move(opts);
}

service::~service() = default;

std::string_view service::gateway_name() const {
  return impl_->gw->name();
}

// -- checkout

expected<checkout_answer> service::checkout(const checkout_request& r) {
  auto repo = impl_->repo();
  auto claimed = detail::claim_key(repo, r.scope, r.idempotency_key,
                                   r.request_hash, impl_->opts.key_lock,
                                   "retrying a checkout never buys twice");
  if (!claimed)
    return claimed.err();
  if (*claimed) {
    checkout_answer out;
    out.status = static_cast<unsigned>((*claimed)->status);
    out.body = (*claimed)->body;
    out.replayed = true;
    auto doc = json::parse(out.body, nullptr, false);
    if (doc.is_object() && doc.contains("order"))
      out.order_id = doc["order"].value("id", "");
    if (out.status == 201 && !out.order_id.empty()) {
      // The same buyer asking again (a double click, a retry after a lost
      // answer) gets a working token: a new one replaces the old.
      auto token = random_token(32);
      if (auto err = persistence::order_repository{*impl_->db}.set_access_hash(
            out.order_id, sha256_hex(token)))
        return err;
      doc["order"]["access_token"] = token;
      out.body = doc.dump();
    }
    return out;
  }
  auto out = impl_->checkout_owned(r);
  if (!out) {
    // Nothing was written: let a retry with the same key run again.
    if (auto err = repo.release_key(r.scope, r.idempotency_key))
      log::warn("checkout: cannot release Idempotency-Key: {}", err.detail);
  }
  return out;
}

expected<checkout_answer>
service::impl::checkout_owned(const checkout_request& r) {
  auto email = accounts::normalize_email(r.email);
  if (!email)
    return email.err();
  auto product = catalog->get(catalog::caller::anonymous(), r.product_id);
  if (!product) {
    if (product.err().code == errc::not_found)
      return error{errc::not_found,
                   "no published product " + r.product_id + " to buy",
                   "product_id"};
    return product.err();
  }
  int64_t amount = product->price.amount;
  if (r.amount) {
    if (!product->min_price)
      return error{errc::invalid_field,
                   fmt::format("amount: this product has a fixed price of {}; "
                               "leave amount out",
                               catalog::to_display(product->price)),
                   "amount"};
    if (*r.amount < product->min_price->amount)
      return error{errc::invalid_field,
                   fmt::format("amount must be at least {} for this product",
                               catalog::to_display(*product->min_price)),
                   "amount"};
    if (*r.amount > 1'000'000'000'000)
      return error{errc::invalid_field, "amount is too large", "amount"};
    amount = *r.amount;
  }
  // A product whose flow gives licence keys, with a pool it takes from
  // empty (read afresh by the catalog): better "sold out" than a payment
  // souk cannot deliver on. Two orders paid for the last key are still
  // possible; the flow refunds the second.
  if (product->sold_out)
    return error{errc::sold_out,
                 "this product is sold out: it has no licence key left to "
                 "give"};
  persistence::order_row base;
  base.product_id = product->id;
  base.buyer_email = *email;
  base.buyer_id = r.buyer_id;
  base.amount = amount;
  base.currency = product->price.currency;
  auto creation = orders.prepare(base, product->flow);
  if (!creation)
    return creation.err();
  auto& order = creation->order;

  charge_request charge;
  charge.email = *email;
  charge.amount = amount;
  charge.currency = base.currency;
  charge.reference = "souk-" + order.id;
  charge.callback_url = opts.callback_url ? opts.callback_url() : "";
  charge.metadata
    = json{{"order_id", order.id}, {"product_id", product->id}}.dump();
  auto session = gw->initialize(charge);
  if (!session) {
    log::warn("checkout for product {}: the gateway refused: {}", product->id,
              session.err().detail);
    if (session.err().code == errc::invalid_field)
      return error{errc::payment_refused,
                   "the payment gateway refused this checkout; check the "
                   "email address, or try again later"};
    error down{errc::unavailable,
               "the payment gateway is not answering; try again shortly"};
    down.retry_after = std::chrono::seconds{5};
    return down;
  }

  persistence::checkout_rows rows;
  rows.order = order;
  rows.first_event = creation->first_event;
  rows.timers = creation->timers;
  rows.outbox = creation->outbox;
  auto& p = rows.payment;
  p.gateway = std::string{gw->name()};
  p.reference = charge.reference;
  p.amount = amount;
  p.currency = base.currency;
  p.email = *email;
  p.authorization_url = session->authorization_url;
  p.access_code = session->access_code;
  p.gateway_status = "initialized";
  p.next_check_at = to_iso(now() + opts.reconcile_after);

  // The buyer's credential for this order (a guest has no other): shown in
  // this answer only, kept as a hash.
  auto access_token = random_token(32);
  rows.access_hash = sha256_hex(access_token);
  json body{{"order",
             {{"id", order.id},
              {"access_token", access_token},
              {"state", order.state},
              {"product_id", order.product_id},
              {"buyer_email", order.buyer_email},
              {"price", money_json(order.amount, order.currency)},
              {"flow", order.flow},
              {"flow_version", order.flow_version},
              {"created_at", order.created_at}}},
            {"payment",
             {{"gateway", p.gateway},
              {"reference", p.reference},
              {"authorization_url", p.authorization_url},
              {"access_code", p.access_code},
              {"status", p.status}}}};
  // The stored answer (replayed for the same key) leaves the token out: it
  // is kept only as its hash; a replay mints a new one.
  auto stored = body;
  stored["order"].erase("access_token");
  rows.answer = {r.scope, r.idempotency_key, 201, stored.dump()};
  if (auto err = repo().create_checkout(rows))
    return err;
  orders.started(*creation);
  log::info("order {} created for product {} ({} {}), payment {}", order.id,
            product->id, amount, base.currency, p.reference);
  checkout_answer out;
  out.status = 201;
  out.body = body.dump();
  out.order_id = order.id;
  return out;
}

// -- webhooks

expected<intake> service::receive_webhook(std::string_view body,
                                          std::string_view signature) {
  auto& gw = *impl_->gw;
  if (signature.empty())
    return error{errc::unauthorized, "the x-paystack-signature header is "
                                     "missing"};
  if (!gw.check_signature(body, signature))
    return error{errc::unauthorized,
                 "the x-paystack-signature does not sign this body"};
  persistence::inbox_row row;
  row.gateway = std::string{gw.name()};
  row.payload = std::string{body};
  auto ev = gw.parse_webhook(body);
  if (ev) {
    row.event = ev->event;
    row.event_key = ev->key;
    row.reference = ev->reference;
  } else {
    // Signed but unreadable: keep it for an operator, do not retry it.
    row.event = "unreadable";
    row.event_key = "unreadable:" + sha256_hex(body);
    row.status = "ignored";
    row.last_error = ev.err().detail;
    row.processed_at = to_iso(now());
  }
  auto lease = impl_->opts.webhook_lease;
  auto t = now();
  if (row.status == "received" && lease.count() > 0) {
    row.id = new_uuid();
    row.received_at = to_iso(t);
    row.claimed_until = to_iso(t + lease);
  }
  auto stored = impl_->repo().store_event(row);
  if (!stored)
    return stored.err();
  if (!*stored)
    return intake::duplicate;
  if (!row.claimed_until.empty())
    impl_->handed.give(std::move(row), t + lease);
  return intake::accepted;
}

// -- settling a payment

std::string service::impl::order_state(const std::string& order_id) {
  auto found = persistence::order_repository{*db}.find(order_id);
  if (found && found->has_value())
    return (*found)->state;
  return {};
}

namespace {

// `p` as its settlement as succeeded wrote it, and the log line saying so.
void verified(persistence::payment_row& p, const charge& ch,
              const std::string& gateway_id, std::string_view via) {
  p.status = "succeeded";
  p.gateway_status = ch.status_text;
  p.gateway_id = gateway_id;
  log::info("payment {} verified ({}): {} {}", p.reference, via, ch.amount,
            ch.currency);
}

// The key of a payment's events on its order (`orders::payment_key_prefix`).
std::string payment_key(const persistence::payment_row& p) {
  return std::string{orders::payment_key_prefix} + p.reference;
}

orders::event_input paid_event(const persistence::payment_row& p,
                               const std::string& gateway_id,
                               std::string_view via) {
  json detail{{"reference", p.reference},
              {"gateway", p.gateway},
              {"gateway_id", gateway_id},
              {"amount", money_json(p.amount, p.currency)},
              {"via", via}};
  return {"payment.succeeded", "gateway:" + p.gateway, detail.dump(),
          payment_key(p)};
}

} // namespace

expected<settlement>
service::impl::deliver_paid(const persistence::payment_row& p,
                            std::string_view via, const std::string& event_id,
                            bool* finished) {
  auto result = orders.deliver(p.order_id, paid_event(p, p.gateway_id, via));
  if (!result)
    return result.err();
  return after_paid(p, *result, event_id, finished);
}

expected<settlement>
service::impl::after_paid(const persistence::payment_row& p,
                          orders::outcome result, const std::string& event_id,
                          bool* finished) {
  settlement out{p.order_id, p.reference, p.status, p.gateway_status};
  if (result == orders::outcome::ignored) {
    // Money arrived for an order that no longer waits for it (it expired
    // or failed first): an operator refunds or fulfils it by hand.
    auto why
      = fmt::format("the gateway confirmed payment {} ({} {}) after "
                    "the order left pending (state {})",
                    p.reference, p.amount, p.currency, order_state(p.order_id));
    log::error("order {}: {}", p.order_id, why);
    if (auto err = orders.park(p.order_id, why))
      return err;
  }
  // The order has it: reconciliation need not look again (until now it
  // would have, in case this delivery never happened).
  if (auto err = repo().close_checks(p.id, event_id))
    log::warn("payment {}: {}", p.reference, err.detail);
  else if (finished != nullptr && !event_id.empty())
    *finished = true;
  return out;
}

// Parks the order of a mismatched payment; until that is done the payment
// stays due for reconciliation, so a crash in between is repaired.
expected<settlement>
service::impl::park_mismatch(const persistence::payment_row& p) {
  auto evidence = json::parse(p.evidence, nullptr, false);
  auto reported = evidence.is_object() && evidence.contains("reported")
                    ? evidence["reported"]
                    : json::object();
  auto why = fmt::format("payment {} does not match the order: the gateway "
                         "reports {} {}, the order is {} {}; nothing was "
                         "delivered",
                         p.reference, reported.value("amount", int64_t{0}),
                         reported.value("currency", std::string{}), p.amount,
                         p.currency);
  log::error("order {}: {}", p.order_id, why);
  if (auto err = orders.park(p.order_id, why))
    return err;
  if (auto err = repo().close_checks(p.id))
    log::warn("payment {}: {}", p.reference, err.detail);
  return settlement{p.order_id, p.reference, p.status, p.gateway_status};
}

expected<std::string> service::late_payment_key(const std::string& order_id) {
  auto& d = *impl_;
  auto r = d.repo();
  auto found = r.find_by_order(order_id);
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::conflict, "order " + order_id + " has no payment"};
  auto& p = **found;
  if (p.status != "succeeded")
    return error{errc::conflict,
                 fmt::format("payment {} is {}, not succeeded: there is no "
                             "payment to answer for",
                             p.reference, p.status)};
  auto refunds = r.refunds_of(p.id);
  if (!refunds)
    return refunds.err();
  // (One made outside souk is the gateway's to report, below.)
  for (auto& x : *refunds)
    if (x.status != "failed" && !made_outside(x))
      return error{errc::conflict,
                   fmt::format("payment {} has a refund already ({} {}, {})",
                               p.reference, x.amount, x.currency, x.status)};
  auto ch = d.gw->verify(p.reference);
  if (!ch)
    return error{errc::unavailable, "the gateway did not say whether payment "
                                      + p.reference
                                      + " is still there: " + ch.err().detail};
  if (ch->status != charge_status::success || ch->amount != p.amount
      || ch->currency != p.currency)
    return error{errc::conflict,
                 fmt::format("the gateway reports payment {} as {} ({} {}): "
                             "it was refunded or reversed outside souk, or "
                             "changed; nothing to fulfil or refund",
                             p.reference, ch->status_text, ch->amount,
                             ch->currency)};
  // A partial refund in the gateway's dashboard leaves the charge `success`
  // at its full amount: only the gateway's list of refunds shows it. Any
  // refund there that did not fail means part of the money is going back
  // already; fulfilling would credit the whole sale, refunding whole would
  // be refused by the gateway.
  auto outside = d.gw->refunds_of(*ch);
  if (!outside)
    return error{errc::unavailable,
                 "the gateway did not say whether payment " + p.reference
                   + " has refunds: " + outside.err().detail};
  for (auto& x : *outside)
    if (x.status != "failed")
      return error{errc::conflict,
                   fmt::format("the gateway holds a refund of payment {} made "
                               "outside souk ({} {}, {}): nothing to fulfil "
                               "or refund here; settle the rest in the "
                               "gateway's dashboard",
                               p.reference, x.amount, x.currency, x.status)};
  return payment_key(p);
}

expected<settlement> service::settle(const std::string& reference,
                                     std::string_view via) {
  return impl_->settle(reference, via);
}

expected<settlement> service::impl::settle(const std::string& reference,
                                           std::string_view via,
                                           const std::string& event_id,
                                           bool* finished) {
  auto& d = *this;
  auto repo = d.repo();
  auto found = repo.find_by_reference(reference);
  if (!found)
    return found.err();
  if (!*found)
    return error{errc::not_found, "no payment with reference " + reference};
  auto p = std::move(**found);
  const bool closed
    = p.next_check_at == persistence::payment_repository::no_more_checks;
  // A webhook about a payment reconciliation gave up on is checked again:
  // a late payment must reach a person, not vanish.
  const bool late = p.status == "failed" && via == "webhook";
  if (p.status != "initialized" && !late && (closed || p.status == "failed"))
    // Settled, and the order knows: answer from what is stored.
    return settlement{p.order_id, p.reference, p.status, p.gateway_status};
  if (p.status == "succeeded")
    // again: repairs a crash in between
    return d.deliver_paid(p, via, event_id, finished);
  if (p.status == "mismatch")
    return d.park_mismatch(p); // again: repairs a crash in between

  auto ch = d.gw->verify(reference);
  if (!ch) {
    log::warn("payment {}: verify failed ({}): {}", reference, via,
              ch.err().detail);
    if (ch.err().code == errc::not_found) // the gateway's, not ours
      return error{errc::unavailable,
                   "the gateway does not know payment " + reference + " (yet)"};
    return ch.err();
  }
  if (ch->status != charge_status::success) {
    auto next = now()
                + flows::backoff(d.opts.reconcile_after, 2.0,
                                 d.opts.reconcile_max_interval,
                                 static_cast<uint32_t>(p.checks) + 1);
    if (auto err = repo.record_check(p.id, ch->status_text, to_iso(next)))
      return err;
    return settlement{p.order_id, p.reference, p.status, ch->status_text};
  }
  auto gateway_id = ch->id ? std::to_string(ch->id) : std::string{};
  if (ch->amount != p.amount || ch->currency != p.currency
      || (!ch->reference.empty() && ch->reference != p.reference)) {
    json evidence{{"expected", money_json(p.amount, p.currency)},
                  {"reported", money_json(ch->amount, ch->currency)},
                  {"reference", ch->reference},
                  {"via", via},
                  {"verify", json::parse(ch->raw, nullptr, false)}};
    auto won = repo.settle(p.id, "mismatch", ch->status_text, gateway_id,
                           std::string{via}, evidence.dump());
    if (!won)
      return won.err();
    auto again = repo.find_by_reference(reference);
    if (!again)
      return again.err();
    p = std::move(**again);
    if (p.status != "mismatch") // someone else settled it first
      return settlement{p.order_id, p.reference, p.status, p.gateway_status};
    return d.park_mismatch(p);
  }
  if (auto together
      = d.settle_with_order(p, *ch, gateway_id, via, event_id, finished))
    return std::move(*together);
  auto won = repo.settle(p.id, "succeeded", ch->status_text, gateway_id,
                         std::string{via}, ch->raw);
  if (!won)
    return won.err();
  if (!*won) {
    // Someone settled it in between: go on with what they stored.
    auto again = repo.find_by_reference(reference);
    if (!again)
      return again.err();
    p = std::move(**again);
    if (p.status != "succeeded")
      return settlement{p.order_id, p.reference, p.status, p.gateway_status};
  } else {
    verified(p, *ch, gateway_id, via);
  }
  return d.deliver_paid(p, via, event_id, finished);
}

std::optional<expected<settlement>> service::impl::settle_with_order(
  persistence::payment_row& p, const charge& ch, const std::string& gateway_id,
  std::string_view via, const std::string& event_id, bool* finished) {
  // Written by the order's transaction, on the database's thread; kept
  // alive by the closure in case this caller stops waiting first.
  struct together {
    std::string payment_id, gateway_status, gateway_id, via, evidence, event_id;
    std::atomic<bool> settled{false};
  };
  auto t = std::make_shared<together>();
  t->payment_id = p.id;
  t->gateway_status = ch.status_text;
  t->gateway_id = gateway_id;
  t->via = std::string{via};
  t->evidence = ch.raw;
  t->event_id = event_id;
  auto in = paid_event(p, gateway_id, via);
  in.with = [t](orders::outcome result, persistence::database& db) -> status {
    persistence::payment_repository repo{db};
    auto won = repo.settle(t->payment_id, "succeeded", t->gateway_status,
                           t->gateway_id, t->via, t->evidence);
    if (!won)
      return won.err();
    if (!*won)
      // Settled by someone else since it was read: that row, not this
      // verify, says what happens (the caller reads it again).
      return error{errc::precondition_failed,
                   "the payment was settled meanwhile"};
    // An order that no longer waits for the money is parked after this:
    // until then reconciliation and the event stay open, so a crash in
    // between is repaired.
    if (result == orders::outcome::applied)
      if (auto err = repo.close_checks(t->payment_id, t->event_id))
        return err;
    t->settled = true;
    return {};
  };
  auto result = orders.deliver(p.order_id, std::move(in));
  if (!result) {
    if (result.err().code == errc::precondition_failed)
      return std::nullopt; // on its own, from what is stored
    return expected<settlement>{result.err()};
  }
  if (!t->settled
      || (*result != orders::outcome::applied
          && *result != orders::outcome::ignored))
    // Not recorded (a duplicate: the order has it already): settle alone.
    return std::nullopt;
  verified(p, ch, gateway_id, via);
  if (*result == orders::outcome::ignored)
    // Money for an order that no longer waits for it: parked, then the
    // event and the checks closed, as when the payment is settled alone.
    return after_paid(p, *result, event_id, finished);
  if (finished != nullptr && !event_id.empty())
    *finished = true;
  return expected<settlement>{
    settlement{p.order_id, p.reference, p.status, p.gateway_status}};
}

bool service::confirm_before_expiry(const std::string& order_id) {
  auto found = impl_->repo().find_by_order(order_id);
  if (!found) {
    log::warn("order {}: before its payment window closes: {}", order_id,
              found.err().detail);
    return false;
  }
  if (!*found || (*found)->status != "initialized")
    return true;
  auto& p = **found;
  auto s = impl_->settle(p.reference, "expiry");
  if (!s) {
    log::warn("payment {}: not confirmed before its window closed: {}",
              p.reference, s.err().detail);
    return false;
  }
  if (s->payment_status == "succeeded")
    log::info("payment {}: confirmed by the gateway as its order's wait ran "
              "out (no webhook came)",
              p.reference);
  return true;
}

// -- background work

status service::impl::refund_event(const webhook_event& ev) {
  auto r = repo();
  auto payment = r.find_by_reference(ev.reference);
  if (!payment)
    return payment.err();
  if (!*payment)
    return error{errc::not_found, "no payment with reference " + ev.reference};
  auto refunds = r.refunds_of((*payment)->id);
  if (!refunds)
    return refunds.err();
  auto data = json::parse(ev.data, nullptr, false);
  std::string gateway_id;
  if (data.is_object() && data.contains("id"))
    gateway_id = data["id"].is_string() ? data["id"].get<std::string>()
                                        : data["id"].dump();
  // Ours by the gateway's refund id; else (we crashed before recording it)
  // the oldest open refund of the same amount the gateway has not named
  // yet (one it named is another refund: one made outside souk, say).
  const persistence::refund_row* match = nullptr;
  for (auto& x : *refunds)
    if (!gateway_id.empty() && x.gateway_id == gateway_id)
      match = &x;
  if (!match)
    for (auto& x : *refunds)
      if ((x.status == "requested" || x.status == "asking"
           || x.status == "pending")
          && x.amount == ev.amount && x.gateway_id.empty()
          && !made_outside(x)) {
        match = &x;
        break;
      }
  if (!match) {
    if (ev.event != "refund.processed")
      return error{errc::not_found, "no refund of souk's matches: one made "
                                    "outside souk that did not go through"};
    return outside_refund(**payment, ev, gateway_id);
  }
  if (made_outside(*match))
    return outside_outcome(*match, **payment, ev);
  bool processed = ev.event == "refund.processed";
  if (processed || ev.event == "refund.failed") {
    auto moved
      = r.update_refund(match->id, processed ? "processed" : "failed",
                        gateway_id, processed ? "" : "the gateway failed it");
    if (!moved)
      return moved.err();
  }
  json detail{{"refund_id", match->id},
              {"gateway_id", gateway_id},
              {"amount", money_json(match->amount, match->currency)}};
  orders::event_input in{ev.event, "gateway:" + (*payment)->gateway,
                         detail.dump(), "refund:" + ev.key};
  auto result = orders.deliver(match->order_id, in);
  if (!result)
    return result.err();
  return {};
}

status service::impl::outside_refund(const persistence::payment_row& p,
                                     const webhook_event& ev,
                                     const std::string& gateway_id) {
  if (gateway_id.empty() || ev.amount <= 0 || ev.amount > p.amount
      || (!ev.currency.empty() && ev.currency != p.currency))
    return error{errc::not_found,
                 fmt::format("a refund made outside souk that souk cannot "
                             "take: id '{}', {} {} of payment {} ({} {})",
                             gateway_id, ev.amount, ev.currency, p.reference,
                             p.amount, p.currency)};
  // Not the order's to take yet: the payment not settled (its own webhook
  // late), the order still running steps (crediting the sale, say), or
  // parked for an operator (who may retry it, or fulfil a late payment).
  // The webhook waits: retried, and set aside after payments.retry_for.
  if (p.status != "succeeded")
    return error{errc::unavailable,
                 fmt::format("payment {} is {}: the refund made outside souk "
                             "waits until it is settled",
                             p.reference, p.status)};
  auto order = order_of(p.order_id);
  if (!order)
    return order.err();
  if (auto wait = busy(*order, "the refund made outside souk"))
    return wait;
  auto row_id = new_uuid();
  json detail{{"amount", ev.amount},
              {"reason", "refunded in the gateway's dashboard"},
              {orders::outside_refund_field, row_id},
              {"gateway_refund_id", gateway_id}};
  auto key = std::string{outside_key_prefix} + gateway_id;
  orders::event_input in{"refund.requested", "gateway:" + p.gateway,
                         detail.dump(), key};
  persistence::refund_row want;
  want.id = row_id;
  want.order_id = p.order_id;
  want.payment_id = p.id;
  want.idempotency_key = key;
  want.amount = ev.amount;
  want.currency = p.currency;
  // The refund is recorded with the order's answer, whatever the answer:
  // the money went back, so a later refund through souk counts it.
  in.with
    = [want, gateway_id](orders::outcome, persistence::database& db) -> status {
    persistence::payment_repository repo{db};
    auto row = repo.refund_for(want);
    if (!row)
      return row.err();
    if (row->id != want.id)
      return error{errc::internal, "refund " + row->id + " holds "
                                     + want.idempotency_key + " already"};
    auto moved = repo.update_refund(row->id, "processed", gateway_id, "");
    if (!moved)
      return moved.err();
    return {};
  };
  auto result = orders.deliver(p.order_id, std::move(in));
  if (!result)
    return result.err();
  if (*result == orders::outcome::ignored) {
    auto why = fmt::format(
      "order {} took no refund in its state: the refund of {} {} made "
      "outside souk (gateway refund {}) is recorded with payment {}, and the "
      "order is left as it is (access and the creator's share unchanged)",
      p.order_id, ev.amount, p.currency, gateway_id, p.reference);
    log::error("{}", why);
    return error{errc::not_found, why};
  }
  if (*result == orders::outcome::applied)
    log::warn("order {}: a refund of {} {} made outside souk (gateway "
              "refund {}) is taken as a refund request",
              p.order_id, ev.amount, p.currency, gateway_id);
  // Its outcome (this very event) reaches the order once the refund's steps
  // are done: a webhook retried later, found by the row written with it.
  return error{errc::unavailable,
               "the order takes the refund made outside souk; its outcome "
               "follows once the order's refund steps are done"};
}

expected<persistence::order_snapshot>
service::impl::order_of(const std::string& order_id) {
  auto snap = persistence::order_repository{*db}.load(order_id);
  if (!snap)
    return snap.err();
  if (!*snap)
    return error{errc::not_found, "no order " + order_id};
  return std::move(**snap);
}

status service::impl::busy(const persistence::order_snapshot& o,
                           std::string_view what) {
  if (o.order.state == persistence::parked_state)
    return error{errc::unavailable,
                 fmt::format("order {} is parked ({}): {} waits for an "
                             "operator's answer",
                             o.order.id, persistence::parked_state, what)};
  if (!o.outbox.empty())
    return error{errc::unavailable,
                 fmt::format("order {} is still running steps: {} waits",
                             o.order.id, what)};
  return {};
}

status service::impl::outside_outcome(const persistence::refund_row& r,
                                      const persistence::payment_row& p,
                                      const webhook_event& ev) {
  if (ev.event != "refund.processed")
    return error{errc::not_found, "a refund made outside souk that went "
                                  "through already (refund "
                                    + r.id + "): " + ev.event + " ignored"};
  // Only an order that took this refund hears how it ended: one whose state
  // refused it may be waiting for a refund of souk's own.
  auto order = order_of(p.order_id);
  if (!order)
    return order.err();
  if (orders::refund_made_outside(*order) != r.id)
    return error{errc::not_found, "order " + p.order_id
                                    + " did not take the refund made "
                                      "outside souk (refund "
                                    + r.id + "); " + ev.event
                                    + " is not its to hear"};
  // An order still running steps (revoking, reversing) would leave them
  // unfinished if the outcome moved it on now; one parked because a step
  // gave up hears it once an operator has retried it.
  if (auto wait = busy(*order, "the outcome of the refund made outside souk"))
    return wait;
  json detail{{"refund_id", r.id},
              {"gateway_id", r.gateway_id},
              {"amount", money_json(r.amount, r.currency)}};
  orders::event_input in{ev.event, "gateway:" + p.gateway, detail.dump(),
                         "refund:" + ev.key};
  auto result = orders.deliver(p.order_id, in);
  if (!result)
    return result.err();
  if (*result == orders::outcome::ignored)
    return error{errc::not_found,
                 "order " + p.order_id
                   + " took no refund outcome in its state; nothing to do"};
  return {};
}

status service::impl::process_event(const persistence::inbox_row& e) {
  auto ev = gw->parse_webhook(e.payload);
  if (!ev)
    return repo().finish_event(e.id, "ignored", ev.err().detail);
  status result;
  if (ev->event == "charge.success") {
    bool finished = false; // with the payment's checks closed
    auto s = settle(ev->reference, "webhook", e.id, &finished);
    if (!s)
      result = s.err();
    else if (finished)
      return {};
  } else if (ev->event.starts_with("refund.")) {
    if (ev->event == "refund.processed" || ev->event == "refund.failed")
      result = refund_event(*ev);
    else
      return repo().finish_event(e.id, "ignored", "progress only");
  } else if (ev->event == "transfer.success" || ev->event == "transfer.failed"
             || ev->event == "transfer.reversed") {
    if (!opts.transfer_events)
      return repo().finish_event(e.id, "ignored", "payouts are not set up");
    result = opts.transfer_events(*ev);
  } else {
    return repo().finish_event(e.id, "ignored", "not an event souk acts on");
  }
  if (!result)
    return repo().finish_event(e.id, "processed", "");
  if (result.code == errc::not_found)
    return repo().finish_event(e.id, "ignored", result.detail);
  auto received = parse_iso(e.received_at);
  if (received && now() - *received > opts.retry_for) {
    // Long enough: it stops taking a place in every round. An operator
    // finds it (and the reason) in the inbox.
    auto why = fmt::format("set aside after {} attempts: {}", e.attempts + 1,
                           result.detail);
    log::error("gateway event {} ({} {}): {}", e.id, e.event, e.reference, why);
    return repo().finish_event(e.id, "ignored", why);
  }
  auto delay = flows::backoff(opts.retry_initial, 2.0, opts.retry_max,
                              static_cast<uint32_t>(e.attempts) + 1);
  auto next = now()
              + milliseconds{static_cast<int64_t>(
                static_cast<double>(delay.count()) * jitter())};
  log::warn("gateway event {} ({} {}): {}; trying again in {}ms", e.id, e.event,
            e.reference, result.detail, (next - now()).count());
  return repo().retry_event(e.id, result.detail, to_iso(next));
}

void service::impl::reconcile(const persistence::payment_row& p) {
  auto s = settle(p.reference, "reconciliation");
  auto created = parse_iso(p.created_at);
  auto age = now() - (created ? *created : now());
  const bool open = !s || s->payment_status == "initialized";
  if (open && p.status == "initialized" && age > opts.reconcile_for) {
    // Asked long enough: the charge was never completed.
    auto why = fmt::format(
      "still {} after {}h; stopped asking",
      s ? s->gateway_status : "unanswered (" + s.err().detail + ")",
      std::chrono::duration_cast<std::chrono::hours>(age).count());
    auto won
      = repo().settle(p.id, "failed", s ? s->gateway_status : p.gateway_status,
                      "", "reconciliation", why);
    if (!won)
      log::warn("payment {}: {}", p.reference, won.err().detail);
    else if (auto err = repo().close_checks(p.id))
      log::warn("payment {}: {}", p.reference, err.detail);
    return;
  }
  if (!s) {
    // The gateway or the order engine did not answer: look again later
    // (settle recorded nothing).
    log::warn("payment {}: reconciliation: {}", p.reference, s.err().detail);
    auto next
      = now()
        + flows::backoff(opts.reconcile_after, 2.0, opts.reconcile_max_interval,
                         static_cast<uint32_t>(p.checks) + 1);
    if (auto err = repo().reschedule_check(p.id, to_iso(next)))
      log::warn("payment {}: {}", p.reference, err.detail);
  }
}

void service::release_handed() {
  auto repo = impl_->repo();
  for (auto& e : impl_->handed.take_all())
    if (auto err = repo.release_event(e.id, e.claimed_until))
      log::warn("gateway event {}: could not give up its lease ({}); it is "
                "worked on once the lease has run out",
                e.id, err.detail);
}

size_t service::run_due() {
  auto& d = *impl_;
  auto repo = d.repo();
  size_t handled = 0;
  // One row at a time: each is leased just before it is worked on, so a
  // slow gateway never lets the lease of a row still waiting run out.
  for (; handled < d.opts.batch; ++handled) {
    auto t = now();
    // Webhooks this process stored leased to itself come first.
    auto events = expected<std::vector<persistence::inbox_row>>{
      d.handed.take(1, t + d.opts.lease)};
    if (events->empty())
      events = repo.claim_due_events(to_iso(t), to_iso(t + d.opts.lease), 1);
    if (!events) {
      log::warn("payments: cannot claim gateway events: {}",
                events.err().detail);
      break;
    }
    if (events->empty())
      break;
    if (auto err = d.process_event(events->front()))
      log::warn("payments: event {}: {}", events->front().id, err.detail);
  }
  for (size_t checked = 0; checked < d.opts.batch; ++checked, ++handled) {
    auto t = now();
    auto checks = repo.claim_due_checks(to_iso(t), to_iso(t + d.opts.lease), 1);
    if (!checks) {
      log::warn("payments: cannot claim payments to reconcile: {}",
                checks.err().detail);
      break;
    }
    if (checks->empty())
      break;
    d.reconcile(checks->front());
  }
  return handled;
}

// -- flow actions

status service::impl::refund(const std::string& order_id,
                             const std::string& key) {
  auto r = repo();
  auto snap = persistence::order_repository{*db}.load_view(order_id);
  if (!snap)
    return snap.err();
  if (!*snap)
    return error{errc::invalid_field, "no order " + order_id};
  auto payment = r.find_by_order(order_id);
  if (!payment)
    return payment.err();
  if (!*payment || (*payment)->status != "succeeded")
    return error{errc::invalid_field,
                 "the order has no settled payment to refund"};
  auto& p = **payment;
  // A refund the gateway made already (outside souk): nothing to ask.
  if (auto outside = orders::refund_made_outside(**snap); !outside.empty()) {
    auto all = r.refunds_of(p.id);
    if (!all)
      return all.err();
    for (auto& x : *all)
      if (x.id == outside && made_outside(x) && x.status == "processed")
        return {};
    return error{errc::invalid_field, "the refund made outside souk that "
                                      "moved the order ("
                                        + outside + ") is not recorded"};
  }
  // The amount comes with the request that moved the order here.
  auto asked = orders::requested_refund(**snap);
  auto refunds = r.refunds_of(p.id);
  if (!refunds)
    return refunds.err();
  int64_t taken = 0;
  for (auto& x : *refunds)
    if (x.status != "failed" && x.idempotency_key != key)
      taken += x.amount;
  auto left = p.amount - taken;
  auto amount = asked.value_or(left);
  if (amount <= 0 || amount > left)
    return error{errc::invalid_field,
                 fmt::format("cannot refund {} {}: {} {} of the payment is "
                             "left to refund",
                             amount, p.currency, left, p.currency)};
  persistence::refund_row want;
  want.order_id = order_id;
  want.payment_id = p.id;
  want.idempotency_key = key;
  want.amount = amount;
  want.currency = p.currency;
  auto row = r.refund_for(want);
  if (!row)
    return row.err();
  if (row->status == "pending" || row->status == "processed")
    return {}; // asked before: the gateway has it
  if (row->status == "failed")
    return error{errc::invalid_field, "the refund failed: " + row->last_error};
  if (row->status == "asking") {
    if (row->asking_until > to_iso(now()))
      return error{errc::unavailable, "the gateway is being asked already"};
    // Whoever asked never heard back: the gateway may have made the
    // refund. Asking again could refund twice, so a person decides.
    return error{errc::conflict,
                 fmt::format("the gateway's answer to refund {} ({} {}) was "
                             "lost; check the gateway before refunding again",
                             row->id, row->amount, row->currency)};
  }
  auto claimed = r.claim_refund(row->id, to_iso(now() + opts.refund_lease));
  if (!claimed)
    return claimed.err();
  if (!*claimed)
    return error{errc::unavailable, "the gateway is being asked already"};
  refund_request req;
  req.transaction = p.reference;
  req.amount = row->amount;
  req.currency = row->currency;
  req.merchant_note = "souk refund " + row->id;
  auto done = gw->start_refund(req);
  if (!done) {
    auto code = done.err().code;
    if (code == errc::timeout) {
      // It may have arrived: leave the row `asking`; the next attempt
      // finds it so and hands the order to a person.
      log::error("order {}: refund {}: no answer from the gateway: {}",
                 order_id, row->id, done.err().detail);
      return error{errc::conflict,
                   "the gateway did not answer refund " + row->id
                     + "; check the gateway before refunding again"};
    }
    bool again = code == errc::unavailable;
    auto moved = r.update_refund(row->id, again ? "requested" : "failed", "",
                                 done.err().detail);
    if (!moved)
      return moved.err();
    if (again)
      return done.err();
    return error{errc::invalid_field,
                 "the gateway refused the refund: " + done.err().detail};
  }
  auto status_text = done->status == "processed" ? "processed" : "pending";
  log::info("order {}: refund {} of {} {} asked of the gateway ({})", order_id,
            row->id, row->amount, row->currency, done->status);
  auto moved
    = r.update_refund(row->id, status_text, std::to_string(done->id), "");
  if (!moved)
    return moved.err();
  return {};
}

status service::run_action(const std::string& action,
                           const std::string& order_id,
                           const std::string& /*params*/,
                           const std::string& idempotency_key) {
  if (action == "payment.refund")
    return impl_->refund(order_id, idempotency_key);
  return error{errc::invalid_field,
               "the payment service has no action " + action};
}

} // namespace souk::payments
