// Licence keys: a creator's pools of keys for a product, and the keys an
// order was given. docs/licences.md.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/accounts/service.hpp"
#include "souk/core/time.hpp"
#include "souk/delivery/service.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/licence_keys.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using nlohmann::json;
using persistence::licence_key_filter;
using persistence::licence_key_repository;

json stock_json(const std::vector<persistence::licence_pool_stock>& stock) {
  auto out = json::array();
  for (auto& s : stock)
    out.push_back({{"pool", s.pool},
                   {"left", s.left},
                   {"issued", s.issued},
                   {"revoked", s.revoked}});
  return out;
}

std::string key_status(const persistence::licence_key_row& k) {
  if (!k.revoked_at.empty())
    return "revoked";
  return k.order_id.empty() ? "left" : "issued";
}

json key_json(const persistence::licence_key_row& k) {
  json out{{"id", k.id},
           {"pool", k.pool},
           {"key", k.secret},
           {"status", key_status(k)},
           {"added_at", k.added_at}};
  if (!k.order_id.empty()) {
    out["order_id"] = k.order_id;
    out["issued_at"] = k.issued_at;
  }
  if (!k.revoked_at.empty()) {
    out["revoked_at"] = k.revoked_at;
    out["revoked_reason"] = k.revoked_reason;
  }
  return out;
}

} // namespace

void add_licence_routes(router& r, std::shared_ptr<const services> svc) {
  auto creators = access::only({std::string{accounts::creator}});

  // Keys added to a pool of the caller's product, all or none; keys the
  // pool holds already are counted, not added twice.
  r.add(
    "POST", "/api/v1/products/{id}/licence-keys",
    guard(svc, creators,
          [svc](const request& req, const accounts::principal* who,
                reply_fn reply) {
            auto body = json_body(req, reply, {"pool", "keys"});
            if (!body)
              return;
            auto pool = string_field(*body, "pool", std::string{"default"}, 64);
            if (!pool)
              return reply(problem(pool.err(), req.request_id));
            if (auto err = delivery::check_pool_name(*pool))
              return reply(problem(err, req.request_id));
            if (!body->contains("keys") || !(*body)["keys"].is_array())
              return reply(
                problem(error{errc::invalid_field,
                              "keys must be a list of strings", "keys"},
                        req.request_id));
            std::vector<std::string> raw;
            for (auto& k : (*body)["keys"]) {
              if (!k.is_string()) {
                auto field = fmt::format("keys[{}]", raw.size());
                return reply(problem(error{errc::invalid_field,
                                           field + " must be a string", field},
                                     req.request_id));
              }
              raw.push_back(k.get<std::string>());
            }
            auto keys = delivery::clean_licence_keys(raw);
            if (!keys)
              return reply(problem(keys.err(), req.request_id));
            auto& id = req.param("id");
            if (auto owner = owned_product(*svc, *who, id); !owner)
              return reply(problem(owner.err(), req.request_id));
            licence_key_repository repo{*svc->db};
            auto added = repo.add(id, *pool, *keys, to_iso(now()));
            if (!added)
              return reply(problem(added.err(), req.request_id));
            auto stock = repo.stock(id);
            if (!stock)
              return reply(problem(stock.err(), req.request_id));
            req.log.info("licence keys for product {}, pool '{}': {} added, "
                         "{} there already",
                         id, *pool, added->added, added->already_present);
            reply(json_response(added->added > 0 ? 201 : 200,
                                {{"pool", *pool},
                                 {"added", added->added},
                                 {"already_present", added->already_present},
                                 {"stock", stock_json(*stock)}}));
          }));

  // The product's stock per pool, and a page of its keys.
  r.add(
    "GET", "/api/v1/products/{id}/licence-keys",
    guard(svc, creators,
          [svc](const request& req, const accounts::principal* who,
                reply_fn reply) {
            auto& id = req.param("id");
            auto limit = page_limit(req, 100, 1000);
            if (!limit)
              return reply(problem(limit.err(), req.request_id));
            auto pool = std::string{req.query_param("pool").value_or("")};
            if (!pool.empty())
              if (auto err = delivery::check_pool_name(pool))
                return reply(problem(err, req.request_id));
            auto status
              = std::string{req.query_param("status").value_or("all")};
            licence_key_filter filter = licence_key_filter::all;
            if (status == "left")
              filter = licence_key_filter::left;
            else if (status == "issued")
              filter = licence_key_filter::issued;
            else if (status == "revoked")
              filter = licence_key_filter::revoked;
            else if (status != "all")
              return reply(problem(
                error{errc::invalid_field,
                      "status must be all, left, issued or revoked", "status"},
                req.request_id));
            auto after = std::string{req.query_param("cursor").value_or("")};
            if (auto owner = owned_product(*svc, *who, id); !owner)
              return reply(problem(owner.err(), req.request_id));
            licence_key_repository repo{*svc->db};
            auto stock = repo.stock(id);
            if (!stock)
              return reply(problem(stock.err(), req.request_id));
            auto page = repo.list(id, pool, filter, after, *limit + 1);
            if (!page)
              return reply(problem(page.err(), req.request_id));
            json next = nullptr;
            if (page->size() > *limit) {
              page->resize(*limit);
              next = page->back().id;
            }
            auto items = json::array();
            for (auto& k : *page)
              items.push_back(key_json(k));
            auto res = json_response(200, {{"stock", stock_json(*stock)},
                                           {"items", items},
                                           {"next_cursor", next}});
            res.header("Cache-Control", "no-store");
            reply(std::move(res));
          }));

  // A key taken out of its pool before it was issued (a key that leaked).
  r.add("DELETE", "/api/v1/products/{id}/licence-keys/{key_id}",
        guard(svc, creators,
              [svc](const request& req, const accounts::principal* who,
                    reply_fn reply) {
                auto& id = req.param("id");
                if (auto owner = owned_product(*svc, *who, id); !owner)
                  return reply(problem(owner.err(), req.request_id));
                if (auto err = licence_key_repository{*svc->db}.withdraw(
                      id, req.param("key_id")))
                  return reply(problem(err, req.request_id));
                req.log.info("licence key {} of product {} withdrawn",
                             req.param("key_id"), id);
                reply(no_content());
              }));

  // The keys an order was given, for whoever may see the order (its buyer
  // with the order's token, the product's creator, operators).
  r.add("GET", "/api/v1/orders/{id}/licence-keys",
        guard(svc, access::anyone(),
              [svc](const request& req, const accounts::principal* who,
                    reply_fn reply) {
                off_loop(*svc, who, [svc, &req, who, reply = std::move(reply)] {
                  auto found = find_visible(*svc, who, req, req.param("id"));
                  if (!found)
                    return reply(problem(found.err(), req.request_id));
                  auto keys = licence_key_repository{*svc->db}.of_order(
                    found->snap.order.id);
                  if (!keys)
                    return reply(problem(keys.err(), req.request_id));
                  auto items = json::array();
                  for (auto& k : *keys) {
                    json item{{"pool", k.pool}, {"issued_at", k.issued_at}};
                    // A buyer's revoked key is no longer theirs to use; the
                    // creator sees which key to refuse from now on.
                    if (k.revoked_at.empty() || !found->buyer)
                      item["key"] = k.secret;
                    if (!k.revoked_at.empty()) {
                      item["revoked_at"] = k.revoked_at;
                      item["revoked_reason"] = k.revoked_reason;
                    }
                    items.push_back(std::move(item));
                  }
                  auto res = json_response(200, {{"items", items}});
                  res.header("Cache-Control", "no-store");
                  reply(std::move(res));
                });
              }));
}

} // namespace souk::http
