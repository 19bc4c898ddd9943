#pragma once

// An in-process souk for HTTP tests: a scratch database on the backend under
// test, the accounts service with cheap hashing, a blob store in a temp dir,
// and a real server on a free port with every route.

#include <chrono>
#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/actors/inspection.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/delivery/service.hpp"
#include "souk/email/templates.hpp"
#include "souk/http/rate_limit.hpp"
#include "souk/http/routes.hpp"
#include "souk/http/server.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/orders/library.hpp"
#include "souk/pages/pages.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/payments/payouts.hpp"
#include "souk/payments/service.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/licence_keys.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/storage/blob_store.hpp"
#include "souk/testing/support.hpp"

namespace souk::testing {

using namespace std::chrono_literals;

namespace st = souk::testing;
namespace http = souk::http;
using nlohmann::json;

constexpr const char* password = "correct horse battery";

struct app {
  st::scratch_database scratch;
  std::shared_ptr<souk::persistence::database> db = scratch.open(4);
  std::shared_ptr<souk::accounts::service> accounts;
  std::shared_ptr<souk::catalog::service> catalog;
  std::shared_ptr<souk::worker_pool> workers
    = std::make_shared<souk::worker_pool>(2);
  http::router routes;
  std::unique_ptr<http::server> server;
  uint16_t port = 0;
  st::temp_dir files;
  std::shared_ptr<souk::storage::blob_store> store
    = souk::storage::make_local_store(files.path());

  explicit app(souk::accounts::policy p = cheap(), double per_minute = 100000,
               double burst = 100000, uint64_t max_upload = 1 << 20,
               bool with_pages = false, std::string_view trusted_proxies = {},
               souk::pages::options page_opts = {}) {
    auto m = souk::persistence::migrate(
      *db, souk::persistence::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.err().detail));
    accounts = std::make_shared<souk::accounts::service>(db, p);
    catalog = std::make_shared<souk::catalog::service>(db);
    auto svc = std::make_shared<http::services>();
    svc->db = db;
    svc->accounts = accounts;
    svc->catalog = catalog;
    svc->on_product_changed
      = [c = catalog](const std::string& id) { c->forget(id); };
    svc->workers = workers;
    svc->auth_limiter = std::make_shared<http::rate_limiter>(per_minute, burst);
    svc->store = store;
    svc->max_upload = max_upload;
    // Payments against a gateway nobody answers: enough for access checks,
    // signatures and validation (tests/payments runs the real thing).
    souk::payments::paystack_options gw;
    gw.base_url = "http://127.0.0.1:1";
    gw.secret_key = "sk_test_http_tests";
    auto dead = souk::payments::make_paystack(gw);
    svc->payments = std::make_shared<souk::payments::service>(
      db, dead, catalog, souk::payments::order_port{},
      souk::payments::service_options{});
    svc->payouts = std::make_shared<souk::payments::payouts>(
      db, dead, souk::payments::order_port{}, souk::payments::payout_options{});
    svc->gateway_workers = workers;
    svc->delivery = std::make_shared<souk::delivery::service>(
      db,
      std::make_shared<const souk::email::templates>(
        souk::email::templates::load().value()),
      souk::delivery::options{});
    // The operator's routes: a real registry and the shipped flows; no
    // engine runs here, so no actor is live (tests/apps drive a real one).
    svc->metrics = std::make_shared<souk::metrics::registry>();
    auto flows = std::make_shared<souk::orders::flow_library>(
      souk::flows::default_actions(), db);
    auto loaded = flows->load("");
    BOOST_REQUIRE_MESSAGE(!loaded, loaded.detail);
    svc->flows = flows;
    svc->survey = [] {
      return souk::expected<std::vector<souk::actors::order_inspection>>{
        std::vector<souk::actors::order_inspection>{}};
    };
    http::add_routes(routes, svc);
    if (with_pages) {
      auto link_page = souk::pages::add_routes(routes, page_opts);
      BOOST_REQUIRE_MESSAGE(link_page,
                            (link_page ? "" : link_page.err().detail));
      svc->link_page = *link_page;
    }
    http::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.access_log = false;
    auto proxies = souk::ip_networks::parse(trusted_proxies);
    BOOST_REQUIRE(proxies);
    opts.trusted_proxies = *proxies;
    server = std::make_unique<http::server>(opts, routes);
    auto err = server->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    port = server->port();
  }

