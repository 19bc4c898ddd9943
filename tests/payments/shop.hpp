#pragma once

// A whole shop for payment tests: a souk node (database on the backend under
// test, the order engine, the HTTP API) talking over real HTTP to a sandbox
// gateway on its own port, which signs and sends webhooks back over real
// HTTP. The node runs the test flows below; their one side effect,
// `test.effect`, is counted per order so a test can tell it happened once.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/core/ids.hpp"
#include "souk/http/router.hpp"
#include "souk/http/server.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"
#include "souk/sandbox/gateway.hpp"
#include "souk/testing/node_settings.hpp"
#include "souk/testing/support.hpp"

#include "node.hpp"

namespace souk::testing {

using namespace std::chrono_literals;
using nlohmann::json;

inline constexpr const char* secret = "sk_test_payments_suite";
inline constexpr const char* op_password = "correct horse battery";

// pending → paid (one counted side effect) → delivered; refunds through the
// gateway. `quick_expiry` is the same with a 1.5 s wait for payment.
inline std::string test_flow(const std::string& name, const std::string& wait) {
  return "flow: " + name + R"(
version: 1
initial: pending
states:
  pending:
    timeout: { after: )"
         + wait + R"(, emit: payment.expired }
    on: { payment.succeeded: paid, payment.failed: failed, payment.expired: failed }
  paid:
    steps: [ { call: wallet.credit_sale }, { call: test.effect } ]
    on: { steps.done: delivered, steps.failed: failed }
  delivered:
    on: { refund.requested: refunding }
  refunding:
    steps: [ { call: wallet.reverse_sale }, { call: payment.refund, retry: { initial: 200ms, max_attempts: 5, give_up_on: [invalid_field, conflict] } } ]
    on: { steps.done: refund_pending, steps.failed: needs_attention, refund.processed: refunded, refund.failed: needs_attention }
  refund_pending:
    on: { refund.processed: refunded, refund.failed: needs_attention }
  refunded: { terminal: true }
  failed: { terminal: true }
  needs_attention: { terminal: true }
)";
}

// How often the side effect ran, per order.
struct effects {
  std::mutex mx;
  std::map<std::string, int> calls;
  int of(const std::string& order) {
    std::lock_guard lock{mx};
    return calls[order];
  }
};

inline caf::behavior effect_service(caf::event_based_actor*,
                                    std::shared_ptr<effects> fx) {
  return {
    [fx](actors::run_atom, actors::action_call& c) {
      std::lock_guard lock{fx->mx};
      ++fx->calls[c.order_id];
      return actors::action_result{};
    },
  };
}

struct shop_options {
  sandbox::behaviour misbehave;
  /// Reconciliation's first look (long by default: tests of webhooks and
  /// callbacks must not be completed by it instead).
  std::chrono::milliseconds reconcile_after = 60s;
  /// How long sales stay pending (long: most tests never see them
  /// released; payout tests want money available at once).
  std::chrono::milliseconds hold = 1h;
  /// Reconciliation of payments and transfers gives up after this.
  std::chrono::milliseconds reconcile_for = 72h;
  /// A webhook that cannot be processed is set aside after this.
  std::chrono::milliseconds retry_for = 72h;
  /// A node's claim on a due timer (0: the settings' default).
  std::chrono::milliseconds timer_lease{0};
  /// Database-only steps run inside the engine's transactions
  /// (`orders.inline_steps`); false: each through its service's actor.
  bool inline_steps = true;
};

struct shop {
  scratch_database scratch;
  temp_dir dir;
  std::shared_ptr<effects> fx = std::make_shared<effects>();
  std::shared_ptr<sandbox::gateway> gw;
  http::router sandbox_routes;
  std::unique_ptr<http::server> sandbox_server;
  uint16_t sandbox_port = 0;
  config::settings cfg;
  souk::node_extensions ext;
  std::unique_ptr<souk::node> node;
  uint16_t port = 0;
  std::shared_ptr<persistence::database> db;
  std::string product;       // paid_effect, NGN 5,000.00
  std::string quick_product; // quick_expiry
  std::string op_token;
  std::string creator_id;
  std::string creator_token;

