#include "souk/http/access.hpp"

#include "souk/accounts/credentials.hpp"
#include "souk/accounts/service.hpp"
#include "souk/http/problem.hpp"
#include "souk/http/rate_limit.hpp"
#include "souk/http/routes.hpp"
#include "souk/persistence/database.hpp"

namespace souk::http {

namespace {

struct credential {
  std::string token;
  bool from_cookie = false;
};

// nullopt: none sent. An error: a malformed Authorization header.
expected<std::optional<credential>> credential_of(const request& req) {
  if (auto auth = req.header("authorization")) {
    auto value = *auth;
    constexpr std::string_view scheme = "bearer ";
    bool bearer = value.size() > scheme.size();
    for (size_t i = 0; bearer && i < scheme.size(); ++i)
      bearer = std::tolower(static_cast<unsigned char>(value[i])) == scheme[i];
    if (!bearer)
      return error{errc::unauthorized,
                   "the Authorization header must be 'Bearer <token>'"};
    auto token = value.substr(scheme.size());
    while (!token.empty() && token.front() == ' ')
      token.remove_prefix(1);
    return std::optional<credential>{credential{std::string{token}, false}};
  }
  if (auto c = cookie(req, session_cookie))
    return std::optional<credential>{credential{*c, true}};
  return std::optional<credential>{};
}

// "a", "a or b", "a, b or c".
std::string one_of(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

bool is_write(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

response unauthorized(const request& req, std::string detail) {
  auto res = problem(errc::unauthorized, std::move(detail), req.request_id);
  res.header("WWW-Authenticate", "Bearer");
  return res;
}

} // namespace

std::optional<std::string> cookie(const request& req, std::string_view name) {
  for (auto& [key, value] : req.headers) {
    if (key != "cookie")
      continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{}
                                            : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name)
        return std::string{pair.substr(eq + 1)};
    }
  }
  return std::nullopt;
}

namespace {

using proceed_fn = std::function<void(const accounts::principal*, reply_fn)>;

// Steps 1-4 of `guard`; calls `proceed` when the caller may go on.
void check_access(std::shared_ptr<const services> svc, const access& who,
                  std::shared_ptr<rate_limiter> limiter, const request& req,
                  reply_fn reply, proceed_fn h) {
  if (limiter) {
    if (auto wait = limiter->take(req.path + "|" + req.remote)) {
      error err{errc::rate_limited,
                "too many requests from this address; slow down"};
      err.retry_after = *wait;
      return reply(problem(err, req.request_id));
    }
  }
  auto cred = credential_of(req);
  if (!cred) {
    if (who.anonymous)
      return h(nullptr, std::move(reply));
    return reply(unauthorized(req, cred.err().detail));
  }
  if (!*cred) {
    if (who.anonymous)
      return h(nullptr, std::move(reply));
    return reply(unauthorized(req, "sign in first: send 'Authorization: "
                                   "Bearer <token>' or the session cookie"));
  }
  // Looking the credential up is a database call: off the event loop.
  svc->db->post([svc, who, h, limiter, &req, c = std::move(**cred),
                 reply = std::move(reply)]() mutable {
    auto p = svc->accounts->authenticate(c.token);
    if (!p) {
      if (p.err().code != errc::unauthorized)
        return reply(problem(p.err(), req.request_id));
      if (who.anonymous)
        return h(nullptr, std::move(reply));
      return reply(unauthorized(req, p.err().detail));
    }
    if (!who.roles.empty()
        && std::find(who.roles.begin(), who.roles.end(), p->who.role)
             == who.roles.end())
      return reply(problem(errc::forbidden,
                           "this needs the role " + one_of(who.roles),
                           req.request_id));
    if (limiter) {
      // Per account as well as per address: one account spread over many
      // addresses is still one account.
      if (auto wait = limiter->take(req.path + "|user|" + p->who.id)) {
        error err{errc::rate_limited,
                  "too many requests for this account; slow down"};
        err.retry_after = *wait;
        return reply(problem(err, req.request_id));
      }
    }
    if (c.from_cookie && is_write(req.method)) {
      auto sent = req.header("x-csrf-token").value_or("");
      if (!accounts::constant_time_equal(sent,
                                         accounts::csrf_token_for(c.token)))
        return reply(problem(errc::forbidden,
                             "missing or wrong X-CSRF-Token for a "
                             "cookie-authenticated write",
                             req.request_id));
    }
    h(&*p, std::move(reply));
  });
}

} // namespace

handler guard(std::shared_ptr<const services> svc, access who,
              secured_handler h, std::shared_ptr<rate_limiter> limiter) {
  return [svc, who, h, limiter](const request& req, reply_fn reply) {
    check_access(svc, who, limiter, req, std::move(reply),
                 [h, &req](const accounts::principal* p, reply_fn r) {
                   h(req, p, std::move(r));
                 });
  };
}

stream_handler guard_stream(std::shared_ptr<const services> svc, access who,
                            secured_stream_handler h,
                            std::shared_ptr<rate_limiter> limiter) {
  return
    [svc, who, h, limiter](const request& req,
                           std::shared_ptr<body_reader> body, reply_fn reply) {
      check_access(svc, who, limiter, req, std::move(reply),
                   [h, &req, body](const accounts::principal* p, reply_fn r) {
                     h(req, p, body, std::move(r));
                   });
    };
}

} // namespace souk::http
