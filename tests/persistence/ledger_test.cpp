// The double-entry ledger on both backends: postings all-or-nothing and
// idempotent, protected accounts never negative (also under twenty
// concurrent payouts), entries immutable, and `check` catching a ledger
// that was tampered with.

#include <atomic>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;

namespace {

struct books {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(8);
  sp::ledger_repository ledger{*db};
  std::string creator = souk::new_uuid();
  std::string gateway = sp::platform_account("NGN", "gateway");
  std::string fees = sp::platform_account("NGN", "fees");
  std::string pending = sp::creator_account(creator, "NGN", "pending");
  std::string available = sp::creator_account(creator, "NGN", "available");
  std::string in_transit = sp::creator_account(creator, "NGN", "in_transit");

  books() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  int64_t balance(const std::string& id) {
    auto a = ledger.account(id);
    BOOST_REQUIRE(a);
    return *a ? (*a)->balance : 0;
  }

  sp::posting posting(std::string key, std::vector<sp::leg> legs,
                      std::string kind = "sale") {
    return sp::posting{std::move(key), "NGN",  std::move(kind),
                       "order-1",      "test", std::move(legs)};
  }

  void sound() {
    auto report = ledger.check();
    BOOST_REQUIRE(report);
    std::string all;
    for (auto& p : report->problems)
      all += p + "\n";
    BOOST_TEST(report->problems.empty(), all);
  }

