#pragma once

// What a load run is told, what each simulated buyer records, and the
// processes under test, shared by the buyers, the chaos thread and the
// checks.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "processes.hpp"

namespace souk::load {

using std::chrono::milliseconds;

struct options {
  std::string database = "sqlite"; ///< sqlite, postgresql or a URL
  uint32_t orders = 2000;          ///< the peak phase's purchases
  uint32_t clients = 16;           ///< concurrent buyers in the peak phase
  uint32_t creators = 4;           ///< each with one published product
  uint32_t half_orders = 0;        ///< the half-peak phase (0: orders / 2)
  /// Purchases before the peak, not measured (-1: orders / 10; none under
  /// chaos); on PostgreSQL followed by ANALYZE.
  int64_t warm_up = -1;
  bool latency_phase = true; ///< run the half-peak phase
  /// Buyers follow their order by long poll (`Prefer: wait`), not by
  /// polling on a growing interval.
  bool long_poll = false;
  uint32_t pgbench_seconds = 10; ///< 0: no database ceiling
  uint32_t pool_size = 8;        ///< soukd's database connections
  bool chaos = false;
  uint32_t min_kills = 0; ///< chaos: fail with fewer SIGKILLs
  milliseconds chaos_min{1'000}, chaos_max{4'000};
  uint32_t decline_percent = 0;         ///< buyers who press Decline
  uint32_t abandon_percent = 0;         ///< buyers who never pay
  milliseconds order_deadline{120'000}; ///< a buyer gives up after this
  milliseconds drain_limit{180'000};
  uint64_t seed = 0;
  bool keep = false; ///< keep the work directory
  /// KEY=VALUE settings passed to soukd after the bench's own.
  std::vector<std::string> soukd_settings;
  std::string soukd, sandbox, soukctl, cluster_script, flow_template;
};

/// One purchase as its buyer saw it.
struct order_record {
  enum class intent { pay, decline, abandon };
  intent plan = intent::pay;
  uint32_t index = 0; ///< the purchase's number (its product)
  std::string order_id;
  std::string token; ///< the order's access token
  bool checked_out = false;
  bool paid = false;       ///< the gateway took the buyer's Pay
  bool delivered = false;  ///< the buyer saw `delivered`
  bool downloaded = false; ///< and downloaded every file, bytes checked
  std::string last_state;
  std::string gave_up; ///< why the buyer stopped early
  double checkout_ms = 0;
  std::chrono::steady_clock::time_point done;
};

/// Errors by kind ("checkout: HTTP 503", "poll: Couldn't connect...").
class error_counts {
public:
  void add(const std::string& kind) {
    std::lock_guard g{mtx_};
    ++counts_[kind];
  }
  std::map<std::string, uint64_t> snapshot() const {
    std::lock_guard g{mtx_};
    return counts_;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::string, uint64_t> counts_;
};

/// soukd, restartable on the same port; its peak memory is remembered
/// across restarts.
class soukd_node {
public:
  soukd_node(std::vector<std::string> argv, std::string log, uint16_t port)
    : argv_(std::move(argv)), log_(std::move(log)), port_(port) {}

  bool start();
  /// SIGKILL (`hard`) or SIGTERM; remembers its peak memory first.
  void stop(bool hard);
  /// Waits for /readyz; false after `limit` or if soukd exits meanwhile.
  bool wait_ready(milliseconds limit);
  long peak_rss_kib();
  /// The running process's id, 0 if none.
  pid_t pid();
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  const std::string& log() const { return log_; }

private:
  std::mutex mtx_;
  std::vector<std::string> argv_;
  std::string log_;
  uint16_t port_;
  std::unique_ptr<child> proc_;
  long peak_kib_ = 0;
};

/// A product the buyers buy: its id and its one file's size.
struct product {
  std::string id;
  uint64_t file_size = 0;
};

/// Everything a buyer needs.
struct shop {
  std::string soukd_url;
  std::string sandbox_url;
  std::vector<product> products;
};

/// Runs purchase `index` end to end (checkout, pay or not on the hosted
/// page, wait for delivery, download) and records what it saw.
order_record buy(const shop& s, const options& o, uint32_t index,
                 const std::string& run_id, error_counts& errors);

/// A buyer who gave up waiting comes back (from the receipt, say): asks
/// for fresh links and downloads every file. True if all arrived.
bool download_late(const shop& s, const options& o, order_record& rec,
                   error_counts& errors);

} // namespace souk::load
