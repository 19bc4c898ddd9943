#include "souk/persistence/flow_templates.hpp"

#include <soci/soci.h>

#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

status flow_template_repository::save(const flow_template_row& row) {
  auto created = row.created_at.empty() ? to_iso(now()) : row.created_at;
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "INSERT INTO flow_templates (hash, name, version, source, "
               "created_at) VALUES (:h, :n, :v, :s, :c) ON CONFLICT (hash) DO "
               "NOTHING",
               soci::use(row.hash), soci::use(row.name), soci::use(row.version),
               soci::use(row.source), soci::use(created));
  });
}

expected<std::optional<flow_template_row>>
flow_template_repository::find(const std::string& hash) {
  std::optional<flow_template_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT hash, name, version, source, created_at FROM "
                     "flow_templates WHERE hash = :h",
                     soci::use(hash)};
    for (auto& r : rows)
      out = flow_template_row{r.get<std::string>(0), r.get<std::string>(1),
                              static_cast<int32_t>(rows::get_int(r, 2)),
                              r.get<std::string>(3), r.get<std::string>(4)};
  });
  if (st)
    return st;
  return out;
}

} // namespace souk::persistence