  long long count(const std::string& q) {
    long long n = -1;
    auto st = db->run([&](soci::session& sql) { sql << q, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(ledger)

BOOST_AUTO_TEST_CASE(a_sale_splits_and_posts_once) {
  books b;
  auto sale = b.posting(
    "sale:o1", {{b.gateway, b.pending, 9500}, {b.gateway, b.fees, 500}});
  auto first = b.ledger.post(sale);
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : first.err().detail));
  BOOST_TEST((*first == sp::posted::done));
  BOOST_TEST(b.balance(b.pending) == 9500);
  BOOST_TEST(b.balance(b.fees) == 500);
  BOOST_TEST(b.balance(b.gateway) == -10000); // money in from outside
  auto again = b.ledger.post(sale);
  BOOST_TEST((*again == sp::posted::already));
  BOOST_TEST(b.balance(b.pending) == 9500);
  auto other
    = b.ledger.post(b.posting("sale:o1", {{b.gateway, b.pending, 10000}}));
  BOOST_REQUIRE(!other);
  BOOST_TEST(other.err().code == souk::errc::invalid_field);
  BOOST_TEST(b.count("SELECT COUNT(*) FROM ledger_entries") == 2);
  b.sound();
}

BOOST_AUTO_TEST_CASE(a_posting_that_would_overdraw_changes_nothing) {
  books b;
  BOOST_REQUIRE(
    b.ledger.post(b.posting("sale:o1", {{b.gateway, b.available, 100}})));
  // The first leg would work, the second cannot: neither happens.
  auto r = b.ledger.post(b.posting(
    "payout:p1",
    {{b.available, b.in_transit, 60}, {b.available, b.in_transit, 60}},
    "payout"));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.err().code == souk::errc::conflict);
  BOOST_TEST(r.err().detail.find(b.available) != std::string::npos);
  BOOST_TEST(b.balance(b.available) == 100);
  BOOST_TEST(b.balance(b.in_transit) == 0);
  BOOST_TEST(b.count("SELECT COUNT(*) FROM ledger_entries") == 1);
  b.sound();
}

BOOST_AUTO_TEST_CASE(bad_postings_are_refused) {
  books b;
  auto refused = [&](sp::posting p) {
    auto r = b.ledger.post(p);
    BOOST_TEST(!r);
    if (!r)
      BOOST_TEST(r.err().code == souk::errc::invalid_field);
  };
  refused(b.posting("k1", {}));
  refused(b.posting("k2", {{b.gateway, b.pending, 0}}));
  refused(b.posting("k3", {{b.gateway, b.pending, -5}}));
  refused(b.posting("k4", {{b.pending, b.pending, 5}}));
  refused(b.posting("k5", {{b.gateway, "nobody", 5}}));
  refused(b.posting(
    "k6", {{b.gateway, sp::creator_account(b.creator, "USD", "pending"), 5}}));
  BOOST_TEST(b.count("SELECT COUNT(*) FROM ledger_entries") == 0);
}

BOOST_AUTO_TEST_CASE(entries_are_immutable) {
  books b;
  BOOST_REQUIRE(
    b.ledger.post(b.posting("sale:o1", {{b.gateway, b.pending, 100}})));
  auto update = b.db->run(
    [](soci::session& sql) { sql << "UPDATE ledger_entries SET amount = 1"; });
  BOOST_TEST(update.code == souk::errc::database);
  auto remove = b.db->run(
    [](soci::session& sql) { sql << "DELETE FROM ledger_entries"; });
  BOOST_TEST(remove.code == souk::errc::database);
  BOOST_TEST(b.count("SELECT COUNT(*) FROM ledger_entries") == 1);
  // A protected balance below zero is refused by the database itself.
  auto negative = b.db->run([&](soci::session& sql) {
    sql << "UPDATE ledger_accounts SET balance = -1 WHERE id = :id",
      soci::use(b.pending);
  });
  BOOST_TEST(negative.code == souk::errc::database);
  b.sound();
}

BOOST_AUTO_TEST_CASE(check_finds_a_tampered_balance) {
  books b;
  BOOST_REQUIRE(
    b.ledger.post(b.posting("sale:o1", {{b.gateway, b.pending, 100}})));
  auto st = b.db->run([&](soci::session& sql) {
    sql << "UPDATE ledger_accounts SET balance = 150 WHERE id = :id",
      soci::use(b.pending);
  });
  BOOST_REQUIRE(!st);
  auto report = b.ledger.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.size() == 2u); // the sum, and the account
  BOOST_TEST(report->problems[0].find("sum to 50") != std::string::npos,
             report->problems[0]);
  BOOST_TEST(report->problems[1].find(b.pending) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(twenty_concurrent_payouts_never_overdraw) {
  books b;
  BOOST_REQUIRE(
    b.ledger.post(b.posting("sale:o1", {{b.gateway, b.available, 1000}})));
  std::atomic<int> paid{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      auto r = b.ledger.post(b.posting("payout:" + std::to_string(i),
                                       {{b.available, b.in_transit, 100}},
                                       "payout"));
      if (r)
        ++paid;
      else if (r.err().code == souk::errc::conflict)
        ++refused;
      else
        ++failed;
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(paid.load() == 10);
  BOOST_TEST(refused.load() == 10);
  BOOST_TEST(b.balance(b.available) == 0);
  BOOST_TEST(b.balance(b.in_transit) == 1000);
  b.sound();
}

BOOST_AUTO_TEST_CASE(statements_page_newest_first) {
  books b;
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE(b.ledger.post(b.posting("sale:" + std::to_string(i),
                                          {{b.gateway, b.pending, 100 + i}})));
  std::vector<std::string> accounts{b.pending, b.available};
  auto first = b.ledger.entries_of(accounts, 3);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(first->size() == 3u);
  auto rest = b.ledger.entries_of(accounts, 3, first->back().id);
  BOOST_REQUIRE(rest);
  BOOST_REQUIRE(rest->size() == 2u);
  std::set<int64_t> amounts;
  for (auto* page : {&*first, &*rest})
    for (auto& e : *page)
      amounts.insert(e.amount);
  BOOST_TEST(amounts.size() == 5u);
  BOOST_TEST(b.ledger.entries_of({b.fees}, 10)->empty());
}

BOOST_AUTO_TEST_SUITE_END()
