#include "api.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include "souk/http/router.hpp"

#include "view.hpp"

namespace souk::pages {

namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The visitor's headers a call carries: their credentials and who they are
// to rate limits and download counting. Nothing else of the page's request
// (its body, content type or CSRF field) reaches the API.
bool forwarded(std::string_view name) {
  return name == "cookie" || name == "user-agent";
}

api_reply reply_of(http::response res) {
  api_reply out;
  out.status = res.status;
  out.headers = std::move(res.headers);
  if (!res.body.empty())
    out.body = nlohmann::json::parse(res.body, nullptr, false);
  if (out.body.is_discarded())
    out.body = nullptr;
  if (!res.content_type.empty())
    out.headers.emplace_back("content-type", res.content_type);
  for (auto& [name, value] : out.headers)
    name = lower(name);
  return out;
}

} // namespace

std::string api_reply::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k == name)
      return v;
  return {};
}

std::string api_reply::detail() const {
  if (!body.is_object())
    return "the server answered " + std::to_string(status);
  auto d = body.value("detail", std::string{});
  return sentence(
    d.empty() ? body.value("title", std::string{"something went wrong"}) : d);
}

std::string api_reply::field() const {
  return body.is_object() ? body.value("field", std::string{}) : std::string{};
}

std::string api_reply::code() const {
  return body.is_object() ? body.value("code", std::string{}) : std::string{};
}

void api::call(const http::request& outer, api_request in,
               api_done done) const {
  auto sub = std::make_shared<http::request>();
  sub->method = in.method;
  sub->target = in.target;
  auto q = in.target.find('?');
  auto raw_path = in.target.substr(0, q);
  sub->path = http::percent_decode(raw_path).value_or(raw_path);
  if (q != std::string::npos)
    sub->query = http::decode_query(std::string_view{in.target}.substr(q + 1))
                   .value_or(decltype(sub->query){});
  for (auto& [name, value] : outer.headers)
    if (forwarded(name) && !(in.as_guest && name == "cookie"))
      sub->headers.emplace_back(name, value);
  sub->headers.emplace_back("accept", "application/json");
  if (!in.body.is_null()) {
    // Form fields are any bytes: never let invalid UTF-8 throw here.
    sub->body
      = in.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    sub->headers.emplace_back("content-type", "application/json");
  }
  for (auto& [name, value] : in.headers)
    sub->headers.emplace_back(lower(name), value);
  sub->remote = outer.remote;
  sub->request_id = outer.request_id;
  sub->log = outer.log;
  auto m = router_->match(sub->method, raw_path);
  if (!m.target) {
    api_reply missing;
    missing.status = m.allowed.empty() ? 404 : 405;
    missing.body = {{"title", "no such API route"},
                    {"detail", sub->method + " " + raw_path}};
    return done(std::move(missing));
  }
  sub->params = std::move(m.params);
  // The request lives as long as the handler may use it: until it replied.
  (*m.target)(*sub, [sub, done = std::move(done)](http::response res) {
    done(reply_of(std::move(res)));
  });
}

void api::all(const http::request& outer, std::vector<api_request> in,
              api_all_done done) const {
  if (in.empty())
    return done({});
  struct gather {
    std::mutex mx;
    std::vector<api_reply> replies;
    size_t left;
    api_all_done done;
  };
  auto g = std::make_shared<gather>();
  g->replies.resize(in.size());
  g->left = in.size();
  g->done = std::move(done);
  for (size_t i = 0; i < in.size(); ++i)
    call(outer, std::move(in[i]), [g, i](api_reply r) {
      bool last = false;
      {
        std::lock_guard lock{g->mx};
        g->replies[i] = std::move(r);
        last = --g->left == 0;
      }
      if (last)
        g->done(std::move(g->replies));
    });
}

} // namespace souk::pages
