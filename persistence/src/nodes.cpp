#include "souk/persistence/nodes.hpp"

#include <soci/soci.h>

#include "souk/core/time.hpp"

namespace souk::persistence {

status node_repository::register_node(node_row row) {
  row.started_at = row.heartbeat_at = to_iso(now());
  return db_.transact([&](soci::session& sql) -> status {
    sql << "INSERT INTO nodes (id, hostname, pid, version, listen, "
           "started_at, heartbeat_at) VALUES (:id, :host, :pid, :ver, :lis, "
           ":st, :hb)",
      soci::use(row.id), soci::use(row.hostname), soci::use(row.pid),
      soci::use(row.version), soci::use(row.listen), soci::use(row.started_at),
      soci::use(row.heartbeat_at);
    return {};
  });
}

status node_repository::heartbeat(const std::string& id) {
  return db_.transact([&](soci::session& sql) -> status {
    auto at = to_iso(now());
    soci::statement st = (sql.prepare << "UPDATE nodes SET heartbeat_at = :at "
                                         "WHERE id = :id",
                          soci::use(at), soci::use(id));
    st.execute(true);
    if (st.get_affected_rows() == 0)
      return error{errc::not_found, "node " + id + " is not registered"};
    return {};
  });
}

status node_repository::mark_stopped(const std::string& id) {
  return db_.transact([&](soci::session& sql) -> status {
    auto at = to_iso(now());
    sql << "UPDATE nodes SET stopped_at = :at, heartbeat_at = :at2 WHERE id = "
           ":id",
      soci::use(at), soci::use(at), soci::use(id);
    return {};
  });
}

expected<std::vector<node_row>> node_repository::list(bool running_only) {
  std::vector<node_row> out;
  auto st = db_.run([&](soci::session& sql) {
    std::string query = "SELECT id, hostname, pid, version, listen, "
                        "started_at, heartbeat_at, stopped_at FROM nodes";
    if (running_only)
      query += " WHERE stopped_at IS NULL";
    query += " ORDER BY started_at DESC, id DESC";
    soci::rowset<soci::row> rows = sql.prepare << query;
    for (auto& r : rows) {
      node_row n;
      n.id = r.get<std::string>(0);
      n.hostname = r.get<std::string>(1);
      n.pid = r.get<int>(2);
      n.version = r.get<std::string>(3);
      n.listen = r.get<std::string>(4);
      n.started_at = r.get<std::string>(5);
      n.heartbeat_at = r.get<std::string>(6);
      if (r.get_indicator(7) == soci::i_ok)
        n.stopped_at = r.get<std::string>(7);
      out.push_back(std::move(n));
    }
  });
  if (st)
    return st;
  return out;
}

} // namespace souk::persistence
