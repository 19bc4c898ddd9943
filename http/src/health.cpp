// GET /healthz and GET /readyz.

#include <fmt/format.h>

#include "souk/actors/supervisor.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/http/routes.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

// Runs on a database thread: the checks block.
response readiness(const services& svc, const std::string& request_id) {
  nlohmann::json checks = nlohmann::json::object();
  std::vector<std::string> failing;
  if (auto err = svc.db->ping()) {
    checks["database"] = "unreachable";
    failing.push_back("database unreachable");
  } else {
    checks["database"] = "ok";
    auto state = persistence::inspect(
      *svc.db, persistence::shipped_migrations(svc.db->kind()));
    if (!state) {
      checks["migrations"] = "error";
      failing.push_back("migrations: " + state.err().detail);
    } else if (!state->pending.empty()) {
      checks["migrations"] = fmt::format("{} pending", state->pending.size());
      failing.push_back(checks["migrations"].get<std::string>());
    } else {
      checks["migrations"] = "ok";
    }
  }
  if (svc.board && !svc.board->healthy()) {
    checks["actors"] = "a supervised actor was given up on";
    failing.push_back("actors");
  } else {
    checks["actors"] = "ok";
  }
  if (svc.draining && svc.draining()) {
    checks["draining"] = true;
    failing.push_back("shutting down");
  }
  if (failing.empty())
    return json_response(
      200, {{"status", "ready"}, {"node_id", svc.node_id}, {"checks", checks}});
  std::string detail = "not ready: ";
  for (size_t i = 0; i < failing.size(); ++i)
    detail += (i ? "; " : "") + failing[i];
  auto res = problem(errc::unavailable, detail, request_id);
  auto doc = nlohmann::json::parse(res.body);
  doc["checks"] = checks;
  res.body = doc.dump();
  res.header("Retry-After", "5");
  return res;
}

} // namespace

void add_health_routes(router& r, std::shared_ptr<const services> svc) {
  r.add("GET", "/healthz", [](const request&, reply_fn reply) {
    // Alive: the process answers. Deliberately checks nothing else.
    reply(json_response(200, {{"status", "ok"}}));
  });
  r.add("GET", "/readyz", [svc](const request& req, reply_fn reply) {
    svc->db->post([svc, id = req.request_id, reply = std::move(reply)] {
      reply(readiness(*svc, id));
    });
  });
}

void add_routes(router& r, std::shared_ptr<const services> svc) {
  add_health_routes(r, svc);
  add_account_routes(r, svc);
  add_product_routes(r, svc);
  add_order_routes(r, svc);
  add_wallet_routes(r, svc);
  add_payout_routes(r, svc);
  add_dashboard_routes(r, svc);
  add_download_routes(r, svc);
  add_licence_routes(r, svc);
  add_admin_routes(r, svc);
  if (svc->store)
    add_file_routes(r, svc);
}

} // namespace souk::http
