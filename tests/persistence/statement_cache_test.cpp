// The prepared-statement cache behind rows::exec and rows::query
// (persistence/src/statement_cache.hpp). On SQLite there is no cache: the
// same statements must still run and give the same rows.

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <libpq-fe.h>
#include <soci/soci.h>

#include "souk/persistence/database.hpp"
#include "souk/testing/support.hpp"

#include "rows.hpp"

namespace rows = souk::persistence::rows;
using souk::persistence::database;

namespace {

bool on_postgresql() {
  return souk::testing::backend_name() == "postgresql";
}

struct fixture {
  souk::testing::scratch_database scratch;

  std::shared_ptr<database> open(uint32_t cache) {
    database::options o;
    o.url = scratch.url();
    o.pool_size = 1; // every run on the same connection
    o.statement_cache = cache;
    auto db = database::open(o);
    if (!db)
      BOOST_FAIL(db.err().detail);
    auto st = (*db)->run([](soci::session& sql) {
      sql << "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return *db;
  }

  static void insert(database& db, int id, const std::string& name) {
    auto st = db.run([&](soci::session& sql) {
      BOOST_TEST(rows::exec(sql, "INSERT INTO t (id, name) VALUES (:i, :n)",
                            soci::use(id), soci::use(name))
                 == 1);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  static std::string name_of(database& db, int id) {
    std::string out;
    auto st = db.run([&](soci::session& sql) {
      for (auto& r :
           rows::query{sql, "SELECT name FROM t WHERE id = :i", soci::use(id)})
        out = r.get<std::string>(0);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return out;
  }

  // The statements this connection holds prepared on the server whose text
  // starts with `prefix` (PostgreSQL only).
  static int prepared(database& db, const std::string& prefix) {
    int n = -1;
    auto st = db.run([&](soci::session& sql) {
      std::string like = prefix + "%";
      sql << "SELECT count(*) FROM pg_prepared_statements WHERE statement "
             "LIKE :p",
        soci::use(like), soci::into(n);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(statement_cache, fixture)

BOOST_AUTO_TEST_CASE(a_statement_run_again_is_prepared_once_and_binds_anew) {
  auto db = open(16);
  insert(*db, 1, "one");
  insert(*db, 2, "two");
  insert(*db, 3, "three");
  BOOST_TEST(name_of(*db, 1) == "one");
  BOOST_TEST(name_of(*db, 3) == "three");
  BOOST_TEST(name_of(*db, 2) == "two");
  BOOST_TEST(name_of(*db, 4) == "");
  if (on_postgresql()) {
    BOOST_TEST(prepared(*db, "INSERT INTO t") == 1);
    BOOST_TEST(prepared(*db, "SELECT name FROM t") == 1);
  }
}

BOOST_AUTO_TEST_CASE(read_one_says_whether_there_was_a_row) {
  auto db = open(16);
  insert(*db, 1, "one");
  for (int id : {1, 2, 1}) {
    std::string name;
    bool found = false;
    auto st = db->run([&](soci::session& sql) {
      found = rows::read_one(sql, "SELECT name FROM t WHERE id = :i",
                             soci::use(id), soci::into(name));
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    BOOST_TEST(found == (id == 1));
    BOOST_TEST(name == (id == 1 ? "one" : ""));
  }
}

BOOST_AUTO_TEST_CASE(the_same_statement_run_while_its_rows_are_read_runs_once) {
  auto db = open(16);
  for (int i = 1; i <= 3; ++i)
    insert(*db, i, "n" + std::to_string(i));
  std::vector<std::string> seen;
  const std::string text = "SELECT id, name FROM t WHERE id >= :i ORDER BY id";
  auto st = db->run([&](soci::session& sql) {
    int from = 1;
    for (auto& outer : rows::query{sql, text, soci::use(from)}) {
      int inner_from = 3;
      for (auto& inner : rows::query{sql, text, soci::use(inner_from)})
        seen.push_back(outer.get<std::string>(1) + "/"
                       + inner.get<std::string>(1));
    }
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_TEST(seen == (std::vector<std::string>{"n1/n3", "n2/n3", "n3/n3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_statement_stays_usable) {
  auto db = open(16);
  insert(*db, 1, "one");
  auto st = db->run([&](soci::session& sql) {
    int id = 1;
    std::string name = "again";
    rows::exec(sql, "INSERT INTO t (id, name) VALUES (:i, :n)", soci::use(id),
               soci::use(name));
  });
  BOOST_TEST((st.code == souk::errc::database)); // duplicate key
  insert(*db, 2, "two");
  BOOST_TEST(name_of(*db, 2) == "two");
  if (on_postgresql())
    BOOST_TEST(prepared(*db, "INSERT INTO t") == 1);
}

BOOST_AUTO_TEST_CASE(a_statement_the_server_no_longer_accepts_is_dropped) {
  if (!on_postgresql())
    return; // SQLite re-prepares every statement
  auto db = open(16);
  insert(*db, 1, "one");
  auto read_all = [&] {
    return db->run([&](soci::session& sql) {
      for (auto& r : rows::query{sql, "SELECT * FROM t"})
        (void)r;
    });
  };
  BOOST_TEST(!read_all());
  auto st = db->run(
    [](soci::session& sql) { sql << "ALTER TABLE t ADD COLUMN note TEXT"; });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  // PostgreSQL refuses the prepared SELECT * ("cached plan must not change
  // result type"): that run fails, the statement is dropped, the next runs.
  auto stale = read_all();
  BOOST_TEST((stale.code == souk::errc::database));
  BOOST_TEST(!read_all());
  BOOST_TEST(prepared(*db, "SELECT * FROM t") == 1);
}

BOOST_AUTO_TEST_CASE(the_least_recently_used_statement_makes_room) {
  if (!on_postgresql())
    return;
  auto db = open(2);
  insert(*db, 1, "one");                     // 1: the INSERT
  BOOST_TEST(name_of(*db, 1) == "one");      // 2: the SELECT
  auto st = db->run([](soci::session& sql) { // 3: pushes out the INSERT
    int n = 0;
    rows::read_one(sql, "SELECT count(*) FROM t", soci::into(n));
    BOOST_TEST(n == 1);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_TEST(prepared(*db, "INSERT INTO t") == 0);
  BOOST_TEST(prepared(*db, "SELECT name FROM t") == 1);
  BOOST_TEST(prepared(*db, "SELECT count(*) FROM t") == 1);
}

BOOST_AUTO_TEST_CASE(no_cache_prepares_nothing) {
  if (!on_postgresql())
    return;
  auto db = open(0);
  insert(*db, 1, "one");
  BOOST_TEST(name_of(*db, 1) == "one");
  BOOST_TEST(prepared(*db, "") == 0);
}

BOOST_AUTO_TEST_CASE(a_lost_connection_takes_its_statements_and_comes_back) {
  if (!on_postgresql())
    return;
  auto db = open(16);
  insert(*db, 1, "one");
  BOOST_TEST(name_of(*db, 1) == "one");
  int pid = 0;
  BOOST_REQUIRE(!db->run([&](soci::session& sql) {
    sql << "SELECT pg_backend_pid()", soci::into(pid);
  }));
  // Another connection ends this one's backend, as a server restart would.
  PGconn* admin = PQconnectdb(scratch.url().c_str());
  BOOST_REQUIRE(PQstatus(admin) == CONNECTION_OK);
  PQclear(PQexec(
    admin,
    ("SELECT pg_terminate_backend(" + std::to_string(pid) + ")").c_str()));
  PQfinish(admin);
  // The next statement meets the closed connection and fails as
  // "unavailable, try again"; the pool reconnects and forgets the
  // statements that were prepared on it.
  auto lost = db->run([&](soci::session& sql) {
    int id = 1;
    for (auto& r :
         rows::query{sql, "SELECT name FROM t WHERE id = :i", soci::use(id)})
      (void)r;
  });
  BOOST_TEST((lost.code == souk::errc::unavailable));
  BOOST_TEST(name_of(*db, 1) == "one");
  insert(*db, 2, "two");
  BOOST_TEST(name_of(*db, 2) == "two");
  BOOST_TEST(prepared(*db, "SELECT name FROM t") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
