#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "souk/actors/error.hpp"
#include "souk/actors/supervisor.hpp"

namespace sa = souk::actors;

using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// Everything the test needs to know about one child_spec's instances. The
// test coordinator runs every actor on the test's own thread, so no locking.
struct child_log {
  enum class failure { throws, invalid_handle };

  /// Every instance `start` returned, oldest first; back() is the current one.
  std::vector<caf::actor> spawned;
  /// Exit reasons of the instances that have stopped, in order.
  std::vector<caf::error> exits;
  /// Calls to `start`, failed ones included.
  size_t attempts = 0;
  /// Makes the next `fail_next` calls to `start` fail the way `how` says.
  size_t fail_next = 0;
  failure how = failure::throws;
};

// A child that crashes (with `why`) or stops on command. It takes an argument
// because CAF 0.17.6 binds a reference to a null tuple for function-based
// actors without one, which UBSan rejects.
caf::behavior test_child(caf::event_based_actor* self, std::string why) {
  return {
    [self, why](crash_atom) {
      self->quit(caf::make_error(souk::errc::internal, why));
    },
    [self](stop_atom) { self->quit(); },
  };
}

sa::child_spec logged_child(std::string name, std::shared_ptr<child_log> log) {
  return {std::move(name), [log](caf::actor_system& sys) -> caf::actor {
            ++log->attempts;
            if (log->fail_next > 0) {
              --log->fail_next;
              if (log->how == child_log::failure::throws)
                throw std::runtime_error("no resources");
              return caf::actor{};
            }
            auto h = sys.spawn(test_child, "boom");
            h->attach_functor([log](const caf::error& reason) {
              log->exits.push_back(reason);
            });
            log->spawned.push_back(h);
            return h;
          }};
}

// Delays 100, 200, 400, 800, then 1000ms; generous limits so that only the
// tests that mean to give up do.
sa::restart_policy test_policy() {
  sa::restart_policy p;
  p.initial = 100ms;
  p.factor = 2;
  p.max = 1'000ms;
  p.max_restarts = 10;
  p.window = 60'000ms;
  return p;
}

// An actor system on CAF's deterministic scheduler: nothing runs until the
// test calls `run` or `advance`, and time only moves when the test says so.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<sa::supervision_board> board
    = std::make_shared<sa::supervision_board>();
  std::vector<std::shared_ptr<child_log>> logs;
  caf::actor sup;
  bool sup_exited = false;

  fixture()
    : sys(init(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

  // ~actor_system waits for every actor, and on this scheduler nothing runs
  // unless we run it: stop everything and run the scheduler before that.
  ~fixture() {
    if (sup)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    for (auto& log : logs)
      for (auto& h : log->spawned)
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    sched.run();
    // Drop our handles while the system still exists.
    sup = nullptr;
    for (auto& log : logs)
      log->spawned.clear();
  }

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    return cfg;
  }

  std::shared_ptr<child_log> new_log() {
    logs.push_back(std::make_shared<child_log>());
    return logs.back();
  }

  void start(sa::restart_policy policy, std::vector<sa::child_spec> children) {
    sup = sa::spawn_supervisor(sys, policy, std::move(children), board);
    sup->attach_functor([this] { sup_exited = true; });
    sched.run();
  }

  template<class Atom>
  void tell(const caf::actor& dest, Atom x) {
    BOOST_REQUIRE(dest);
    caf::anon_send(dest, x);
    sched.run();
  }

  // Moves the clock; delayed messages that fall due are delivered and handled.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  sa::child_status status_of(const std::string& name) const {
    for (auto& x : board->snapshot())
      if (x.name == name)
        return x;
    BOOST_FAIL("the board does not list " << name);
    return {};
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor, fixture)

