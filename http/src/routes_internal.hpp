#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "souk/actors/inspection.hpp"
#include "souk/core/error.hpp"
#include "souk/http/routes.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/product_files.hpp"

namespace souk::accounts {
struct principal;
} // namespace souk::accounts

// Each file of handlers registers its own routes; `add_routes` calls them all.
namespace souk::http {

void add_health_routes(router& r, std::shared_ptr<const services> svc);
void add_account_routes(router& r, std::shared_ptr<const services> svc);
void add_product_routes(router& r, std::shared_ptr<const services> svc);
void add_file_routes(router& r, std::shared_ptr<const services> svc);
void add_order_routes(router& r, std::shared_ptr<const services> svc);
void add_wallet_routes(router& r, std::shared_ptr<const services> svc);
void add_payout_routes(router& r, std::shared_ptr<const services> svc);
void add_dashboard_routes(router& r, std::shared_ptr<const services> svc);
void add_download_routes(router& r, std::shared_ptr<const services> svc);
void add_licence_routes(router& r, std::shared_ptr<const services> svc);
void add_admin_routes(router& r, std::shared_ptr<const services> svc);

/// `POST .../refund` of an order (`{amount?, reason?}`), for the product's
/// creator or an operator: delivers `refund.requested` through the order's
/// actor and answers 202, or 409 if the order's state takes no refund.
void request_refund(std::shared_ptr<const services> svc, const request& req,
                    const accounts::principal* who, reply_fn reply);

/// Runs `job` on a database thread: at once when `who` is set (the access
/// guard already moved the handler there to look the credential up), else
/// posted (anonymous callers' handlers run on the event loop).
void off_loop(const services& svc, const accounts::principal* who,
              std::function<void()> job);

/// `?limit=` of a list route: `fallback` when absent, else a whole number
/// from 1 to `max`; an `errc::invalid_field` error naming "limit" otherwise.
expected<uint32_t> page_limit(const request& req, uint32_t fallback,
                              uint32_t max);

/// The product `id` (its creator and status) if `who` created it;
/// `not_found` otherwise, the same answer as for a product that does not
/// exist. Blocking.
expected<persistence::product_file_repository::owner>
owned_product(const services& svc, const accounts::principal& who,
              const std::string& id);

/// An order with the creator of its product.
struct visible_order {
  persistence::order_snapshot snap;
  std::string creator_id;
  /// The caller is the order's buyer (signed in, or holding its token).
  bool buyer = false;
};

/// The order `id` if `who` may see it (its signed-in buyer, the product's
/// creator, operators); `not_found` otherwise, the same answer as for an
/// order that does not exist. Payouts are never orders here. Blocking.
expected<visible_order> find_visible(const services& svc,
                                     const accounts::principal& who,
                                     const std::string& id);

/// `find_visible` for a signed-in caller (`who` set) or a guest holding the
/// order's access token in `X-Order-Token` (the buyer, then): without either
/// `unauthorized`, with a wrong token `not_found`. Blocking.
expected<visible_order> find_visible(const services& svc,
                                     const accounts::principal* who,
                                     const request& req, const std::string& id);

/// Before an operator answers a payment that came late (fulfils or refunds
/// the parked order `id`): the key to deliver the answer under, if the
/// gateway still holds the payment (`payments::service::late_payment_key`);
/// `unavailable` where payments are not set up. Blocking (a gateway call):
/// call on a gateway worker.
expected<std::string> late_payment_key(const services& svc,
                                       const std::string& id);

/// A file's display name from `?name=`, or an `errc::invalid_field` error
/// (field "name"): trimmed, 1-255 bytes of UTF-8, no slashes, backslashes or
/// control characters, not "." or "..". The stored name in the blob store is
/// generated and never derived from it.
expected<std::string> sanitize_file_name(std::string_view name);

} // namespace souk::http
