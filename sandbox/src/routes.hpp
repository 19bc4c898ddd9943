#pragma once

#include <memory>
#include <string>

#include "souk/http/message.hpp"
#include "souk/http/router.hpp"

#include "engine.hpp"

namespace souk::sandbox {

/// Registers the API, checkout and control routes under `prefix`.
void add_routes(http::router& r, const std::string& prefix,
                const std::shared_ptr<engine>& e);

/// `GET /checkout/{access_code}`: the hosted page (no authentication).
http::handler checkout_page(std::shared_ptr<engine> e);

/// `POST /checkout/{access_code}`: the page's Pay / Decline form.
http::handler checkout_submit(std::shared_ptr<engine> e);

} // namespace souk::sandbox
