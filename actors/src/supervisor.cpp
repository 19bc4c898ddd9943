#include "souk/actors/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "souk/core/log.hpp"

namespace souk::actors {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct child_slot {
  child_spec spec;
  caf::actor handle;
  std::deque<caf::actor_clock::time_point> crashes; // within the window
  child_status status;
};

struct supervisor_state {
  restart_policy policy;
  // Shared with the cleanup functor, which outlives the behavior.
  std::shared_ptr<std::vector<child_slot>> slots
    = std::make_shared<std::vector<child_slot>>();
  std::shared_ptr<supervision_board> board;
  bool stopping = false;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "souk.supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void on_crash(supervisor_actor* self, size_t index, const caf::error& reason);

void start_child(supervisor_actor* self, size_t index) {
  auto& slot = (*self->state.slots)[index];
  std::string failure;
  try {
    slot.handle = slot.spec.start(self->system());
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!slot.handle) {
    // A child that cannot even start counts as a crash.
    return on_crash(
      self, index,
      caf::make_error(caf::sec::runtime_error, "could not start: " + failure));
  }
  self->monitor(slot.handle);
  slot.status.running = true;
  self->state.board->update(slot.status);
}

void on_crash(supervisor_actor* self, size_t index, const caf::error& reason) {
  auto& st = self->state;
  auto& slot = (*st.slots)[index];
  slot.status.running = false;
  slot.status.last_error = caf::to_string(reason);
  auto now = self->clock().now();
  slot.crashes.push_back(now);
  while (!slot.crashes.empty() && now - slot.crashes.front() > st.policy.window)
    slot.crashes.pop_front();
  auto n = static_cast<uint32_t>(slot.crashes.size());
  if (n > st.policy.max_restarts) {
    slot.status.given_up = true;
    st.board->update(slot.status);
    log::critical("supervisor: {} crashed {} times within {}ms; giving up "
                  "(last error: {})",
                  slot.spec.name, n, st.policy.window.count(),
                  slot.status.last_error);
    return;
  }
  auto delay = st.policy.jittered(
    n, std::uniform_real_distribution<double>{0.0, 1.0}(st.rng));
  st.board->update(slot.status);
  log::warn("supervisor: {} stopped ({}); restart {} in {}ms", slot.spec.name,
            slot.status.last_error, n, delay.count());
  self->delayed_send(self, delay, restart_atom::value,
                     static_cast<uint64_t>(index));
}

void on_child_down(supervisor_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  auto i = std::find_if(st.slots->begin(), st.slots->end(), [&](auto& s) {
    return s.handle && s.handle.address() == msg.source;
  });
  if (i == st.slots->end())
    return;
  i->handle = nullptr;
  if (st.stopping || !msg.reason || msg.reason == caf::exit_reason::normal) {
    i->status.running = false;
    st.board->update(i->status);
    return;
  }
  on_crash(self, static_cast<size_t>(i - st.slots->begin()), msg.reason);
}

caf::behavior supervisor(supervisor_actor* self, restart_policy policy,
                         std::vector<child_spec> children,
                         std::shared_ptr<supervision_board> board) {
  self->state.policy = policy;
  self->state.board = std::move(board);
  for (auto& spec : children) {
    child_slot slot;
    slot.status.name = spec.name;
    slot.spec = std::move(spec);
    self->state.slots->push_back(std::move(slot));
  }
  // However the supervisor ends (exit message, exception, bug), its children
  // end with it: they are monitored, not linked, so tell them.
  self->attach_functor([slots = self->state.slots,
                        board = self->state.board](const caf::error& reason) {
    auto why = reason ? reason : caf::error{caf::exit_reason::user_shutdown};
    for (auto& slot : *slots) {
      if (slot.handle)
        slot.handle->enqueue(
          nullptr, caf::make_message_id(),
          caf::make_message(caf::exit_msg{slot.handle.address(), why}),
          nullptr);
      slot.handle = nullptr;
      slot.status.running = false;
      board->update(slot.status);
    }
  });
  self->set_down_handler(
    [self](caf::down_msg& msg) { on_child_down(self, msg); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    // Any exit message is an order to stop, a `normal` one included.
    self->state.stopping = true;
    self->quit(msg.reason ? msg.reason
                          : caf::error{caf::exit_reason::user_shutdown});
  });
  for (size_t i = 0; i < self->state.slots->size(); ++i)
    start_child(self, i);
  return {
    [self](restart_atom, uint64_t index) {
      if (self->state.stopping || index >= self->state.slots->size())
        return;
      auto& slot = (*self->state.slots)[index];
      if (slot.handle)
        return; // already running
      ++slot.status.restarts;
      start_child(self, index);
    },
  };
}

} // namespace

std::chrono::milliseconds restart_policy::delay(uint32_t n) const {
  auto d = initial;
  for (uint32_t i = 1; i < n && d < max; ++i)
    d *= std::max<uint32_t>(factor, 1);
  return std::min(d, max);
}

std::chrono::milliseconds restart_policy::jittered(uint32_t n,
                                                   double sample) const {
  auto j = std::clamp(jitter, 0.0, 1.0);
  auto scale = 1.0 + j * (2.0 * sample - 1.0);
  return std::chrono::milliseconds{
    static_cast<int64_t>(static_cast<double>(delay(n).count()) * scale)};
}

void supervision_board::update(const child_status& x) {
  std::lock_guard guard{mx_};
  children_[x.name] = x;
}

std::vector<child_status> supervision_board::snapshot() const {
  std::lock_guard guard{mx_};
  std::vector<child_status> out;
  for (auto& [name, status] : children_)
    out.push_back(status);
  return out;
}

bool supervision_board::healthy() const {
  std::lock_guard guard{mx_};
  return std::none_of(children_.begin(), children_.end(),
                      [](auto& kv) { return kv.second.given_up; });
}

caf::actor spawn_supervisor(caf::actor_system& sys, restart_policy policy,
                            std::vector<child_spec> children,
                            std::shared_ptr<supervision_board> board) {
  return sys.spawn(supervisor, policy, std::move(children), std::move(board));
}

} // namespace souk::actors
