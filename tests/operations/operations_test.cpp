// The operator's surface over real HTTP on a real node: live and passivated
// actors with hundreds of orders in flight, retry/cancel through the order
// actor, /metrics moving with the orders (checked by promtool and by
// souk's own reader), and soukctl driving the same API. Runs on SQLite and
// PostgreSQL (--backend).
//
// The node runs a test flow whose one step, `test.gate`, is held, failed
// or passed at the test's command, so orders can be kept in flight.

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/spawn_options.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/actors/engine.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/storage/blob_store.hpp"
#include "souk/testing/node_settings.hpp"
#include "souk/testing/support.hpp"

#include "node.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;
using nlohmann::json;

namespace {

constexpr const char* password = "correct horse battery";

constexpr const char* held_flow = R"(flow: held
version: 1
initial: pending
states:
  pending:
    on: { test.go: working, order.cancel: cancelled }
  working:
    steps:
      - call: test.gate
        retry: { initial: 100ms, max_attempts: 2, give_up_on: [invalid_field] }
    on: { steps.done: done, steps.failed: needs_attention }
  done: { terminal: true }
  cancelled: { terminal: true }
  needs_attention: { terminal: true }
)";

// What `test.gate` does with each call: wait until opened, refuse, or pass.
struct gate {
  enum mode_t { hold, refuse, pass };
  std::mutex mx;
  std::condition_variable cv;
  mode_t mode = pass;
  int calls = 0;

  void set(mode_t m) {
    {
      std::lock_guard lock{mx};
      mode = m;
    }
    cv.notify_all();
  }

  souk::actors::action_result run() {
    std::unique_lock lock{mx};
    ++calls;
    cv.wait(lock, [&] { return mode != hold; });
    if (mode == refuse)
      return {souk::errc::invalid_field, "the gate refuses"};
    return {};
  }
};

// Detached: it blocks while the gate holds, and the calls queue up in its
// mailbox meanwhile, each order's step in flight.
caf::behavior gate_service(caf::event_based_actor*, std::shared_ptr<gate> g) {
  return {
    [g](souk::actors::run_atom, souk::actors::action_call&) {
      return g->run();
    },
  };
}

struct fixture {
  st::scratch_database scratch;
  st::temp_dir dir;
  std::shared_ptr<gate> g = std::make_shared<gate>();
  souk::config::settings cfg;
  std::unique_ptr<souk::node> node;
  std::shared_ptr<souk::persistence::database> db;
  uint16_t port = 0;
  std::string product;
  std::string op_id;
  std::string token;    // an operator's session
  std::string api_key;  // an operator's API key (soukctl)
  std::string customer; // a customer's session

  fixture() {
    namespace fs = std::filesystem;
    fs::create_directories(dir.path() / "flows");
    std::ofstream{dir.path() / "flows" / "held.yaml"} << held_flow;
    st::embedded_node_settings(cfg, dir.path(), scratch.url());
    cfg.orders.step_timeout = 60s; // held steps must not time out
    souk::node_extensions ext;
    ext.actions["test.gate"] = {};
    ext.services.emplace_back("test", [g = g](caf::actor_system& sys) {
      return sys.spawn<caf::detached>(gate_service, g);
    });
    node = std::make_unique<souk::node>(cfg, ext);
    auto err = node->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    port = static_cast<uint16_t>(
      std::stoi(node->url().substr(node->url().rfind(':') + 1)));
    db = scratch.open(2);
    seed();
  }

  ~fixture() {
    g->set(gate::pass);
    node->stop();
    db->shutdown();
  }

  void seed() {
    souk::accounts::policy p;
    p.cost = {1, 64 << 10};
    souk::accounts::service acc{db, p};
    auto creator = acc.sign_up("c" + souk::random_hex(4) + "@example.com",
                               password, "creator");
    BOOST_REQUIRE(creator);
    auto op_email = "op" + souk::random_hex(4) + "@example.com";
    auto op = acc.create_operator(op_email, password);
    BOOST_REQUIRE(op);
    op_id = op->id;
    auto cust_email = "b" + souk::random_hex(4) + "@example.com";
    BOOST_REQUIRE(acc.sign_up(cust_email, password, "customer"));
    product = souk::new_uuid();
    auto err = db->run([&](soci::session& sql) {
      sql << "INSERT INTO products (id, creator_id, title, description, "
             "price_amount, currency, flow, status, version, created_at, "
             "updated_at, published_at) VALUES (:id, :c, 'Held', '', 5000, "
             "'NGN', 'held', 'published', 1, '2026-01-01T00:00:00.000Z', "
             "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        soci::use(product), soci::use(creator->id);
    });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    token = login(op_email);
    customer = login(cust_email);
    souk::accounts::principal who;
    who.who.id = op->id;
    who.who.role = "operator";
    auto key = acc.create_api_key(who, "tests");
    BOOST_REQUIRE(key);
    api_key = key->key;
  }

