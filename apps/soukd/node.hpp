#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>

#include "souk/config/settings.hpp"
#include "souk/core/error.hpp"

namespace souk::actors {
class order_engine;
} // namespace souk::actors

namespace souk::persistence {
struct email_row;
} // namespace souk::persistence

namespace souk {

/// What a program embedding a node adds to it: step actions for flow
/// templates and the service actors that run them. souk's own services plug
/// in the same way.
struct node_extensions {
  /// Actions templates may `call`, with the parameter names each accepts.
  std::map<std::string, std::set<std::string>> actions;
  /// Service actors by name (steps `NAME.x` go to service `NAME`); each is
  /// supervised and restarted with backoff.
  std::vector<
    std::pair<std::string, std::function<caf::actor(caf::actor_system&)>>>
    services;
  /// Tests only: see `email::sender_options::after_send` (a node that
  /// "dies" between handing an email over and recording it).
  std::function<bool(const persistence::email_row&)> email_after_send;
  /// Called (once, from the heartbeat's thread) when another node has
  /// marked this one stopped, having found its heartbeat stale: it must
  /// stop (soukd: SIGTERM to itself, then exit 1).
  std::function<void()> on_fenced;
};

/// One running soukd: database, actor system and HTTP server, started in
/// that order and stopped in reverse.
class node {
public:
  explicit node(config::settings cfg, node_extensions ext = {});
  ~node();

  /// Prepares the data directory, opens and migrates the database, registers
  /// this node, starts the actors and the HTTP server.
  status start();

  /// The order engine. REQUIRES: `start()` succeeded.
  actors::order_engine& engine();

  /// This node's id (its row in `nodes`).
  const std::string& id() const;

  /// Whether another node marked this one stopped while it ran (see
  /// `node_extensions::on_fenced`).
  bool fenced() const;

  /// The URL to open in a browser.
  std::string url() const;

  /// Graceful stop: drain HTTP (in-flight requests finish within
  /// `http.shutdown_grace`), stop actors, mark the node stopped. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace souk
