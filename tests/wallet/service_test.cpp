// The wallet's rules on a real database (both backends): a sale credits the
// creator's pending and the platform's fee, the hold releases it, refunds
// reverse proportionally, and a refund after a payout leaves a debt that
// the next release repays. `check` passes after every step.

#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/testing/support.hpp"
#include "souk/wallet/service.hpp"

namespace sp = souk::persistence;
namespace w = souk::wallet;
using namespace std::chrono_literals;

namespace {

constexpr const char* t0 = "2026-01-01T00:00:00.000Z";

struct shop {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(4);
  std::string creator = souk::new_uuid();
  std::string product = souk::new_uuid();
  sp::ledger_repository ledger{*db};
  std::unique_ptr<w::service> wallet;

  explicit shop(std::chrono::milliseconds hold = 0ms) {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + creator + "', 'c@example.com', 'x', 'creator', '" + t0 + "', '" + t0
         + "')");
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product + "', '" + creator
         + "', 'Book', '', 500000, 'NGN', 'digital_download', 'published', 1, '"
         + t0 + "', '" + t0 + "')");
    w::options o;
    o.hold = hold;
    o.lease = 10ms; // a release that lost a race is claimed again at once
    wallet = std::make_unique<w::service>(db, o);
  }

  void exec(const std::string& q) {
    auto st = db->run([&](soci::session& sql) { sql << q; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  // An order for 500,000 kobo; `refund` adds the refund.requested event
  // that moved it to refunding (with `amount`, or none for the rest).
  std::string order() {
    sp::order_row o;
    o.id = souk::new_uuid();
    o.product_id = product;
    o.buyer_email = "b@example.com";
    o.amount = 500'000;
    o.currency = "NGN";
    o.flow = "digital_download";
    o.flow_version = 1;
    o.flow_hash = "h";
    o.state = "paid";
    sp::event_row e;
    e.event = "order.created";
    e.actor = "system";
    auto st = sp::order_repository{*db}.create(o, e, {}, {});
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return o.id;
  }

  void ask_refund(const std::string& id, std::optional<int64_t> amount) {
    auto snap = sp::order_repository{*db}.load(id);
    BOOST_REQUIRE(snap && *snap);
    sp::event_row e;
    e.id = souk::new_uuid();
    e.order_id = id;
    e.seq = static_cast<int64_t>((*snap)->events.size()) + 1;
    e.event = "refund.requested";
    e.from_state = "delivered";
    e.to_state = "refunding";
    e.actor = "operator:x";
    e.detail = amount ? "{\"amount\":" + std::to_string(*amount) + "}" : "{}";
    auto seq = e.seq;
    exec("INSERT INTO order_events (id, order_id, seq, event, from_state, "
         "to_state, actor, detail, created_at) VALUES ('"
         + e.id + "', '" + id + "', " + std::to_string(seq)
         + ", 'refund.requested', 'delivered', 'refunding', 'operator:x', '"
         + e.detail + "', '" + t0 + "')");
  }

  souk::status run(const std::string& action, const std::string& id,
                   const std::string& key) {
    return wallet->run_action(action, id, key);
  }

  int64_t balance(const std::string& kind) {
    auto id = kind == "fees" || kind == "gateway"
                ? sp::platform_account("NGN", kind)
                : sp::creator_account(creator, "NGN", kind);
    auto a = ledger.account(id);
    BOOST_REQUIRE(a);
    return *a ? (*a)->balance : 0;
  }

  void sound() {
    auto r = ledger.check();
    BOOST_REQUIRE(r);
    std::string all;
    for (auto& p : r->problems)
      all += p + "\n";
    BOOST_TEST(r->problems.empty(), all);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(wallet_rules)

BOOST_AUTO_TEST_CASE(a_sale_is_credited_once_and_released_after_the_hold) {
  shop s{1h};
  auto id = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", id, id + ":1:0"));
  BOOST_REQUIRE(!s.run("wallet.credit_sale", id, id + ":1:0")); // a retry
  BOOST_TEST(s.balance("pending") == 465'000);
  BOOST_TEST(s.balance("fees") == 35'000);
  BOOST_TEST(s.balance("gateway") == -500'000);
  BOOST_TEST(s.balance("available") == 0);
  BOOST_TEST(s.wallet->run_due() == 0u); // held for an hour
  s.sound();
}

BOOST_AUTO_TEST_CASE(partial_then_full_refund_reverse_exactly) {
  shop s;
  auto id = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", id, "k-sale"));
  s.ask_refund(id, 100'000);
  BOOST_REQUIRE(!s.run("wallet.reverse_sale", id, "k-r1"));
  BOOST_REQUIRE(!s.run("wallet.reverse_sale", id, "k-r1")); // a retry
  BOOST_TEST(s.balance("pending") == 465'000 - 93'000);
  BOOST_TEST(s.balance("fees") == 35'000 - 7'000);
  s.sound();
  // The hold releases what is left of the sale.
  BOOST_TEST(s.wallet->run_due() == 1u);
  BOOST_TEST(s.balance("pending") == 0);
  BOOST_TEST(s.balance("available") == 372'000);
  // The rest, with no amount: back to zero everywhere.
  s.ask_refund(id, std::nullopt);
  BOOST_REQUIRE(!s.run("wallet.reverse_sale", id, "k-r2"));
  BOOST_TEST(s.balance("available") == 0);
  BOOST_TEST(s.balance("fees") == 0);
  BOOST_TEST(s.balance("gateway") == 0);
  // Nothing is left to refund.
  s.ask_refund(id, 1);
  BOOST_TEST(s.run("wallet.reverse_sale", id, "k-r3").code
             == souk::errc::invalid_field);
  s.sound();
}

BOOST_AUTO_TEST_CASE(a_refund_after_payout_is_owed_and_repaid_by_releases) {
  shop s;
  auto first = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", first, "k1"));
  s.wallet->run_due();
  BOOST_TEST(s.balance("available") == 465'000);
  // Paid out: available → in transit → gone.
  auto paid = s.ledger.post(
    {"payout:1",
     "NGN",
     "payout",
     "p1",
     "payout",
     {{sp::creator_account(s.creator, "NGN", "available"),
       sp::creator_account(s.creator, "NGN", "in_transit"), 465'000},
      {sp::creator_account(s.creator, "NGN", "in_transit"),
       sp::creator_account(s.creator, "NGN", "paid_out"), 465'000}},
     {}});
  BOOST_REQUIRE(paid);
  s.ask_refund(first, std::nullopt);
  BOOST_REQUIRE(!s.run("wallet.reverse_sale", first, "k1r"));
  BOOST_TEST(s.balance("owed") == -465'000); // the creator's debt
  BOOST_TEST(s.balance("available") == 0);
  s.sound();
  // The next sale's release repays the debt before anything is available.
  auto second = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", second, "k2"));
  BOOST_TEST(s.wallet->run_due() == 1u);
  BOOST_TEST(s.balance("owed") == 0);
  BOOST_TEST(s.balance("available") == 0);
  auto third = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", third, "k3"));
  s.wallet->run_due();
  BOOST_TEST(s.balance("available") == 465'000);
  s.sound();
}

BOOST_AUTO_TEST_CASE(a_release_racing_a_refund_takes_each_coin_once) {
  shop s{1h};
  // Another sale's money waits in the same pending account: neither the
  // release nor the refund of the raced order may touch it.
  auto bystander = s.order();
  BOOST_REQUIRE(!s.run("wallet.credit_sale", bystander, "k-b"));
  auto pending = sp::creator_account(s.creator, "NGN", "pending");
  for (int round = 0; round < 15; ++round) {
    auto id = s.order();
    BOOST_REQUIRE(!s.run("wallet.credit_sale", id, "k-" + id));
    s.exec("UPDATE wallet_holds SET release_at = '2020-01-01T00:00:00.000Z' "
           "WHERE order_id = '"
           + id + "'");
    s.ask_refund(id, std::nullopt);
    souk::status refunded;
    std::thread release{[&] { s.wallet->run_due(); }};
    refunded = s.run("wallet.reverse_sale", id, "r-" + id);
    release.join();
    // The loser of the race finds the money moved and tries again.
    for (int i = 0; refunded && i < 20; ++i) {
      BOOST_REQUIRE_MESSAGE(refunded.code == souk::errc::unavailable,
                            refunded.detail);
      std::this_thread::sleep_for(20ms);
      refunded = s.run("wallet.reverse_sale", id, "r-" + id);
    }
    BOOST_REQUIRE_MESSAGE(!refunded, refunded.detail);
    BOOST_REQUIRE(sp::ledger_repository{*s.db}.net_of(pending, id));
    for (int i = 0; i < 50; ++i) {
      auto h = s.ledger.hold_of(id);
      BOOST_REQUIRE(h && *h);
      if ((*h)->status == "released")
        break;
      std::this_thread::sleep_for(20ms);
      s.wallet->run_due();
    }
    auto left = s.ledger.net_of(pending, id);
    auto theirs = s.ledger.net_of(pending, bystander);
    BOOST_REQUIRE(left && theirs);
    BOOST_TEST(*left == 0);
    BOOST_TEST(*theirs == 465'000);
    s.sound();
  }
  // Every raced sale went back in full; only the bystander's is left.
  BOOST_TEST(s.balance("pending") == 465'000);
  BOOST_TEST(s.balance("available") == 0);
  BOOST_TEST(s.balance("owed") == 0);
}

BOOST_AUTO_TEST_CASE(reversing_a_sale_never_credited_gives_nothing_back) {
  shop s;
  auto id = s.order();
  s.ask_refund(id, std::nullopt);
  BOOST_REQUIRE(!s.run("wallet.reverse_sale", id, "k"));
  BOOST_TEST(s.balance("owed") == 0);
  BOOST_TEST(s.run("wallet.steal", id, "k").code == souk::errc::invalid_field);
  s.sound();
}

BOOST_AUTO_TEST_SUITE_END()
