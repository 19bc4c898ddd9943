// Downloads: `GET /d/{token}` streams a file to whoever holds a live link
// (Range and If-Range per RFC 9110, constant memory, or handed to a front
// web server by X-Accel-Redirect); the order's downloads are listed and
// fresh links asked for under `/api/v1/orders/{id}/downloads`, receipts
// re-sent under `/api/v1/orders/{id}/receipt`, and a product's downloads
// per buyer read by its creator under `/api/v1/products/{id}/downloads`.
//
// Who may do what:
//  * the link is the credential of `/d/{token}`;
//  * the buyer (signed in, or a guest with the order's token in
//    X-Order-Token), the product's creator and operators see an order's
//    downloads; a guest without the token proves nothing but can have fresh
//    links or the receipt sent to the order's email (never shown);
//  * the buyer gets fresh links in the answer; creators and operators
//    re-issue them to the buyer's email (and may reset counts).

#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "souk/accounts/service.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/text.hpp"
#include "souk/core/time.hpp"
#include "souk/delivery/service.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/http/ranges.hpp"
#include "souk/persistence/database.hpp"
#include "souk/storage/blob_store.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

error no_delivery() {
  error e{errc::unavailable, "delivery is not configured on this node"};
  e.retry_after = std::chrono::seconds{30};
  return e;
}

std::string grant_status(const persistence::grant_row& g,
                         const std::string& now_text) {
  if (!g.revoked_at.empty())
    return "revoked";
  if (g.expires_at <= now_text)
    return "expired";
  if (g.downloads >= g.max_downloads)
    return "used_up";
  return "active";
}

json opt(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json grant_json(const persistence::grant_view& v, const std::string& now_text) {
  auto& g = v.grant;
  return {{"grant_id", g.id},
          {"order_id", g.order_id},
          {"file_id", g.file_id},
          {"name", v.file_name},
          {"size", v.file_size},
          {"sha256", v.file_sha256},
          {"downloads", g.downloads},
          {"max_downloads", g.max_downloads},
          {"remaining", std::max<int64_t>(0, g.max_downloads - g.downloads)},
          {"expires_at", g.expires_at},
          {"status", grant_status(g, now_text)},
          {"revoked_at", opt(g.revoked_at)},
          {"last_download_at", opt(g.last_download_at)}};
}

// ---------------------------------------------------------------- /d/{token}

constexpr const char* gone_page = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>{{title}}</h1>
<p>{{detail}}</p>
</main></body></html>
)";

// The problem document, or the same as a page for a browser.
response link_problem(const services& svc, const request& req,
                      const error& err) {
  auto accept = req.header("accept").value_or("");
  if (accept.find("text/html") == std::string_view::npos)
    return problem(err, req.request_id);
  if (svc.link_page) {
    // The order the link belongs to, so the page can lead back to it.
    std::string order_id;
    if (err.code != errc::not_found) {
      persistence::delivery_repository repo{*svc.db};
      auto link = repo.find_link(delivery::token_hash(req.param("token")));
      if (link && *link)
        order_id = (*link)->grant.grant.order_id;
    }
    return svc.link_page(req, err, order_id);
  }
  auto doc = problem(err, req.request_id);
  auto parsed = json::parse(doc.body, nullptr, false);
  kainjow::mustache::mustache page{gone_page};
  kainjow::mustache::data data;
  data.set("title", parsed.value("title", std::string{"Download"}));
  data.set("detail", parsed.value("detail", std::string{}));
  response res;
  res.status = doc.status;
  res.content_type = "text/html; charset=utf-8";
  res.headers = doc.headers;
  res.body = page.render(data);
  res.header("Content-Security-Policy", "default-src 'none'");
  return res;
}

// `attachment` with an ASCII fallback and the UTF-8 name (RFC 6266).
std::string content_disposition(const std::string& name) {
  std::string ascii;
  std::string encoded;
  for (unsigned char c : name) {
    bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
    ascii += plain ? static_cast<char>(c) : '_';
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~')
      encoded += static_cast<char>(c);
    else
      encoded += fmt::format("%{:02X}", c);
  }
  return fmt::format("attachment; filename=\"{}\"; filename*=UTF-8''{}", ascii,
                     encoded);
}

// The bytes of a response body: literal pieces and ranges of the blob.
class blob_body : public body_source {
public:
  struct piece {
    std::string text;
    uint64_t offset = 0;
    uint64_t length = 0;
    bool from_blob = false;
    uint64_t size() const { return from_blob ? length : text.size(); }
  };