BOOST_AUTO_TEST_CASE(children_start_at_once) {
  auto a = new_log();
  auto b = new_log();
  start(test_policy(), {logged_child("a", a), logged_child("b", b)});
  BOOST_TEST(a->spawned.size() == 1u);
  BOOST_TEST(b->spawned.size() == 1u);
  auto snap = board->snapshot();
  BOOST_REQUIRE_EQUAL(snap.size(), 2u);
  for (auto& x : snap) {
    BOOST_TEST_CONTEXT("child " << x.name) {
      BOOST_TEST(x.running);
      BOOST_TEST(!x.given_up);
      BOOST_TEST(x.restarts == 0u);
      BOOST_TEST(x.last_error.empty());
    }
  }
  BOOST_TEST(board->healthy());
  // They are alive: neither has exited.
  BOOST_TEST(a->exits.empty());
  BOOST_TEST(b->exits.empty());
}

BOOST_AUTO_TEST_CASE(crashes_restart_with_exponential_backoff_up_to_max) {
  auto log = new_log();
  auto policy = test_policy();
  start(policy, {logged_child("worker", log)});
  // initial * factor^(n-1), capped at max.
  const std::vector<caf::timespan> expected{100ms, 200ms,  400ms,
                                            800ms, 1000ms, 1000ms};
  for (uint32_t n = 1; n <= expected.size(); ++n) {
    BOOST_TEST_CONTEXT("crash #" << n) {
      auto delay = policy.delay(n);
      BOOST_TEST(caf::timespan{delay}.count() == expected[n - 1].count());
      tell(log->spawned.back(), crash_atom::value);
      BOOST_REQUIRE_EQUAL(log->exits.size(), n);
      auto st = status_of("worker");
      BOOST_TEST(!st.running);
      BOOST_TEST(st.restarts == n - 1);
      BOOST_TEST(st.last_error.find("boom") != std::string::npos,
                 "last_error: " << st.last_error);
      advance(delay - 1ms);
      BOOST_TEST(log->spawned.size() == n); // not yet
      BOOST_TEST(!status_of("worker").running);
      advance(1ms);
      BOOST_TEST(log->spawned.size() == n + 1); // exactly now
      st = status_of("worker");
      BOOST_TEST(st.running);
      BOOST_TEST(st.restarts == n);
      BOOST_TEST(!st.given_up);
    }
  }
  BOOST_TEST(board->healthy());
}

BOOST_AUTO_TEST_CASE(too_many_crashes_within_window_give_up) {
  auto log = new_log();
  auto other = new_log();
  auto policy = test_policy();
  policy.max_restarts = 3;
  start(policy, {logged_child("worker", log), logged_child("other", other)});
  for (uint32_t n = 1; n <= policy.max_restarts; ++n) {
    tell(log->spawned.back(), crash_atom::value);
    advance(policy.delay(n));
    BOOST_REQUIRE_EQUAL(log->spawned.size(), n + 1);
    BOOST_TEST(board->healthy());
  }
  // Crash number max_restarts + 1 within the window: no more restarts.
  tell(log->spawned.back(), crash_atom::value);
  auto st = status_of("worker");
  BOOST_TEST(st.given_up);
  BOOST_TEST(!st.running);
  BOOST_TEST(st.restarts == policy.max_restarts);
  BOOST_TEST(!st.last_error.empty());
  BOOST_TEST(!board->healthy());
  advance(policy.window + policy.max);
  BOOST_TEST(log->spawned.size() == policy.max_restarts + 1u);
  BOOST_TEST(log->attempts == policy.max_restarts + 1u);
  BOOST_TEST(status_of("worker").given_up);
  // The sibling is unaffected.
  auto sib = status_of("other");
  BOOST_TEST(sib.running);
  BOOST_TEST(!sib.given_up);
  BOOST_TEST(other->spawned.size() == 1u);
  BOOST_TEST(other->exits.empty());
}

BOOST_AUTO_TEST_CASE(crashes_further_apart_than_window_never_give_up) {
  auto log = new_log();
  auto policy = test_policy();
  policy.max_restarts = 2;
  policy.window = 1'000ms;
  start(policy, {logged_child("worker", log)});
  for (uint32_t n = 1; n <= 3 * policy.max_restarts; ++n) {
    BOOST_TEST_CONTEXT("crash #" << n) {
      tell(log->spawned.back(), crash_atom::value);
      // The earlier crash fell out of the window, so this one counts as the
      // first again and waits only the initial delay.
      advance(policy.initial - 1ms);
      BOOST_TEST(log->spawned.size() == n);
      advance(1ms);
      BOOST_REQUIRE_EQUAL(log->spawned.size(), n + 1);
      auto st = status_of("worker");
      BOOST_TEST(st.running);
      BOOST_TEST(!st.given_up);
      BOOST_TEST(st.restarts == n);
      advance(policy.window + 1ms);
    }
  }
  BOOST_TEST(board->healthy());
}

