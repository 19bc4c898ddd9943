#pragma once

// The processes a load run drives: soukd, the standalone sandbox gateway and
// (for PostgreSQL) a private durable cluster, each started, killed and
// restarted from here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace souk::load {

/// A child process with stdout and stderr appended to a log file, and an
/// environment without SOUK_* variables (soukd refuses ones it does not
/// know, and a test's SOUK_TEST_DATABASE_URL is not for it).
class child {
public:
  child(std::vector<std::string> argv, std::string log_path);
  ~child(); ///< SIGTERM, then waits
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  bool start();
  /// Sends `sig` and reaps the process; returns its wait status.
  int stop(int sig);
  bool running() const { return pid_ > 0; }
  /// False once the process has exited (reaps it).
  bool alive();
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_; }

private:
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = 0;
};

/// Waits until GET `url` answers 200 (with `headers`); false after `limit`
/// or as soon as `alive` (if given) says the server has exited.
bool wait_ok(const std::string& url, std::chrono::milliseconds limit,
             const std::vector<std::string>& headers = {},
             const std::function<bool()>& alive = {});

uint16_t free_port();

/// A peak resident memory figure of a live process (VmHWM), in KiB.
long peak_rss_kib(pid_t pid);

/// A private PostgreSQL 15 cluster with durability on, run by
/// scripts/pg-test-cluster; removed on destruction.
class pg_cluster {
public:
  explicit pg_cluster(std::string script);
  ~pg_cluster();
  /// Creates and starts it; the URL of its `postgres` database, or empty
  /// (and the reason on stderr).
  std::string start();
  /// `fast` or `immediate` (as after a crash). Blocks until it is back.
  bool restart(const std::string& mode);
  /// Its data directory (empty before `start`).
  std::string data_dir() const { return dir_.empty() ? dir_ : dir_ + "/data"; }

private:
  std::string script_;
  std::string dir_;
};

/// Runs `sh -c command`; its stdout, and its exit status in `status`.
std::string run_command(const std::string& command, int* status = nullptr);

/// `url` with its database name replaced by `name`.
std::string with_database(const std::string& url, const std::string& name);

} // namespace souk::load