  blob_body(std::unique_ptr<storage::blob_reader> blob,
            std::vector<piece> pieces)
    : blob_(std::move(blob)), pieces_(std::move(pieces)) {}

  uint64_t total() const {
    uint64_t n = 0;
    for (auto& p : pieces_)
      n += p.size();
    return n;
  }

  size_t read(char* buf, size_t size, error& err) override {
    while (at_ < pieces_.size()) {
      auto& p = pieces_[at_];
      if (pos_ >= p.size()) {
        ++at_;
        pos_ = 0;
        continue;
      }
      auto want
        = static_cast<size_t>(std::min<uint64_t>(size, p.size() - pos_));
      if (!p.from_blob) {
        std::memcpy(buf, p.text.data() + pos_, want);
        pos_ += want;
        return want;
      }
      auto got = blob_->read_at(p.offset + pos_, buf, want);
      if (!got) {
        err = got.err();
        return 0;
      }
      if (*got == 0) {
        err = error{errc::internal, "the file is shorter than expected"};
        return 0;
      }
      pos_ += *got;
      return *got;
    }
    return 0;
  }

private:
  std::unique_ptr<storage::blob_reader> blob_;
  std::vector<piece> pieces_;
  size_t at_ = 0;
  uint64_t pos_ = 0;
};

// Does If-Range let the Range through? Only a strong ETag equal to ours
// (we send no Last-Modified, so a date never matches: the full file).
bool if_range_holds(const request& req, const std::string& etag) {
  auto v = req.header("if-range");
  if (!v)
    return true;
  return *v == etag;
}

void serve_download(const std::shared_ptr<const services>& svc,
                    const request& req, reply_fn reply) {
  auto token = req.param("token");
  bool head = req.method == "HEAD";
  auto range_header = req.header("range");
  // A Range not starting at byte 0 continues a download begun earlier.
  bool resume = false;
  if (range_header) {
    auto first
      = parse_range(*range_header, std::numeric_limits<uint64_t>::max());
    resume = first.what == range_answer::kind::partial
             && first.ranges.front().first > 0;
  }
  auto client = delivery::client_key(
    req.remote, std::string{req.header("user-agent").value_or("")});
  // A Range that lies wholly beyond the file is answered 416 below, and a
  // stored file that cannot be opened (a lost disk, a restore without the
  // files, a permission) 503: neither takes one of the buyer's downloads.
  // The file is opened here, before the download is counted, and served
  // from what was opened.
  std::unique_ptr<storage::blob_reader> opened;
  auto answerable = [&](const persistence::grant_view& g) {
    if (svc->accel_redirect.empty()) {
      auto blob = svc->store->open(g.storage_key);
      if (!blob)
        return false;
      opened = std::move(*blob);
    }
    return !range_header || !if_range_holds(req, "\"" + g.file_sha256 + "\"")
           || parse_range(*range_header, static_cast<uint64_t>(g.file_size))
                  .what
                != range_answer::kind::unsatisfiable;
  };
  auto found = svc->delivery->open(token, client, resume, !head, answerable);
  if (!found)
    return reply(link_problem(*svc, req, found.err()));
  auto& g = found->grant;
  log::logger lg{
    {{"request_id", req.request_id}, {"order_id", g.grant.order_id}}};
  if (found->counted)
    lg.info("download {} of {} of {} ({})", g.grant.downloads,
            g.grant.max_downloads, g.file_name, g.grant.id);
  auto etag = "\"" + g.file_sha256 + "\"";
  response res;
  res.content_type
    = g.content_type.empty() ? "application/octet-stream" : g.content_type;
  res.header("Content-Disposition", content_disposition(g.file_name));
  // The type is the creator's word for it: should a browser show the file
  // rather than save it (an HTML file, say), it runs nothing on this origin.
  res.header("Content-Security-Policy", "default-src 'none'; sandbox");
  res.header("ETag", etag);
  res.header("Accept-Ranges", "bytes");
  // The URL is a secret: keep it out of caches, indexes and Referers.
  res.header("Cache-Control", "private, no-store");
  res.header("Referrer-Policy", "no-referrer");
  res.header("X-Robots-Tag", "noindex");
  if (!svc->accel_redirect.empty()) {
    // The front web server sends the bytes (and answers Range itself).
    res.header("X-Accel-Redirect", svc->accel_redirect + g.storage_key);
    return reply(std::move(res));
  }
  // HEAD asks nothing of `answerable`: it opens the file here.
  auto blob
    = opened
        ? expected<std::unique_ptr<storage::blob_reader>>{std::move(opened)}
        : svc->store->open(g.storage_key);
  if (!blob) {
    lg.error("file {} of grant {} cannot be read: {}", g.grant.file_id,
             g.grant.id, blob.err().detail);
    auto err = link_problem(
      *svc, req,
      error{errc::unavailable,
            fmt::format("the file cannot be read just now; the shop has been "
                        "told (request {}), and this download was not counted",
                        req.request_id)});
    err.header("Retry-After", "300");
    return reply(std::move(err));
  }
  auto size = (*blob)->size();
  auto answer = range_header && if_range_holds(req, etag)
                  ? parse_range(*range_header, size)
                  : range_answer{};
  std::vector<blob_body::piece> pieces;
  if (answer.what == range_answer::kind::unsatisfiable) {
    auto err = problem(errc::invalid_field,
                       fmt::format("the range asked for lies beyond the file "
                                   "({} bytes)",
                                   size),
                       req.request_id);
    err.status = 416;
    err.header("Content-Range", fmt::format("bytes */{}", size));
    err.header("Accept-Ranges", "bytes");
    return reply(std::move(err));
  }
  if (answer.what == range_answer::kind::full) {
    pieces.push_back({{}, 0, size, true});
  } else if (answer.ranges.size() == 1) {
    auto r = answer.ranges.front();
    res.status = 206;
    res.header("Content-Range",
               fmt::format("bytes {}-{}/{}", r.first, r.last, size));
    pieces.push_back({{}, r.first, r.length(), true});
  } else {
    res.status = 206;
    auto boundary = "souk-" + g.file_sha256.substr(0, 24);
    auto part_type = res.content_type;
    res.content_type = "multipart/byteranges; boundary=" + boundary;
    for (auto& r : answer.ranges) {
      pieces.push_back({fmt::format("\r\n--{}\r\nContent-Type: {}\r\n"
                                    "Content-Range: bytes {}-{}/{}\r\n\r\n",
                                    boundary, part_type, r.first, r.last, size),
                        0, 0, false});
      pieces.push_back({{}, r.first, r.length(), true});
    }
    pieces.push_back({fmt::format("\r\n--{}--\r\n", boundary), 0, 0, false});
  }
  auto body = std::make_shared<blob_body>(std::move(*blob), std::move(pieces));
  res.stream_size = body->total();
  res.stream = std::move(body);
  reply(std::move(res));
}

} // namespace

