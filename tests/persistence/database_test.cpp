#include <atomic>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

using namespace std::chrono_literals;
using pool = souk::persistence::database;

namespace {

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<pool> db = scratch.open(2);

  fixture() {
    auto st = db->run([](soci::session& sql) {
      sql << "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  // A pool of one connection to the same database, with `adjust` applied
  // to its options.
  std::shared_ptr<pool>
  one_connection(const std::function<void(pool::options&)>& adjust = {}) {
    pool::options opts;
    opts.url = scratch.url();
    opts.pool_size = 1;
    if (adjust)
      adjust(opts);
    auto opened = pool::open(opts);
    BOOST_REQUIRE_MESSAGE(opened, (opened ? "" : opened.err().detail));
    return *opened;
  }

  int count() {
    int n = -1;
    db->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM t", soci::into(n);
    });
    return n;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(database, fixture)

BOOST_AUTO_TEST_CASE(reports_its_backend) {
  auto expected = souk::testing::backend_name() == "postgresql"
                    ? souk::persistence::backend::postgresql
                    : souk::persistence::backend::sqlite;
  BOOST_TEST((db->kind() == expected));
  BOOST_TEST(!db->ping());
}

BOOST_AUTO_TEST_CASE(transact_commits_on_success) {
  auto st = db->transact([](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    sql << "INSERT INTO t (id, name) VALUES (2, 'b')";
    return {};
  });
  BOOST_TEST(!st);
  BOOST_TEST(count() == 2);
}

BOOST_AUTO_TEST_CASE(transact_rolls_back_every_row_on_an_error_result) {
  auto st = db->transact([](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    return souk::error{souk::errc::conflict, "changed my mind"};
  });
  BOOST_TEST((st.code == souk::errc::conflict));
  BOOST_TEST(count() == 0);
}

BOOST_AUTO_TEST_CASE(transact_rolls_back_on_a_failing_statement) {
  auto st = db->transact([](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    sql << "INSERT INTO t (id, name) VALUES (1, 'duplicate')";
    return {};
  });
  BOOST_TEST((st.code == souk::errc::database));
  BOOST_TEST(!st.detail.empty());
  BOOST_TEST(count() == 0);
  // The connection is usable afterwards.
  BOOST_TEST(!db->transact([](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (3, 'c')";
    return {};
  }));
  BOOST_TEST(count() == 1);
}

BOOST_AUTO_TEST_CASE(calls_inside_a_transaction_join_it) {
  // A pool of two: the nested calls would need a third connection, and on
  // SQLite the nested write would wait for the transaction's own lock.
  std::vector<int> order;
  auto st = db->transact([&](soci::session& sql) -> souk::status {
    BOOST_TEST(db->in_transaction());
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    auto w = db->write([](soci::session& s) {
      s << "INSERT INTO t (id, name) VALUES (2, 'b')";
    });
    BOOST_TEST(!w);
    auto t = db->transact([&](soci::session& s) -> souk::status {
      s << "INSERT INTO t (id, name) VALUES (3, 'c')";
      return {};
    });
    BOOST_TEST(!t);
    // The transaction's own rows are seen, as on its connection.
    int n = 0;
    BOOST_TEST(!db->run(
      [&](soci::session& s) { s << "SELECT count(*) FROM t", soci::into(n); }));
    BOOST_TEST(n == 3);
    db->after_commit([&] { order.push_back(2); });
    order.push_back(1);
    return {};
  });
  BOOST_TEST(!st);
  BOOST_TEST(!db->in_transaction());
  BOOST_TEST(count() == 3);
  // After the commit, not when asked for.
  BOOST_TEST(order == (std::vector<int>{1, 2}),
             boost::test_tools::per_element());
  // Outside a transaction: at once.
  db->after_commit([&] { order.push_back(3); });
  BOOST_TEST(order.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_failed_call_inside_a_transaction_rolls_all_of_it_back) {
  bool told = false;
  // A nested transact that refuses, although the outer one carries on.
  auto st = db->transact([&](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    db->after_commit([&] { told = true; });
    auto refused = db->transact([](soci::session& s) -> souk::status {
      s << "INSERT INTO t (id, name) VALUES (2, 'b')";
      return souk::error{souk::errc::conflict, "not now"};
    });
    BOOST_TEST((refused.code == souk::errc::conflict));
    return {};
  });
  BOOST_TEST((st.code == souk::errc::conflict));
  BOOST_TEST(st.detail == "not now");
  BOOST_TEST(count() == 0);
  BOOST_TEST(!told);
  // A nested statement that fails, its error swallowed by the caller.
  st = db->transact([&](soci::session& sql) -> souk::status {
    sql << "INSERT INTO t (id, name) VALUES (1, 'a')";
    auto failed = db->write([](soci::session& s) {
      s << "INSERT INTO t (id, name) VALUES (1, 'duplicate')";
    });
    BOOST_TEST((failed.code == souk::errc::database));
    return {};
  });
  BOOST_TEST((st.code == souk::errc::database));
  BOOST_TEST(count() == 0);
  // The connection is usable afterwards, and calls stand alone again.
  BOOST_TEST(!db->write(
    [](soci::session& s) { s << "INSERT INTO t (id, name) VALUES (5, 'e')"; }));
  BOOST_TEST(count() == 1);
}

BOOST_AUTO_TEST_CASE(a_failure_its_caller_caught_still_counts_on_postgresql) {
  // The caller handles a failed statement itself and carries on, inside a
  // nested call and in the transaction's own body.
  auto insert_twice = [](soci::session& s, int id) {
    s << "INSERT INTO t (id, name) VALUES (:id, 'x')", soci::use(id);
    try {
      s << "INSERT INTO t (id, name) VALUES (:id, 'again')", soci::use(id);
    } catch (const soci::soci_error&) {
      // "already there": fine by this caller
    }
  };
  const bool pg = db->kind() == souk::persistence::backend::postgresql;
  auto nested = db->transact([&](soci::session&) -> souk::status {
    return db->run([&](soci::session& s) { insert_twice(s, 1); });
  });
  auto own = db->transact([&](soci::session& sql) -> souk::status {
    insert_twice(sql, 2);
    return {};
  });
  if (pg) {
    // PostgreSQL aborted the transaction at the failed statement: its
    // COMMIT would roll back, so both say they failed and left nothing.
    BOOST_TEST((nested.code == souk::errc::database));
    BOOST_TEST((own.code == souk::errc::database));
    BOOST_TEST(count() == 0);
  } else {
    // SQLite undid the failed statement only: the rest commits.
    BOOST_TEST(!nested);
    BOOST_TEST(!own);
    BOOST_TEST(count() == 2);
  }
}

BOOST_AUTO_TEST_CASE(a_full_pool_times_out_instead_of_hanging) {
  auto small
    = one_connection([](pool::options& o) { o.acquire_timeout = 100ms; });
  std::promise<void> holding, release;
  auto fut = release.get_future().share();
  std::thread holder([&] {
    small->run([&](soci::session&) {
      holding.set_value();
      fut.wait();
    });
  });
  holding.get_future().wait();
  auto st = small->run([](soci::session&) {});
  BOOST_TEST((st.code == souk::errc::unavailable));
  BOOST_TEST(small->lease_timeouts() == 1u);
  release.set_value();
  holder.join();
  BOOST_TEST(!small->run([](soci::session&) {}));
}

// A connection the server drops (restart, network) fails its call as
// "unavailable, try again" rather than as a database error, and the next
// call gets a new connection.
BOOST_AUTO_TEST_CASE(a_lost_connection_is_unavailable_then_replaced) {
  if (db->kind() != souk::persistence::backend::postgresql)
    return; // SQLite has no server to lose
  auto one = one_connection();
  int pid = 0;
  BOOST_REQUIRE(!one->run([&](soci::session& sql) {
    sql << "SELECT pg_backend_pid()", soci::into(pid);
  }));
  BOOST_REQUIRE(!db->run([&](soci::session& sql) {
    sql << "SELECT pg_terminate_backend(:p)", soci::use(pid);
  }));
  auto st = one->run([](soci::session& sql) { sql << "SELECT 1"; });
  BOOST_TEST((st.code == souk::errc::unavailable));
  BOOST_TEST(st.retry_after.count() > 0);
  int again = 0;
  BOOST_TEST(!one->run([&](soci::session& sql) {
    sql << "SELECT pg_backend_pid()", soci::into(again);
  }));
  BOOST_TEST(again != 0);
  BOOST_TEST(again != pid);
}

// A row another session keeps locked fails a write after `lock_timeout` as
// "busy, try again" instead of holding a database thread until the lock
// goes; once it goes, the write lands.
BOOST_AUTO_TEST_CASE(a_lock_held_elsewhere_times_out_as_busy) {
  if (db->kind() != souk::persistence::backend::postgresql)
    return; // SQLite's writers wait for the file lock (busy_timeout)
  BOOST_REQUIRE(!db->run(
    [](soci::session& sql) { sql << "INSERT INTO t VALUES (1, 'a')"; }));
  auto quick = one_connection([](pool::options& o) { o.lock_timeout = 200ms; });
  // Another session (an operator's psql, say) holds the row.
  std::promise<void> holding, done;
  auto release = done.get_future().share();
  std::thread holder([&] {
    db->run([&](soci::session& sql) {
      sql << "BEGIN";
      sql << "SELECT id FROM t WHERE id = 1 FOR UPDATE";
      holding.set_value();
      release.wait_for(5s); // bounded, should the timeout not work
      sql << "COMMIT";
    });
  });
  holding.get_future().wait();
  auto write = [&] {
    return quick->transact([](soci::session& sql) -> souk::status {
      sql << "UPDATE t SET name = 'b' WHERE id = 1";
      return {};
    });
  };
  // The same from a call that joins the transaction (a repository call
  // inside the engine's transaction).
  auto joined = [&] {
    return quick->transact([&](soci::session&) -> souk::status {
      return quick->run([](soci::session& sql) {
        sql << "UPDATE t SET name = 'c' WHERE id = 1";
      });
    });
  };
  auto started = std::chrono::steady_clock::now();
  auto st = write();
  auto waited = std::chrono::steady_clock::now() - started;
  auto nested = joined();
  done.set_value();
  holder.join();
  BOOST_TEST((nested.code == souk::errc::unavailable));
  BOOST_TEST(nested.retry_after.count() > 0);
  BOOST_TEST((st.code == souk::errc::unavailable));
  BOOST_TEST(st.retry_after.count() > 0);
  BOOST_TEST_INFO(st.detail);
  BOOST_TEST(st.detail.find("busy") != std::string::npos);
  BOOST_TEST((waited >= 150ms && waited < 3s));
  BOOST_TEST(!write());
  std::string name;
  db->run([&](soci::session& sql) {
    sql << "SELECT name FROM t WHERE id = 1", soci::into(name);
  });
  BOOST_TEST(name == "b");
}

// A session that sits in a transaction past `idle_in_transaction_timeout`
// is ended by the server, so its locks go with it; the pool carries on.
BOOST_AUTO_TEST_CASE(a_transaction_left_idle_is_ended_by_the_server) {
  if (db->kind() != souk::persistence::backend::postgresql)
    return;
  BOOST_REQUIRE(!db->run(
    [](soci::session& sql) { sql << "INSERT INTO t VALUES (1, 'a')"; }));
  auto stuck = one_connection(
    [](pool::options& o) { o.idle_in_transaction_timeout = 200ms; });
  auto st = stuck->transact([](soci::session& sql) -> souk::status {
    sql << "UPDATE t SET name = 'held' WHERE id = 1";
    std::this_thread::sleep_for(1s); // a process stuck with the row locked
    sql << "SELECT 1";
    return {};
  });
  BOOST_TEST((st.code == souk::errc::unavailable));
  // The row was never changed and is free: another writer gets it at once.
  BOOST_TEST(!db->transact([](soci::session& sql) -> souk::status {
    sql << "SET LOCAL lock_timeout = 500";
    sql << "UPDATE t SET name = 'c' WHERE id = 1";
    return {};
  }));
  // And the pool's connection was replaced.
  BOOST_TEST(!stuck->run([](soci::session& sql) { sql << "SELECT 1"; }));
}

// Migrations wait for what they need however long it takes (another node
// migrating holds the lock), then give the connection its lock_timeout back.
BOOST_AUTO_TEST_CASE(migrations_wait_past_the_lock_timeout) {
  if (db->kind() != souk::persistence::backend::postgresql)
    return;
  auto one = one_connection([](pool::options& o) { o.lock_timeout = 100ms; });
  // Another migrator holds souk's migration lock for a while.
  std::promise<void> holding;
  std::thread other([&] {
    db->run([&](soci::session& sql) {
      sql << "SELECT pg_advisory_lock(32492172425914727)"; // "soukmig"
      holding.set_value();
      std::this_thread::sleep_for(600ms);
      sql << "SELECT pg_advisory_unlock(32492172425914727)";
    });
  });
  holding.get_future().wait();
  auto applied = souk::persistence::migrate(*one, {});
  other.join();
  BOOST_TEST_INFO((applied ? "" : applied.err().detail));
  BOOST_TEST(static_cast<bool>(applied));
  std::string setting;
  one->run([&](soci::session& sql) {
    sql << "SHOW lock_timeout", soci::into(setting);
  });
  BOOST_TEST(setting == "100ms");
}

BOOST_AUTO_TEST_CASE(post_runs_jobs_on_database_threads) {
  auto caller = std::this_thread::get_id();
  std::promise<std::thread::id> ran_on;
  db->post([&] { ran_on.set_value(std::this_thread::get_id()); });
  auto f = ran_on.get_future();
  BOOST_REQUIRE(f.wait_for(5s) == std::future_status::ready);
  BOOST_TEST((f.get() != caller));
}

BOOST_AUTO_TEST_CASE(concurrent_writers_all_land) {
  // SQLite serialises writers on BEGIN IMMEDIATE; PostgreSQL runs them in
  // parallel. Either way no write is lost and none fails with "busy".
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        int id = w * 1000 + i;
        auto st = db->transact([&](soci::session& sql) -> souk::status {
          sql << "INSERT INTO t (id, name) VALUES (:id, 'x')", soci::use(id);
          return {};
        });
        if (st)
          ++failures;
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(count() == 100);
}

BOOST_AUTO_TEST_CASE(unreachable_databases_fail_to_open_with_a_clear_error) {
  souk::persistence::database::options opts;
  opts.url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2";
  opts.pool_size = 1;
  auto x = pool::open(opts);
  BOOST_REQUIRE(!x);
  BOOST_TEST((x.err().code == souk::errc::unavailable));
  opts.url = "mysql://x";
  x = pool::open(opts);
  BOOST_REQUIRE(!x);
  BOOST_TEST((x.err().code == souk::errc::config));
}

BOOST_AUTO_TEST_SUITE_END()
