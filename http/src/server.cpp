#include "souk/http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/text.hpp"
#include "souk/core/units.hpp"
#include "souk/http/problem.hpp"

namespace souk::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace net = boost::asio;
using tcp = net::ip::tcp;
using std::chrono::steady_clock;

namespace {

// What pages of an allowed origin may send and read (CORS). No cookies:
// other origins authenticate with Bearer tokens and order tokens.
constexpr const char* cors_request_headers
  = "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, "
    "Prefer, X-Order-Token, X-Request-Id";
constexpr const char* cors_response_headers
  = "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed, "
    "Preference-Applied";

} // namespace

namespace {

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
          || c == '.'))
      return false;
  return true;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category()
         == bhttp::make_error_code(bhttp::error::bad_target).category();
}

} // namespace

class session;

struct server::impl : std::enable_shared_from_this<impl> {
  server_options opts;
  const router& routes;
  net::io_context ioc;
  // Keeps the loop running while a handler works elsewhere (DB threads,
  // actors) and no socket operation is pending, e.g. during shutdown.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{
    ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<uint16_t> port{0};
  mutable std::mutex mx;
  std::condition_variable cv;
  std::unordered_map<session*, std::weak_ptr<session>> sessions;

  impl(server_options o, const router& r)
    : opts(std::move(o)), routes(r), ioc(static_cast<int>(opts.threads)) {}

  void do_accept();
  void add(const std::shared_ptr<session>& s);
  void remove(session* s) {
    std::lock_guard guard{mx};
    sessions.erase(s);
    cv.notify_all();
  }
  std::vector<std::shared_ptr<session>> live_sessions() {
    std::vector<std::shared_ptr<session>> out;
    std::lock_guard guard{mx};
    for (auto& [ptr, weak] : sessions)
      if (auto s = weak.lock())
        out.push_back(std::move(s));
    return out;
  }
};

/// One connection. All members are touched only on the connection's strand.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const std::shared_ptr<server::impl>& srv)
    : stream_(std::move(socket)), srv_(srv), opts_(srv->opts),
      routes_(srv->routes) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    // In canonical form (an IPv4-mapped address as IPv4), as the
    // addresses taken from X-Forwarded-For are.
    remote_ = ec ? "unknown"
                 : client_address(ip_networks{}, ep.address().to_string(), {});
    client_ = remote_;
  }

  ~session() {
    if (auto srv = srv_.lock())
      srv->remove(this);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->do_idle(); });
  }

  /// Server shutdown: close if idle, else close after the current response.
  void begin_shutdown() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->shutting_down_ = true;
      if (self->phase_ == phase::idle)
        self->stream_.cancel();
    });
  }

  /// Grace period over: close now, whatever is going on. The future is
  /// ready once the socket is closed.
  std::future<void> force_close() {
    auto done = std::make_shared<std::promise<void>>();
    auto result = done->get_future();
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), done] {
      self->phase_ = phase::closed;
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
      done->set_value();
    });
    return result;
  }