  explicit shop(shop_options o = {}) {
    sandbox::options so;
    so.secret_key = secret;
    so.retry_first = 150ms;
    so.retry_later = 400ms;
    so.retry_for = 20s;
    so.refund_delay = 200ms;
    so.transfer_delay = 150ms;
    so.misbehave = o.misbehave;
    gw = std::make_shared<sandbox::gateway>(so);
    gw->add_routes(sandbox_routes, "");
    http::server_options hs;
    hs.listen = "127.0.0.1:0";
    hs.access_log = false;
    sandbox_server = std::make_unique<http::server>(hs, sandbox_routes);
    auto err = sandbox_server->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    sandbox_port = sandbox_server->port();
    gw->set_public_url(sandbox_url());

    namespace fs = std::filesystem;
    fs::create_directories(dir.path() / "flows");
    std::ofstream{dir.path() / "flows" / "paid_effect.yaml"}
      << test_flow("paid_effect", "60s");
    std::ofstream{dir.path() / "flows" / "quick_expiry.yaml"}
      << test_flow("quick_expiry", "1500ms");

    embedded_node_settings(cfg, dir.path(), scratch.url());
    cfg.orders.step_timeout = 5s;
    cfg.payments.gateway = "paystack";
    cfg.payments.paystack_base_url = sandbox_url();
    cfg.payments.paystack_secret_key = secret;
    cfg.payments.poll = 100ms;
    cfg.payments.reconcile_after = o.reconcile_after;
    cfg.payments.reconcile_max_interval = 1s;
    cfg.payments.retry_initial = 150ms;
    cfg.payments.retry_max = 1s;
    cfg.payments.reconcile_for = o.reconcile_for;
    cfg.payments.retry_for = o.retry_for;
    cfg.wallet.hold = o.hold;
    if (o.timer_lease.count() > 0)
      cfg.orders.timer_lease = o.timer_lease;
    cfg.orders.inline_steps = o.inline_steps;
    cfg.wallet.poll = 100ms;
    ext.actions["test.effect"] = {};
    ext.services.emplace_back("test", [fx = fx](caf::actor_system& sys) {
      return sys.spawn(effect_service, fx);
    });
    start_node();
    db = scratch.open(2);
    seed();
  }

  void start_node() {
    node = std::make_unique<souk::node>(cfg, ext);
    auto err = node->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    port = static_cast<uint16_t>(
      std::stoi(node->url().substr(node->url().rfind(':') + 1)));
    gw->set_webhook_url(node->url() + "api/v1/webhooks/paystack");
  }

  /// Stops the node and starts another on the same database (and data
  /// directory) with `tweak` applied to its settings: what a node that died
  /// and came back finds.
  template<class F>
  void restart(F tweak) {
    node->stop();
    node.reset();
    tweak(cfg);
    start_node();
  }

  ~shop() {
    gw->stop();
    node->stop();
    db->shutdown();
    sandbox_server->shutdown(1s);
  }

  std::string sandbox_url() const {
    return "http://127.0.0.1:" + std::to_string(sandbox_port);
  }

