#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "souk/persistence/orders.hpp"

namespace souk::orders {

/// The amount (minor units) of the refund request that moved the order on:
/// the `amount` in the detail of its latest `refund.requested` event that
/// changed its state (one a state refused asked for nothing). Empty: the
/// request named no amount, meaning whatever is left.
std::optional<int64_t> requested_refund(const persistence::order_snapshot& s);

/// The member of a `refund.requested` detail naming the `refunds` row of a
/// refund the gateway made already (in its dashboard, outside souk): the
/// flow takes the refund as usual, and `payment.refund` asks for nothing.
inline constexpr const char* outside_refund_field = "outside_refund";

/// The `refunds` row id in `outside_refund_field` of the refund request that
/// moved the order on; empty if the request was souk's own.
std::string refund_made_outside(const persistence::order_snapshot& s);

} // namespace souk::orders
