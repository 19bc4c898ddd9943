#pragma once

#include <memory>
#include <string>

#include "souk/config/settings.hpp"
#include "souk/core/error.hpp"

namespace souk {

/// One running soukd: database, actor system and HTTP server, started in
/// that order and stopped in reverse.
class node {
public:
  explicit node(config::settings cfg);
  ~node();

  /// Prepares the data directory, opens and migrates the database, registers
  /// this node, starts the actors and the HTTP server.
  status start();

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
