#include "souk/orders/requests.hpp"

#include <nlohmann/json.hpp>

namespace souk::orders {

namespace {

// The detail of the latest `refund.requested` that changed the order's
// state (one a state refused asked for nothing); discarded if none.
nlohmann::json moving_request(const persistence::order_snapshot& s) {
  for (auto e = s.events.rbegin(); e != s.events.rend(); ++e)
    if (e->event == "refund.requested" && e->from_state != e->to_state)
      return nlohmann::json::parse(e->detail, nullptr, false);
  return nlohmann::json::value_t::discarded;
}

} // namespace

std::optional<int64_t> requested_refund(const persistence::order_snapshot& s) {
  auto detail = moving_request(s);
  if (detail.is_object() && detail.contains("amount")
      && detail["amount"].is_number_integer())
    return detail["amount"].get<int64_t>();
  return std::nullopt;
}

std::string refund_made_outside(const persistence::order_snapshot& s) {
  auto detail = moving_request(s);
  if (detail.is_object() && detail.contains(outside_refund_field)
      && detail[outside_refund_field].is_string())
    return detail[outside_refund_field].get<std::string>();
  return {};
}

} // namespace souk::orders
