#pragma once

#include <cstdint>
#include <optional>

#include "souk/persistence/orders.hpp"

namespace souk::orders {

/// The amount (minor units) of the refund request that moved the order on:
/// the `amount` in the detail of its latest `refund.requested` event that
/// changed its state (one a state refused asked for nothing). Empty: the
/// request named no amount, meaning whatever is left.
std::optional<int64_t> requested_refund(const persistence::order_snapshot& s);

} // namespace souk::orders