BOOST_AUTO_TEST_CASE(normal_exit_is_not_restarted) {
  auto log = new_log();
  start(test_policy(), {logged_child("worker", log)});
  tell(log->spawned.back(), stop_atom::value);
  BOOST_REQUIRE_EQUAL(log->exits.size(), 1u);
  BOOST_TEST(!log->exits.front());
  auto st = status_of("worker");
  BOOST_TEST(!st.running);
  BOOST_TEST(!st.given_up);
  BOOST_TEST(st.restarts == 0u);
  BOOST_TEST(st.last_error.empty());
  advance(1min);
  BOOST_TEST(log->spawned.size() == 1u);
  BOOST_TEST(log->attempts == 1u);
  BOOST_TEST(board->healthy());
}

BOOST_AUTO_TEST_CASE(exit_stops_children_and_restarts_nothing) {
  auto a = new_log();
  auto b = new_log();
  start(test_policy(), {logged_child("a", a), logged_child("b", b)});
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  BOOST_TEST(sup_exited);
  for (auto& log : {a, b}) {
    BOOST_REQUIRE_EQUAL(log->exits.size(), 1u);
    BOOST_TEST((log->exits.front() == caf::exit_reason::user_shutdown));
  }
  advance(1min);
  BOOST_TEST(a->spawned.size() == 1u);
  BOOST_TEST(b->spawned.size() == 1u);
  BOOST_TEST(!sched.has_job());
}

BOOST_AUTO_TEST_CASE(exit_drops_a_pending_restart) {
  auto log = new_log();
  auto policy = test_policy();
  start(policy, {logged_child("worker", log)});
  tell(log->spawned.back(), crash_atom::value);
  BOOST_TEST(!status_of("worker").running);
  // The restart is scheduled but not due; the supervisor stops first.
  advance(policy.delay(1) / 2);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  BOOST_TEST(sup_exited);
  advance(1min);
  BOOST_TEST(log->spawned.size() == 1u);
  BOOST_TEST(log->attempts == 1u);
}

BOOST_AUTO_TEST_CASE(start_that_throws_counts_as_crash) {
  auto log = new_log();
  log->fail_next = 2;
  log->how = child_log::failure::throws;
  auto policy = test_policy();
  start(policy, {logged_child("worker", log)});
  BOOST_TEST(log->attempts == 1u);
  BOOST_TEST(log->spawned.empty());
  auto st = status_of("worker");
  BOOST_TEST(!st.running);
  BOOST_TEST(st.last_error.find("no resources") != std::string::npos,
             "last_error: " << st.last_error);
  // Retried with the same backoff as a crash.
  advance(policy.delay(1) - 1ms);
  BOOST_TEST(log->attempts == 1u);
  advance(1ms);
  BOOST_TEST(log->attempts == 2u);
  BOOST_TEST(log->spawned.empty());
  BOOST_TEST(status_of("worker").restarts == 1u);
  advance(policy.delay(2) - 1ms);
  BOOST_TEST(log->attempts == 2u);
  advance(1ms);
  BOOST_TEST(log->attempts == 3u);
  BOOST_REQUIRE_EQUAL(log->spawned.size(), 1u);
  st = status_of("worker");
  BOOST_TEST(st.running);
  BOOST_TEST(st.restarts == 2u);
  BOOST_TEST(!st.given_up);
  // The child that finally started is supervised like any other, and the
  // failed starts count as crashes within the window: this is the third.
  tell(log->spawned.back(), crash_atom::value);
  advance(policy.delay(3) - 1ms);
  BOOST_TEST(log->spawned.size() == 1u);
  advance(1ms);
  BOOST_TEST(log->spawned.size() == 2u);
}

