// SIGKILL in the middle of flows: a node with a test service (flow_node) is
// killed while orders wait on durable timers and run steps, then started
// again. Every flow must finish, each side effect exactly once, and the
// timers that were pending at the kill must fire after the restart.

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/persistence/database.hpp"
#include "souk/testing/support.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;

namespace {

constexpr int orders = 30;

struct fixture {
  st::temp_dir dir;
  st::scratch_database scratch;
  std::string url = st::backend_name() == "postgresql"
                      ? scratch.url()
                      : "sqlite://" + (dir.path() / "souk.db").string();

  std::vector<std::string> args(bool create) {
    std::vector<std::string> a{SOUK_FLOW_NODE, "--data-dir",
                               dir.path().string(), "--database", url};
    if (create) {
      a.push_back("--create");
      a.push_back(std::to_string(orders));
    }
    return a;
  }

  long long count(const std::string& q) {
    souk::persistence::database::options o;
    o.url = url;
    o.pool_size = 1;
    auto db = souk::persistence::database::open(o);
    BOOST_REQUIRE_MESSAGE(db, (db ? "" : db.err().detail));
    long long n = -1;
    auto err = (*db)->run([&](soci::session& sql) { sql << q, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    (*db)->shutdown();
    return n;
  }

  std::vector<std::string> ids(const std::string& q) {
    souk::persistence::database::options o;
    o.url = url;
    o.pool_size = 1;
    auto db = souk::persistence::database::open(o);
    BOOST_REQUIRE(db);
    std::vector<std::string> out;
    auto err = (*db)->run([&](soci::session& sql) {
      soci::rowset<std::string> rows = sql.prepare << q;
      for (auto& r : rows)
        out.push_back(r);
    });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    (*db)->shutdown();
    return out;
  }

  bool wait_until(const std::string& q, long long at_least,
                  std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (count(q) >= at_least)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(crash, fixture)

BOOST_AUTO_TEST_CASE(sigkill_in_the_middle_of_flows_then_restart_finishes_all) {
  {
    st::child_process first{args(true), {}, dir.path()};
    BOOST_REQUIRE_MESSAGE(first.wait_for_output("created", 60s), first.err());
    // Into the middle: state timeouts have fired and steps are running or
    // waiting on retry timers, but not everything is done.
    BOOST_REQUIRE(wait_until("SELECT COUNT(*) FROM order_events WHERE event "
                             "= 'step.failed'",
                             5, 30s));
    first.signal(SIGKILL);
    BOOST_REQUIRE(first.wait(10s));
  }
  auto pending_at_kill
    = ids("SELECT id FROM timers WHERE status = 'pending' ORDER BY id");
  auto done_at_kill = count("SELECT COUNT(*) FROM orders WHERE state = 'done'");
  BOOST_TEST_MESSAGE("at the kill: " << pending_at_kill.size()
                                     << " pending timers, " << done_at_kill
                                     << " orders done");
  BOOST_TEST(pending_at_kill.size() > 0u);
  BOOST_TEST(done_at_kill < orders);

  st::child_process second{args(false), {}, dir.path()};
  BOOST_REQUIRE_MESSAGE(second.wait_for_output("ready", 60s), second.err());
  BOOST_REQUIRE_MESSAGE(
    wait_until("SELECT COUNT(*) FROM orders WHERE state = 'done'", orders, 90s),
    "not every flow finished; states: "
      << count("SELECT COUNT(*) FROM orders WHERE state <> 'done'")
      << " not done\n"
      << second.err());
  // Every timer pending at the kill fired (or was replaced) after restart.
  for (auto& id : pending_at_kill)
    BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE id = '" + id
                     + "' AND status = 'pending'")
               == 0);
  BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE status = 'pending'")
             == 0);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status <> 'done'") == 0);
  // Each step's effect happened exactly once.
  std::ifstream in{dir.path() / "effects.log"};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  std::set<std::string> unique(lines.begin(), lines.end());
  BOOST_TEST(lines.size() == static_cast<size_t>(2 * orders));
  BOOST_TEST(unique.size() == lines.size());
  second.signal(SIGTERM);
  BOOST_TEST(second.wait(30s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
