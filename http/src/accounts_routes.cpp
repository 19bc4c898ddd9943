// Sign-up, login, logout, the current user, and API keys.

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/persistence/database.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;

nlohmann::json user_json(const accounts::user& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"role", u.role},
          {"created_at", u.created_at}};
}

nlohmann::json key_json(const accounts::api_key_info& k) {
  auto opt = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  return {{"id", k.id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"created_at", k.created_at},
          {"last_used_at", opt(k.last_used_at)},
          {"revoked_at", opt(k.revoked_at)}};
}

std::string cookie_header(std::string_view name, const std::string& value,
                          int64_t max_age, bool http_only, bool secure) {
  return fmt::format("{}={}; Path=/; Max-Age={}; SameSite=Lax{}{}", name, value,
                     max_age, http_only ? "; HttpOnly" : "",
                     secure ? "; Secure" : "");
}

} // namespace

void add_account_routes(router& r, std::shared_ptr<const services> svc) {
  r.add("POST", "/api/v1/auth/signup",
        guard(
          svc, access::anyone(),
          [svc](const request& req, const principal*, reply_fn reply) {
            auto body = json_body(req, reply, {"email", "password", "role"});
            if (!body)
              return;
            auto email = string_field(*body, "email", {}, 320);
            auto password = string_field(*body, "password", {}, 4096);
            auto role
              = string_field(*body, "role", std::string{"customer"}, 32);
            for (auto* f : {&email, &password, &role})
              if (!*f)
                return reply(problem(f->err(), req.request_id));
            svc->workers->post([svc, &req, email = *email, password = *password,
                                role = *role, reply = std::move(reply)] {
              auto u = svc->accounts->sign_up(email, password, role);
              if (!u)
                return reply(problem(u.err(), req.request_id));
              req.log.info("signed up {} as {}", u->id, u->role);
              auto res = json_response(201, user_json(*u));
              res.header("Location", "/api/v1/me");
              reply(std::move(res));
            });
          },
          svc->auth_limiter));

  r.add(
    "POST", "/api/v1/auth/login",
    guard(
      svc, access::anyone(),
      [svc](const request& req, const principal*, reply_fn reply) {
        auto body = json_body(req, reply, {"email", "password"});
        if (!body)
          return;
        auto email = string_field(*body, "email", {}, 320);
        auto password = string_field(*body, "password", {}, 4096);
        for (auto* f : {&email, &password})
          if (!*f)
            return reply(problem(f->err(), req.request_id));
        auto agent = std::string{req.header("user-agent").value_or("")};
        svc->workers->post([svc, &req, email = *email, password = *password,
                            agent, reply = std::move(reply)] {
          auto in = svc->accounts->log_in(email, password, req.remote, agent);
          if (!in) {
            if (in.err().code == errc::unauthorized)
              req.log.info("failed login");
            return reply(problem(in.err(), req.request_id));
          }
          req.log.info("user {} logged in", in->who.id);
          auto ttl = std::chrono::duration_cast<std::chrono::seconds>(
                       svc->accounts->rules().session_ttl)
                       .count();
          auto res = json_response(200, {{"token", in->token},
                                         {"expires_at", in->expires_at},
                                         {"csrf_token", in->csrf_token},
                                         {"user", user_json(in->who)}});
          res.header("Set-Cookie", cookie_header(session_cookie, in->token, ttl,
                                                 true, svc->secure_cookies));
          res.header("Set-Cookie",
                     cookie_header(csrf_cookie, in->csrf_token, ttl, false,
                                   svc->secure_cookies));
          res.header("Cache-Control", "no-store");
          reply(std::move(res));
        });
      },
      svc->auth_limiter));

  r.add(
    "POST", "/api/v1/auth/logout",
    guard(svc, access::signed_in(),
          [svc](const request& req, const principal* who, reply_fn reply) {
            if (auto err = svc->accounts->log_out(*who))
              return reply(problem(err, req.request_id));
            auto res = no_content();
            res.header("Set-Cookie", cookie_header(session_cookie, "", 0, true,
                                                   svc->secure_cookies));
            res.header("Set-Cookie", cookie_header(csrf_cookie, "", 0, false,
                                                   svc->secure_cookies));
            reply(std::move(res));
          }));

  r.add("GET", "/api/v1/me",
        guard(svc, access::signed_in(),
              [](const request&, const principal* who, reply_fn reply) {
                auto doc = user_json(who->who);
                doc["auth"] = who->credential == principal::via::session
                                ? "session"
                                : "api_key";
                reply(json_response(200, doc));
              }));

  r.add("POST", "/api/v1/api-keys",
        guard(
          svc, access::only({std::string{accounts::creator}}),
          [svc](const request& req, const principal* who, reply_fn reply) {
            auto body = json_body(req, reply, {"name"});
            if (!body)
              return;
            auto name = string_field(*body, "name", {}, 100);
            if (!name)
              return reply(problem(name.err(), req.request_id));
            auto made = svc->accounts->create_api_key(*who, *name);
            if (!made)
              return reply(problem(made.err(), req.request_id));
            req.log.info("api key {} created", made->info.id);
            auto doc = key_json(made->info);
            doc["key"] = made->key;
            auto res = json_response(201, doc);
            res.header("Cache-Control", "no-store");
            reply(std::move(res));
          },
          svc->auth_limiter));

  r.add(
    "GET", "/api/v1/api-keys",
    guard(
      svc, access::only({std::string{accounts::creator}}),
      [svc](const request& req, const principal* who, reply_fn reply) {
        auto keys = svc->accounts->list_api_keys(*who);
        if (!keys)
          return reply(problem(keys.err(), req.request_id));
        auto items = nlohmann::json::array();
        for (auto& k : *keys)
          items.push_back(key_json(k));
        reply(json_response(200, {{"items", items}, {"next_cursor", nullptr}}));
      }));

  r.add("DELETE", "/api/v1/api-keys/{id}",
        guard(svc,
              access::only({std::string{accounts::creator},
                            std::string{accounts::operator_role}}),
              [svc](const request& req, const principal* who, reply_fn reply) {
                if (auto err
                    = svc->accounts->revoke_api_key(*who, req.param("id")))
                  return reply(problem(err, req.request_id));
                req.log.info("api key {} revoked", req.param("id"));
                reply(no_content());
              }));
}

} // namespace souk::http
