// Small pieces several files of handlers share.

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/core/units.hpp"
#include "souk/persistence/database.hpp"

#include "routes_internal.hpp"

namespace souk::http {

void off_loop(const services& svc, const accounts::principal* who,
              std::function<void()> job) {
  if (who)
    job();
  else
    svc.db->post(std::move(job));
}

expected<persistence::product_file_repository::owner>
owned_product(const services& svc, const accounts::principal& who,
              const std::string& id) {
  auto owner = persistence::product_file_repository{*svc.db}.product_owner(id);
  if (!owner)
    return owner.err();
  if (!*owner || (*owner)->creator_id != who.who.id)
    return error{errc::not_found, "no product " + id};
  return std::move(**owner);
}

expected<uint32_t> page_limit(const request& req, uint32_t fallback,
                              uint32_t max) {
  auto text = req.query_param("limit");
  if (!text)
    return fallback;
  auto n = parse_uint(*text);
  if (!n || *n < 1 || *n > max)
    return error{errc::invalid_field,
                 fmt::format("limit must be a whole number from 1 to {}", max),
                 "limit"};
  return static_cast<uint32_t>(*n);
}

} // namespace souk::http
