// souk's actor system: one scheduler worker per core unless told otherwise,
// idle workers that wait instead of polling, and messages that still wake
// them up after they have gone idle.

#include <algorithm>
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "souk/actors/runtime.hpp"

namespace sa = souk::actors;

using namespace std::chrono_literals;

namespace {

size_t moderate_polls(caf::actor_system& sys) {
  // CAF's own default is 500.
  return caf::get_or(sys.config(), "work-stealing.moderate-poll-attempts",
                     size_t{500});
}

// Adds `step`. It takes an argument because CAF 0.17.6 binds a reference
// to a null tuple for function-based actors without one (UBSan rejects it).
caf::behavior echo_actor(caf::event_based_actor*, int step) {
  return {[step](int x) { return x + step; }};
}

// Asks an echo actor from outside the scheduler, as a pool thread would.
bool echoes(caf::actor_system& sys) {
  auto echo = sys.spawn(echo_actor, 1);
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(echo, std::chrono::seconds{5}, 41)
    .receive([&](int y) { ok = y == 42; }, [&](caf::error&) { ok = false; });
  self->send_exit(echo, caf::exit_reason::user_shutdown);
  return ok;
}

} // namespace

BOOST_AUTO_TEST_SUITE(runtime)

BOOST_AUTO_TEST_CASE(one_worker_per_core_that_waits_when_idle) {
  sa::runtime rt{{}};
  auto& sys = rt.system();
  BOOST_TEST(sys.scheduler().num_workers()
             == std::max(1u, std::thread::hardware_concurrency()));
  BOOST_TEST(moderate_polls(sys) == 0u);
  BOOST_TEST(echoes(sys));
  // Idle long enough for every worker to be waiting, not polling: a new
  // message still wakes one.
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(echoes(sys));
  rt.shutdown();
}

BOOST_AUTO_TEST_CASE(the_worker_count_and_polling_can_be_chosen) {
  sa::runtime rt{{3, true}};
  BOOST_TEST(rt.system().scheduler().num_workers() == 3u);
  BOOST_TEST(moderate_polls(rt.system()) == 500u);
  BOOST_TEST(echoes(rt.system()));
  rt.shutdown();
}

BOOST_AUTO_TEST_SUITE_END()
