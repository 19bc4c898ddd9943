// End-to-end: the real soukd binary, started as a child process.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;

namespace {

std::string listen_env(uint16_t port) {
  return "SOUK_LISTEN=127.0.0.1:" + std::to_string(port);
}

// soukd arguments for the backend under test: nothing for SQLite (the
// embedded default under ./var), --database for PostgreSQL.
std::vector<std::string> soukd_args(const st::scratch_database& db) {
  std::vector<std::string> args{SOUK_SOUKD};
  if (st::backend_name() == "postgresql") {
    args.push_back("--database");
    args.push_back(db.url());
  }
  return args;
}

bool wait_ready(st::child_process& p, uint16_t port) {
  if (!p.wait_for_output(
        "souk is running at http://127.0.0.1:" + std::to_string(port) + "/",
        60s))
    return false;
  // Generous: two ASan builds migrating one SQLite file while the browser
  // tests share the machine's two cores can take seconds.
  for (int i = 0; i < 400; ++i) {
    try {
      if (st::http_request(port, "GET", "/readyz").status == 200)
        return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// The database soukd run by `soukd_args` in `dir` uses, opened to check
// its rows.
auto open_node_database(const st::scratch_database& db,
                        const st::temp_dir& dir) {
  souk::persistence::database::options opts;
  opts.url = st::backend_name() == "postgresql"
               ? db.url()
               : "sqlite://" + (dir.path() / "var" / "souk.db").string();
  opts.pool_size = 1;
  return souk::persistence::database::open(opts);
}

} // namespace

BOOST_AUTO_TEST_SUITE(soukd_config)

BOOST_AUTO_TEST_CASE(an_unknown_key_stops_start_up_naming_key_and_line) {
  st::temp_dir dir;
  std::ofstream{dir.path() / "bad.yaml"} << "listen: 127.0.0.1:8080\n"
                                            "http:\n"
                                            "  idle_timout: 5s\n";
  auto r
    = st::run_program({SOUK_SOUKD, "--config", "bad.yaml"}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST_INFO(r.err);
  BOOST_TEST(r.err.find("bad.yaml:3:3") != std::string::npos);
  BOOST_TEST(r.err.find("unknown key 'http.idle_timout'") != std::string::npos);
  // Nothing was created: it stopped before touching the data directory.
  BOOST_TEST(!std::filesystem::exists(dir.path() / "var"));
}

BOOST_AUTO_TEST_CASE(check_config_shows_env_overrides_and_their_origin) {
  st::temp_dir dir;
  std::ofstream{dir.path() / "ok.yaml"} << "http:\n  body_limit: 2MiB\n";
  auto r = st::run_program(
    {SOUK_SOUKD, "--config", "ok.yaml", "--check-config"},
    {"SOUK_HTTP_BODY_LIMIT=3MiB", "SOUK_DATABASE_URL=postgresql://u:pw@h/db"},
    dir.path());
  BOOST_TEST(r.code == 0);
  BOOST_TEST_INFO(r.out);
  BOOST_TEST(r.out.find("http.body_limit: 3MiB  # env SOUK_HTTP_BODY_LIMIT")
             != std::string::npos);
  BOOST_TEST(r.out.find("postgresql://u:***@h/db") != std::string::npos);
  BOOST_TEST(r.out.find("pw@") == std::string::npos);
  BOOST_TEST(r.out.find("configuration OK") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_env_values_and_flags_are_refused) {
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKD, "--check-config"},
                           {"SOUK_HTTP_THREADS=many"}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("SOUK_HTTP_THREADS") != std::string::npos);
  r = st::run_program({SOUK_SOUKD, "--no-such-flag"}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--no-such-flag") != std::string::npos);
  r = st::run_program({SOUK_SOUKD, "--help"}, {}, dir.path());
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("--database URL") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(soukd)

BOOST_AUTO_TEST_CASE(serves_health_and_readiness_with_env_overrides) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.err());
  auto health = st::http_request(port, "GET", "/healthz");
  BOOST_TEST(health.status == 200u);
  auto ready = st::http_request(port, "GET", "/readyz");
  BOOST_TEST(ready.status == 200u);
  auto doc = nlohmann::json::parse(ready.body);
  BOOST_TEST(doc["checks"]["migrations"] == "ok");
  BOOST_TEST(doc["checks"]["database"] == "ok");
  if (st::backend_name() == "sqlite") {
    // The embedded default keeps everything under ./var.
    BOOST_TEST(std::filesystem::exists(dir.path() / "var" / "souk.db"));
    BOOST_TEST(std::filesystem::is_directory(dir.path() / "var" / "files"));
    BOOST_TEST(std::filesystem::is_directory(dir.path() / "var" / "mail"));
  }
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(10s).value_or(-1) == 0);
}

// The embedded default sells with nothing else running: the built-in
// sandbox gateway serves the hosted payment page and sends the signed
// webhook back to soukd itself.
BOOST_AUTO_TEST_CASE(buys_through_the_built_in_sandbox_gateway) {
  using nlohmann::json;
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.err());
  const std::vector<std::pair<std::string, std::string>> json_type{
    {"Content-Type", "application/json"}};
  auto call = [&](const std::string& method, const std::string& target,
                  const std::string& body, const std::string& token,
                  std::vector<std::pair<std::string, std::string>> h = {}) {
    if (!body.empty())
      h.emplace_back("Content-Type", "application/json");
    if (!token.empty())
      h.emplace_back("Authorization", "Bearer " + token);
    return st::http_request(port, method, target, body, h);
  };
  auto signup = call("POST", "/api/v1/auth/signup",
                     json{{"email", "maker@example.com"},
                          {"password", "correct horse battery"},
                          {"role", "creator"}}
                       .dump(),
                     "");
  BOOST_REQUIRE_MESSAGE(signup.status == 201u, signup.body);
  auto login = call(
    "POST", "/api/v1/auth/login",
    json{{"email", "maker@example.com"}, {"password", "correct horse battery"}}
      .dump(),
    "");
  BOOST_REQUIRE_MESSAGE(login.status == 200u, login.body);
  std::string token = json::parse(login.body)["token"];
  auto created = call("POST", "/api/v1/products",
                      json{{"title", "A book"},
                           {"price", {{"amount", 250000}, {"currency", "NGN"}}}}
                        .dump(),
                      token);
  BOOST_REQUIRE_MESSAGE(created.status == 201u, created.body);
  std::string product = json::parse(created.body)["id"];
  auto file = st::http_request(
    port, "PUT", "/api/v1/products/" + product + "/files?name=a.pdf",
    "%PDF-1.4 hello", {{"Authorization", "Bearer " + token}});
  BOOST_REQUIRE_MESSAGE(file.status == 201u, file.body);
  auto published
    = call("POST", "/api/v1/products/" + product + "/publish", "", token);
  BOOST_REQUIRE_MESSAGE(published.status == 200u, published.body);

  auto order
    = call("POST", "/api/v1/orders",
           json{{"product_id", product}, {"email", "b@example.com"}}.dump(), "",
           {{"Idempotency-Key", "first-purchase"}});
  BOOST_REQUIRE_MESSAGE(order.status == 201u, order.body);
  auto doc = json::parse(order.body);
  std::string id = doc["order"]["id"];
  std::string url = doc["payment"]["authorization_url"];
  auto prefix = "http://127.0.0.1:" + std::to_string(port) + "/sandbox/";
  BOOST_REQUIRE(url.starts_with(prefix));
  auto path = url.substr(prefix.size() - std::string{"/sandbox/"}.size());
  auto page = st::http_request(port, "GET", path);
  BOOST_TEST(page.status == 200u);
  BOOST_TEST(page.body.find("NGN 2,500.00") != std::string::npos);
  auto paid
    = st::http_request(port, "POST", path, "action=pay",
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  BOOST_REQUIRE_EQUAL(paid.status, 303u);
  auto back = paid.header("location").value_or("");
  auto own = "http://127.0.0.1:" + std::to_string(port);
  BOOST_REQUIRE_MESSAGE(
    back.starts_with(own + "/api/v1/payments/paystack/return"), back);
  auto returned = st::http_request(port, "GET", back.substr(own.size()), {},
                                   {{"Accept", "application/json"}});
  BOOST_TEST(returned.status == 200u);
  BOOST_TEST(json::parse(returned.body)["title"] == "Thank you");

  // The sandbox's webhook arrives too; the order was paid once. (It then
  // waits for the wallet and delivery services of later issues: parked.)
  auto stats = [&] {
    return json::parse(
      st::http_request(port, "GET", "/sandbox/_sandbox/stats", {},
                       {{"Authorization", "Bearer sk_test_souk_sandbox"}})
        .body)["data"];
  };
  for (int i = 0; i < 200 && stats()["webhooks_delivered"] < 1; ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_TEST(stats()["webhooks_delivered"] == 1);
  std::this_thread::sleep_for(300ms);
  auto seen = call("GET", "/api/v1/orders/" + id, "", token);
  BOOST_REQUIRE_MESSAGE(seen.status == 200u, seen.body);
  auto o = json::parse(seen.body);
  BOOST_TEST(o["payment"]["status"] == "succeeded");
  int succeeded = 0;
  for (auto& e : o["timeline"])
    succeeded += e["event"] == "payment.succeeded";
  BOOST_TEST(succeeded == 1, seen.body);
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(10s).value_or(-1) == 0);
}

// The backup procedure of docs/operations.md end to end: a sale made on a
// running soukd, `soukctl backup` while it runs, soukd stopped, the backup
// restored into a new place (SQLite: the file and the files; PostgreSQL:
// pg_restore into an empty database), a new soukd started on it: the
// creator's session, the delivered order and the product's file are there.
BOOST_AUTO_TEST_CASE(a_backup_restored_serves_what_was_sold) {
  using nlohmann::json;
  namespace fs = std::filesystem;
  bool pg = st::backend_name() == "postgresql";
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  auto p = std::make_unique<st::child_process>(
    soukd_args(db), std::vector<std::string>{listen_env(port)}, dir.path());
  BOOST_REQUIRE_MESSAGE(wait_ready(*p, port), p->err());
  auto call
    = [&](uint16_t at, const std::string& method, const std::string& target,
          const std::string& body = {}, const std::string& token = {}) {
        std::vector<std::pair<std::string, std::string>> h;
        if (!body.empty())
          h.emplace_back("Content-Type", "application/json");
        if (!token.empty())
          h.emplace_back("Authorization", "Bearer " + token);
        return st::http_request(at, method, target, body, h);
      };
  BOOST_REQUIRE(call(port, "POST", "/api/v1/auth/signup",
                     json{{"email", "maker@example.com"},
                          {"password", "correct horse battery"},
                          {"role", "creator"}}
                       .dump())
                  .status
                == 201u);
  auto login = call(
    port, "POST", "/api/v1/auth/login",
    json{{"email", "maker@example.com"}, {"password", "correct horse battery"}}
      .dump());
  BOOST_REQUIRE(login.status == 200u);
  std::string token = json::parse(login.body)["token"];
  auto created = call(port, "POST", "/api/v1/products",
                      json{{"title", "A book"},
                           {"price", {{"amount", 250000}, {"currency", "NGN"}}}}
                        .dump(),
                      token);
  BOOST_REQUIRE(created.status == 201u);
  std::string product = json::parse(created.body)["id"];
  BOOST_REQUIRE(
    st::http_request(
      port, "PUT", "/api/v1/products/" + product + "/files?name=a.pdf",
      "%PDF-1.4 the whole book", {{"Authorization", "Bearer " + token}})
      .status
    == 201u);
  BOOST_REQUIRE(
    call(port, "POST", "/api/v1/products/" + product + "/publish", "", token)
      .status
    == 200u);
  auto order = st::http_request(
    port, "POST", "/api/v1/orders",
    json{{"product_id", product}, {"email", "b@example.com"}}.dump(),
    {{"Content-Type", "application/json"}, {"Idempotency-Key", "backup-1"}});
  BOOST_REQUIRE_MESSAGE(order.status == 201u, order.body);
  auto doc = json::parse(order.body);
  std::string id = doc["order"]["id"];
  std::string url = doc["payment"]["authorization_url"];
  auto path = url.substr(url.find("/sandbox/"));
  BOOST_REQUIRE(
    st::http_request(port, "POST", path, "action=pay",
                     {{"Content-Type", "application/x-www-form-urlencoded"}})
      .status
    == 303u);
  auto state_on = [&](uint16_t at) {
    auto r = call(at, "GET", "/api/v1/orders/" + id, "", token);
    return r.status == 200u ? json::parse(r.body).value("state", "")
                            : std::string{};
  };
  for (int i = 0; i < 400 && state_on(port) != "delivered"; ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_REQUIRE(state_on(port) == "delivered");

  // The buyer downloads once, before the backup.
  auto token_header = std::pair<std::string, std::string>{
    "X-Order-Token", doc["order"]["access_token"].get<std::string>()};
  auto download = [&](uint16_t at) {
    auto links = st::http_request(
      at, "POST", "/api/v1/orders/" + id + "/downloads", "{}",
      {{"Content-Type", "application/json"}, token_header});
    BOOST_REQUIRE_MESSAGE(links.status == 201u, links.body);
    std::string link = json::parse(links.body)["items"][0]["url"];
    return st::http_request(at, "GET", link.substr(link.find("/d/")));
  };
  BOOST_REQUIRE(download(port).status == 200u);

  // The backup, while soukd runs.
  auto out = dir.path() / "backup";
  std::vector<std::string> ctl{SOUK_SOUKCTL};
  if (pg)
    ctl.insert(ctl.end(), {"--database", db.url()});
  ctl.insert(ctl.end(), {"--data-dir", (dir.path() / "var").string(), "backup",
                         out.string()});
  auto backed = st::run_program(ctl, {}, dir.path());
  BOOST_REQUIRE_MESSAGE(backed.code == 0, backed.out + backed.err);
  p->signal(SIGTERM);
  BOOST_TEST(p->wait(10s).value_or(-1) == 0);
  p.reset();

  // Restored into a new place by soukctl restore (docs/operations.md).
  st::temp_dir again;
  st::scratch_database restored;
  std::vector<std::string> put_back{SOUK_SOUKCTL};
  std::vector<std::string> args{SOUK_SOUKD};
  if (pg) {
    put_back.insert(put_back.end(), {"--database", restored.url()});
    args.insert(args.end(), {"--database", restored.url()});
  }
  put_back.insert(put_back.end(), {"restore", out.string()});
  auto back = st::run_program(put_back, {}, again.path());
  BOOST_REQUIRE_MESSAGE(back.code == 0, back.out + back.err);
  auto port2 = st::free_port();
  st::child_process q{args, {listen_env(port2)}, again.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(q, port2), q.err());
  BOOST_TEST(state_on(port2) == "delivered"); // the session came back too
  auto shown = call(port2, "GET", "/api/v1/products/" + product);
  BOOST_REQUIRE_EQUAL(shown.status, 200u);
  auto files = json::parse(shown.body)["files"];
  BOOST_REQUIRE_EQUAL(files.size(), 1u);
  BOOST_TEST(files[0]["name"] == "a.pdf");
  // The download made before the backup is counted; the buyer's fresh
  // link serves the stored bytes.
  auto counted = [&] {
    auto r = st::http_request(
      port2, "GET", "/api/v1/orders/" + id + "/downloads", {}, {token_header});
    BOOST_REQUIRE_MESSAGE(r.status == 200u, r.body);
    return json::parse(r.body)["items"][0]["downloads"].get<int>();
  };
  BOOST_TEST(counted() == 1);
  auto bytes = download(port2);
  BOOST_TEST(bytes.status == 200u);
  BOOST_TEST(bytes.body == "%PDF-1.4 the whole book");
  // The same client again within delivery.repeat_window: still one.
  BOOST_TEST(counted() == 1);
  q.signal(SIGTERM);
  BOOST_TEST(q.wait(10s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_lets_a_slow_request_finish_then_exits_0) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.err());
  // A slow client: the header and half the body, then a pause.
  st::raw_client slow{port};
  slow.send("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: "
            "application/json\r\nContent-Length: 10\r\n\r\n{\"a\":");
  std::this_thread::sleep_for(200ms);
  auto signalled = std::chrono::steady_clock::now();
  p.signal(SIGTERM);
  std::this_thread::sleep_for(500ms);
  slow.send("12}  ");
  auto raw = slow.read_response(5s);
  BOOST_REQUIRE_MESSAGE(raw, p.err());
  auto r = st::parse_reply(*raw);
  BOOST_TEST(r.status == 405u); // the request completed, with its real answer
  BOOST_TEST(p.wait(10s).value_or(-1) == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - signalled < 5s));
  BOOST_TEST(p.err().find("received SIGTERM") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_http_never_crashes_it) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{soukd_args(db),
                      {listen_env(port), "SOUK_HTTP_BODY_LIMIT=1KiB"},
                      dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.err());
  for (std::string bad :
       {std::string{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11},
        std::string{"GET /healthz HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"},
        std::string{"POST /readyz HTTP/1.1\r\nTransfer-Encoding: "
                    "chunked\r\n\r\nzz\r\n"},
        std::string(20000, 'A')}) {
    st::raw_client c{port};
    c.send(bad);
    auto reply = c.read_response(3s);
    if (reply)
      BOOST_TEST(st::parse_reply(*reply).status / 100 == 4u);
    BOOST_TEST(c.closed_within(3s));
  }
  BOOST_TEST(st::http_request(port, "GET", "/healthz").status == 200u);
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(10s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(json_logs_carry_the_request_id_on_every_request_line) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{
    soukd_args(db), {listen_env(port), "SOUK_LOG_FORMAT=json"}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.err());
  auto r = st::http_request(port, "GET", "/healthz", {},
                            {{"X-Request-Id", "trace-me-1"}});
  BOOST_TEST(r.status == 200u);
  p.signal(SIGTERM);
  BOOST_REQUIRE(p.wait(10s));
  std::istringstream lines{p.err()};
  int request_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    auto doc = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST_INFO(line);
    BOOST_REQUIRE(!doc.is_discarded());
    BOOST_TEST(doc.contains("ts"));
    BOOST_TEST(doc.contains("level"));
    if (doc["msg"].get<std::string>().find("/healthz") != std::string::npos) {
      ++request_lines;
      BOOST_TEST(doc["request_id"] == "trace-me-1");
    }
  }
  BOOST_TEST(request_lines == 1);
}

BOOST_AUTO_TEST_CASE(two_nodes_starting_at_once_migrate_once) {
  st::scratch_database db;
  st::temp_dir dir;
  auto a_port = st::free_port();
  auto b_port = st::free_port();
  // Same working directory: on SQLite both use ./var/souk.db.
  st::child_process a{soukd_args(db), {listen_env(a_port)}, dir.path()};
  st::child_process b{soukd_args(db), {listen_env(b_port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(a, a_port), a.out() + a.err());
  BOOST_REQUIRE_MESSAGE(wait_ready(b, b_port), b.out() + b.err());
  auto check = open_node_database(db, dir);
  BOOST_REQUIRE(check);
  int migrations = 0;
  int running = 0;
  (*check)->run([&](soci::session& sql) {
    sql << "SELECT count(*) FROM schema_migrations", soci::into(migrations);
    sql << "SELECT count(*) FROM nodes WHERE stopped_at IS NULL",
      soci::into(running);
  });
  auto shipped = souk::persistence::shipped_migrations((*check)->kind()).size();
  BOOST_TEST(migrations == static_cast<int>(shipped));
  BOOST_TEST(running == 2);
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  BOOST_TEST(a.wait(10s).value_or(-1) == 0);
  BOOST_TEST(b.wait(10s).value_or(-1) == 0);
  (*check)->run([&](soci::session& sql) {
    sql << "SELECT count(*) FROM nodes WHERE stopped_at IS NULL",
      soci::into(running);
  });
  BOOST_TEST(running == 0);
}

BOOST_AUTO_TEST_CASE(a_restart_after_sigkill_marks_its_predecessor_gone) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  {
    st::child_process first{soukd_args(db), {listen_env(port)}, dir.path()};
    BOOST_REQUIRE_MESSAGE(wait_ready(first, port), first.out() + first.err());
    first.signal(SIGKILL);
    BOOST_REQUIRE(first.wait(10s));
  }
  // SIGKILL left the first node's row running; the restart on the same
  // host and address sees its process gone, stops the row, and (alone)
  // takes back every lease before recovering orders.
  st::child_process second{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(second, port), second.out() + second.err());
  auto said = second.out() + second.err();
  BOOST_TEST(said.find("is gone; marked stopped") != std::string::npos, said);
  auto check = open_node_database(db, dir);
  BOOST_REQUIRE(check);
  int running = 0, stopped = 0;
  (*check)->run([&](soci::session& sql) {
    sql << "SELECT count(*) FROM nodes WHERE stopped_at IS NULL",
      soci::into(running);
    sql << "SELECT count(*) FROM nodes WHERE stopped_at IS NOT NULL",
      soci::into(stopped);
  });
  BOOST_TEST(running == 1);
  BOOST_TEST(stopped == 1);
  second.signal(SIGTERM);
  BOOST_TEST(second.wait(10s).value_or(-1) == 0);
}

// A node another one took for dead (its row marked stopped, its leases
// released) stops at its next heartbeat and exits 1, to be restarted as a
// new node, rather than work on beside the nodes that took its place.
BOOST_AUTO_TEST_CASE(a_node_taken_for_dead_stops_and_exits_1) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process p{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE_MESSAGE(wait_ready(p, port), p.out() + p.err());
  auto check = open_node_database(db, dir);
  BOOST_REQUIRE(check);
  auto err = (*check)->run([&](soci::session& sql) {
    sql << "UPDATE nodes SET stopped_at = '2030-01-01T00:00:00.000Z' WHERE "
           "stopped_at IS NULL";
  });
  BOOST_REQUIRE_MESSAGE(!err, err.detail);
  // The heartbeat runs every 10 s.
  auto rc = p.wait(30s);
  BOOST_REQUIRE_MESSAGE(rc, "soukd kept running: " + p.err());
  BOOST_TEST(*rc == 1);
  BOOST_TEST(p.err().find("taken for dead by another node")
               != std::string::npos,
             p.err());
}

BOOST_AUTO_TEST_CASE(a_busy_port_is_a_clear_start_up_error) {
  st::scratch_database db;
  st::temp_dir dir;
  auto port = st::free_port();
  st::child_process first{soukd_args(db), {listen_env(port)}, dir.path()};
  BOOST_REQUIRE(wait_ready(first, port));
  auto args = soukd_args(db);
  auto r = st::run_program(args, {listen_env(port)}, dir.path());
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(port))
             != std::string::npos);
  first.signal(SIGTERM);
  BOOST_TEST(first.wait(10s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
