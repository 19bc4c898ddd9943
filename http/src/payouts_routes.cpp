// A creator's payouts: the payout account per currency (a transfer
// recipient at the gateway) and payouts from the available balance, each a
// `payout` flow instance (docs/wallet.md, "Payouts"). Creators only; each
// sees their own.

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/core/hash.hpp"
#include "souk/core/units.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/payments/payouts.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/payouts.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

constexpr uint32_t max_page = 100;

error no_payouts() {
  return error{errc::unavailable, "payouts are not set up on this node"};
}

} // namespace

void add_payout_routes(router& r, std::shared_ptr<const services> svc) {
  const auto creators = access::only({std::string{accounts::creator}});

  r.add("PUT", "/api/v1/payout-account",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                if (!svc->payouts)
                  return reply(problem(no_payouts(), req.request_id));
                auto body = json_body(
                  req, reply,
                  {"currency", "type", "name", "account_number", "bank_code"});
                if (!body)
                  return;
                payments::account_request in;
                in.creator_id = who->who.id;
                auto currency = string_field(*body, "currency", {}, 3);
                auto type = string_field(*body, "type", "nuban", 20);
                auto name = string_field(*body, "name", {}, 200);
                auto number = string_field(*body, "account_number", {}, 20);
                auto bank = string_field(*body, "bank_code", {}, 10);
                for (auto* f : {&currency, &type, &name, &number, &bank})
                  if (!*f)
                    return reply(problem(f->err(), req.request_id));
                in.currency = *currency;
                in.type = *type;
                in.name = *name;
                in.account_number = *number;
                in.bank_code = *bank;
                svc->gateway_workers->post(
                  [svc, &req, in = std::move(in), reply = std::move(reply)] {
                    auto out = svc->payouts->save_account(in);
                    if (!out)
                      return reply(problem(out.err(), req.request_id));
                    reply(json_response(200, payments::describe(*out)));
                  });
              }));

  r.add("GET", "/api/v1/payout-account",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto list
                  = persistence::payout_repository{*svc->db}.accounts_of(
                    who->who.id);
                if (!list)
                  return reply(problem(list.err(), req.request_id));
                auto items = json::array();
                for (auto& a : *list)
                  items.push_back(payments::describe(a));
                reply(json_response(200, {{"items", items}}));
              }));

  r.add(
    "POST", "/api/v1/payouts",
    guard(svc, creators,
          [svc](const request& req, const principal* who, reply_fn reply) {
            if (!svc->payouts)
              return reply(problem(no_payouts(), req.request_id));
            auto body = json_body(req, reply, {"amount", "currency"});
            if (!body)
              return;
            payments::payout_request in;
            in.creator_id = who->who.id;
            auto currency = string_field(*body, "currency", {}, 3);
            if (!currency)
              return reply(problem(currency.err(), req.request_id));
            in.currency = *currency;
            auto a = body->find("amount");
            if (a == body->end() || !a->is_number_integer()
                || a->get<int64_t>() <= 0)
              return reply(
                problem(error{errc::invalid_field,
                              "amount must be a positive whole number of "
                              "minor units (kobo, cents) written as a JSON "
                              "integer",
                              "amount"},
                        req.request_id));
            in.amount = a->get<int64_t>();
            in.idempotency_key
              = std::string{req.header("idempotency-key").value_or("")};
            in.scope = "payouts:" + who->who.id;
            in.request_hash = sha256_hex(
              json{{"amount", in.amount}, {"currency", in.currency}}.dump());
            svc->gateway_workers->post(
              [svc, &req, in = std::move(in), reply = std::move(reply)] {
                auto out = svc->payouts->request(in);
                if (!out)
                  return reply(problem(out.err(), req.request_id));
                response res;
                res.status = out->status;
                res.body = out->body;
                res.content_type = "application/json";
                auto doc = json::parse(res.body, nullptr, false);
                if (doc.is_object() && doc.contains("id"))
                  res.header("Location",
                             "/api/v1/payouts/" + doc["id"].get<std::string>());
                if (out->replayed)
                  res.header("Idempotent-Replayed", "true");
                reply(std::move(res));
              });
          }));

  r.add("GET", "/api/v1/payouts",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto asked = page_limit(req, 20, max_page);
                if (!asked)
                  return reply(problem(asked.err(), req.request_id));
                uint32_t limit = *asked;
                std::string cursor{req.query_param("cursor").value_or("")};
                auto page = persistence::payout_repository{*svc->db}.list(
                  who->who.id, limit + 1, cursor);
                if (!page)
                  return reply(problem(page.err(), req.request_id));
                auto items = json::array();
                std::string next;
                for (size_t i = 0; i < page->size(); ++i) {
                  if (i == limit) {
                    next = (*page)[i - 1].payout.id;
                    break;
                  }
                  items.push_back(payments::describe((*page)[i]));
                }
                reply(json_response(
                  200, {{"items", items},
                        {"next_cursor",
                         next.empty() ? json(nullptr) : json(next)}}));
              }));

  r.add("GET", "/api/v1/payouts/{id}",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto id = req.param("id");
                auto v = persistence::payout_repository{*svc->db}.view(id);
                if (!v)
                  return reply(problem(v.err(), req.request_id));
                if (!*v || (*v)->payout.creator_id != who->who.id)
                  return reply(problem(
                    error{errc::not_found, "no payout " + id}, req.request_id));
                reply(json_response(200, payments::describe(**v)));
              }));
}

} // namespace souk::http
