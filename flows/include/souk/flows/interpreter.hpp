#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/flows/template.hpp"

namespace souk::flows {

// The interpreter is pure: it reads a template and answers questions. The
// caller (an order actor) owns the state, timers, retries' jitter and I/O.

/// Entering a state: what the caller must do there.
struct transition {
  std::string from;                    ///< empty when starting a flow
  std::string event;                   ///< empty when starting a flow
  std::string to;                      ///< the new state
  bool terminal = false;               ///< the order is finished
  std::vector<step> steps;             ///< to run in order (see next_step)
  std::optional<timeout_spec> timeout; ///< to arm; cancels the old one
};

/// The event is not handled in the current state (or the state is unknown
/// or terminal): the caller records it and stays where it is.
struct not_allowed {
  std::string state;
  std::string event;
};

/// The answer of `on_event`.
using event_result = std::variant<transition, not_allowed>;

/// Entering `tpl.initial` when an order is created.
transition start(const flow_template& tpl);

/// Entering `state` again on `event` (an operator's retry of an order that
/// was parked there); `errc::not_found` if the flow has no such state.
expected<transition> reenter(const flow_template& tpl, std::string_view state,
                             std::string_view event);

/// What `event` does in `state`.
event_result on_event(const flow_template& tpl, std::string_view state,
                      std::string_view event);

/// Run step `index` of the current state (attempt numbers start at 1).
struct run_step {
  size_t index = 0;
  uint32_t attempt = 1;
  std::string action;
  std::map<std::string, std::string> params;
};

/// Run step `index` again as attempt `attempt` after `delay` (the caller
/// adds jitter).
struct retry_step {
  size_t index = 0;
  uint32_t attempt = 2;
  std::chrono::milliseconds delay{0};
};

/// The steps are over: feed `event` (steps.done or steps.failed) to
/// `on_event`. `cause` is the last error for steps.failed.
struct emit_event {
  std::string event;
  errc cause = errc::ok;
};

/// The answer of the step driver.
using step_decision = std::variant<run_step, retry_step, emit_event>;

/// The first step of `state`, or steps.done if it has none.
/// Fails with `errc::not_found` if `state` is not in `tpl`.
expected<step_decision> first_step(const flow_template& tpl,
                                   std::string_view state);

/// What follows attempt `attempt` of step `index` of `state`, which ended
/// with `outcome` (`errc::ok` for success). Success moves to the next step
/// or emits steps.done; a failure whose code is in `give_up_on`, or the
/// last allowed attempt failing, emits steps.failed; any other failure
/// retries after `backoff(retry, attempt)`.
/// Fails with `errc::not_found` for an unknown state and `errc::internal`
/// for an index past the steps or attempt 0.
expected<step_decision> after_attempt(const flow_template& tpl,
                                      std::string_view state, size_t index,
                                      uint32_t attempt, errc outcome);

/// The delay after failed attempt `attempt` (>= 1):
/// initial * factor^(attempt - 1), capped at max_interval.
std::chrono::milliseconds backoff(const retry_policy& retry, uint32_t attempt);

/// The same for any growing delay (e.g. reconciliation's looks).
std::chrono::milliseconds backoff(std::chrono::milliseconds initial,
                                  double factor,
                                  std::chrono::milliseconds max_interval,
                                  uint32_t attempt);

} // namespace souk::flows
