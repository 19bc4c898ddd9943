#pragma once

// The messages service actors and callers exchange with the order engine.
// All of them stay inside one process, so CAF may pass them without
// serialisation support.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "souk/core/error.hpp"
#include "souk/orders/planner.hpp"
#include "souk/persistence/orders.hpp"

namespace souk::actors {

/// A service actor receives `(run_atom, action_call)` for every step it
/// implements and answers with an `action_result` (or a CAF error, which
/// counts as a failure). It must be idempotent on `idempotency_key`: the
/// same key may arrive again after a crash, a timeout or a retry, and must
/// not repeat the effect.
using run_atom = caf::atom_constant<caf::atom("run")>;

/// One step of one order, as a service actor sees it.
struct action_call {
  std::string order_id;
  std::string action;          ///< e.g. "wallet.credit_sale"
  std::string params;          ///< the step's `with:` as a JSON object
  std::string idempotency_key; ///< the same for every attempt of the step
  uint32_t attempt = 1;
};

/// A service's answer: `errc::ok`, or why the step failed (the template's
/// retry policy decides what follows).
struct action_result {
  errc code = errc::ok;
  std::string detail;
};

/// What an order actor reports about itself (`inspect`).
struct order_inspection {
  std::string order_id;
  std::string flow;
  int32_t flow_version = 0;
  std::string flow_hash;
  std::string state;
  int64_t version = 0;          ///< the order row's version
  std::string state_entered_at; ///< ISO UTC
  int64_t ms_in_state = 0;
  int32_t step_index = 0;   ///< the current step of the state
  int32_t step_attempt = 0; ///< its attempt (0: no step running)
  std::string step_action;  ///< its action, if any
  std::string last_error;
  std::string parked_from;                    ///< set when parked
  std::vector<persistence::timer_row> timers; ///< pending
  size_t mailbox_size = 0;                    ///< approximate
  bool step_in_flight = false; ///< a service is running the step now
  size_t queued = 0;           ///< inputs waiting inside the actor
  /// Crashes of this order's actor within the restart window.
  uint32_t restarts = 0;
  /// False: the actor did not answer in time (busy or stuck); only the
  /// order id, `restarts` and `last_error` are set.
  bool responsive = true;
};

} // namespace souk::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::action_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::action_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::order_inspection)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<souk::actors::order_inspection>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::orders::event_input)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::orders::outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::persistence::timer_row)
