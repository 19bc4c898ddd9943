// The creator's dashboard.

#include "site.hpp"

namespace souk::pages {

void add_dashboard(http::router&, const site_ptr&) {}

} // namespace souk::pages
