// Thousands of interleaved sales, releases, partial and full refunds and
// payouts — reserved, settled, returned when the transfer failed, reversed
// after being paid — through the wallet's real flow steps, with steps run
// twice (a crash after the posting, a duplicate event), steps cut short and
// run again, two payouts reserving at once and a settle racing a return, on
// a real database: `check` passes after every step, and the books agree
// with a model kept beside them. The seed is printed; SOUK_SEED=N replays a
// run.

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payouts.hpp"
#include "souk/testing/support.hpp"
#include "souk/wallet/service.hpp"

namespace sp = souk::persistence;
namespace w = souk::wallet;
using namespace std::chrono_literals;

namespace {

constexpr const char* t0 = "2026-01-01T00:00:00.000Z";

struct order_model {
  std::string id;
  std::string creator;
  std::string currency;
  int64_t gross = 0;
  int64_t refunded = 0;
  int refunds = 0;
  bool credited = false;
};

struct payout_model {
  std::string key;
  std::string creator;
  std::string currency;
  int64_t amount = 0;
};

struct world {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(4);
  sp::ledger_repository ledger{*db};
  std::unique_ptr<w::service> wallet;
  std::vector<std::string> creators;
  std::map<std::string, std::string> product_of; // creator:CUR -> product
  std::vector<order_model> orders;
  std::vector<payout_model> in_flight;
  std::vector<std::tuple<std::string, std::string, std::string>> done_steps;
  std::vector<payout_model> paid;

  // A payout row (with its flow instance) asking for `amount`; returns its
  // id. An amount of 0 or less is asked as 1.
  std::string new_payout(const std::string& creator, const std::string& cur,
                         int64_t amount) {
    sp::payout_rows r;
    r.instance.id = souk::new_uuid();
    r.instance.kind = "payout";
    r.instance.amount = std::max<int64_t>(amount, 1);
    r.instance.currency = cur;
    r.instance.flow = "payout";
    r.instance.flow_version = 1;
    r.instance.flow_hash = "h";
    r.instance.state = "requested";
    r.first_event.event = "payout.created";
    r.first_event.actor = "system";
    r.payout.creator_id = creator;
    r.payout.amount = r.instance.amount;
    r.payout.currency = cur;
    r.payout.gateway = "paystack";
    r.payout.recipient_code = "RCP_x";
    r.payout.reference = "payout-" + r.instance.id;
    auto st = sp::payout_repository{*db}.create(r);
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return r.instance.id;
  }

  int64_t payout_amount(const std::string& id) {
    auto p = sp::payout_repository{*db}.find(id);
    BOOST_REQUIRE(p);
    BOOST_REQUIRE(p->has_value());
    return (*p)->amount;
  }

  world() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    for (int i = 0; i < 3; ++i) {
      auto c = souk::new_uuid();
      creators.push_back(c);
      exec("INSERT INTO users (id, email, password_hash, role, created_at, "
           "updated_at) VALUES ('"
           + c + "', 'c" + std::to_string(i)
           + "@example.com', 'x', 'creator', '" + t0 + "', '" + t0 + "')");
      for (std::string cur : {"NGN", "USD"}) {
        auto p = souk::new_uuid();
        product_of[c + ":" + cur] = p;
        exec("INSERT INTO products (id, creator_id, title, description, "
             "price_amount, currency, flow, status, version, created_at, "
             "updated_at) VALUES ('"
             + p + "', '" + c + "', 'P', '', 5000, '" + cur
             + "', 'digital_download', 'published', 1, '" + t0 + "', '" + t0
             + "')");
      }
    }
    w::options o;
    o.hold = 0ms; // due at once; the test decides when the round runs
    wallet = std::make_unique<w::service>(db, o);
  }