private:
  enum class phase { idle, header, body, handling, writing, closed };

  const server_options& opts() const { return opts_; }

  bool server_draining() const {
    auto srv = srv_.lock();
    return !srv || srv->draining.load();
  }

  // Between requests: wait for the first byte under the idle timeout. Only
  // then does the (shorter) header timeout start.
  void do_idle() {
    client_ = remote_; // until the next request's header says otherwise
    if (phase_ == phase::closed)
      return;
    parser_.emplace();
    streamed_error_ = false;
    // No limit while the header is read: Beast would hold Content-Length to
    // it before the route (with its own limit) is known. on_header sets the
    // route's limit before a byte of the body is read. (Not boost::none:
    // Beast 1.74 compares Content-Length with the empty optional and fails.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(static_cast<uint32_t>(opts().header_limit));
    if (buffer_.size() > 0)
      return do_read_header();
    if (shutting_down_)
      return do_close();
    phase_ = phase::idle;
    stream_.expires_after(opts().idle_timeout);
    stream_.async_read_some(
      buffer_.prepare(4096),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        if (ec)
          return self->do_close();
        self->buffer_.commit(n);
        self->do_read_header();
      });
  }

  void do_read_header() {
    phase_ = phase::header;
    stream_.expires_after(opts().header_timeout);
    bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) {
        self->on_header(ec);
      });
  }

  // The header is in: build the request, find the route, then read the body
  // (buffered routes) or hand a body reader to the handler (streaming ones).
  void on_header(beast::error_code ec) {
    if (ec)
      return fail(ec);
    started_ = steady_clock::now();
    route_ = "unmatched";
    ++served_;
    auto& msg = parser_->get();
    auto req = std::make_shared<request>();
    req->method = std::string{msg.method_string()};
    req->target = std::string{msg.target()};
    std::string forwarded_for;
    for (auto& field : msg) {
      req->headers.emplace_back(ascii_lower(field.name_string()),
                                std::string{field.value()});
      if (!opts().trusted_proxies.empty()
          && req->headers.back().first
               == (opts().forwarded_rfc7239 ? "forwarded" : "x-forwarded-for"))
        // Each Forwarded line read on its own (a client's broken line must
        // not swallow the proxy's), then one list as X-Forwarded-For's.
        forwarded_for += (forwarded_for.empty() ? "" : ",")
                         + (opts().forwarded_rfc7239
                              ? forwarded_for_of(req->headers.back().second)
                              : req->headers.back().second);
    }
    client_ = forwarded_for.empty() ? remote_
                                    : client_address(opts().trusted_proxies,
                                                     remote_, forwarded_for);
    req->remote = client_;
    auto incoming = req->header("x-request-id");
    req->request_id = incoming && valid_request_id(*incoming)
                        ? std::string{*incoming}
                        : random_hex(8);
    request_id_ = req->request_id;
    req->log = log::logger{{{"request_id", req->request_id}}};
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    expect_continue_ = beast::iequals(msg[bhttp::field::expect], "100-continue")
                       && !parser_->is_done();
    body_.clear();
    phase_ = phase::handling;

    std::string_view target{req->target};
    auto qmark = target.find('?');
    auto raw_path = target.substr(0, qmark);
    auto path = percent_decode(raw_path);
    auto query = decode_query(qmark == std::string_view::npos
                                ? std::string_view{}
                                : target.substr(qmark + 1));
    if (raw_path.empty() || raw_path.front() != '/' || !path || !query)
      return respond(req, problem(errc::malformed_request,
                                  "the request target must be a path "
                                  "with valid percent-encoding",
                                  req->request_id));
    req->path = std::move(*path);
    req->query = std::move(*query);

    if (!opts().cors_origins.empty()
        && req->path.starts_with(opts().cors_prefix)
        && std::none_of(
          opts().cors_excluded.begin(), opts().cors_excluded.end(),
          [&](const std::string& p) { return req->path.starts_with(p); })) {
      cors_vary_ = true;
      auto origin = req->header("origin");
      if (origin && opts().cors_origins.allows(*origin))
        cors_origin_ = opts().cors_origins.any() ? "*" : std::string{*origin};
      if (req->method == "OPTIONS" && origin
          && req->header("access-control-request-method"))
        return respond(req, preflight(*req, raw_path));
    }

    auto match = routes_.match(req->method, raw_path);
    if (match.target == nullptr && match.stream_target == nullptr) {
      if (match.allowed.empty())
        return respond(req,
                       problem(errc::not_found, "no resource at " + req->path,
                               req->request_id));
      std::string allow;
      for (auto& m : match.allowed)
        allow += (allow.empty() ? "" : ", ") + m;
      auto res = problem(errc::method_not_allowed,
                         req->method + " is not allowed here; use " + allow,
                         req->request_id);
      res.header("Allow", allow);
      return respond(req, std::move(res));
    }
    req->params = std::move(match.params);
    route_ = *match.pattern;
    auto limit = match.stream_target ? match.stream_limit : opts().body_limit;
    parser_->body_limit(limit);
    if (auto len = parser_->content_length(); len && *len > limit)
      return respond(req, too_large(limit, req->request_id));
    if (match.stream_target)
      return dispatch(req,
                      [h = match.stream_target,
                       body = std::make_shared<reader>(shared_from_this())](
                        const request& r, reply_fn reply) {
                        (*h)(r, body, std::move(reply));
                      });
    auto h = match.target;
    read_buffered(req, [this, req, h] {
      req->body = std::move(body_);
      dispatch(req, *h);
    });
  }

  // A browser asking whether a page of another origin may send this
  // request (CORS preflight): 204 with what it may send, or a problem
  // (without the CORS headers a browser needs to go on).
  response preflight(const request& req, std::string_view raw_path) {
    if (cors_origin_.empty())
      return problem(errc::forbidden,
                     fmt::format("pages of {} may not call this API "
                                 "(http.cors_origins)",
                                 *req.header("origin")),
                     req.request_id);
    std::string wanted{*req.header("access-control-request-method")};
    auto m = routes_.match(wanted, raw_path);
    auto every = routes_.match("OPTIONS", raw_path).allowed;
    std::string allow;
    for (auto& method : every)
      allow += (allow.empty() ? "" : ", ") + method;
    if (m.target == nullptr && m.stream_target == nullptr) {
      cors_origin_.clear();
      if (every.empty())
        return problem(errc::not_found, "no resource at " + req.path,
                       req.request_id);
      auto res = problem(errc::method_not_allowed,
                         wanted + " is not allowed here; use " + allow,
                         req.request_id);
      res.header("Allow", allow);
      return res;
    }
    auto res = no_content();
    res.header("Access-Control-Allow-Methods", allow);
    res.header("Access-Control-Allow-Headers", cors_request_headers);
    res.header("Access-Control-Max-Age",
               std::to_string(opts().cors_max_age.count()));
    return res;
  }

  response too_large(uint64_t limit, const std::string& request_id) {
    return problem(
      errc::payload_too_large,
      fmt::format("the request body is larger than {}", format_size(limit)),
      request_id);
  }

  // curl and others wait for `100 Continue` before sending a large body.
  void send_continue(std::function<void()> then) {
    if (!expect_continue_)
      return then();
    expect_continue_ = false;
    auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(
      bhttp::status::continue_, version_);
    stream_.expires_after(opts().write_timeout);
    bhttp::async_write(stream_, *cont,
                       [self = shared_from_this(), cont,
                        then = std::move(then)](beast::error_code ec, size_t) {
                         if (ec)
                           return self->do_close();
                         then();
                       });
  }

  // Reads one chunk of the body into `chunk_`; `fn(ec, bytes)`.
  void read_chunk(std::function<void(beast::error_code, size_t)> fn) {
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    stream_.expires_after(opts().read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this(),
                       fn = std::move(fn)](beast::error_code ec, size_t) {
                        // A full chunk buffer is not an error: read again.
                        if (ec == bhttp::error::need_buffer)
                          ec = {};
                        auto used = self->chunk_.size()
                                    - self->parser_->get().body().size;
                        fn(ec, used);
                      });
  }

  // Buffered routes: the whole body (within `http.body_limit`) into body_.
  void read_buffered(const std::shared_ptr<request>& req,
                     std::function<void()> then) {
    if (parser_->is_done())
      return then();
    phase_ = phase::body;
    send_continue([this, req, then = std::move(then)]() mutable {
      read_chunk([this, req, then = std::move(then)](beast::error_code ec,
                                                     size_t n) mutable {
        if (ec)
          return fail(ec);
        body_.append(chunk_.data(), n);
        phase_ = phase::handling;
        read_buffered(req, std::move(then));
      });
    });
  }

  /// The body reader a streaming handler pulls from.
  class reader : public body_reader {
  public:
    explicit reader(std::shared_ptr<session> s) : s_(std::move(s)) {}

    void read(chunk_fn fn) override {
      net::dispatch(s_->stream_.get_executor(),
                    [s = s_, fn = std::move(fn)]() mutable {
                      s->read_stream(std::move(fn));
                    });
    }

  private:
    std::shared_ptr<session> s_;
  };

  void read_stream(body_reader::chunk_fn fn) {
    if (phase_ == phase::closed)
      return fn(error{errc::unavailable, "the connection is closed"}, {},
                false);
    if (parser_->is_done())
      return fn({}, {}, true);
    send_continue([this, fn = std::move(fn)]() mutable {
      phase_ = phase::body;
      read_chunk([this, fn = std::move(fn)](beast::error_code ec, size_t n) {
        phase_ = phase::handling;
        if (ec) {
          streamed_error_ = true;
          return fn(stream_error(ec), {}, false);
        }
        fn({}, std::string_view{chunk_.data(), n}, parser_->is_done());
      });
    });
  }

  error stream_error(const beast::error_code& ec) {
    if (ec == bhttp::error::body_limit)
      return error{errc::payload_too_large,
                   "the request body is larger than allowed"};
    if (ec == beast::error::timeout)
      return error{errc::request_timeout, "the body was not received in time"};
    if (is_parse_error(ec) && ec != bhttp::error::partial_message)
      return error{errc::malformed_request,
                   fmt::format("malformed HTTP body: {}", ec.message())};
    return error{errc::unavailable, "the client went away"};
  }

  // A read failed: answer what deserves an answer, then close.
  void fail(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message
        || ec == net::error::operation_aborted || phase_ == phase::closed)
      return do_close();
    std::optional<errc> code;
    std::string detail;
    if (ec == bhttp::error::body_limit) {
      code = errc::payload_too_large;
      detail = "the request body is larger than allowed";
    } else if (ec == bhttp::error::header_limit) {
      code = errc::header_too_large;
      detail = fmt::format("the request header is larger than {}",
                           format_size(opts().header_limit));
    } else if (ec == beast::error::timeout) {
      code = errc::request_timeout;
      detail = "the request was not received in time";
    } else if (is_parse_error(ec)) {
      code = errc::malformed_request;
      detail = fmt::format("malformed HTTP request: {}", ec.message());
    }
    if (!code)
      return do_close(); // connection reset and the like
    request_id_ = random_hex(8);
    auto res = problem(*code, detail, request_id_);
    res.close = true;
    log::logger log{{{"request_id", request_id_}, {"remote", remote_}}};
    log.info("rejected request: {} ({})", to_string(*code), ec.message());
    if (ec == beast::error::timeout) {
      // tcp_stream closed the socket when the timer fired.
      return do_close();
    }
    started_ = steady_clock::now();
    route_ = "unmatched";
    write(std::move(res), "-", "-", 11, false);
  }

  void dispatch(const std::shared_ptr<request>& req, const handler& h) {
    // The reply may come from any thread; it is carried back to the strand.
    // If every copy of it is dropped unanswered, the client still gets a 500.
    struct guard {
      std::shared_ptr<session> self;
      std::shared_ptr<request> req;
      std::atomic<bool> done{false};
      ~guard() {
        if (!done.load()) {
          req->log.error("handler dropped the request without replying");
          self->post_response(
            req, problem(errc::internal, "no reply", req->request_id));
        }
      }
    };
    auto g = std::make_shared<guard>();
    g->self = shared_from_this();
    g->req = req;
    reply_fn reply = [g](response res) {
      if (g->done.exchange(true)) {
        g->req->log.error("handler replied twice; second reply ignored");
        return;
      }
      g->self->post_response(g->req, std::move(res));
    };
    try {
      h(*req, std::move(reply));
    } catch (const std::exception& e) {
      req->log.error("handler threw: {}", e.what());
      if (!g->done.exchange(true))
        respond(req, problem(errc::internal, e.what(), req->request_id));
    }
  }

  void post_response(std::shared_ptr<request> req, response res) {
    net::post(
      stream_.get_executor(),
      [self = shared_from_this(), req = std::move(req),
       res = std::move(res)]() mutable { self->respond(req, std::move(res)); });
  }

  void respond(const std::shared_ptr<request>& req, response res) {
    if (phase_ == phase::closed)
      return;
    write(std::move(res), req->method, req->target, version_,
          req->method == "HEAD");
  }

  void write(response res, const std::string& method, const std::string& target,
             unsigned version, bool head) {
    bhttp::response<bhttp::string_body> out{
      static_cast<bhttp::status>(res.status), version};
    out.set(bhttp::field::server, "souk");
    if (!res.content_type.empty())
      out.set(bhttp::field::content_type, res.content_type);
    out.set("X-Request-Id", request_id_);
    out.set("X-Content-Type-Options", "nosniff");
    if (std::exchange(cors_vary_, false))
      out.set(bhttp::field::vary, "Origin");
    if (auto origin = std::exchange(cors_origin_, {}); !origin.empty()) {
      out.set(bhttp::field::access_control_allow_origin, origin);
      out.set(bhttp::field::access_control_expose_headers,
              cors_response_headers);
    }
    for (auto& [name, value] : res.headers)
      out.insert(name, value);
    bool streamed = res.stream != nullptr;
    auto size = streamed ? res.stream_size : res.body.size();
    out.body() = std::move(res.body);
    out.prepare_payload();
    if (head)
      out.body().clear(); // Content-Length still says what GET would send
    if (streamed)
      out.content_length(res.stream_size);
    bool keep = keep_alive_ && !res.close && !shutting_down_ && parser_
                && parser_->is_done() && !streamed_error_ && !server_draining()
                && served_ < opts().max_requests_per_connection;
    out.keep_alive(keep);
    auto ms = std::chrono::duration<double, std::milli>(steady_clock::now()
                                                        - started_)
                .count();
    if (opts().on_response) {
      bool held = false;
      for (auto& [name, value] : res.headers)
        held = held
               || (ascii_lower(name) == "preference-applied"
                   && value.starts_with("wait="));
      opts().on_response(method, route_, res.status, ms / 1000.0, held);
    }
    if (opts().access_log) {
      log::logger log{{{"request_id", request_id_}, {"remote", client_}}};
      if (client_ != remote_)
        log = log.with("via", remote_);
      log.info("{} {} {} {}B {:.1f}ms", method, target, res.status, size, ms);
    }
    phase_ = phase::writing;
    if (streamed && !head)
      return write_stream(std::move(out), std::move(res.stream),
                          res.stream_size, keep);
    stream_.expires_after(opts().write_timeout);
    auto msg
      = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(out));
    bhttp::async_write(
      stream_, *msg,
      [self = shared_from_this(), msg, keep](beast::error_code ec, size_t) {
        if (ec || !keep)
          return self->do_close();
        self->do_idle();
      });
  }

  // A body pulled from a body_source: the header, then one buffer at a time,
  // each read only once the previous one is written (constant memory; a
  // slow client slows the reads). The write timeout applies per buffer.
  struct streamed_response {
    bhttp::response<bhttp::buffer_body> msg;
    std::optional<bhttp::response_serializer<bhttp::buffer_body>> sr;
    std::shared_ptr<body_source> src;
    uint64_t left = 0;
    bool keep = false;
    std::vector<char> buf = std::vector<char>(256 * 1024);
  };

  void write_stream(bhttp::response<bhttp::string_body> head,
                    std::shared_ptr<body_source> src, uint64_t size,
                    bool keep) {
    auto w = std::make_shared<streamed_response>();
    w->msg.result(head.result_int());
    w->msg.version(head.version());
    for (auto& field : head)
      w->msg.insert(field.name_string(), field.value());
    w->msg.keep_alive(keep);
    w->msg.body().data = nullptr;
    w->msg.body().more = true;
    w->src = std::move(src);
    w->left = size;
    w->keep = keep;
    w->sr.emplace(w->msg);
    stream_.expires_after(opts().write_timeout);
    bhttp::async_write_header(
      stream_, *w->sr,
      [self = shared_from_this(), w](beast::error_code ec, size_t) {
        if (ec)
          return self->do_close();
        self->write_chunk(w);
      });
  }

  void write_chunk(const std::shared_ptr<streamed_response>& w) {
    if (phase_ == phase::closed)
      return;
    size_t n = 0;
    if (w->left > 0) {
      error err;
      auto want = static_cast<size_t>(
        std::min<uint64_t>(w->left, static_cast<uint64_t>(w->buf.size())));
      n = w->src->read(w->buf.data(), want, err);
      if (err || n == 0 || n > want) {
        log::logger{{{"request_id", request_id_}}}.warn(
          "response body ended {} bytes early: {}", w->left,
          err ? err.detail : "the source ran dry");
        return do_close(); // the client sees a short body, never a wrong one
      }
      w->left -= n;
    }
    w->msg.body().data = w->buf.data();
    w->msg.body().size = n;
    w->msg.body().more = w->left > 0;
    stream_.expires_after(opts().write_timeout);
    bhttp::async_write(
      stream_, *w->sr,
      [self = shared_from_this(), w](beast::error_code ec, size_t) {
        if (ec == bhttp::error::need_buffer)
          ec = {};
        if (ec)
          return self->do_close();
        if (!w->sr->is_done())
          return self->write_chunk(w);
        if (!w->keep)
          return self->do_close();
        self->do_idle();
      });
  }

  // Half-close, then drain what the client still sends (briefly) so that it
  // reads our response instead of a connection reset.
  void do_close() {
    if (phase_ == phase::closed)
      return;
    phase_ = phase::closed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return stream_.close();
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }

  void drain() {
    stream_.async_read_some(
      net::buffer(discard_),
      [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec)
          return self->stream_.close();
        self->drain();
      });
  }

  beast::tcp_stream stream_;
  // Weak: the server's io_context owns this session's pending handlers, so a
  // strong reference back would be a cycle that outlives shutdown.
  std::weak_ptr<server::impl> srv_;
  server_options opts_;
  const router& routes_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::array<char, 64 * 1024> chunk_{}; // body bytes, one chunk at a time
  std::string body_;                    // buffered routes' body
  bool expect_continue_ = false;
  bool streamed_error_ = false;
  std::array<char, 4096> discard_{};
  phase phase_ = phase::idle;
  bool shutting_down_ = false;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  uint32_t served_ = 0;
  std::string remote_; // the TCP peer
  std::string client_; // the current request's client (behind proxies)
  std::string request_id_;
  steady_clock::time_point started_ = steady_clock::now();
  std::string_view route_ = "unmatched"; // the router's pattern (immutable)
  // CORS for the current request: the Access-Control-Allow-Origin to send
  // (empty: none), and whether the answer depends on Origin at all.
  std::string cors_origin_;
  bool cors_vary_ = false;
};

