#include "souk/orders/requests.hpp"

#include <nlohmann/json.hpp>

namespace souk::orders {

std::optional<int64_t> requested_refund(const persistence::order_snapshot& s) {
  for (auto e = s.events.rbegin(); e != s.events.rend(); ++e) {
    if (e->event != "refund.requested" || e->from_state == e->to_state)
      continue;
    auto detail = nlohmann::json::parse(e->detail, nullptr, false);
    if (detail.is_object() && detail.contains("amount")
        && detail["amount"].is_number_integer())
      return detail["amount"].get<int64_t>();
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace souk::orders
