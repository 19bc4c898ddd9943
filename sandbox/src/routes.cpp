// The HTTP face of the engine: Paystack's paths, its Bearer authentication
// and its envelope. Handlers only touch memory under the engine's lock, so
// they never block the event loop; webhooks leave from the sender threads.

#include "routes.hpp"

#include <functional>
#include <utility>

namespace souk::sandbox {

namespace {

using route_fn = std::function<answer(engine&, const http::request&)>;
using body_fn = std::function<answer(engine&, const json&)>;

http::response to_response(const answer& a) {
  http::response res;
  res.status = a.http_status;
  res.content_type = "application/json";
  res.body
    = a.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

// Every API route: Bearer secret key, else 401 as Paystack answers it.
http::handler api(std::shared_ptr<engine> e, route_fn fn) {
  return [e = std::move(e), fn = std::move(fn)](const http::request& req,
                                                http::reply_fn reply) {
    if (!e->authorized(req.header("authorization")))
      return reply(to_response(refusal(401, "Invalid key")));
    reply(to_response(fn(*e, req)));
  };
}

// An API route taking a JSON object. Paystack reads the body as JSON
// whatever the Content-Type says, and so does the sandbox.
http::handler api_with_body(std::shared_ptr<engine> e, body_fn fn) {
  return api(std::move(e),
             [fn = std::move(fn)](engine& g, const http::request& req) {
               auto body = json::parse(req.body, nullptr, false);
               if (body.is_discarded() || !body.is_object())
                 return refusal(400, "The request body must be a JSON object");
               return fn(g, body);
             });
}

} // namespace

void add_routes(http::router& r, const std::string& prefix,
                const std::shared_ptr<engine>& e) {
  using req_t = const http::request&;
  r.add("POST", prefix + "/transaction/initialize",
        api_with_body(e, &engine::initialize));
  r.add("GET", prefix + "/transaction/verify/{reference}",
        api(e, [](engine& g, req_t req) {
          return g.verify(req.param("reference"));
        }));
  r.add("POST", prefix + "/refund", api_with_body(e, &engine::create_refund));
  r.add("GET", prefix + "/refund", api(e, [](engine& g, req_t req) {
          auto text = [&](std::string_view name) {
            auto v = req.query_param(name);
            return v ? std::optional<std::string>{*v} : std::nullopt;
          };
          return g.list_refunds({text("transaction"), text("currency"),
                                 text("perPage"), text("page")});
        }));
  r.add("POST", prefix + "/transferrecipient",
        api_with_body(e, &engine::create_recipient));
  r.add("POST", prefix + "/transfer",
        api_with_body(e, &engine::create_transfer));
  r.add("GET", prefix + "/transfer/verify/{reference}",
        api(e, [](engine& g, req_t req) {
          return g.verify_transfer(req.param("reference"));
        }));
  r.add("GET", prefix + "/checkout/{access_code}", checkout_page(e));
  r.add("POST", prefix + "/checkout/{access_code}", checkout_submit(e));
  // Control: for tests and people poking at it; same key as the API.
  r.add("GET", prefix + "/_sandbox/behaviour",
        api(e, [](engine& g, req_t) { return g.behaviour_json(); }));
  r.add("PUT", prefix + "/_sandbox/behaviour",
        api_with_body(e, &engine::put_behaviour));
  r.add("PUT", prefix + "/_sandbox/transfer-outcome",
        api_with_body(e, &engine::put_transfer_outcome));
  r.add("GET", prefix + "/_sandbox/stats",
        api(e, [](engine& g, req_t) { return g.stats_json(); }));
  r.add("POST", prefix + "/_sandbox/transactions/{reference}/pay",
        api(e, [](engine& g, req_t req) {
          return g.finish_json(req.param("reference"), true);
        }));
  r.add("POST", prefix + "/_sandbox/transactions/{reference}/decline",
        api(e, [](engine& g, req_t req) {
          return g.finish_json(req.param("reference"), false);
        }));
}

} // namespace souk::sandbox
