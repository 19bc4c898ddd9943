// The product catalog: create, list, read, edit, publish and archive.
//
// Who may do what (the service decides ownership and visibility):
//  * published products are readable by anyone; drafts and archived ones by
//    their creator and operators; to anyone else they do not exist (404);
//  * only the creator changes a product: another caller who can see it (a
//    published product, or any product for an operator) gets 403, because
//    pretending a product they just read does not exist would only confuse;
//    the route itself is for creators, so customers and operators get 403
//    from the guard before any lookup.
// Edits are optimistic: responses carry `ETag: "<version>"`; PATCH needs
// `If-Match` with it (428 without, 412 when stale); publish and archive take
// it optionally.

#include <charconv>

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/units.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/persistence/database.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;

// Text fields are checked in characters by the service; this only bounds
// what gets that far.
constexpr size_t text_bytes_max = 64 * 1024;

catalog::caller caller_of(const principal* who) {
  if (!who)
    return catalog::caller::anonymous();
  return catalog::caller{who->who.id, who->who.role == accounts::operator_role};
}

nlohmann::json money_json(const catalog::money& m) {
  return {{"amount", m.amount}, {"currency", m.currency}};
}

nlohmann::json product_json(const catalog::product& p) {
  auto opt = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  auto files = nlohmann::json::array();
  for (auto& f : p.files)
    files.push_back({{"id", f.id},
                     {"name", f.name},
                     {"size", f.size},
                     {"sha256", f.sha256},
                     {"content_type", f.content_type}});
  return {{"id", p.id},
          {"creator_id", p.creator_id},
          {"title", p.title},
          {"description", p.description},
          {"price", money_json(p.price)},
          {"min_price",
           p.min_price ? money_json(*p.min_price) : nlohmann::json(nullptr)},
          {"flow", p.flow},
          {"status", p.status},
          {"version", p.version},
          {"created_at", p.created_at},
          {"updated_at", p.updated_at},
          {"published_at", opt(p.published_at)},
          {"archived_at", opt(p.archived_at)},
          {"files", files},
          {"sold_out", p.sold_out}};
}

// The version only: it guards edits (If-Match). `sold_out` changes without
// an edit, so the ETag does not make GETs cacheable (no If-None-Match).
std::string etag_of(const catalog::product& p) {
  return fmt::format("\"{}\"", p.version);
}

response product_response(unsigned status, const catalog::product& p) {
  auto res = json_response(status, product_json(p));
  res.header("ETag", etag_of(p));
  return res;
}

error invalid(const std::string& field, std::string detail) {
  return error{errc::invalid_field, std::move(detail), field};
}

// `{"amount": <int64>, "currency": "NGN"}` at `field`; the service checks
// the values, this only the JSON types, so that 12.5, "100" or 1e3 never
// turn into money by accident.
expected<catalog::money> money_field(const nlohmann::json& value,
                                     const std::string& field) {
  if (!value.is_object())
    return invalid(field, fmt::format("{} must be an object {{\"amount\": "
                                      "minor units, \"currency\": \"NGN\"}}",
                                      field));
  for (auto& [key, member] : value.items())
    if (key != "amount" && key != "currency")
      return invalid(field + "." + key,
                     fmt::format("unknown field '{}.{}'", field, key));
  catalog::money out;
  auto amount_name = field + ".amount";
  auto amount = value.find("amount");
  if (amount == value.end() || amount->is_null())
    return invalid(amount_name, amount_name + " is required");
  if (amount->is_number_unsigned()) {
    if (amount->get<uint64_t>() > uint64_t{INT64_MAX})
      return invalid(amount_name, amount_name + " is too large");
    out.amount = static_cast<int64_t>(amount->get<uint64_t>());
  } else if (amount->is_number_integer()) {
    out.amount = amount->get<int64_t>();
  } else {
    return invalid(amount_name,
                   fmt::format("{} must be a whole number of minor units "
                               "(kobo, cents) written as a JSON integer, "
                               "e.g. 5000 for NGN 50.00; got {}",
                               amount_name, amount->dump()));
  }
  auto currency_name = field + ".currency";
  auto currency = value.find("currency");
  if (currency == value.end() || currency->is_null())
    return invalid(currency_name, currency_name + " is required");
  if (!currency->is_string())
    return invalid(currency_name, currency_name + " must be a string");
  out.currency = currency->get<std::string>();
  return out;
}

