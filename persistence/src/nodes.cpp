#include "souk/persistence/nodes.hpp"

#include <cerrno>
#include <signal.h>

#include <soci/soci.h>

#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

bool process_exists(int pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// Every lease and in-flight lock a node takes, as (table, what releases it).
// Kept next to the claims it undoes: a new kind of lease belongs here.
constexpr const char* lease_releases[] = {
  "UPDATE timers SET claimed_by = NULL, claimed_until = NULL "
  "WHERE status = 'pending' AND claimed_until IS NOT NULL",
  "UPDATE outbox SET claimed_until = NULL "
  "WHERE status = 'pending' AND claimed_until IS NOT NULL",
  "UPDATE inbox SET claimed_until = NULL "
  "WHERE status = 'received' AND claimed_until IS NOT NULL",
  "UPDATE payments SET check_claimed_until = NULL "
  "WHERE check_claimed_until IS NOT NULL",
  "UPDATE wallet_holds SET claimed_until = NULL "
  "WHERE status = 'held' AND claimed_until IS NOT NULL",
  "UPDATE payouts SET claimed_until = NULL WHERE claimed_until IS NOT NULL",
  "UPDATE email_outbox SET claimed_until = NULL "
  "WHERE status = 'queued' AND claimed_until IS NOT NULL",
};

} // namespace

expected<registration> node_repository::register_node(node_row row,
                                                      const liveness& l) {
  auto exists = l.process_exists ? l.process_exists : process_exists;
  auto at = now();
  row.started_at = row.heartbeat_at = to_iso(at);
  auto stale_before = to_iso(at - l.dead_after);
  registration out;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.transact([&](soci::session& sql) -> status {
    out = {};
    // SHARE ROW EXCLUSIVE conflicts with itself: registrations queue here.
    // Start-up waits for what it needs (another node registering, the rows
    // a gone node still holds until the server ends its session) rather
    // than failing after the everyday lock_timeout.
    if (pg) {
      sql << "SET LOCAL lock_timeout = 0";
      sql << "LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE";
    }
    std::vector<node_row> running;
    {
      rows::query rows{sql, "SELECT id, hostname, pid, listen, heartbeat_at "
                            "FROM nodes WHERE stopped_at IS NULL"};
      for (auto& r : rows) {
        node_row n;
        n.id = r.get<std::string>(0);
        n.hostname = r.get<std::string>(1);
        n.pid = r.get<int>(2);
        n.listen = r.get<std::string>(3);
        n.heartbeat_at = r.get<std::string>(4);
        running.push_back(std::move(n));
      }
    }
    size_t alive = 0;
    for (auto& n : running) {
      bool predecessor = n.hostname == row.hostname && n.listen == row.listen
                         && !exists(n.pid);
      if (predecessor || n.heartbeat_at < stale_before) {
        rows::exec(sql, "UPDATE nodes SET stopped_at = :at WHERE id = :id",
                   soci::use(row.started_at), soci::use(n.id));
        out.gone.push_back(std::move(n));
      } else {
        ++alive;
      }
    }
    out.alone = alive == 0;
    if (out.alone) {
      for (const char* release : lease_releases)
        out.leases_freed += rows::exec(sql, release);
      out.leases_freed
        += rows::exec(sql,
                      "UPDATE idempotency_keys SET locked_until = :at "
                      "WHERE status = 'started' AND locked_until > :at2",
                      soci::use(row.started_at), soci::use(row.started_at));
    }
    rows::exec(
      sql,
      "INSERT INTO nodes (id, hostname, pid, version, listen, "
      "started_at, heartbeat_at) VALUES (:id, :host, :pid, :ver, :lis, "
      ":st, :hb)",
      soci::use(row.id), soci::use(row.hostname), soci::use(row.pid),
      soci::use(row.version), soci::use(row.listen), soci::use(row.started_at),
      soci::use(row.heartbeat_at));
    return {};
  });
  if (st)
    return st;
  return out;
}

status node_repository::heartbeat(const std::string& id) {
  long long updated = 0;
  std::string stopped_at;
  soci::indicator ind = soci::i_null;
  if (auto err = db_.write([&](soci::session& sql) {
        auto at = to_iso(now());
        updated = rows::exec(sql,
                             "UPDATE nodes SET heartbeat_at = :at WHERE id = "
                             ":id AND stopped_at IS NULL",
                             soci::use(at), soci::use(id));
      }))
    return err;
  if (updated > 0)
    return {};
  // Why not: stopped by another node, or never registered.
  if (auto err = db_.run([&](soci::session& sql) {
        rows::read_one(sql, "SELECT stopped_at FROM nodes WHERE id = :id",
                       soci::use(id), soci::into(stopped_at, ind));
      }))
    return err;
  if (ind == soci::i_ok)
    return error{errc::conflict,
                 "node " + id + " was marked stopped at " + stopped_at
                   + " by a node that found its heartbeat stale: its leases "
                     "may be held by other nodes now"};
  return error{errc::not_found, "node " + id + " is not registered"};
}

status node_repository::mark_stopped(const std::string& id) {
  return db_.write([&](soci::session& sql) {
    auto at = to_iso(now());
    rows::exec(
      sql,
      "UPDATE nodes SET stopped_at = :at, heartbeat_at = :at2 WHERE id = "
      ":id",
      soci::use(at), soci::use(at), soci::use(id));
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
    rows::query rows{sql, query};
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
