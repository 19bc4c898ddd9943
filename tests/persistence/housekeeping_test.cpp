// persistence::prune: rows kept only for a while go once past their time,
// and nothing else does (both backends).
#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/persistence/housekeeping.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;

namespace {

constexpr const char* t0 = "2030-01-01T00:00:00.000Z";

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    exec(std::string{"INSERT INTO users (id, email, password_hash, role, "
                     "created_at, updated_at) VALUES ('u', 'u@example.com', "
                     "'x', 'customer', '"}
         + t0 + "', '" + t0 + "')");
  }

  void exec(const std::string& query) {
    auto st = db->run([&](soci::session& sql) { sql << query; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  long long count(const std::string& query) {
    long long n = -1;
    auto st = db->run([&](soci::session& sql) { sql << query, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  void session(const std::string& id, const std::string& expires,
               const std::string& revoked = {}) {
    exec("INSERT INTO sessions (id, user_id, token_hash, created_at, "
         "expires_at, revoked_at, remote, user_agent) VALUES ('"
         + id + "', 'u', 'h" + id + "', '2029-01-01T00:00:00.000Z', '" + expires
         + "', " + (revoked.empty() ? "NULL" : "'" + revoked + "'")
         + ", '127.0.0.1', 'test')");
  }

  void key(const std::string& k, const std::string& status,
           const std::string& created, const std::string& locked_until) {
    exec("INSERT INTO idempotency_keys (scope, idem_key, request_hash, "
         "status, locked_until, created_at) VALUES ('orders:guest', '"
         + k + "', 'x', '" + status + "', '" + locked_until + "', '" + created
         + "')");
  }

  void throttle(const std::string& email, const std::string& last,
                const std::string& blocked = {}) {
    exec("INSERT INTO login_throttle (email, failures, last_failure_at, "
         "blocked_until) VALUES ('"
         + email + "', 3, '" + last + "', "
         + (blocked.empty() ? "NULL" : "'" + blocked + "'") + ")");
  }

  std::string ids(const std::string& query) {
    std::string out;
    auto st = db->run([&](soci::session& sql) {
      soci::rowset<std::string> rs = (sql.prepare << query);
      for (auto& x : rs)
        out += (out.empty() ? "" : ",") + x;
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return out;
  }

  // "Now" is t0; kept for: sessions 30 days, keys 7 days, failures 1 day.
  sp::prune_before before() const {
    return {"2029-12-02T00:00:00.000Z", "2029-12-25T00:00:00.000Z",
            "2029-12-31T00:00:00.000Z", t0};
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(housekeeping, fixture)

BOOST_AUTO_TEST_CASE(rows_past_their_time_go_and_no_others) {
  session("old", "2029-11-01T00:00:00.000Z");
  session("old_revoked", "2029-11-30T00:00:00.000Z",
          "2029-11-15T00:00:00.000Z");
  session("recently_expired", "2029-12-20T00:00:00.000Z");
  // Revoked a month ago, but it would still be valid: kept until then.
  session("revoked_live", "2030-01-10T00:00:00.000Z",
          "2029-12-01T00:00:00.000Z");
  session("live", "2030-01-14T00:00:00.000Z");

  key("old_done", "done", "2029-12-01T00:00:00.000Z",
      "2029-12-01T00:01:00.000Z");
  key("old_dead", "started", "2029-12-01T00:00:00.000Z",
      "2029-12-01T00:01:00.000Z");
  // Old, but a request holds it now (its answer is still to be stored).
  key("old_held", "started", "2029-12-01T00:00:00.000Z",
      "2030-01-01T00:01:00.000Z");
  key("recent", "done", "2029-12-30T00:00:00.000Z", "2029-12-30T00:01:00.000Z");

  throttle("quiet@example.com", "2029-12-29T00:00:00.000Z");
  // Quiet as long, but blocked until after now: kept.
  throttle("blocked@example.com", "2029-12-29T00:00:00.000Z",
           "2030-01-01T00:10:00.000Z");
  throttle("recent@example.com", "2029-12-31T12:00:00.000Z");

  auto done = sp::prune(*db, before(), 100);
  BOOST_REQUIRE_MESSAGE(done, (done ? "" : done.err().detail));
  BOOST_TEST(done->sessions == 2);
  BOOST_TEST(done->idempotency_keys == 2);
  BOOST_TEST(done->throttles == 1);
  BOOST_TEST(ids("SELECT id FROM sessions ORDER BY id")
             == "live,recently_expired,revoked_live");
  BOOST_TEST(ids("SELECT idem_key FROM idempotency_keys ORDER BY idem_key")
             == "old_held,recent");
  BOOST_TEST(ids("SELECT email FROM login_throttle ORDER BY email")
             == "blocked@example.com,recent@example.com");

  // Nothing more to do.
  auto again = sp::prune(*db, before(), 100);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->total() == 0);
}

BOOST_AUTO_TEST_CASE(a_backlog_goes_in_batches) {
  for (int i = 0; i < 7; ++i)
    session("s" + std::to_string(i), "2029-10-01T00:00:00.000Z");
  session("live", "2030-01-14T00:00:00.000Z");
  auto first = sp::prune(*db, before(), 3);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->sessions == 3);
  auto second = sp::prune(*db, before(), 3);
  BOOST_REQUIRE(second);
  BOOST_TEST(second->sessions == 3);
  auto third = sp::prune(*db, before(), 3);
  BOOST_REQUIRE(third);
  BOOST_TEST(third->sessions == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM sessions") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
