#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "souk/actors/heartbeat.hpp"
#include "souk/actors/supervisor.hpp"
#include "souk/core/ids.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/nodes.hpp"
#include "souk/testing/support.hpp"

namespace sa = souk::actors;
namespace sp = souk::persistence;

using namespace std::chrono_literals;

namespace {

// True once `pred` holds; false if it still does not after `limit`. The
// heartbeat runs on its own thread in real time, so the test polls.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds limit = 5s) {
  return souk::testing::eventually(pred, limit, 10ms);
}

// Declared in destruction order: the actor system stops (and with it every
// use of the pool) before the pool closes and the scratch database is dropped.
struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<sa::supervision_board> board
    = std::make_shared<sa::supervision_board>();
  caf::actor sup;

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  // ~actor_system waits for every actor; the supervisor takes its children
  // down with it.
  ~fixture() {
    if (sup)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sup = nullptr;
    sys.await_all_actors_done();
  }

  std::string register_node() {
    sp::node_row row;
    row.id = souk::new_uuid();
    row.hostname = "host-a";
    row.pid = 4242;
    row.version = "0.1.0";
    row.listen = "127.0.0.1:8080";
    auto r = sp::node_repository{*db}.register_node(row);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    return row.id;
  }

  std::string heartbeat_of(const std::string& id) {
    auto all = sp::node_repository{*db}.list(false);
    BOOST_REQUIRE_MESSAGE(all, (all ? "" : all.err().detail));
    for (auto& n : *all)
      if (n.id == id)
        return n.heartbeat_at;
    BOOST_FAIL("node " << id << " is not listed");
    return {};
  }

  std::optional<sa::child_status> status_of(const std::string& name) const {
    for (auto& x : board->snapshot())
      if (x.name == name)
        return x;
    return std::nullopt;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(heartbeat, fixture)

BOOST_AUTO_TEST_CASE(heartbeat_at_keeps_moving_forward) {
  auto id = register_node();
  auto registered = heartbeat_of(id);
  sup = sa::spawn_supervisor(sys, sa::restart_policy{},
                             {sa::node_heartbeat(db, id, 50ms)}, board);
  std::string first;
  BOOST_REQUIRE(eventually([&] {
    first = heartbeat_of(id);
    return first > registered;
  }));
  // Not just once: the next tick moves it again.
  BOOST_REQUIRE(eventually([&] { return heartbeat_of(id) > first; }));
  auto st = status_of("node_heartbeat");
  BOOST_REQUIRE(st);
  BOOST_TEST(st->running);
  BOOST_TEST(st->restarts == 0u);
  BOOST_TEST(st->last_error.empty());
  BOOST_TEST(board->healthy());
}

BOOST_AUTO_TEST_CASE(failed_heartbeat_crashes_and_is_restarted) {
  sa::restart_policy policy;
  policy.initial = 10ms;
  policy.max = 40ms;
  policy.max_restarts = 1'000;
  auto unknown = souk::new_uuid(); // never registered: heartbeat is not_found
  sup = sa::spawn_supervisor(sys, policy,
                             {sa::node_heartbeat(db, unknown, 50ms)}, board);
  std::optional<sa::child_status> st;
  BOOST_REQUIRE(eventually([&] {
    st = status_of("node_heartbeat");
    return st && st->restarts >= 1 && !st->last_error.empty();
  }));
  BOOST_TEST(st->last_error.find("not registered") != std::string::npos,
             "last_error: " << st->last_error);
  BOOST_TEST(!st->given_up);
  BOOST_TEST(board->healthy());
  // It keeps trying, with backoff, rather than stopping after one restart.
  BOOST_REQUIRE(eventually([&] {
    st = status_of("node_heartbeat");
    return st && st->restarts >= 3;
  }));
}

// Taken for dead by another node (marked stopped), the node is told once
// through `fenced`, and its heartbeat no longer moves the row.
BOOST_AUTO_TEST_CASE(a_node_marked_stopped_is_fenced) {
  auto id = register_node();
  std::atomic<int> calls{0};
  std::string reason;
  std::mutex mx;
  sup = sa::spawn_supervisor(sys, sa::restart_policy{},
                             {sa::node_heartbeat(db, id, 20ms,
                                                 [&](const souk::error& e) {
                                                   std::lock_guard lock{mx};
                                                   reason = e.detail;
                                                   ++calls;
                                                 })},
                             board);
  std::this_thread::sleep_for(60ms);
  BOOST_TEST(calls.load() == 0);
  BOOST_REQUIRE(!sp::node_repository{*db}.mark_stopped(id));
  BOOST_REQUIRE(eventually([&] { return calls.load() > 0; }));
  std::lock_guard lock{mx};
  BOOST_TEST(reason.find("marked stopped") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
