#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"
#include "souk/http/routes.hpp"

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

/// A file's display name from `?name=`, or an `errc::invalid_field` error
/// (field "name"): trimmed, 1-255 bytes of UTF-8, no slashes, backslashes or
/// control characters, not "." or "..". The stored name in the blob store is
/// generated and never derived from it.
expected<std::string> sanitize_file_name(std::string_view name);

} // namespace souk::http