  std::string login(const std::string& email) {
    auto r
      = st::http_request(port, "POST", "/api/v1/auth/login",
                         json{{"email", email}, {"password", password}}.dump(),
                         {{"Content-Type", "application/json"}});
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body)["token"];
  }

  st::http_reply as(const std::string& who, const std::string& method,
                    const std::string& target, const std::string& body = {}) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Authorization", "Bearer " + who}};
    if (!body.empty())
      h.emplace_back("Content-Type", "application/json");
    return st::http_request(port, method, target, body, h);
  }

  json get(const std::string& target) {
    auto r = as(token, "GET", target);
    BOOST_REQUIRE_MESSAGE(r.status == 200, target << ": " << r.body);
    return json::parse(r.body);
  }

  std::string metrics() {
    auto r = as(token, "GET", "/metrics");
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    BOOST_TEST(r.header("content-type")
                 .value_or("")
                 .starts_with("text/plain; version=0.0.4"));
    return r.body;
  }

  double sample(const std::string& text, const std::string& name,
                const std::map<std::string, std::string>& labels = {}) {
    return souk::metrics::sum_of(text, name, labels).value_or(0);
  }

  std::string create() {
    souk::persistence::order_row base;
    base.product_id = product;
    base.buyer_email = "buyer@example.com";
    base.amount = 5000;
    base.currency = "NGN";
    auto o = node->engine().create(base, "held");
    BOOST_REQUIRE_MESSAGE(o, (o ? "" : o.err().detail));
    return o->id;
  }

  // Sends `test.go` without waiting for the answer.
  void go(const std::string& id) {
    node->engine().deliver(id, {"test.go", "test", "", ""},
                           [](souk::expected<souk::orders::outcome>) {});
  }

  std::string state(const std::string& id) {
    auto s = souk::persistence::order_repository{*db}.load(id);
    BOOST_REQUIRE(s && *s);
    return (*s)->order.state;
  }

  template<class F>
  static bool eventually(F cond, std::chrono::milliseconds limit = 30s) {
    return souk::testing::eventually(cond, limit, 50ms);
  }

  // Runs soukctl against this node; (exit code, stdout).
  std::pair<int, std::string> soukctl(std::vector<std::string> args,
                                      const std::string& with_token) {
    std::vector<std::string> argv{SOUK_SOUKCTL};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env{"SOUK_ADMIN_URL=" + node->url(),
                                 "SOUK_DATABASE_URL=" + scratch.url()};
    if (!with_token.empty())
      env.push_back("SOUK_ADMIN_TOKEN=" + with_token);
    st::child_process p{argv, env, dir.path()};
    auto rc = p.wait(60s);
    BOOST_REQUIRE_MESSAGE(rc, "soukctl did not finish: " << p.err());
    return {*rc, p.out()};
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(operations, fixture)

BOOST_AUTO_TEST_CASE(hundreds_of_orders_in_flight_show_live_with_their_steps) {
  constexpr int n = 300;
  g->set(gate::hold);
  auto before = metrics();
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(create());
  // Waiting for `test.go`, they have no actor: passivated.
  BOOST_TEST(sample(metrics(), "souk_actors_passivated") == n);
  auto passive = get("/admin/actors?status=passivated&flow=held&limit=500");
  BOOST_TEST(passive["items"].size() == static_cast<size_t>(n));
  BOOST_TEST(passive["items"][0]["status"] == "passivated");
  BOOST_TEST(passive["items"][0]["state"] == "pending");
  for (auto& id : ids)
    go(id);
  // Every one is activated and runs its step: all live, in `working`.
  json live;
  BOOST_REQUIRE(eventually([&] {
    live = get("/admin/actors?kind=order&state=working&limit=500");
    return live["items"].size() == static_cast<size_t>(n);
  }));
  for (auto& x : live["items"]) {
    BOOST_TEST(x["status"] == "live");
    BOOST_TEST(x["flow"] == "held");
    BOOST_TEST(x["mailbox"].is_number_unsigned());
    BOOST_TEST(x["step"]["action"] == "test.gate");
    BOOST_TEST(x["step"]["in_flight"] == true);
    BOOST_TEST(x["ms_in_state"].get<int64_t>() >= 0);
  }
  // Pages follow the cursor without losing or repeating anyone.
  std::set<std::string> seen;
  std::string cursor;
  do {
    auto page = get("/admin/actors?kind=order&limit=120"
                    + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (auto& x : page["items"])
      BOOST_TEST(seen.insert(x["id"].get<std::string>()).second);
    cursor = page["next_cursor"].is_string()
               ? page["next_cursor"].get<std::string>()
               : "";
  } while (!cursor.empty());
  BOOST_TEST(seen.size() == static_cast<size_t>(n));
  BOOST_TEST(get("/admin/actors?status=passivated&flow=held")["items"].empty());

  // soukctl shows the same, as a table and as JSON.
  auto [rc, out] = soukctl({"actors", "--kind", "order", "--json"}, api_key);
  BOOST_REQUIRE_MESSAGE(rc == 0, out);
  BOOST_TEST(json::parse(out)["items"].size() == static_cast<size_t>(n));
  auto [rc2, text] = soukctl({"actors", "--state", "working"}, api_key);
  BOOST_TEST(rc2 == 0);
  BOOST_TEST(text.find("test.gate#1*") != std::string::npos);
  BOOST_TEST(text.find(std::to_string(n) + " order actor(s)")
             != std::string::npos);

  auto during = metrics();
  BOOST_TEST(sample(during, "souk_actors_live", {{"kind", "order"}}) >= n);
  BOOST_TEST(sample(during, "souk_actors_passivated") == 0);
  BOOST_TEST(
    sample(during, "souk_orders", {{"flow", "held"}, {"state", "working"}})
    == n);

  g->set(gate::pass);
  BOOST_REQUIRE(eventually([&] {
    return souk::metrics::sum_of(metrics(), "souk_orders",
                                 {{"flow", "held"}, {"state", "done"}})
             .value_or(0)
           == n;
  }));
  // An actor counts its transition once the write is back, a moment after
  // the row says done: wait for the last step's count too.
  BOOST_REQUIRE(eventually([&] {
    auto now_text = metrics();
    auto grew = [&](const std::string& name,
                    const std::map<std::string, std::string>& labels) {
      return sample(now_text, name, labels) - sample(before, name, labels);
    };
    return grew("souk_order_steps_total", {{"flow", "held"},
                                           {"action", "test.gate"},
                                           {"result", "succeeded"}})
             >= n
           && grew("souk_order_transitions_total",
                   {{"flow", "held"}, {"from", "working"}, {"to", "done"}})
                >= n;
  }));
  auto after = metrics();
  // The counters moved with the orders.
  auto moved = [&](const std::string& name,
                   const std::map<std::string, std::string>& labels) {
    return sample(after, name, labels) - sample(before, name, labels);
  };
  BOOST_TEST(moved("souk_order_transitions_total",
                   {{"flow", "held"}, {"from", "pending"}, {"to", "working"}})
             == n);
  BOOST_TEST(moved("souk_order_transitions_total",
                   {{"flow", "held"}, {"from", "working"}, {"to", "done"}})
             == n);
  BOOST_TEST(
    moved("souk_order_steps_total",
          {{"flow", "held"}, {"action", "test.gate"}, {"result", "succeeded"}})
    == n);
  BOOST_TEST(moved("souk_actor_activations_total", {}) >= n);
  BOOST_TEST(moved("souk_http_requests_total",
                   {{"route", "/admin/actors"}, {"status", "200"}})
             >= 3);
  // Done orders leave memory at once.
  BOOST_REQUIRE(eventually([&] {
    return souk::metrics::sum_of(metrics(), "souk_actors_live",
                                 {{"kind", "order"}})
             .value_or(-1)
           == 0;
  }));
}

BOOST_AUTO_TEST_CASE(a_parked_order_is_retried_through_its_actor) {
  g->set(gate::refuse);
  auto id = create();
  auto r = node->engine().deliver_wait(id, {"test.go", "test", "", ""});
  BOOST_REQUIRE(r);
  BOOST_REQUIRE(eventually([&] { return state(id) == "needs_attention"; }));
  // Parked: no actor, but listed as waiting for a person.
  BOOST_REQUIRE(eventually([&] {
    return get("/admin/actors?status=passivated&state=needs_attention")["items"]
             .size()
           == 1;
  }));
  auto record = get("/admin/orders/" + id);
  BOOST_TEST(record["order"]["state"] == "needs_attention");
  BOOST_TEST(record["actor"]["status"] == "passivated");
  BOOST_REQUIRE(!record["outbox"].empty());
  auto key = record["outbox"].back()["idempotency_key"].get<std::string>();
  BOOST_TEST(record["outbox"].back()["status"] == "failed");

  // Retry while the gate holds: the actor is activated and runs the step.
  g->set(gate::hold);
  auto calls = g->calls;
  auto [rc, out] = soukctl({"retry", id, "--reason", "gate fixed"}, api_key);
  BOOST_REQUIRE_MESSAGE(rc == 0, out);
  BOOST_TEST(out.find("now working") != std::string::npos);
  BOOST_REQUIRE(eventually([&] { return g->calls > calls; }));
  auto live = get("/admin/orders/" + id);
  BOOST_TEST(live["actor"]["status"] == "live");
  BOOST_TEST(live["actor"]["step"]["in_flight"] == true);
  // The same side effect, under its own key, not a new one.
  BOOST_TEST(live["outbox"].size() == record["outbox"].size());
  BOOST_TEST(live["outbox"].back()["idempotency_key"] == key);
  BOOST_TEST(live["outbox"].back()["status"] == "pending");
  auto retry_event = live["timeline"].back();
  BOOST_TEST(retry_event["event"] == "order.retry");
  BOOST_TEST(retry_event["actor"] == "operator:" + op_id);
  BOOST_TEST(retry_event["detail"]["reason"] == "gate fixed");
  BOOST_TEST(retry_event["from"] == "needs_attention");
  BOOST_TEST(retry_event["to"] == "working");

  g->set(gate::pass);
  BOOST_REQUIRE(eventually([&] { return state(id) == "done"; }));
  // A second retry has nothing to resume.
  auto again = as(token, "POST", "/admin/orders/" + id + "/retry");
  BOOST_TEST(again.status == 409u);
  BOOST_TEST(json::parse(again.body)["code"] == "conflict");
  BOOST_TEST(get("/admin/orders/" + id)["timeline"].back()["event"]
             == "steps.done");
}

BOOST_AUTO_TEST_CASE(cancel_goes_through_the_flow_and_is_refused_elsewhere) {
  auto id = create();
  auto before = get("/admin/orders/" + id)["timeline"].size();
  auto r = as(token, "POST", "/admin/orders/" + id + "/cancel",
              json{{"reason", "buyer asked"}}.dump());
  BOOST_REQUIRE_MESSAGE(r.status == 202, r.body);
  BOOST_TEST(json::parse(r.body)["state"] == "cancelled");
  auto record = get("/admin/orders/" + id);
  BOOST_TEST(record["timeline"].size() == before + 1);
  BOOST_TEST(record["timeline"].back()["event"] == "order.cancel");
  BOOST_TEST(record["timeline"].back()["actor"] == "operator:" + op_id);
  // Cancelled is terminal: the flow takes no cancel (or retry) there, and
  // a refused action leaves nothing in the timeline.
  auto twice = as(token, "POST", "/admin/orders/" + id + "/cancel");
  BOOST_TEST(twice.status == 409u);
  auto [rc, out] = soukctl({"retry", id}, api_key);
  BOOST_TEST(rc == 1);
  // Nor a fulfilment: it never had a payment that came late.
  auto [rc_f, out_f] = soukctl({"fulfil", id, "--reason", "paid"}, api_key);
  BOOST_TEST(rc_f == 1, out_f);
  BOOST_TEST(get("/admin/orders/" + id)["timeline"].size() == before + 1);
  // Unknown orders are 404, also to soukctl (exit 1); bad tokens exit 3.
  BOOST_TEST(
    as(token, "POST", "/admin/orders/" + souk::new_uuid() + "/cancel").status
    == 404u);
  BOOST_TEST(soukctl({"order", souk::new_uuid()}, api_key).first == 1);
  BOOST_TEST(soukctl({"actors"}, customer).first == 3);
  BOOST_TEST(soukctl({"actors"}, "").first == 3);
  BOOST_TEST(soukctl({"actors"}, "souk_sk_bogus").first == 3);
}

BOOST_AUTO_TEST_CASE(bad_input_to_the_admin_routes_names_the_field) {
  auto field_of = [&](const std::string& method, const std::string& target,
                      const std::string& body = {}) {
    auto r = as(token, method, target, body);
    BOOST_TEST(r.status == 422u, target << ": " << r.body);
    auto doc = json::parse(r.body, nullptr, false);
    BOOST_TEST(doc.value("code", "") == "invalid_field");
    return doc.value("field", "");
  };
  BOOST_TEST(field_of("GET", "/admin/actors?kind=robot") == "kind");
  BOOST_TEST(field_of("GET", "/admin/actors?status=asleep") == "status");
  BOOST_TEST(field_of("GET", "/admin/actors?state=Not%20a%20name") == "state");
  BOOST_TEST(field_of("GET", "/admin/actors?limit=0") == "limit");
  BOOST_TEST(field_of("GET", "/admin/actors?limit=501") == "limit");
  auto id = create();
  BOOST_TEST(field_of("POST", "/admin/orders/" + id + "/cancel",
                      json{{"reason", std::string(501, 'x')}}.dump())
             == "reason");
  // Refused input changed nothing: the order still waits, one event long.
  BOOST_TEST(state(id) == "pending");
  BOOST_TEST(get("/admin/orders/" + id)["timeline"].size() == 1u);
  // soukctl checks its own arguments before asking.
  BOOST_TEST(soukctl({"actors", "--limit", "many"}, api_key).first == 2);
  BOOST_TEST(soukctl({"retry"}, api_key).first == 2);
  BOOST_TEST(soukctl({"fulfil"}, api_key).first == 2);
  BOOST_TEST(soukctl({"fulfil", id, "--amount", "5"}, api_key).first == 2);
  BOOST_TEST(soukctl({"cancel", id, "--amount", "5"}, api_key).first == 2);
  BOOST_TEST(state(id) == "pending");
}

BOOST_AUTO_TEST_CASE(metrics_follow_the_text_format) {
  // Something in every family: an order moved, a request refused.
  auto id = create();
  BOOST_REQUIRE(node->engine().deliver_wait(id, {"test.go", "test", "", ""}));
  BOOST_REQUIRE(eventually([&] { return state(id) == "done"; }));
  as(customer, "GET", "/metrics"); // 403, counted
  auto text = metrics();
  auto problems = souk::metrics::lint(text);
  for (auto& p : problems)
    BOOST_TEST_MESSAGE(p);
  BOOST_TEST(problems.empty());
  BOOST_TEST(sample(text, "souk_http_requests_total",
                    {{"route", "/metrics"}, {"status", "403"}})
             >= 1);
  for (auto name :
       {"souk_http_request_duration_seconds_count", "souk_db_connections",
        "souk_db_connections_in_use", "souk_db_lease_waits_total",
        "souk_outbox_lag_seconds", "souk_timer_lag_seconds", "souk_orders_open",
        "souk_service_up", "souk_actors_live"})
    BOOST_TEST(souk::metrics::sum_of(text, name).has_value(), name);
  // promtool (Debian's prometheus package, installed by the test setup)
  // agrees.
  auto file = dir.path() / "metrics.txt";
  std::ofstream{file} << text;
  st::child_process promtool{
    {"/bin/sh", "-c", "promtool check metrics < " + file.string()},
    {},
    dir.path()};
  auto rc = promtool.wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_TEST(*rc == 0, promtool.out() << promtool.err());
  // Bad input to the reader is reported, line by line.
  auto bad = souk::metrics::lint("# TYPE x_total counter\nx_total{a=\"b} 1\n"
                                 "y 2\n# TYPE h histogram\nh_bucket{le=\"1\"} "
                                 "3\nh_count 2\n");
  BOOST_TEST(bad.size() >= 3u);
}

BOOST_AUTO_TEST_CASE(soukctl_shows_an_order_with_its_log_lines_and_the_flows) {
  auto id = create();
  BOOST_REQUIRE(node->engine().deliver_wait(id, {"test.go", "test", "", ""}));
  BOOST_REQUIRE(eventually([&] { return state(id) == "done"; }));
  auto log = dir.path() / "soukd.log";
  std::ofstream{log} << "2026-01-01T00:00:00.000Z info  unrelated line\n"
                     << "2099-01-01T00:00:00.123Z warn  order " << id
                     << ": a line about it\n";
  auto [rc, out] = soukctl({"order", id, "--log", log.string()}, api_key);
  BOOST_REQUIRE_MESSAGE(rc == 0, out);
  BOOST_TEST(out.find("order.created") != std::string::npos);
  BOOST_TEST(out.find("steps.done") != std::string::npos);
  BOOST_TEST(out.find("a line about it") != std::string::npos);
  BOOST_TEST(out.find("unrelated line") == std::string::npos);
  // Merged by time: the line from 2099 comes after every event.
  BOOST_TEST(out.find("a line about it") > out.find("steps.done"));
  // A buyer writing in gives their email: soukctl orders finds the order
  // by it, however it is written.
  auto [rc_found, found_out]
    = soukctl({"orders", "--email", "Buyer@Example.com"}, api_key);
  BOOST_REQUIRE_MESSAGE(rc_found == 0, found_out);
  BOOST_TEST(found_out.find(id) != std::string::npos);
  BOOST_TEST(found_out.find("1 order(s)") != std::string::npos);
  auto [rc_none, none]
    = soukctl({"orders", "--email", "someone@example.com", "--json"}, api_key);
  BOOST_REQUIRE_MESSAGE(rc_none == 0, none);
  BOOST_TEST(json::parse(none)["items"].empty());
  // A bad email is the server's 422: exit 1.
  BOOST_TEST(soukctl({"orders", "--email", "nobody"}, api_key).first == 1);
  auto [rc2, flows] = soukctl({"flows", "--json"}, api_key);
  BOOST_REQUIRE(rc2 == 0);
  auto doc = json::parse(flows);
  bool found = false;
  for (auto& f : doc["items"])
    if (f["name"] == "held")
      for (auto& s : f["states"])
        if (s["name"] == "done") {
          found = true;
          BOOST_TEST(s["orders"] == 1);
          BOOST_TEST(s["terminal"] == true);
        }
  BOOST_TEST(found);
}

BOOST_AUTO_TEST_SUITE_END()

// Housekeeping on a real node: expired sessions, old Idempotency-Keys and
// quiet login throttles left in the database are deleted as the node
// starts (then hourly), and live ones are kept.
BOOST_AUTO_TEST_SUITE(housekeeping)

BOOST_AUTO_TEST_CASE(a_starting_node_deletes_rows_past_their_time) {
  st::scratch_database scratch;
  st::temp_dir dir;
  auto db = scratch.open(1);
  auto r = souk::persistence::migrate(
    *db, souk::persistence::shipped_migrations(db->kind()));
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  auto exec = [&](const std::string& q) {
    auto err = db->run([&](soci::session& sql) { sql << q; });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
  };
  auto count = [&](const std::string& q) {
    long long n = -1;
    auto err = db->run([&](soci::session& sql) { sql << q, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    return n;
  };
  auto t = souk::now();
  auto ago = [&](std::chrono::hours h) { return souk::to_iso(t - h); };
  auto later = souk::to_iso(t + 24h);
  exec("INSERT INTO users (id, email, password_hash, role, created_at, "
       "updated_at) VALUES ('u', 'u@example.com', 'x', 'customer', '"
       + ago(2000h) + "', '" + ago(2000h) + "')");
  for (auto [id, expires] :
       {std::pair<std::string, std::string>{"gone", ago(31 * 24h)},
        {"kept", ago(24h)},
        {"live", later}})
    exec("INSERT INTO sessions (id, user_id, token_hash, created_at, "
         "expires_at, remote, user_agent) VALUES ('"
         + id + "', 'u', 'h" + id + "', '" + ago(1000h) + "', '" + expires
         + "', '127.0.0.1', 'test')");
  for (auto [k, created] :
       {std::pair<std::string, std::string>{"gone", ago(8 * 24h)},
        {"kept", ago(6 * 24h)}})
    exec("INSERT INTO idempotency_keys (scope, idem_key, request_hash, "
         "status, locked_until, created_at) VALUES ('orders:guest', '"
         + k + "', 'x', 'done', '" + created + "', '" + created + "')");
  exec("INSERT INTO login_throttle (email, failures, last_failure_at) VALUES "
       "('gone@example.com', 2, '"
       + ago(25h) + "'), ('kept@example.com', 2, '" + ago(23h) + "')");

  souk::config::settings cfg;
  std::filesystem::create_directories(dir.path() / "flows");
  st::embedded_node_settings(cfg, dir.path(), scratch.url());
  souk::node node{cfg, {}};
  auto err = node.start();
  BOOST_REQUIRE_MESSAGE(!err, err.detail);
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    done = count("SELECT COUNT(*) FROM sessions") == 2
           && count("SELECT COUNT(*) FROM idempotency_keys") == 1
           && count("SELECT COUNT(*) FROM login_throttle") == 1;
    if (!done)
      std::this_thread::sleep_for(100ms);
  }
  node.stop();
  BOOST_TEST(done);
  BOOST_TEST(count("SELECT COUNT(*) FROM sessions WHERE id = 'gone'") == 0);
  BOOST_TEST(count("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = "
                   "'kept'")
             == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM login_throttle WHERE email = "
                   "'kept@example.com'")
             == 1);
  db->shutdown();
}

namespace {

// A committed blob in `store` holding `bytes`; its key.
std::string blob(souk::storage::blob_store& store, const std::string& bytes) {
  auto w = store.create();
  BOOST_REQUIRE(w);
  BOOST_REQUIRE(!(*w)->write(bytes));
  auto info = (*w)->commit();
  BOOST_REQUIRE(info);
  return info->key;
}

using names = souk::expected<std::unordered_set<std::string>>;

} // namespace

// Bytes no product file names (an upload that crashed between storing its
// blob and recording it, or in the middle) are set aside by a starting node
// once older than storage.orphan_grace; named ones and files that are not
// souk's stay.
BOOST_AUTO_TEST_CASE(a_starting_node_sets_aside_files_no_product_names) {
  st::scratch_database scratch;
  st::temp_dir dir;
  auto db = scratch.open(1);
  auto r = souk::persistence::migrate(
    *db, souk::persistence::shipped_migrations(db->kind()));
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  souk::config::settings cfg;
  std::filesystem::create_directories(dir.path() / "flows");
  st::embedded_node_settings(cfg, dir.path(), scratch.url());
  cfg.storage.orphan_grace = 2s;
  cfg.http.read_timeout = 500ms;
  auto root = std::filesystem::path{cfg.data_dir} / "files";
  auto store = souk::storage::make_local_store(root);
  auto named = blob(*store, "a product's file");
  auto orphan = blob(*store, "recorded by nobody");
  auto t = souk::to_iso(souk::now());
  auto exec = [&](const std::string& q) {
    auto err = db->run([&](soci::session& sql) { sql << q; });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
  };
  exec("INSERT INTO users (id, email, password_hash, role, created_at, "
       "updated_at) VALUES ('c', 'c@example.com', 'x', 'creator', '"
       + t + "', '" + t + "')");
  exec("INSERT INTO products (id, creator_id, title, description, "
       "price_amount, currency, flow, status, version, created_at, "
       "updated_at) VALUES ('p', 'c', 'Book', 'A book', 1000, 'NGN', "
       "'digital_download', 'draft', 1, '"
       + t + "', '" + t + "')");
  exec("INSERT INTO product_files (id, product_id, name, storage_key, size, "
       "sha256, content_type, created_at, updated_at) VALUES ('f', 'p', "
       "'book.pdf', '"
       + named + "', 16, 'x', 'application/pdf', '" + t + "', '" + t + "')");
  auto stale_part = root / "tmp" / (souk::new_uuid() + ".part");
  std::ofstream{stale_part} << "half";
  auto stranger = root / "blobs" / "README";
  std::ofstream{stranger} << "notes";
  std::this_thread::sleep_for(2200ms); // all of them older than the grace

  souk::node node{cfg, {}};
  auto err = node.start();
  BOOST_REQUIRE_MESSAGE(!err, err.detail);
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    done = !store->exists(orphan) && !std::filesystem::exists(stale_part);
    if (!done)
      std::this_thread::sleep_for(100ms);
  }
  node.stop();
  BOOST_TEST(done);
  BOOST_TEST(std::filesystem::exists(root / "orphaned" / orphan));
  BOOST_TEST(store->exists(named));
  BOOST_TEST(std::filesystem::exists(stranger));
  db->shutdown();
}

// The sweep on its own: young files and writes in progress stay; unfinished
// writes untouched since the cut-off go first; set-aside
// files go for good once kept long enough; nothing moves when the database
// cannot say, names nothing, or leaves most files unnamed (another
// database, not lost uploads).
BOOST_AUTO_TEST_CASE(the_sweep_keeps_what_may_still_be_wanted) {
  st::temp_dir dir;
  auto store = souk::storage::make_local_store(dir.path());
  std::vector<std::string> old;
  for (int i = 0; i < 13; ++i)
    old.push_back(blob(*store, "file " + std::to_string(i)));
  auto stale_part = dir.path() / "tmp" / (souk::new_uuid() + ".part");
  std::ofstream{stale_part} << "half";
  std::this_thread::sleep_for(20ms);
  auto before = std::chrono::system_clock::now();
  std::this_thread::sleep_for(20ms);
  auto young = blob(*store, "being recorded now");
  auto live_part = dir.path() / "tmp" / (souk::new_uuid() + ".part");
  std::ofstream{live_part} << "half";
  auto never = before - 24h; // nothing quarantined expires
  auto all_there = [&] {
    for (auto& k : old)
      if (!store->exists(k))
        return false;
    return store->exists(young);
  };

  auto down = souk::storage::remove_orphans(
    *store,
    []() -> names {
      return souk::error{souk::errc::database, "down"};
    },
    before, never);
  BOOST_REQUIRE(!down);
  BOOST_TEST(down.err().detail == "down");
  BOOST_TEST(all_there());
  // Unfinished writes do not depend on the database: gone already.
  BOOST_TEST(!std::filesystem::exists(stale_part));
  BOOST_TEST(std::filesystem::exists(live_part));
  auto nothing_named = souk::storage::remove_orphans(
    *store, [] { return names{std::unordered_set<std::string>{}}; }, before,
    never);
  BOOST_REQUIRE(!nothing_named);
  BOOST_TEST(nothing_named.err().detail.find("another database")
               != std::string::npos,
             nothing_named.err().detail);
  BOOST_TEST(all_there());
  // Eleven of thirteen unnamed: refused too.
  auto most = souk::storage::remove_orphans(
    *store,
    [&] {
      return names{std::unordered_set<std::string>{old[0], old[1]}};
    },
    before, never);
  BOOST_REQUIRE(!most);
  BOOST_TEST(all_there());

  // Two of thirteen unnamed: set aside; the young one stays whatever.
  std::unordered_set<std::string> known(old.begin() + 2, old.end());
  auto swept = souk::storage::remove_orphans(
    *store, [&] { return names{known}; }, before, never);
  BOOST_REQUIRE_MESSAGE(swept, (swept ? "" : swept.err().detail));
  BOOST_TEST(swept->quarantined == 2u);
  BOOST_TEST(!store->exists(old[0]));
  BOOST_TEST(std::filesystem::exists(dir.path() / "orphaned" / old[0]));
  BOOST_TEST(store->exists(old[2]));
  BOOST_TEST(store->exists(young));
  BOOST_TEST(std::filesystem::exists(live_part));
  // Moved back by an operator, a file is served again.
  std::filesystem::rename(dir.path() / "orphaned" / old[1],
                          dir.path() / "blobs" / old[1]);
  BOOST_TEST(store->exists(old[1]));
  known.insert(old[1]);
  // Kept long enough: gone for good.
  auto expired = souk::storage::remove_orphans(
    *store, [&] { return names{known}; }, before,
    std::chrono::system_clock::now() + 1s);
  BOOST_REQUIRE(expired);
  BOOST_TEST(expired->expired == 1u);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "orphaned" / old[0]));
  BOOST_TEST(store->exists(old[1]));
}

BOOST_AUTO_TEST_SUITE_END()