BOOST_AUTO_TEST_CASE(start_returning_invalid_handle_counts_as_crash) {
  auto log = new_log();
  log->fail_next = 1;
  log->how = child_log::failure::invalid_handle;
  auto policy = test_policy();
  start(policy, {logged_child("worker", log)});
  BOOST_TEST(log->attempts == 1u);
  auto st = status_of("worker");
  BOOST_TEST(!st.running);
  BOOST_TEST(!st.last_error.empty());
  advance(policy.delay(1) - 1ms);
  BOOST_TEST(log->attempts == 1u);
  advance(1ms);
  BOOST_TEST(log->attempts == 2u);
  BOOST_REQUIRE_EQUAL(log->spawned.size(), 1u);
  BOOST_TEST(status_of("worker").running);
}

BOOST_AUTO_TEST_CASE(start_failures_alone_can_give_up) {
  auto log = new_log();
  log->fail_next = 1'000;
  auto policy = test_policy();
  policy.max_restarts = 2;
  start(policy, {logged_child("worker", log)});
  advance(policy.delay(1));
  advance(policy.delay(2));
  BOOST_TEST(log->attempts == 3u);
  BOOST_TEST(status_of("worker").given_up);
  BOOST_TEST(!board->healthy());
  advance(1min);
  BOOST_TEST(log->attempts == 3u);
}

BOOST_AUTO_TEST_CASE(jitter_spreads_the_delay_around_its_value) {
  sa::restart_policy p;
  p.jitter = 0.25;
  BOOST_TEST(p.jittered(1, 0.0).count() == 150);
  BOOST_TEST(p.jittered(1, 0.5).count() == 200);
  BOOST_TEST(p.jittered(2, 0.999).count() >= 499);
  p.jitter = 0;
  BOOST_TEST(p.jittered(3, 0.9).count() == 800);
}

BOOST_AUTO_TEST_CASE(a_jittered_restart_comes_within_its_bounds) {
  auto a = new_log();
  auto policy = test_policy();
  policy.jitter = 0.5;
  start(policy, {logged_child("a", a)});
  tell(a->spawned.back(), crash_atom::value);
  advance(49ms); // the earliest is 50% of 100ms
  BOOST_TEST(a->spawned.size() == 1u);
  advance(101ms); // the latest is 150%
  BOOST_TEST(a->spawned.size() == 2u);
}

BOOST_AUTO_TEST_CASE(delay_is_initial_times_factor_power_capped_at_max) {
  sa::restart_policy p; // defaults: 200ms, x2, max 30s
  BOOST_TEST(p.delay(1).count() == 200);
  BOOST_TEST(p.delay(2).count() == 400);
  BOOST_TEST(p.delay(3).count() == 800);
  BOOST_TEST(p.delay(8).count() == 25'600);
  BOOST_TEST(p.delay(9).count() == 30'000); // 51'200 capped
  BOOST_TEST(p.delay(1'000).count() == 30'000);
  p.initial = 50ms;
  p.factor = 3;
  p.max = 1'000ms;
  BOOST_TEST(p.delay(1).count() == 50);
  BOOST_TEST(p.delay(2).count() == 150);
  BOOST_TEST(p.delay(3).count() == 450);
  BOOST_TEST(p.delay(4).count() == 1'000);
  // A factor of 1 (or a meaningless 0) keeps the delay constant.
  p.factor = 1;
  BOOST_TEST(p.delay(5).count() == 50);
  p.factor = 0;
  BOOST_TEST(p.delay(5).count() == 50);
  // An initial delay above the cap is capped too.
  p.initial = 5'000ms;
  BOOST_TEST(p.delay(1).count() == 1'000);
  // Huge factors must not overflow past the cap.
  p.initial = 1ms;
  p.factor = 4'000'000'000u;
  BOOST_TEST(p.delay(1).count() == 1);
  BOOST_TEST(p.delay(2).count() == 1'000);
  BOOST_TEST(p.delay(30).count() == 1'000);
}

BOOST_AUTO_TEST_SUITE_END()
