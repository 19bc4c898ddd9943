#include "souk/actors/error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace souk::actors {

caf::error to_caf(const error& err) {
  if (!err)
    return {};
  return caf::make_error(err.code, err.detail);
}

error from_caf(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == caf::atom("souk")) {
    std::string detail;
    if (err.context().match_elements<std::string>())
      detail = err.context().get_as<std::string>(0);
    error out{static_cast<errc>(err.code()), std::move(detail)};
    // CAF's error carries no Retry-After: "unavailable" means try again
    // shortly, so say a second (as the node's own refusals do).
    if (out.code == errc::unavailable)
      out.retry_after = std::chrono::seconds{1};
    return out;
  }
  if (err == caf::sec::request_timeout)
    return error{errc::timeout, "an actor did not answer in time"};
  return error{errc::internal, caf::to_string(err)};
}

} // namespace souk::actors