void add_download_routes(router& r, std::shared_ptr<const services> svc) {
  r.add("GET", "/d/{token}", [svc](const request& req, reply_fn reply) {
    if (!svc->delivery || !svc->store)
      return reply(problem(no_delivery(), req.request_id));
    svc->db->post([svc, &req, reply = std::move(reply)]() mutable {
      serve_download(svc, req, std::move(reply));
    });
  });

  r.add("GET", "/api/v1/orders/{id}/downloads",
        guard(svc, access::anyone(),
              [svc](const request& req, const principal* who, reply_fn reply) {
                if (!svc->delivery)
                  return reply(problem(no_delivery(), req.request_id));
                off_loop(*svc, who, [svc, &req, who, reply = std::move(reply)] {
                  auto found = find_visible(*svc, who, req, req.param("id"));
                  if (!found)
                    return reply(problem(found.err(), req.request_id));
                  auto list = svc->delivery->grants(found->snap.order);
                  if (!list)
                    return reply(problem(list.err(), req.request_id));
                  auto now_text = to_iso(now());
                  auto items = json::array();
                  for (auto& g : *list)
                    items.push_back(grant_json(g, now_text));
                  auto res = json_response(200, {{"items", items}});
                  res.header("Cache-Control", "no-store");
                  reply(std::move(res));
                });
              }));

  // Who asks decides what happens: see the top of the file.
  auto ask = [svc](const request& req, const principal* who, reply_fn reply,
                   bool receipt) {
    if (!svc->delivery)
      return reply(problem(no_delivery(), req.request_id));
    std::optional<json> body = json::object();
    if (!req.body.empty())
      body = json_body(req, reply, {"email", "reset_downloads"});
    if (!body)
      return;
    off_loop(
      *svc, who,
      [svc, &req, who, body = std::move(*body), receipt,
       reply = std::move(reply)]() mutable {
        auto id = req.param("id");
        error missing{errc::not_found, "no order " + id};
        auto key = std::string{req.header("idempotency-key").value_or("")};
        bool buyer = false;
        bool staff = false;
        persistence::order_row order;
        if (who != nullptr || req.header("x-order-token")) {
          // Signed in, or holding the order's token (its buyer, also after
          // signing in to another account).
          auto found = find_visible(*svc, who, req, id);
          if (!found)
            return reply(problem(found.err(), req.request_id));
          order = std::move(found->snap.order);
          buyer = found->buyer;
          staff = !buyer;
        } else {
          auto email = string_field(body, "email", std::nullopt, 320);
          if (!email)
            return reply(problem(email.err(), req.request_id));
          auto snap = persistence::order_repository{*svc->db}.load(id);
          if (!snap)
            return reply(problem(snap.err(), req.request_id));
          // A wrong email is a missing order: nothing is told about orders.
          if (!*snap || (*snap)->order.kind != "order"
              || ascii_lower((*snap)->order.buyer_email) != ascii_lower(*email))
            return reply(problem(missing, req.request_id));
          order = std::move((*snap)->order);
        }
        if (body.contains("reset_downloads") && !staff)
          return reply(problem(
            error{errc::forbidden,
                  "only the product's creator or an operator may reset the "
                  "download counts",
                  "reset_downloads"},
            req.request_id));
        if (receipt) {
          if (auto err = svc->delivery->resend_receipt(order, key))
            return reply(problem(err, req.request_id));
          return reply(json_response(202, {{"sent_to", order.buyer_email}}));
        }
        delivery::fresh_request fr;
        fr.key = key;
        // The signed-in buyer gets the links here (by email too on request);
        // anyone else has them sent to the buyer's address.
        fr.email = !buyer || body.value("email", false);
        if (body.contains("reset_downloads")) {
          if (!body["reset_downloads"].is_boolean())
            return reply(problem(error{errc::invalid_field,
                                       "reset_downloads must be true or false",
                                       "reset_downloads"},
                                 req.request_id));
          fr.reset_downloads = body["reset_downloads"].get<bool>();
        }
        if (body.contains("email") && !body["email"].is_boolean() && buyer)
          return reply(problem(
            error{errc::invalid_field, "email must be true or false", "email"},
            req.request_id));
        auto links = svc->delivery->fresh_links(order, fr);
        if (!links)
          return reply(problem(links.err(), req.request_id));
        if (!buyer)
          return reply(json_response(202, {{"sent_to", order.buyer_email}}));
        auto items = json::array();
        for (auto& l : *links)
          items.push_back({{"grant_id", l.grant_id},
                           {"file_id", l.file_id},
                           {"name", l.file_name},
                           {"size", l.file_size},
                           {"url", l.url},
                           {"expires_at", l.expires_at},
                           {"remaining", l.remaining}});
        reply(json_response(201, {{"items", items}}));
      });
  };
  r.add("POST", "/api/v1/orders/{id}/downloads",
        guard(
          svc, access::anyone(),
          [ask](const request& req, const principal* who, reply_fn reply) {
            ask(req, who, std::move(reply), false);
          },
          svc->auth_limiter));
  r.add("POST", "/api/v1/orders/{id}/receipt",
        guard(
          svc, access::anyone(),
          [ask](const request& req, const principal* who, reply_fn reply) {
            ask(req, who, std::move(reply), true);
          },
          svc->auth_limiter));

  r.add(
    "GET", "/api/v1/products/{id}/downloads",
    guard(
      svc,
      access::only(
        {std::string{accounts::creator}, std::string{accounts::operator_role}}),
      [svc](const request& req, const principal* who, reply_fn reply) {
        if (!svc->delivery)
          return reply(problem(no_delivery(), req.request_id));
        auto id = req.param("id");
        auto product = svc->catalog->get(catalog::caller{"", true}, id);
        if (!product
            || (who->who.role != accounts::operator_role
                && product->creator_id != who->who.id))
          return reply(
            problem(errc::not_found, "no product " + id, req.request_id));
        auto limit = page_limit(req, 50, 200);
        if (!limit)
          return reply(problem(limit.err(), req.request_id));
        auto before = std::string{req.query_param("cursor").value_or("")};
        persistence::delivery_repository repo{*svc->db};
        auto list = repo.grants_of_product(id, *limit + 1, before);
        if (!list)
          return reply(problem(list.err(), req.request_id));
        json next = nullptr;
        if (list->size() > *limit) {
          list->resize(*limit);
          next = list->back().grant.id;
        }
        auto now_text = to_iso(now());
        auto items = json::array();
        for (auto& g : *list) {
          auto item = grant_json(g, now_text);
          item["buyer_email"] = g.buyer_email;
          items.push_back(std::move(item));
        }
        reply(json_response(200, {{"items", items}, {"next_cursor", next}}));
      }));
}

} // namespace souk::http
