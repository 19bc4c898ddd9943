#include "souk/actors/runtime.hpp"

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
  if (opts.scheduler_threads > 0)
    impl_->cfg.set("scheduler.max-threads",
                   static_cast<size_t>(opts.scheduler_threads));
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
