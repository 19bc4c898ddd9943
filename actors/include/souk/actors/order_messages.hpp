#pragma once

// The messages service actors and callers exchange with the order engine.
// All of them stay inside one process, so CAF may pass them without
// serialisation support.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "souk/actors/inspection.hpp"
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
  /// The order's row as its actor holds it when it starts the step (the
  /// actor is the order's only writer), so a service that needs the
  /// order's buyer, product or amount need not read it again.
  persistence::order_row order;
};

/// A service's answer: `errc::ok`, or why the step failed (the template's
/// retry policy decides what follows).
struct action_result {
  errc code = errc::ok;
  std::string detail;
};

} // namespace souk::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::action_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::action_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::order_inspection)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<souk::actors::order_inspection>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::orders::event_input)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::orders::outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::persistence::timer_row)
