#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/http/router.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::actors {
class supervision_board;
struct order_inspection;
} // namespace souk::actors

namespace souk::accounts {
class service;
} // namespace souk::accounts

namespace souk::catalog {
class service;
} // namespace souk::catalog

namespace souk {
class change_watch;
class worker_pool;
} // namespace souk

namespace souk::payments {
class payouts;
class service;
} // namespace souk::payments

namespace souk::metrics {
class registry;
} // namespace souk::metrics

namespace souk::orders {
class flow_library;
} // namespace souk::orders

namespace souk::delivery {
class service;
} // namespace souk::delivery

namespace souk::storage {
class blob_store;
} // namespace souk::storage

namespace souk::http {

/// What handlers reach: shared, long-lived services owned by `soukd`.
/// Each member is thread-safe.
struct services {
  std::shared_ptr<persistence::database> db;
  std::shared_ptr<actors::supervision_board> board;
  std::shared_ptr<accounts::service> accounts;
  /// The product catalog (always set when the product routes are served).
  std::shared_ptr<catalog::service> catalog;
  /// For Argon2id and other heavy work; bounds how much runs at once.
  std::shared_ptr<worker_pool> workers;
  /// Per-address limit on abuse-prone routes (sign-up, login, key creation).
  std::shared_ptr<class rate_limiter> auth_limiter;
  /// Mark cookies `Secure` (public_url is https).
  bool secure_cookies = false;
  /// Where product files' bytes go; no file routes without it.
  std::shared_ptr<storage::blob_store> store;
  /// Largest file upload (`storage.max_upload`).
  uint64_t max_upload = 2ull << 30;
  /// Called after a product changed outside the catalog service (a file was
  /// stored), so caches can drop it.
  std::function<void(const std::string& product_id)> on_product_changed;
  /// True once the server is shutting down (set by soukd).
  std::function<bool()> draining;
  /// This process's row in `nodes`.
  std::string node_id;
  /// Checkout, webhooks and refunds; the order routes answer 503 without it.
  std::shared_ptr<payments::service> payments;
  /// Payout accounts and payouts; their routes answer 503 without it.
  std::shared_ptr<payments::payouts> payouts;
  /// Threads for calls to the payment gateway (kept apart from `workers`,
  /// so a slow gateway never delays logins).
  std::shared_ptr<worker_pool> gateway_workers;
  /// Download grants, links and emails; the download routes answer 503
  /// without it.
  std::shared_ptr<delivery::service> delivery;
  /// Non-empty: `GET /d/{token}` answers with `X-Accel-Redirect: <this><key>`
  /// and lets the front web server send the file (`delivery.accel_redirect`).
  std::string accel_redirect;
  /// Called after a gateway event was stored, so it is processed at once.
  std::function<void()> on_gateway_event;
  /// Delivers an event to an order through the order engine and waits for
  /// the outcome ("applied", "ignored", "duplicate", "stale"); an event the
  /// order's state does not take ("ignored") writes nothing. `dedup_key`:
  /// see `orders::event_input` (empty: none). Blocking.
  std::function<expected<std::string>(
    const std::string& order_id, const std::string& event,
    const std::string& actor, const std::string& detail,
    const std::string& dedup_key)>
    deliver_event;
  /// Served at `/metrics`; that route answers 503 without it.
  std::shared_ptr<metrics::registry> metrics;
  /// The flow templates, for `/admin/flows`.
  std::shared_ptr<orders::flow_library> flows;
  /// What every live order actor on this node reports (the order engine's
  /// `survey`); the admin actor routes answer 503 without it. Blocking.
  std::function<expected<std::vector<actors::order_inspection>>()> survey;
  /// The live actor of one order, without activating it (`not_found` if it
  /// has none here). Blocking.
  std::function<expected<actors::order_inspection>(const std::string&)> peek;
  /// Where long polls of an order (`GET /api/v1/orders/{id}` with
  /// `Prefer: wait` and `If-None-Match`) wait for it to change; without it
  /// such a request is answered at once.
  std::shared_ptr<change_watch> order_watch;
  /// The page a browser gets for a download link that cannot be used
  /// (`order_id` is empty when the link is unknown); without it a plain one.
  std::function<response(const request&, const error&,
                         const std::string& order_id)>
    link_page;
};

/// Registers every route souk serves. The OpenAPI description in
/// `docs/openapi.yaml` lists the same routes (a test keeps them in step).
void add_routes(router& r, std::shared_ptr<const services> svc);

} // namespace souk::http
