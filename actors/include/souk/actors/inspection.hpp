#pragma once

// What the order engine reports about a live order actor. Plain data, free
// of CAF, so the HTTP layer can show it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "souk/persistence/orders.hpp"

namespace souk::actors {

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
