#pragma once

#include <memory>

#include "souk/http/routes.hpp"

// Each file of handlers registers its own routes; `add_routes` calls them all.
namespace souk::http {

void add_health_routes(router& r, std::shared_ptr<const services> svc);
void add_account_routes(router& r, std::shared_ptr<const services> svc);

} // namespace souk::http
