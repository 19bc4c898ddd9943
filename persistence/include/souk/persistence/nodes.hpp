#pragma once

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

/// The `nodes` table. Blocking: call from database threads (`database::post`)
/// or detached actors, never from CAF scheduler or HTTP threads.
class node_repository {
public:
  explicit node_repository(database& db) : db_(db) {}

  /// Inserts `row` (started_at and heartbeat_at set to now).
  status register_node(node_row row);

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