  void seed() {
    accounts::policy p;
    p.cost = {1, 64 << 10};
    accounts::service acc{db, p};
    auto creator_email = "c" + random_hex(4) + "@example.com";
    auto creator = acc.sign_up(creator_email, op_password, "creator");
    BOOST_REQUIRE(creator);
    creator_id = creator->id;
    auto op_email = "op" + random_hex(4) + "@example.com";
    auto op = acc.create_operator(op_email, op_password);
    BOOST_REQUIRE(op);
    product = new_uuid();
    quick_product = new_uuid();
    auto st = db->run([&](soci::session& sql) {
      for (auto [id, flow] :
           {std::pair{product, std::string{"paid_effect"}},
            std::pair{quick_product, std::string{"quick_expiry"}}})
        sql << "INSERT INTO products (id, creator_id, title, description, "
               "price_amount, currency, flow, status, version, created_at, "
               "updated_at, published_at) VALUES (:id, :c, 'A book', '', "
               "500000, 'NGN', :f, 'published', 1, '2026-01-01T00:00:00.000Z', "
               "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
          soci::use(id), soci::use(creator->id), soci::use(flow);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    auto login = http_request(
      port, "POST", "/api/v1/auth/login",
      json{{"email", op_email}, {"password", op_password}}.dump(),
      {{"Content-Type", "application/json"}});
    BOOST_REQUIRE_MESSAGE(login.status == 200, login.body);
    op_token = json::parse(login.body)["token"];
    auto as_creator = http_request(
      port, "POST", "/api/v1/auth/login",
      json{{"email", creator_email}, {"password", op_password}}.dump(),
      {{"Content-Type", "application/json"}});
    BOOST_REQUIRE_MESSAGE(as_creator.status == 200, as_creator.body);
    creator_token = json::parse(as_creator.body)["token"];
  }

  // -- buying

  http_reply checkout_raw(const std::string& body, const std::string& key) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Content-Type", "application/json"}};
    if (!key.empty())
      h.emplace_back("Idempotency-Key", key);
    return http_request(port, "POST", "/api/v1/orders", body, h);
  }

  /// A new order; returns the checkout's answer.
  json checkout(const std::string& product_id = {}) {
    auto res = checkout_raw(
      json{{"product_id", product_id.empty() ? product : product_id},
           {"email", "buyer@example.com"}}
        .dump(),
      new_uuid());
    BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
    return json::parse(res.body);
  }

  /// Presses a button on the hosted checkout page, as a browser would.
  http_reply press(const json& order, const std::string& action) {
    std::string url = order["payment"]["authorization_url"];
    auto path = url.substr(url.find('/', std::string{"http://"}.size()));
    return http_request(
      sandbox_port, "POST", path, "action=" + action,
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  }

  /// The buyer's browser coming back from the gateway.
  http_reply come_back(const std::string& reference) {
    return http_request(port, "GET",
                        "/api/v1/payments/paystack/return?trxref=" + reference
                          + "&reference=" + reference,
                        {}, {{"Accept", "application/json"}});
  }

  // -- looking

  persistence::order_snapshot snapshot(const std::string& order_id) {
    auto s = persistence::order_repository{*db}.load(order_id);
    BOOST_REQUIRE(s);
    BOOST_REQUIRE(s->has_value());
    return **s;
  }

  std::string state(const std::string& order_id) {
    return snapshot(order_id).order.state;
  }

  /// Waits until the order is in `want` (or `timeout` passes).
  bool reaches(const std::string& order_id, const std::string& want,
               std::chrono::milliseconds timeout = 15s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (state(order_id) == want)
        return true;
      std::this_thread::sleep_for(30ms);
    }
    return state(order_id) == want;
  }

  /// Waits for `cond` (or `timeout`).
  template<class F>
  static bool eventually(F cond, std::chrono::milliseconds timeout = 15s) {
    return souk::testing::eventually(cond, timeout, 30ms);
  }

  int events(const std::string& order_id, const std::string& name) {
    int n = 0;
    for (auto& e : snapshot(order_id).events)
      n += e.event == name;
    return n;
  }

  bool ever_in(const std::string& order_id, const std::string& s) {
    for (auto& e : snapshot(order_id).events)
      if (e.to_state == s)
        return true;
    return false;
  }

  persistence::payment_row payment(const std::string& order_id) {
    auto p = persistence::payment_repository{*db}.find_by_order(order_id);
    BOOST_REQUIRE(p);
    BOOST_REQUIRE(p->has_value());
    return **p;
  }

  /// A call as the creator.
  http_reply as_creator(const std::string& method, const std::string& path,
                        const std::string& body = {},
                        const std::string& key = {}) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Authorization", "Bearer " + creator_token}};
    if (!body.empty())
      h.emplace_back("Content-Type", "application/json");
    if (!key.empty())
      h.emplace_back("Idempotency-Key", key);
    return http_request(port, method, path, body, h);
  }

  /// Buys and pays for `n` products (a 5,000.00 NGN sale each).
  void sell(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto order = checkout();
      auto paid = press(order, "pay");
      BOOST_REQUIRE_MESSAGE(paid.status < 400, paid.body);
      ids.push_back(order["order"]["id"]);
    }
    for (auto& id : ids)
      BOOST_REQUIRE(reaches(id, "delivered"));
  }

  /// The creator's balance of `kind` (pending, available, ...) in NGN.
  int64_t balance(const std::string& kind) {
    auto w = as_creator("GET", "/api/v1/wallet");
    BOOST_REQUIRE_MESSAGE(w.status == 200, w.body);
    auto doc = json::parse(w.body);
    for (auto& c : doc["items"])
      if (c["currency"] == "NGN")
        return c[kind].get<int64_t>();
    return 0;
  }

  long long count(const std::string& sql_text) {
    long long n = 0;
    auto st
      = db->run([&](soci::session& sql) { sql << sql_text, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  /// Rows of `inbox` for `reference`, and how many are still unprocessed.
  long long inbox_rows(const std::string& reference) {
    return count("SELECT COUNT(*) FROM inbox WHERE reference = '" + reference
                 + "'");
  }
  long long inbox_open() {
    return count("SELECT COUNT(*) FROM inbox WHERE status = 'received'");
  }
};

} // namespace souk::testing