void server::impl::add(const std::shared_ptr<session>& s) {
  std::lock_guard guard{mx};
  sessions.emplace(s.get(), s);
}

void server::impl::do_accept() {
  acceptor.async_accept(
    net::make_strand(ioc),
    [weak = weak_from_this()](beast::error_code ec, tcp::socket socket) {
      auto self = weak.lock();
      if (!self)
        return;
      if (ec) {
        if (ec == net::error::operation_aborted || !self->acceptor.is_open())
          return;
        log::warn("accept failed: {}", ec.message());
      } else if (!self->draining.load()) {
        socket.set_option(tcp::no_delay(true), ec);
        auto s = std::make_shared<session>(std::move(socket), self);
        self->add(s);
        s->run();
      }
      self->do_accept();
    });
}

server::server(server_options opts, const router& routes)
  : impl_(std::make_shared<impl>(std::move(opts), routes)) {}

server::~server() {
  shutdown(std::chrono::milliseconds{0});
}

status server::start() {
  auto& listen = impl_->opts.listen;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return error{errc::config, "listen address must be HOST:PORT: " + listen};
  auto host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = listen.substr(colon + 1);
  try {
    tcp::resolver resolver{impl_->ioc};
    auto results = resolver.resolve(host, port);
    if (results.empty())
      return error{errc::unavailable, "cannot resolve " + listen};
    tcp::endpoint ep = *results.begin();
    auto& acc = impl_->acceptor;
    acc.open(ep.protocol());
    acc.set_option(net::socket_base::reuse_address(true));
    acc.bind(ep);
    acc.listen(net::socket_base::max_listen_connections);
    impl_->port = acc.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    return error{errc::unavailable, fmt::format("cannot listen on {}: {}",
                                                listen, e.code().message())};
  }
  impl_->do_accept();
  for (uint32_t i = 0; i < impl_->opts.threads; ++i)
    impl_->threads.emplace_back([self = impl_] { self->ioc.run(); });
  return {};
}

