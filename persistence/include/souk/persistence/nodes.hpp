#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// One soukd process sharing the database.
struct node_row {
  std::string id;
  std::string hostname;
  int pid = 0;
  std::string version;
  std::string listen;
  std::string started_at;
  std::string heartbeat_at;
  std::string stopped_at; ///< empty while running
};

/// How a starting node tells the nodes that are gone from those still
/// running.
struct liveness {
  /// A node whose heartbeat is older than this is gone. Longer than any
  /// lease: a node cut off from the database that long holds none.
  std::chrono::milliseconds dead_after{std::chrono::minutes{2}};
  /// Whether process `pid` exists on this host; default `kill(pid, 0)`.
  std::function<bool(int pid)> process_exists;
};

/// What registering found: the nodes it marked stopped and the leases it
/// released.
struct registration {
  std::vector<node_row> gone;
  bool alone = false;         ///< no other node is running
  long long leases_freed = 0; ///< rows whose lease or lock was released
};

/// The `nodes` table. Blocking: call from database threads (`database::post`)
/// or detached actors, never from CAF scheduler or HTTP threads.
class node_repository {
public:
  explicit node_repository(database& db) : db_(db) {}

  /// Inserts `row` (started_at and heartbeat_at set to now), first marking
  /// stopped every running node that is gone: its heartbeat is older than
  /// `l.dead_after`, or it ran on this host (same hostname) at the same
  /// listen address and its process no longer exists (a crashed
  /// predecessor: SIGKILL leaves its row running). If no other node is then
  /// running, every lease in the database belongs to a process that no
  /// longer exists, and all are released (timers, order outbox, gateway
  /// inbox, payment checks, wallet holds, payout checks, e-mail outbox,
  /// Idempotency-Key locks), so the work resumes now instead of when the
  /// leases run out. Never released: a refund or transfer being asked of
  /// the gateway (its answer may be lost; an operator decides). One
  /// registration at a time (PostgreSQL: a table lock), so two nodes
  /// starting together cannot both think themselves alone.
  expected<registration> register_node(node_row row, const liveness& l = {});

  /// Sets heartbeat_at to now; `errc::not_found` if the node is unknown.
  status heartbeat(const std::string& id);

  /// Sets stopped_at to now.
  status mark_stopped(const std::string& id);

  /// All nodes, newest first; `running_only` skips stopped ones.
  expected<std::vector<node_row>> list(bool running_only);

private:
  database& db_;
};

} // namespace souk::persistence
