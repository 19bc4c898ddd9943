// The blocking service's background rounds: a round that did a full batch
// (a backlog) is followed by as many rounds as may run at once, each on its
// own worker, and never more.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "souk/actors/blocking_service.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/testing/support.hpp"

namespace sa = souk::actors;

using namespace std::chrono_literals;

namespace {

// A backlog of items taken `batch` at a time. A round waits (up to a
// limit) until `want` rounds are inside at once, so rounds that run
// together are seen together however the threads are scheduled.
struct backlog {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = 0;
  size_t batch = 2;
  size_t want = 0;
  size_t inside = 0;
  size_t peak = 0;
  size_t rounds = 0;
  bool met = false;
  std::chrono::milliseconds limit = 3s;

  size_t round() {
    std::unique_lock lk{mu};
    ++rounds;
    ++inside;
    peak = std::max(peak, inside);
    if (inside >= want)
      met = true;
    cv.notify_all();
    cv.wait_for(lk, limit, [&] { return met; });
    auto n = std::min(left, batch);
    left -= n;
    --inside;
    cv.notify_all();
    return n;
  }
};

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor service;

  ~fixture() {
    if (service)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    service = nullptr;
    sys.await_all_actors_done();
  }

  void start(const std::shared_ptr<backlog>& b, size_t at_once,
             size_t threads) {
    sa::blocking_service_options o;
    o.name = "test";
    o.round = [b] { return b->round(); };
    o.batch = b->batch;
    o.rounds_at_once = at_once;
    o.poll = 1h; // only the start's nudge and full batches start rounds
    o.workers = std::make_shared<souk::worker_pool>(threads);
    service = sa::blocking_service(std::move(o)).start(sys);
  }
};

// Waits until the backlog is worked off and no round runs; then the most
// rounds that ran at once.
size_t peak_once_worked(backlog& b) {
  BOOST_REQUIRE(souk::testing::eventually(
    [&] {
      std::lock_guard lk{b.mu};
      return b.left == 0 && b.inside == 0;
    },
    10s));
  std::lock_guard lk{b.mu};
  return b.peak;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(blocking_service, fixture)

BOOST_AUTO_TEST_CASE(a_backlog_is_worked_by_every_round_allowed_at_once) {
  auto b = std::make_shared<backlog>();
  b->left = 40;
  b->want = 3;
  start(b, 3, 4);
  // The start's one nudge ran one round; its full batch started the rest.
  BOOST_TEST(peak_once_worked(*b) == 3u);
}

BOOST_AUTO_TEST_CASE(one_round_at_once_stays_one) {
  auto b = std::make_shared<backlog>();
  b->left = 6;
  b->want = 2; // never met: each round waits out its limit alone
  b->limit = 200ms;
  b->batch = 3;
  start(b, 1, 2);
  BOOST_TEST(peak_once_worked(*b) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
