// The creator's dashboard: sales and earnings over time, per currency, from
// the ledger (docs/wallet.md, "Dashboard"). Read-only; creators only, each
// sees their own money.

#include <string>
#include <vector>

#include "souk/accounts/service.hpp"
#include "souk/core/time.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/wallet/sales.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

json figures_json(const wallet::sales_figures& f) {
  return {{"sales", f.sales},     {"gross", f.gross},
          {"fees", f.fees},       {"net", f.net},
          {"refunds", f.refunds}, {"earnings", f.earnings()}};
}

json sales_json(const wallet::sales_range& range,
                const std::vector<wallet::sales_series>& series) {
  auto items = json::array();
  for (auto& s : series) {
    auto points = json::array();
    for (auto& p : s.points) {
      auto point = figures_json(p.figures);
      point["start"] = to_iso_day(p.start);
      points.push_back(std::move(point));
    }
    items.push_back({{"currency", s.currency},
                     {"points", std::move(points)},
                     {"totals", figures_json(s.totals)}});
  }
  return {{"from", to_iso_day(range.from)},
          {"to", to_iso_day(range.to)},
          {"bucket", std::string{wallet::to_string(range.by)}},
          {"series", std::move(items)}};
}

} // namespace

void add_dashboard_routes(router& r, std::shared_ptr<const services> svc) {
  const auto creators = access::only({std::string{accounts::creator}});

  r.add("GET", "/api/v1/dashboard/sales",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto range = wallet::parse_sales_range(
                  req.query_param("from"), req.query_param("to"),
                  req.query_param("bucket"), day_of(now()));
                if (!range)
                  return reply(problem(range.err(), req.request_id));
                auto series = wallet::sales_of(*svc->db, who->who.id, *range);
                if (!series)
                  return reply(problem(series.err(), req.request_id));
                reply(json_response(200, sales_json(*range, *series)));
              }));
}

} // namespace souk::http