uint16_t server::port() const noexcept {
  return impl_->port.load();
}

bool server::draining() const noexcept {
  return impl_->draining.load();
}

size_t server::connections() const noexcept {
  std::lock_guard guard{impl_->mx};
  return impl_->sessions.size();
}

void server::shutdown(std::chrono::milliseconds grace) {
  auto& d = *impl_;
  if (d.stopped.exchange(true))
    return;
  d.draining = true;
  if (!d.threads.empty()) {
    // The acceptor is not thread-safe: close it on the loop, and wait for
    // that. A raw pointer, so no queued handler keeps `impl` alive.
    std::promise<void> closed;
    net::post(d.ioc, [self = impl_.get(), &closed] {
      beast::error_code ec;
      self->acceptor.close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
    for (auto& s : d.live_sessions())
      s->begin_shutdown();
    {
      std::unique_lock lock{d.mx};
      d.cv.wait_for(lock, grace, [&] { return d.sessions.empty(); });
    }
    auto left = d.live_sessions();
    if (!left.empty()) {
      log::warn("closing {} connection(s) still busy after the {}ms grace",
                left.size(), grace.count());
      std::vector<std::future<void>> closing;
      for (auto& s : left)
        closing.push_back(s->force_close());
      left.clear();
      // Handlers still working elsewhere may keep their session objects
      // alive; their sockets are closed, which is what matters here.
      for (auto& f : closing)
        f.wait_for(std::chrono::seconds(1));
    }
  }
  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads)
    if (t.joinable())
      t.join();
}

} // namespace souk::http