  ~app() {
    server->shutdown(2s);
    workers->shutdown();
    db->shutdown();
  }

  static souk::accounts::policy cheap() {
    souk::accounts::policy p;
    p.cost = {1, 64 << 10};
    return p;
  }

  std::string new_user(std::string_view role) {
    auto email = "u" + souk::random_hex(6) + "@example.com";
    auto u = role == souk::accounts::operator_role
               ? accounts->create_operator(email, password)
               : accounts->sign_up(email, password, role);
    BOOST_REQUIRE_MESSAGE(u, (u ? "" : u.err().detail));
    return email;
  }

  std::string login(const std::string& email) {
    auto in = accounts->log_in(email, password, "127.0.0.1", "test");
    BOOST_REQUIRE_MESSAGE(in, (in ? "" : in.err().detail));
    return in->token;
  }

  // A product row for `email`'s account, inserted directly (with `status`).
  std::string make_product(const std::string& email,
                           const std::string& status = "draft") {
    auto found = accounts->log_in(email, password, "t", "t");
    BOOST_REQUIRE(found);
    auto id = souk::new_uuid();
    auto now = std::string{"2026-01-01T00:00:00.000Z"};
    auto st = db->run([&](soci::session& sql) {
      sql << "INSERT INTO products (id, creator_id, title, description, "
             "price_amount, currency, flow, status, version, created_at, "
             "updated_at) VALUES (:id, :c, 'A book', '', 5000, 'NGN', "
             "'digital_download', :s, 1, :n, :n2)",
        soci::use(id), soci::use(found->who.id), soci::use(status),
        soci::use(now), soci::use(now);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return id;
  }

  // A product_files row for `product_id`, as a finished upload leaves it
  // (enough for publishing; no bytes in the store); its id.
  std::string add_file(const std::string& product_id) {
    auto id = souk::new_uuid();
    auto key = souk::random_hex(16);
    std::string sha(64, '0');
    auto now = std::string{"2026-01-01T00:00:00.000Z"};
    auto st = db->run([&](soci::session& sql) {
      sql << "INSERT INTO product_files (id, product_id, name, storage_key, "
             "size, sha256, content_type, created_at, updated_at) VALUES "
             "(:id, :p, 'a.pdf', :k, 1, :h, 'application/pdf', :n, :n2)",
        soci::use(id), soci::use(product_id), soci::use(key), soci::use(sha),
        soci::use(now), soci::use(now);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return id;
  }

  // A licence key left in the default pool of `product_id`; its id.
  std::string add_licence_key(const std::string& product_id) {
    souk::persistence::licence_key_repository keys{*db};
    auto added = keys.add(product_id, "default", {souk::random_hex(8)},
                          "2026-01-01T00:00:00.000Z");
    BOOST_REQUIRE(added);
    auto page = keys.list(product_id, "default",
                          souk::persistence::licence_key_filter::left, "", 1);
    BOOST_REQUIRE(page && page->size() == 1u);
    return page->front().id;
  }

  // A new API key belonging to `email`'s account; returns {id, key}.
  std::pair<std::string, std::string> key_of(const std::string& email) {
    auto p = accounts->authenticate(login(email));
    BOOST_REQUIRE(p);
    auto k = accounts->create_api_key(*p, "k");
    BOOST_REQUIRE(k);
    return {k->info.id, k->key};
  }

  st::http_reply call(const std::string& method, const std::string& target,
                      const std::string& token, const std::string& body = {},
                      std::vector<std::pair<std::string, std::string>> h = {},
                      const std::string& source = {}) {
    if (!token.empty())
      h.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty())
      h.emplace_back("Content-Type", "application/json");
    return st::http_request(port, method, target, body, h, source);
  }
};

} // namespace souk::testing
