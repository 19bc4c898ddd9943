#pragma once

// Faults at random moments while the load runs: soukd killed with SIGKILL
// and started again, the sandbox gateway told to duplicate, delay, drop and
// reorder webhooks and to fail verify calls, PostgreSQL restarted.

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "run.hpp"

namespace souk::load {

class chaos_monkey {
public:
  /// `cluster` may be null (SQLite, or a server that is not ours).
  chaos_monkey(const options& o, soukd_node& soukd, pg_cluster* cluster,
               std::string sandbox_url, std::string sandbox_key);
  ~chaos_monkey(); ///< calls `stop`

  /// Starts the faults. `begun` counts the purchases started so far, of
  /// `total`: with --min-kills N, the k-th kill comes no later than when
  /// k/(N+1) of them have begun, so a quick run still gets its kills.
  void start(const std::atomic<uint32_t>* begun, uint32_t total);
  /// Ends the faults: waits for the thread and makes the sandbox behave
  /// (soukd is always started again right after a kill).
  void stop();

  /// What was done, by kind ("soukd SIGKILL", "sandbox: drop", ...).
  std::map<std::string, uint64_t> done() const;
  uint64_t kills() const;

private:
  void loop();
  void kill_soukd();
  bool kill_due() const;
  void note(const std::string& what);
  void sandbox_behaviour(const std::string& body);

  const options& o_;
  soukd_node& soukd_;
  pg_cluster* cluster_;
  std::string sandbox_url_, sandbox_key_;
  std::mt19937_64 rng_;
  const std::atomic<uint32_t>* begun_ = nullptr;
  uint32_t total_ = 0;
  std::atomic<bool> running_{false};
  std::mutex wake_mtx_;
  std::condition_variable wake_;
  std::thread thread_;
  mutable std::mutex mtx_;
  std::map<std::string, uint64_t> done_;
};

} // namespace souk::load
