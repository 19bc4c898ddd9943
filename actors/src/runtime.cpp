#include "souk/actors/runtime.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

namespace souk::actors {

struct runtime::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> adopted;
  bool stopped = false;
};

runtime::runtime(options opts) : impl_(std::make_unique<impl>()) {
  // CAF's own default is at least four workers, even on two cores; souk's
  // actors only route messages (blocking work runs on pools), so one worker
  // per core is plenty and leaves the cores to the pools and the database.
  size_t threads = opts.scheduler_threads;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  impl_->cfg.set("scheduler.max-threads", threads);
  // An idle CAF 0.17 worker first polls its queue 100 times, then 500 more
  // times with a 50 us sleep between polls, before it waits on a condition
  // variable: tens of thousands of wake-ups a second on a busy server,
  // each taking a core from work that has some. Skip the sleeping polls.
  if (!opts.poll_when_idle)
    impl_->cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
}

runtime::~runtime() {
  shutdown();
}

caf::actor_system& runtime::system() {
  return *impl_->sys;
}

void runtime::adopt(const caf::actor& top) {
  impl_->adopted.push_back(top);
}

void runtime::shutdown() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  for (auto& a : impl_->adopted)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  impl_->adopted.clear();
  impl_->sys->await_all_actors_done();
}

} // namespace souk::actors
