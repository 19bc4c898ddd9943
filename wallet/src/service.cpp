// The wallet's rules on the ledger (docs/wallet.md):
//  * a sale puts the creator's net into `pending` and the fee into the
//    platform's `fees`, and schedules its release;
//  * a release moves what is left of the sale in `pending` on: first to
//    repay what the creator owes, the rest to `available`;
//  * a refund takes back the creator's share from the sale's `pending`,
//    then from `available`, and the rest becomes a debt (`owed` below zero)
//    that later releases repay; the platform gives back its fee share.
// Every posting's key derives from the order or the flow step, so running
// an action again after a crash posts nothing twice.

#include "souk/wallet/service.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/orders/requests.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payouts.hpp"
#include "souk/persistence/products.hpp"

namespace souk::wallet {

namespace sp = souk::persistence;

const std::vector<std::string>& actions() {
  static const std::vector<std::string> all{
    "wallet.credit_sale", "wallet.reverse_sale", "wallet.reserve_payout",
    "wallet.settle_payout", "wallet.return_payout"};
  return all;
}

split split_sale(int64_t gross, const std::string& currency,
                 const fee_policy& policy) {
  if (gross <= 0)
    return {};
  auto fixed = policy.fixed.contains(currency) ? policy.fixed.at(currency) : 0;
  auto fee
    = (gross * static_cast<int64_t>(policy.basis_points) + 5'000) / 10'000
      + fixed;
  fee = std::clamp<int64_t>(fee, 0, gross);
  return {fee, gross - fee};
}

split split_refund(int64_t gross, const split& sale, const split& reversed,
                   int64_t amount) {
  auto left_net = sale.net - reversed.net;
  auto left_fee = sale.fee - reversed.fee;
  amount = std::clamp<int64_t>(amount, 0, left_net + left_fee);
  if (amount == left_net + left_fee)
    return {left_fee, left_net};
  // Proportional; the rounding goes to the creator's side, never past
  // what is left of either share.
  auto net = gross > 0 ? (sale.net * amount + gross / 2) / gross : 0;
  net = std::clamp<int64_t>(net, amount - left_fee, std::min(amount, left_net));
  return {amount - net, net};
}

struct service::impl {
  std::shared_ptr<sp::database> db;
  options opts;

  sp::ledger_repository ledger() { return sp::ledger_repository{*db}; }

  // The order and its product's creator.
  struct sale_of {
    sp::order_row order;
    std::string creator;
  };
  expected<sale_of> load(const std::string& order_id) {
    auto found = sp::order_repository{*db}.find_with_creator(order_id);
    if (!found)
      return found.err();
    if (!*found)
      return error{errc::invalid_field, "no order " + order_id};
    if ((*found)->second.empty())
      return error{errc::invalid_field,
                   "order " + order_id + " names no existing product"};
    return sale_of{std::move((*found)->first), std::move((*found)->second)};
  }

  expected<sp::payout_row> payout(const std::string& id) {
    auto p = sp::payout_repository{*db}.find(id);
    if (!p)
      return p.err();
    if (!*p)
      return error{errc::invalid_field, "no payout " + id};
    return std::move(**p);
  }

  // Legs that give `amount` in `from` back to the creator: first repaying
  // what they owe (`owed` below zero), the rest to `available`.
  expected<std::vector<sp::leg>> to_creator(const std::string& creator,
                                            const std::string& currency,
                                            const std::string& from,
                                            int64_t amount) {
    auto owed_id = sp::creator_account(creator, currency, "owed");
    auto owed = ledger().account(owed_id);
    if (!owed)
      return owed.err();
    int64_t debt = *owed && (*owed)->balance < 0 ? -(*owed)->balance : 0;
    auto repay = std::min(debt, amount);
    std::vector<sp::leg> legs;
    if (repay > 0)
      legs.push_back({from, owed_id, repay});
    if (amount - repay > 0)
      legs.push_back({from, sp::creator_account(creator, currency, "available"),
                      amount - repay});
    return legs;
  }

  status credit_sale(const std::string& order_id);
  status reserve_payout(const std::string& id);
  status settle_payout(const std::string& id);
  status return_payout(const std::string& id);
  status reverse_sale(const std::string& order_id, const std::string& key);
  status release(const sp::hold_row& h);
};

service::service(std::shared_ptr<sp::database> db, options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->db = std::move(db);
  impl_->opts = std::move(opts);
}

service::~service() = default;

status service::impl::credit_sale(const std::string& order_id) {
  auto sale = load(order_id);
  if (!sale)
    return sale.err();
  auto& o = sale->order;
  auto parts = split_sale(o.amount, o.currency, opts.fees);
  sp::posting p{"sale:" + order_id,
                o.currency,
                "sale",
                order_id,
                fmt::format("sale of order {}: {} gross, {} fee", order_id,
                            o.amount, parts.fee),
                {},
                {}};
  auto gateway = sp::platform_account(o.currency, "gateway");
  if (parts.net > 0)
    p.legs.push_back({gateway,
                      sp::creator_account(sale->creator, o.currency, "pending"),
                      parts.net});
  if (parts.fee > 0)
    p.legs.push_back(
      {gateway, sp::platform_account(o.currency, "fees"), parts.fee});
  // The hold (when the net may be released) is written with the posting.
  p.hold = sp::hold_row{order_id, sale->creator, o.currency,
                        to_iso(now() + opts.hold), "held"};
  auto r = ledger().post(p);
  if (!r)
    return r.err();
  return {};
}

status service::impl::release(const sp::hold_row& h) {
  auto l = ledger();
  auto pending = sp::creator_account(h.creator_id, h.currency, "pending");
  // What is left of this sale in pending (a refund may have taken some).
  auto left = l.net_of(pending, h.order_id);
  if (!left)
    return left.err();
  if (*left > 0) {
    auto legs = to_creator(h.creator_id, h.currency, pending, *left);
    if (!legs)
      return legs.err();
    sp::posting p{"release:" + h.order_id,
                  h.currency,
                  "hold_release",
                  h.order_id,
                  fmt::format("hold of order {} released", h.order_id),
                  std::move(*legs),
                  {}};
    // A refund of this order racing us cannot take the same money.
    auto r = l.post(p, {pending});
    if (!r)
      return r.err();
  }
  return l.finish_hold(h.order_id);
}

status service::impl::reverse_sale(const std::string& order_id,
                                   const std::string& key) {
  auto sale = load(order_id);
  if (!sale)
    return sale.err();
  auto& o = sale->order;
  auto l = ledger();
  auto gateway = sp::platform_account(o.currency, "gateway");
  auto fees = sp::platform_account(o.currency, "fees");
  auto posting_key = "reverse:" + key;
  if (auto made = l.posting_entries(posting_key); made && !made->empty())
    return {}; // done before
  auto sold = l.posting_entries("sale:" + order_id);
  if (!sold)
    return sold.err();
  if (sold->empty()) {
    // The sale was never credited (its step failed first): nothing to
    // give back, and no debt to make up.
    log::info("order {}: no sale credited, nothing to reverse", order_id);
    return {};
  }
  auto parts = split_sale(o.amount, o.currency, opts.fees);
  // What earlier refunds of this order gave back, per side.
  auto fee_back = l.net_of(fees, order_id, "refund");
  auto all_back = l.net_of(gateway, order_id, "refund");
  if (!fee_back)
    return fee_back.err();
  if (!all_back)
    return all_back.err();
  split reversed{-*fee_back, *all_back + *fee_back};
  auto left = o.amount - *all_back;
  // The refund asked for is in the order's events.
  auto snap = sp::order_repository{*db}.load_view(order_id);
  if (!snap)
    return snap.err();
  if (!*snap)
    return error{errc::invalid_field, "no order " + order_id};
  auto asked = orders::requested_refund(**snap).value_or(left);
  if (asked <= 0 || asked > left)
    return error{errc::invalid_field,
                 fmt::format("cannot reverse {} {} of order {}: {} is left",
                             asked, o.currency, order_id, left)};
  auto back = split_refund(o.amount, parts, reversed, asked);
  // The creator's share: from what is still pending of this sale, then
  // from available, and the rest becomes a debt in `owed`.
  auto pending = sp::creator_account(sale->creator, o.currency, "pending");
  auto available = sp::creator_account(sale->creator, o.currency, "available");
  auto owed = sp::creator_account(sale->creator, o.currency, "owed");
  auto in_pending = l.net_of(pending, order_id);
  if (!in_pending)
    return in_pending.err();
  auto avail = l.account(available);
  if (!avail)
    return avail.err();
  int64_t from_pending = std::min(back.net, std::max<int64_t>(*in_pending, 0));
  int64_t from_available
    = std::min(back.net - from_pending,
               *avail ? std::max<int64_t>((*avail)->balance, 0) : 0);
  int64_t from_owed = back.net - from_pending - from_available;
  sp::posting p{
    posting_key,
    o.currency,
    "refund",
    order_id,
    fmt::format("refund of {} {} on order {}", asked, o.currency, order_id),
    {},
    {}};
  if (from_pending > 0)
    p.legs.push_back({pending, gateway, from_pending});
  if (from_available > 0)
    p.legs.push_back({available, gateway, from_available});
  if (from_owed > 0)
    p.legs.push_back({owed, gateway, from_owed});
  if (back.fee > 0)
    p.legs.push_back({fees, gateway, back.fee});
  if (p.legs.empty())
    return {};
  // Only this sale's pending money, however a release races us; and a
  // payout racing us may take `available` first. Either way the guard
  // refuses the posting (conflict) and the step's retry looks again.
  auto r = l.post(p, {pending});
  if (!r)
    return r.err().code == errc::conflict
             ? error{errc::unavailable, r.err().detail}
             : r.err();
  if (from_owed > 0)
    log::warn("order {}: refund leaves creator {} owing {} {}", order_id,
              sale->creator, from_owed, o.currency);
  return {};
}

// -- payouts (docs/wallet.md): reserve takes the amount out of available
// into in transit (guarded: never below zero); then exactly one "out"
// posting settles it (in transit → paid out) or returns it (in transit →
// what the creator owes, then available). A paid payout the bank sends back
// is returned by a "reversal" posting (paid out → owed, then available).
// The single "out" key decides a race between settling and returning.

namespace {

std::string out_key(const std::string& id) {
  return "payout:" + id + ":out";
}

bool credits(const std::vector<sp::entry_row>& entries,
             const std::string& account) {
  return std::any_of(entries.begin(), entries.end(),
                     [&](auto& e) { return e.credit_account == account; });
}

} // namespace

status service::impl::reserve_payout(const std::string& id) {
  auto p = payout(id);
  if (!p)
    return p.err();
  auto l = ledger();
  auto available = sp::creator_account(p->creator_id, p->currency, "available");
  sp::posting post{
    "payout:" + id + ":reserve",
    p->currency,
    "payout",
    id,
    fmt::format("payout {} of {} {} reserved", id, p->amount, p->currency),
    {{available, sp::creator_account(p->creator_id, p->currency, "in_transit"),
      p->amount}},
    {}};
  auto r = l.post(post);
  if (r)
    return {};
  if (r.err().code != errc::conflict)
    return r.err();
  auto balance = l.account(available);
  int64_t has = balance && *balance ? (*balance)->balance : 0;
  auto why = fmt::format("the available balance ({} {}) does not cover the "
                         "payout of {} {}",
                         has, p->currency, p->amount, p->currency);
  // On the payout itself: its flow's last error moves on with it.
  if (auto err = sp::payout_repository{*db}.set_reason(id, why))
    return err;
  return error{errc::insufficient_funds, why};
}

status service::impl::settle_payout(const std::string& id) {
  auto p = payout(id);
  if (!p)
    return p.err();
  auto l = ledger();
  auto in_transit
    = sp::creator_account(p->creator_id, p->currency, "in_transit");
  auto paid_out = sp::creator_account(p->creator_id, p->currency, "paid_out");
  auto reserved = l.posting_entries("payout:" + id + ":reserve");
  if (!reserved)
    return reserved.err();
  if (reserved->empty())
    return error{errc::invalid_field,
                 "payout " + id + " was never reserved: nothing to settle"};
  sp::posting post{out_key(id),
                   p->currency,
                   "payout",
                   id,
                   fmt::format("payout {} of {} {} paid out ({})", id,
                               p->amount, p->currency, p->reference),
                   {{in_transit, paid_out, p->amount}},
                   {}};
  auto r = l.post(post);
  if (r)
    return {};
  auto out = l.posting_entries(out_key(id));
  if (!out)
    return out.err();
  if (out->empty())
    return r.err();
  if (credits(*out, paid_out))
    return {}; // settled by a racing attempt
  return error{errc::conflict,
               "payout " + id
                 + "'s money went back to the creator already, but the "
                   "gateway reports the transfer paid: check the gateway"};
}

status service::impl::return_payout(const std::string& id) {
  auto p = payout(id);
  if (!p)
    return p.err();
  auto l = ledger();
  auto reserved = l.posting_entries("payout:" + id + ":reserve");
  if (!reserved)
    return reserved.err();
  if (reserved->empty())
    return {}; // nothing was taken: nothing to give back
  auto in_transit
    = sp::creator_account(p->creator_id, p->currency, "in_transit");
  auto paid_out = sp::creator_account(p->creator_id, p->currency, "paid_out");
  auto why = p->reason.empty() ? p->gateway_status : p->reason;
  for (int round = 0; round < 2; ++round) {
    auto out = l.posting_entries(out_key(id));
    if (!out)
      return out.err();
    std::string key = out_key(id);
    std::string from = in_transit;
    std::string memo = fmt::format("payout {} of {} {} returned: {}", id,
                                   p->amount, p->currency, why);
    if (!out->empty()) {
      if (!credits(*out, paid_out))
        return {}; // returned before
      // Paid, then sent back by the bank.
      key = "payout:" + id + ":reversal";
      from = paid_out;
      memo = fmt::format("payout {} of {} {} reversed: {}", id, p->amount,
                         p->currency, why);
      auto made = l.posting_entries(key);
      if (!made)
        return made.err();
      if (!made->empty())
        return {};
    }
    // What comes back repays what the creator owes first, as releases do.
    auto legs = to_creator(p->creator_id, p->currency, from, p->amount);
    if (!legs)
      return legs.err();
    auto r
      = l.post(sp::posting{key, p->currency, "payout", id, memo, *legs, {}});
    if (r)
      return {};
    if (round == 1)
      return r.err();
    // A racing settle or return posted first: look again.
  }
  return {};
}

status service::run_action(const std::string& action,
                           const std::string& order_id,
                           const std::string& idempotency_key) {
  if (action == "wallet.credit_sale")
    return impl_->credit_sale(order_id);
  if (action == "wallet.reverse_sale")
    return impl_->reverse_sale(order_id, idempotency_key);
  if (action == "wallet.reserve_payout")
    return impl_->reserve_payout(order_id);
  if (action == "wallet.settle_payout")
    return impl_->settle_payout(order_id);
  if (action == "wallet.return_payout")
    return impl_->return_payout(order_id);
  return error{errc::invalid_field, "the wallet has no action " + action};
}

size_t service::run_due() {
  auto& d = *impl_;
  size_t done = 0;
  for (; done < d.opts.batch; ++done) {
    auto t = now();
    auto due
      = d.ledger().claim_due_holds(to_iso(t), to_iso(t + d.opts.lease), 1);
    if (!due) {
      log::warn("wallet: cannot claim holds: {}", due.err().detail);
      break;
    }
    if (due->empty())
      break;
    if (auto err = d.release(due->front()))
      log::warn("wallet: release of order {}: {}", due->front().order_id,
                err.detail);
  }
  return done;
}

} // namespace souk::wallet