expected<catalog::new_product> new_product_of(const nlohmann::json& body) {
  catalog::new_product in;
  auto title = string_field(body, "title", {}, text_bytes_max);
  if (!title)
    return title.err();
  in.title = std::move(*title);
  auto description
    = string_field(body, "description", std::string{}, text_bytes_max);
  if (!description)
    return description.err();
  in.description = std::move(*description);
  if (auto it = body.find("price"); it != body.end() && !it->is_null()) {
    auto price = money_field(*it, "price");
    if (!price)
      return price.err();
    in.price = std::move(*price);
  }
  if (auto it = body.find("min_price"); it != body.end() && !it->is_null()) {
    auto min = money_field(*it, "min_price");
    if (!min)
      return min.err();
    in.min_price = std::move(*min);
  }
  if (body.contains("flow")) {
    auto flow = string_field(body, "flow", std::nullopt, 200);
    if (!flow)
      return flow.err();
    in.flow = std::move(*flow);
  }
  return in;
}

expected<catalog::product_patch> patch_of(const nlohmann::json& body) {
  catalog::product_patch patch;
  // null clears only min_price; for the other fields it is a mistake.
  for (auto name : {"title", "description", "price", "flow"})
    if (auto it = body.find(name); it != body.end() && it->is_null())
      return invalid(name, fmt::format("{} cannot be null", name));
  for (auto [name, target] : {std::pair{"title", &patch.title},
                              std::pair{"description", &patch.description},
                              std::pair{"flow", &patch.flow}}) {
    if (!body.contains(name))
      continue;
    auto value = string_field(body, name, std::nullopt, text_bytes_max);
    if (!value)
      return value.err();
    *target = std::move(*value);
  }
  if (auto it = body.find("price"); it != body.end()) {
    auto price = money_field(*it, "price");
    if (!price)
      return price.err();
    patch.price = std::move(*price);
  }
  if (auto it = body.find("min_price"); it != body.end()) {
    if (it->is_null()) {
      patch.min_price = std::optional<catalog::money>{};
    } else {
      auto min = money_field(*it, "min_price");
      if (!min)
        return min.err();
      patch.min_price = std::optional<catalog::money>{std::move(*min)};
    }
  }
  return patch;
}

// The version in `If-Match: "<version>"`: nullopt without the header. A
// value that is no ETag of ours can never match, which is a 412, the same as
// a stale one. `*` is refused as well: it would skip the very check
// If-Match is required for.
expected<std::optional<int64_t>> if_match(const request& req) {
  auto value = req.header("if-match");
  if (!value)
    return std::optional<int64_t>{};
  auto text = *value;
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  int64_t version = 0;
  bool ok = text.size() > 2 && text.front() == '"' && text.back() == '"';
  if (ok) {
    auto digits = text.substr(1, text.size() - 2);
    auto [end, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    ok = ec == std::errc{} && end == digits.data() + digits.size()
         && version > 0;
  }
  if (!ok)
    return error{errc::precondition_failed,
                 "If-Match must be the ETag of the product as you last read "
                 "it, e.g. If-Match: \"3\""};
  return std::optional<int64_t>{version};
}

expected<catalog::list_query> list_query_of(const request& req) {
  catalog::list_query q;
  if (auto mine = req.query_param("mine")) {
    if (*mine == "1" || *mine == "true")
      q.mine = true;
    else if (*mine != "0" && *mine != "false")
      return invalid("mine", "mine must be 1 or 0");
  }
  auto limit = page_limit(req, q.limit, catalog::max_page);
  if (!limit)
    return limit.err();
  q.limit = *limit;
  if (auto cursor = req.query_param("cursor"))
    q.cursor = std::string{*cursor};
  if (auto text = req.query_param("q"))
    q.q = std::string{*text};
  return q;
}

// Publish and archive: the same shape, a different service call.
using transition_fn
  = expected<catalog::product> (catalog::service::*)(const catalog::caller&,
                                                     const std::string&,
                                                     std::optional<int64_t>);

secured_handler transition(std::shared_ptr<const services> svc,
                           transition_fn fn, const char* verb) {
  return
    [svc, fn, verb](const request& req, const principal* who, reply_fn reply) {
      auto version = if_match(req);
      if (!version)
        return reply(problem(version.err(), req.request_id));
      auto id = req.param("id");
      auto p = ((*svc->catalog).*fn)(caller_of(who), id, *version);
      if (!p)
        return reply(problem(p.err(), req.request_id));
      req.log.info("product {} {} (version {})", id, verb, p->version);
      reply(product_response(200, *p));
    };
}

} // namespace

