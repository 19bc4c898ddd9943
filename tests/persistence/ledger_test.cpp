// The double-entry ledger on both backends: postings all-or-nothing and
// idempotent, protected accounts never negative (also under twenty
// concurrent payouts), sales in stripes racing payouts that fold them
// without losing a coin or deadlocking, entries immutable, `check`
// catching a ledger that was tampered with (rows and stripes), and a
// creator's sales summed per day for the dashboard.

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
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
    return sp::posting{
      std::move(key),  "NGN", std::move(kind), "order-1", "test",
      std::move(legs), {}};
  }

  void sound() {
    auto report = ledger.check();
    BOOST_REQUIRE(report);
    std::string all;
    for (auto& p : report->problems)
      all += p + "\n";
    BOOST_TEST(report->problems.empty(), all);
  }

  // Rows written straight into the tables, so entries can carry any
  // created_at (`post` stamps the current time). Balances are left alone:
  // tests using these do not `check` the ledger.
  void raw_account(const std::string& id, const std::string& owner_kind,
                   const std::string& owner_id, const std::string& kind,
                   int negative) {
    std::string currency = "NGN", at = "2020-01-01T00:00:00.000Z";
    auto st = db->run([&](soci::session& sql) {
      sql << "INSERT INTO ledger_accounts (id, owner_kind, owner_id, "
             "currency, kind, may_go_negative, balance, created_at) VALUES "
             "(:id, :ok, :oi, :c, :k, :n, 0, :t) ON CONFLICT (id) DO NOTHING",
        soci::use(id), soci::use(owner_kind), soci::use(owner_id),
        soci::use(currency), soci::use(kind), soci::use(negative),
        soci::use(at);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  void raw_posting(const std::string& key, const std::string& cause_kind,
                   const std::vector<sp::leg>& legs, const std::string& at) {
    std::string currency = "NGN", memo = "test";
    auto st = db->run([&](soci::session& sql) {
      for (size_t i = 0; i < legs.size(); ++i) {
        auto id = souk::new_uuid();
        auto leg_key = key + "#" + std::to_string(i);
        long long amount = legs[i].amount;
        sql << "INSERT INTO ledger_entries (id, posting_id, idempotency_key, "
               "debit_account, credit_account, amount, currency, cause_kind, "
               "cause_id, memo, created_at) VALUES (:id, :p, :k, :d, :c, :a, "
               ":cur, :ck, :ci, :m, :t)",
          soci::use(id), soci::use(key), soci::use(leg_key),
          soci::use(legs[i].from), soci::use(legs[i].to), soci::use(amount),
          soci::use(currency), soci::use(cause_kind), soci::use(key),
          soci::use(memo), soci::use(at);
      }
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  // A row of `orders` for rows that name one (holds): of kind payout,
  // which needs no product.
  std::string order() {
    sp::order_row o;
    o.id = souk::new_uuid();
    o.kind = "payout";
    o.buyer_email = "b@example.com";
    o.amount = 900;
    o.currency = "NGN";
    o.flow = "digital_download";
    o.flow_version = 1;
    o.flow_hash = "abc";
    o.state = "paid";
    sp::event_row e;
    e.event = "order.created";
    e.actor = "system";
    e.detail = "{}";
    auto err = sp::order_repository{*db}.create(o, e, {}, {});
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    return o.id;
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
  // Two guarded accounts, the second short: the refusal names that one,
  // not the first (debited by then inside the refused transaction).
  BOOST_REQUIRE(b.ledger.post(b.posting("sale:o2", {{b.gateway, b.fees, 3}})));
  auto refund = b.ledger.post(b.posting(
    "refund:o1", {{b.available, b.gateway, 100}, {b.fees, b.gateway, 5}},
    "refund"));
  BOOST_REQUIRE(!refund);
  BOOST_TEST(refund.err().code == souk::errc::conflict);
  BOOST_TEST(refund.err().detail.find(b.fees) != std::string::npos,
             refund.err().detail);
  BOOST_TEST(b.balance(b.available) == 100);
  BOOST_TEST(b.balance(b.fees) == 3);
  b.sound();
}

BOOST_AUTO_TEST_CASE(
  a_posting_made_before_is_already_even_if_it_could_not_be_made_now) {
  books b;
  BOOST_REQUIRE(
    b.ledger.post(b.posting("sale:o1", {{b.gateway, b.available, 100}})));
  auto payout
    = b.posting("payout:p1", {{b.available, b.in_transit, 100}}, "payout");
  auto first = b.ledger.post(payout);
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : first.err().detail));
  BOOST_TEST((*first == sp::posted::done));
  // `available` is empty now: the retry must still see its posting made,
  // not a guard refusing it.
  auto again = b.ledger.post(payout);
  BOOST_REQUIRE_MESSAGE(again, (again ? "" : again.err().detail));
  BOOST_TEST((*again == sp::posted::already));
  BOOST_TEST(b.balance(b.available) == 0);
  BOOST_TEST(b.balance(b.in_transit) == 100);
  b.sound();
}

BOOST_AUTO_TEST_CASE(a_debt_is_repaid_but_never_overpaid) {
  books b;
  auto owed = sp::creator_account(b.creator, "NGN", "owed");
  // A refund after the sale's money left: the creator owes 300.
  BOOST_REQUIRE(
    b.ledger.post(b.posting("refund:r1", {{owed, b.gateway, 300}}, "refund")));
  BOOST_TEST(b.balance(owed) == -300);
  auto over = b.ledger.post(
    b.posting("sale:o2", {{b.gateway, owed, 400}, {b.gateway, b.fees, 10}}));
  BOOST_REQUIRE(!over);
  BOOST_TEST(over.err().code == souk::errc::conflict);
  BOOST_TEST(over.err().detail.find("owes less than 400") != std::string::npos,
             over.err().detail);
  BOOST_TEST(b.balance(owed) == -300);
  BOOST_TEST(b.balance(b.fees) == 0);
  auto repaid = b.ledger.post(b.posting(
    "sale:o3", {{b.gateway, owed, 300}, {b.gateway, b.pending, 100}}));
  BOOST_REQUIRE_MESSAGE(repaid, (repaid ? "" : repaid.err().detail));
  BOOST_TEST(b.balance(owed) == 0);
  BOOST_TEST(b.balance(b.pending) == 100);
  b.sound();
}

BOOST_AUTO_TEST_CASE(a_sales_hold_is_written_with_its_posting) {
  books b;
  auto o1 = b.order();
  auto sale = b.posting("sale:o1", {{b.gateway, b.pending, 900}});
  sale.hold
    = sp::hold_row{o1, b.creator, "NGN", "2030-01-01T00:00:00.000Z", "held"};
  auto r = b.ledger.post(sale);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_TEST(b.count("SELECT COUNT(*) FROM wallet_holds WHERE order_id = '" + o1
                     + "' AND status = 'held'")
             == 1);
  // A posting made before a crash lost its hold: the retry adds it.
  BOOST_REQUIRE(
    !b.db->run([](soci::session& sql) { sql << "DELETE FROM wallet_holds"; }));
  auto again = b.ledger.post(sale);
  BOOST_REQUIRE_MESSAGE(again, (again ? "" : again.err().detail));
  BOOST_TEST((*again == sp::posted::already));
  BOOST_TEST(b.count("SELECT COUNT(*) FROM wallet_holds") == 1);
  // A refused posting leaves no hold behind.
  auto refused
    = b.posting("payout:p1", {{b.available, b.in_transit, 5}}, "payout");
  refused.hold = sp::hold_row{b.order(), b.creator, "NGN",
                              "2030-01-01T00:00:00.000Z", "held"};
  BOOST_TEST(!b.ledger.post(refused));
  BOOST_TEST(b.count("SELECT COUNT(*) FROM wallet_holds") == 1);
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
    sql << "UPDATE ledger_accounts SET balance = balance + 50 WHERE id = :id",
      soci::use(b.pending);
  });
  BOOST_REQUIRE(!st);
  auto report = b.ledger.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.size() == 2u); // the sum, and the account
  BOOST_TEST(report->problems[0].find("sum to 50") != std::string::npos,
             report->problems[0]);
  BOOST_TEST(report->problems[1].find(b.pending) != std::string::npos);
  BOOST_TEST(report->problems[1].find("balance 150") != std::string::npos,
             report->problems[1]);
  // A stripe is part of the balance: tampering with one is found too.
  st = b.db->run([&](soci::session& sql) {
    sql << "UPDATE ledger_accounts SET balance = balance - 50 WHERE id = :id",
      soci::use(b.pending);
    sql << "UPDATE ledger_stripes SET balance = balance - 7 WHERE account_id "
           "= :id",
      soci::use(b.gateway);
  });
  BOOST_REQUIRE(!st);
  report = b.ledger.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.size() == 2u);
  BOOST_TEST(report->problems[0].find("sum to -7") != std::string::npos,
             report->problems[0]);
  BOOST_TEST(report->problems[1].find(b.gateway) != std::string::npos);
  // A protected account's stripe holding a debit breaks what its row's
  // CHECK relies on, even when its balance adds up.
  st = b.db->run([&](soci::session& sql) {
    sql << "UPDATE ledger_stripes SET balance = balance + 7 WHERE account_id "
           "= :id",
      soci::use(b.gateway);
    sql << "UPDATE ledger_stripes SET balance = balance - 130 WHERE "
           "account_id = :id",
      soci::use(b.pending);
    sql << "UPDATE ledger_accounts SET balance = balance + 130 WHERE id = :id",
      soci::use(b.pending);
  });
  BOOST_REQUIRE(!st);
  report = b.ledger.check();
  BOOST_REQUIRE(report);
  BOOST_REQUIRE(report->problems.size() == 1u);
  BOOST_TEST(report->problems[0].find("against the account's rule")
               != std::string::npos,
             report->problems[0]);
  BOOST_TEST(report->problems[0].find(b.pending) != std::string::npos);
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

// The first sales of a new creator, at once: each posting creates the
// accounts it needs if they are not there, and two creating the same one
// both go through (neither fails on the account's other unique key).
BOOST_AUTO_TEST_CASE(first_sales_of_a_new_account_at_once_all_go_through) {
  books b;
  constexpr int threads_n = 8, creators = 60;
  std::atomic<int> failed{0};
  std::string why;
  std::mutex mx;
  for (int c = 0; c < creators; ++c) {
    auto pending = sp::creator_account(souk::new_uuid(), "NGN", "pending");
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
      threads.emplace_back([&, t] {
        ++ready;
        while (ready.load() < threads_n)
          std::this_thread::yield();
        auto r
          = b.ledger.post(b.posting("sale:" + pending + ":" + std::to_string(t),
                                    {{b.gateway, pending, 10}}));
        if (!r) {
          ++failed;
          std::lock_guard lock{mx};
          why = r.err().detail;
        }
      });
    for (auto& t : threads)
      t.join();
    BOOST_TEST(b.balance(pending) == threads_n * 10);
  }
  BOOST_TEST(failed.load() == 0, why);
  b.sound();
}

// Sales credit stripes; a payout (a guarded debit) folds them into the
// account's row first. Eight threads each sell then pay out, over and
// over, on one creator's account: every payout finds the money its own
// sales put there (none refused), no credit racing a fold is lost, and no
// two writers deadlock.
BOOST_AUTO_TEST_CASE(sales_racing_payouts_on_one_account_lose_nothing) {
  books b;
  constexpr int threads_n = 8, rounds = 25;
  std::atomic<int> sold{0}, paid{0}, failed{0};
  std::string why;
  std::mutex mx;
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        auto key = std::to_string(t) + ":" + std::to_string(i);
        auto s = b.ledger.post(
          b.posting("sale:" + key,
                    {{b.gateway, b.available, 100}, {b.gateway, b.fees, 5}}));
        auto p
          = s ? b.ledger.post(b.posting(
              "payout:" + key, {{b.available, b.in_transit, 60}}, "payout"))
              : s;
        if (s)
          ++sold;
        if (s && p)
          ++paid;
        if (!s || !p) {
          ++failed;
          std::lock_guard lock{mx};
          why = (s ? p : s).err().detail;
        }
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(failed.load() == 0, why);
  BOOST_TEST(sold.load() == threads_n * rounds);
  BOOST_TEST(paid.load() == threads_n * rounds);
  BOOST_TEST(b.balance(b.available) == threads_n * rounds * 40);
  BOOST_TEST(b.balance(b.in_transit) == threads_n * rounds * 60);
  BOOST_TEST(b.balance(b.fees) == threads_n * rounds * 5);
  BOOST_TEST(b.balance(b.gateway) == -threads_n * rounds * 105);
  // The sales went to stripes, spread over several.
  BOOST_TEST(b.count("SELECT COUNT(*) FROM ledger_stripes WHERE account_id = '"
                     + b.gateway + "'")
             > 1);
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

BOOST_AUTO_TEST_CASE(sales_by_day_sums_a_creators_sales_fees_and_refunds) {
  books b;
  auto owed = sp::creator_account(b.creator, "NGN", "owed");
  auto other = souk::new_uuid();
  auto theirs = sp::creator_account(other, "NGN", "pending");
  auto usd_pending = sp::creator_account(b.creator, "USD", "pending");
  std::vector<sp::posting> postings{
    b.posting("sale:o1",
              {{b.gateway, b.pending, 9500}, {b.gateway, b.fees, 500}}),
    b.posting("sale:o2",
              {{b.gateway, b.pending, 4750}, {b.gateway, b.fees, 250}}),
    // Not sales or refunds: a release and a payout.
    b.posting("release:o1", {{b.pending, b.available, 2000}}, "hold_release"),
    b.posting("payout:p1", {{b.available, b.in_transit, 1000}}, "payout"),
    // A refund taking the creator's share from pending, available and (the
    // rest) a debt, and the platform's from its fees.
    b.posting("reverse:r1",
              {{b.pending, b.gateway, 1000},
               {b.available, b.gateway, 500},
               {owed, b.gateway, 300},
               {b.fees, b.gateway, 100}},
              "refund"),
    // Another creator's sale, and a sale in another currency.
    b.posting("sale:o3", {{b.gateway, theirs, 1000}, {b.gateway, b.fees, 100}}),
    sp::posting{"sale:o4",
                "USD",
                "sale",
                "o4",
                "test",
                {{sp::platform_account("USD", "gateway"), usd_pending, 920},
                 {sp::platform_account("USD", "gateway"),
                  sp::platform_account("USD", "fees"), 80}},
                {}},
  };
  for (auto& p : postings) {
    auto r = b.ledger.post(p);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }
  b.sound();
  auto today = souk::day_of(souk::now());
  auto rows = b.ledger.sales_by_day(b.creator, today, today);
  BOOST_REQUIRE_MESSAGE(rows, (rows ? "" : rows.err().detail));
  BOOST_REQUIRE(rows->size() == 2u);
  auto& ngn = (*rows)[0];
  BOOST_TEST(ngn.currency == "NGN");
  BOOST_TEST(ngn.day == souk::to_iso_day(today));
  BOOST_TEST(ngn.sales == 2);
  BOOST_TEST(ngn.net == 9500 + 4750);
  BOOST_TEST(ngn.fees == 500 + 250);
  BOOST_TEST(ngn.refunds == 1000 + 500 + 300);
  auto& usd = (*rows)[1];
  BOOST_TEST(usd.currency == "USD");
  BOOST_TEST(usd.sales == 1);
  BOOST_TEST(usd.net == 920);
  BOOST_TEST(usd.fees == 80);
  BOOST_TEST(usd.refunds == 0);
  // The other creator sees their sale only.
  auto others = b.ledger.sales_by_day(other, today, today);
  BOOST_REQUIRE(others);
  BOOST_REQUIRE(others->size() == 1u);
  BOOST_TEST((*others)[0].sales == 1);
  BOOST_TEST((*others)[0].net == 1000);
  BOOST_TEST((*others)[0].fees == 100);
  // Nothing on other days, nothing for a stranger.
  auto before = b.ledger.sales_by_day(b.creator, today - std::chrono::days{30},
                                      today - std::chrono::days{1});
  BOOST_REQUIRE(before);
  BOOST_TEST(before->empty());
  auto stranger = b.ledger.sales_by_day(souk::new_uuid(), today, today);
  BOOST_REQUIRE(stranger);
  BOOST_TEST(stranger->empty());
}

BOOST_AUTO_TEST_CASE(sales_by_day_groups_by_the_entries_day_within_the_range) {
  books b;
  b.raw_account(b.gateway, "platform", "", "gateway", 1);
  b.raw_account(b.fees, "platform", "", "fees", 0);
  b.raw_account(b.pending, "creator", b.creator, "pending", 0);
  auto sale = [&](const std::string& key, const std::string& at) {
    b.raw_posting(key, "sale",
                  {{b.gateway, b.pending, 900}, {b.gateway, b.fees, 100}}, at);
  };
  sale("sale:before", "2020-10-31T23:59:59.999Z");
  sale("sale:a", "2020-11-01T00:00:00.000Z");
  sale("sale:b", "2020-11-01T23:59:59.999Z");
  sale("sale:c", "2020-11-02T12:00:00.000Z");
  b.raw_posting("reverse:c", "refund",
                {{b.pending, b.gateway, 450}, {b.fees, b.gateway, 50}},
                "2020-11-03T00:00:00.000Z");
  sale("sale:after", "2020-11-04T00:00:00.000Z");
  auto day = [](const char* text) { return *souk::parse_iso_day(text); };
  auto rows
    = b.ledger.sales_by_day(b.creator, day("2020-11-01"), day("2020-11-03"));
  BOOST_REQUIRE_MESSAGE(rows, (rows ? "" : rows.err().detail));
  BOOST_REQUIRE(rows->size() == 3u);
  auto& r = *rows;
  BOOST_TEST(r[0].day == "2020-11-01");
  BOOST_TEST(r[0].sales == 2);
  BOOST_TEST(r[0].net == 1800);
  BOOST_TEST(r[0].fees == 200);
  BOOST_TEST(r[0].refunds == 0);
  BOOST_TEST(r[1].day == "2020-11-02");
  BOOST_TEST(r[1].sales == 1);
  BOOST_TEST(r[1].net == 900);
  BOOST_TEST(r[2].day == "2020-11-03");
  BOOST_TEST(r[2].sales == 0);
  BOOST_TEST(r[2].net == 0);
  BOOST_TEST(r[2].fees == 0);
  BOOST_TEST(r[2].refunds == 450);
  auto all
    = b.ledger.sales_by_day(b.creator, day("2020-01-01"), day("2020-12-31"));
  BOOST_REQUIRE(all);
  BOOST_TEST(all->size() == 5u);
}

BOOST_AUTO_TEST_SUITE_END()
