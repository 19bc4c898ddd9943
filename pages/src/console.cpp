// The operator's console.

#include "site.hpp"

namespace souk::pages {

void add_console(http::router&, const site_ptr&) {}

} // namespace souk::pages