void add_product_routes(router& r, std::shared_ptr<const services> svc) {
  const auto creators = access::only({std::string{accounts::creator}});

  r.add("POST", "/api/v1/products",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto body = json_body(
                  req, reply,
                  {"title", "description", "price", "min_price", "flow"});
                if (!body)
                  return;
                auto in = new_product_of(*body);
                if (!in)
                  return reply(problem(in.err(), req.request_id));
                auto p = svc->catalog->create(caller_of(who), *in);
                if (!p)
                  return reply(problem(p.err(), req.request_id));
                req.log.info("product {} created", p->id);
                auto res = product_response(201, *p);
                res.header("Location", "/api/v1/products/" + p->id);
                reply(std::move(res));
              }));

  r.add("GET", "/api/v1/products",
        guard(svc, access::anyone(),
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto query = list_query_of(req);
                if (!query)
                  return reply(problem(query.err(), req.request_id));
                off_loop(*svc, who,
                         [svc, &req, c = caller_of(who), q = std::move(*query),
                          reply = std::move(reply)] {
                           auto page = svc->catalog->list(c, q);
                           if (!page)
                             return reply(problem(page.err(), req.request_id));
                           auto items = nlohmann::json::array();
                           for (auto& p : page->items)
                             items.push_back(product_json(p));
                           reply(json_response(
                             200, {{"items", items},
                                   {"next_cursor",
                                    page->next_cursor.empty()
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(page->next_cursor)}}));
                         });
              }));

  r.add("GET", "/api/v1/products/{id}",
        guard(svc, access::anyone(),
              [svc](const request& req, const principal* who, reply_fn reply) {
                off_loop(
                  *svc, who,
                  [svc, &req, c = caller_of(who), reply = std::move(reply)] {
                    auto p = svc->catalog->get(c, req.param("id"));
                    if (!p)
                      return reply(problem(p.err(), req.request_id));
                    reply(product_response(200, *p));
                  });
              }));

  r.add("PATCH", "/api/v1/products/{id}",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto body = json_body(
                  req, reply,
                  {"title", "description", "price", "min_price", "flow"});
                if (!body)
                  return;
                auto patch = patch_of(*body);
                if (!patch)
                  return reply(problem(patch.err(), req.request_id));
                auto version = if_match(req);
                if (!version)
                  return reply(problem(version.err(), req.request_id));
                // Without If-Match the service answers 428, after deciding
                // whether the caller may see and change it at all.
                auto id = req.param("id");
                auto p
                  = svc->catalog->update(caller_of(who), id, *version, *patch);
                if (!p)
                  return reply(problem(p.err(), req.request_id));
                req.log.info("product {} edited (version {})", id, p->version);
                reply(product_response(200, *p));
              }));

  r.add("POST", "/api/v1/products/{id}/publish",
        guard(svc, creators,
              transition(svc, &catalog::service::publish, "published")));
  r.add("POST", "/api/v1/products/{id}/archive",
        guard(svc, creators,
              transition(svc, &catalog::service::archive, "archived")));
}

} // namespace souk::http