  void exec(const std::string& q) {
    auto st = db->run([&](soci::session& sql) { sql << q; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  int64_t balance(const std::string& creator, const std::string& cur,
                  const std::string& kind) {
    auto a = ledger.account(sp::creator_account(creator, cur, kind));
    BOOST_REQUIRE(a);
    return *a ? (*a)->balance : 0;
  }

  void sound(const std::string& after) {
    auto r = ledger.check();
    BOOST_REQUIRE(r);
    if (!r->problems.empty()) {
      std::string all;
      for (auto& p : r->problems)
        all += p + "\n";
      BOOST_FAIL("ledger check failed after " + after + ":\n" + all);
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(wallet_random)

BOOST_AUTO_TEST_CASE(interleaved_money_movements_keep_the_books) {
  world x;
  uint64_t seed = std::random_device{}();
  if (auto env = std::getenv("SOUK_SEED"))
    seed = std::stoull(env);
  std::cout << "wallet_random seed " << seed << std::endl;
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng{seed};
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>{0, n - 1}(rng);
  };
  auto chance = [&](double p) {
    return std::uniform_real_distribution<double>{0, 1}(rng) < p;
  };
  const int steps = 1500;
  int64_t sold_ngn = 0, refunded_ngn = 0;
  for (int step = 0; step < steps; ++step) {
    auto roll = pick(100);
    std::string what;
    if (roll < 30 || x.orders.empty()) {
      // A sale: the order, then its credit step (sometimes run twice, as
      // after a crash or a duplicate delivery).
      order_model o;
      o.id = souk::new_uuid();
      o.creator = x.creators[pick(x.creators.size())];
      o.currency = chance(0.7) ? "NGN" : "USD";
      o.gross = o.currency == "NGN"
                  ? 5'000 + static_cast<int64_t>(pick(2'000'000))
                  : 200 + static_cast<int64_t>(pick(50'000));
      sp::order_row row;
      row.id = o.id;
      row.product_id = x.product_of[o.creator + ":" + o.currency];
      row.buyer_email = "b@example.com";
      row.amount = o.gross;
      row.currency = o.currency;
      row.flow = "digital_download";
      row.flow_version = 1;
      row.flow_hash = "h";
      row.state = "paid";
      sp::event_row e;
      e.event = "order.created";
      e.actor = "system";
      BOOST_REQUIRE(!sp::order_repository{*x.db}.create(row, e, {}, {}));
      if (chance(0.1)) {
        // A step cut short: the posting made, then the node died before
        // the hold was written. The step runs again below.
        auto parts = w::split_sale(o.gross, o.currency, w::fee_policy{});
        sp::posting cut{"sale:" + o.id, o.currency, "sale", o.id,
                        "cut",          {},         {}};
        auto gw = sp::platform_account(o.currency, "gateway");
        if (parts.net > 0)
          cut.legs.push_back(
            {gw, sp::creator_account(o.creator, o.currency, "pending"),
             parts.net});
        if (parts.fee > 0)
          cut.legs.push_back(
            {gw, sp::platform_account(o.currency, "fees"), parts.fee});
        BOOST_REQUIRE(x.ledger.post(cut));
        x.sound("a sale cut short");
      }
      auto times = chance(0.2) ? 2 : 1;
      for (int t = 0; t < times; ++t)
        BOOST_REQUIRE(
          !x.wallet->run_action("wallet.credit_sale", o.id, o.id + ":credit"));
      o.credited = true;
      if (o.currency == "NGN")
        sold_ngn += o.gross;
      x.orders.push_back(o);
      what = "sale";
    } else if (roll < 45) {
      x.wallet->run_due();
      what = "releases";
    } else if (roll < 60) {
      // A refund, partial or the rest; its step sometimes runs twice.
      auto& o = x.orders[pick(x.orders.size())];
      auto left = o.gross - o.refunded;
      if (left <= 0)
        continue;
      bool full = chance(0.3);
      int64_t amount
        = full ? left
               : 1 + static_cast<int64_t>(pick(static_cast<size_t>(left)));
      auto seq = std::to_string(2 + o.refunds);
      auto detail = full ? std::string{"{}"}
                         : "{\"amount\":" + std::to_string(amount) + "}";
      x.exec("INSERT INTO order_events (id, order_id, seq, event, from_state, "
             "to_state, actor, detail, created_at) VALUES ('"
             + souk::new_uuid() + "', '" + o.id + "', " + seq
             + ", 'refund.requested', 'delivered', 'refunding', 'op', '"
             + detail + "', '" + t0 + "')");
      ++o.refunds;
      auto key = o.id + ":refund:" + seq;
      auto times = chance(0.2) ? 2 : 1;
      for (int t = 0; t < times; ++t) {
        auto st = x.wallet->run_action("wallet.reverse_sale", o.id, key);
        // A payout racing for `available` is the only acceptable refusal;
        // none runs concurrently here.
        BOOST_REQUIRE_MESSAGE(!st, st.detail);
      }
      o.refunded += amount;
      if (o.currency == "NGN")
        refunded_ngn += amount;
      what = "refund";
    } else if (roll < 80) {
      // A payout asked for: its row, then the flow's reservation step
      // (available -> in transit, guarded); sometimes for more than is
      // there (rejected, nothing moves), sometimes run twice (a crash
      // after the posting, or a duplicate), sometimes two at once.
      auto c = x.creators[pick(x.creators.size())];
      std::string cur = chance(0.7) ? "NGN" : "USD";
      auto avail = x.balance(c, cur, "available");
      auto amount_of = [&] {
        return chance(0.2) ? avail + 1
                           : (avail > 0 ? 1
                                            + static_cast<int64_t>(
                                              pick(static_cast<size_t>(avail)))
                                        : 1);
      };
      std::vector<payout_model> asked{
        {x.new_payout(c, cur, amount_of()), c, cur, 0}};
      asked[0].amount = x.payout_amount(asked[0].key);
      if (chance(0.15)) {
        asked.push_back({x.new_payout(c, cur, amount_of()), c, cur, 0});
        asked[1].amount = x.payout_amount(asked[1].key);
      }
      std::vector<souk::status> results(asked.size());
      auto reserve = [&](size_t i) {
        results[i] = x.wallet->run_action("wallet.reserve_payout", asked[i].key,
                                          asked[i].key + ":0");
      };
      if (asked.size() == 2) {
        std::thread other{reserve, 1};
        reserve(0);
        other.join();
      } else {
        reserve(0);
      }
      int64_t reserved = 0;
      for (size_t i = 0; i < asked.size(); ++i) {
        if (results[i]) {
          BOOST_REQUIRE_MESSAGE(results[i].code
                                  == souk::errc::insufficient_funds,
                                results[i].detail);
          continue;
        }
        if (chance(0.2)) // run again: nothing more moves
          BOOST_REQUIRE(!x.wallet->run_action(
            "wallet.reserve_payout", asked[i].key, asked[i].key + ":0"));
        reserved += asked[i].amount;
        x.in_flight.push_back(asked[i]);
      }
      BOOST_REQUIRE(reserved <= avail);
      BOOST_REQUIRE(x.balance(c, cur, "available") == avail - reserved);
      what = "payout";
    } else if (roll < 90 && !x.in_flight.empty()) {
      // The gateway's verified word on a payout in transit: success
      // (settle), or failed (return); sometimes reported twice; sometimes
      // a settle and a return race on two threads (they share one posting
      // key: exactly one wins).
      auto i = pick(x.in_flight.size());
      auto p = x.in_flight[i];
      x.in_flight.erase(x.in_flight.begin() + static_cast<long>(i));
      auto before_available = x.balance(p.creator, p.currency, "available");
      auto before_owed = x.balance(p.creator, p.currency, "owed");
      auto before_paid = x.balance(p.creator, p.currency, "paid_out");
      std::string action
        = chance(0.7) ? "wallet.settle_payout" : "wallet.return_payout";
      if (chance(0.1)) {
        souk::status a, b;
        std::thread other{[&] {
          a = x.wallet->run_action("wallet.settle_payout", p.key, p.key + ":s");
        }};
        b = x.wallet->run_action("wallet.return_payout", p.key, p.key + ":r");
        other.join();
        // The loser of the race either finds the winner's posting (a
        // return after a settle is a reversal) or refuses with conflict.
        BOOST_REQUIRE_MESSAGE(!a || a.code == souk::errc::conflict, a.detail);
        BOOST_REQUIRE_MESSAGE(!b, b.detail);
        action = "race";
      } else {
        auto times = chance(0.2) ? 2 : 1;
        for (int t = 0; t < times; ++t) {
          auto st = x.wallet->run_action(action, p.key, p.key + ":out");
          BOOST_REQUIRE_MESSAGE(!st, st.detail);
        }
      }
      auto gained
        = (x.balance(p.creator, p.currency, "available") - before_available)
          + (x.balance(p.creator, p.currency, "owed") - before_owed);
      auto paid = x.balance(p.creator, p.currency, "paid_out") - before_paid;
      // The money is in exactly one place: paid out, or back with the
      // creator (repaying what they owe first).
      BOOST_REQUIRE(gained + paid == p.amount);
      BOOST_REQUIRE((gained == 0) != (paid == 0));
      if (paid > 0)
        x.paid.push_back(p);
      what = "payout " + action;
    } else if (!x.paid.empty()) {
      // A paid transfer the bank sends back (transfer.reversed), sometimes
      // reported twice.
      auto i = pick(x.paid.size());
      auto p = x.paid[i];
      x.paid.erase(x.paid.begin() + static_cast<long>(i));
      auto before_paid = x.balance(p.creator, p.currency, "paid_out");
      auto times = chance(0.2) ? 2 : 1;
      for (int t = 0; t < times; ++t) {
        auto st = x.wallet->run_action("wallet.return_payout", p.key,
                                       p.key + ":reversal");
        BOOST_REQUIRE_MESSAGE(!st, st.detail);
      }
      BOOST_REQUIRE(x.balance(p.creator, p.currency, "paid_out")
                    == before_paid - p.amount);
      what = "payout reversed";
    } else {
      continue;
    }
    x.sound("step " + std::to_string(step) + " (" + what + ")");
  }
  // Drain: every hold released, every payout settled.
  x.wallet->run_due();
  x.sound("the last releases");
  // The model: what came in and went back through the gateway, per NGN.
  auto gateway = x.ledger.account(sp::platform_account("NGN", "gateway"));
  BOOST_REQUIRE(gateway);
  BOOST_TEST((*gateway ? (*gateway)->balance : 0) == refunded_ngn - sold_ngn);
  // Nothing is left pending once every hold is released (refunds took
  // their share out of pending before, never more than was there).
  for (auto& c : x.creators)
    for (std::string cur : {"NGN", "USD"}) {
      BOOST_TEST(x.balance(c, cur, "pending") == 0);
      BOOST_TEST(x.balance(c, cur, "available") >= 0);
      BOOST_TEST(x.balance(c, cur, "in_transit") >= 0);
    }
}

BOOST_AUTO_TEST_SUITE_END()
