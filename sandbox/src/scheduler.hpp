#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace souk::sandbox {

/// Runs tasks at given times on a few threads of its own: a time-ordered
/// queue and a condition variable, so an idle scheduler sleeps until the
/// next task is due or `stop` is called, and never polls.
///
/// Thread-safe. Tasks due at the same time start in the order they were
/// added; with more than one thread they may overlap.
class scheduler {
public:
  using clock = std::chrono::steady_clock;
  using task = std::function<void()>;

  /// Starts `threads` threads (at least one).
  explicit scheduler(size_t threads);
  ~scheduler(); ///< calls `stop`
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// Runs `fn` at `when` or later. Ignored once stopping. A task that throws
  /// is logged and forgotten.
  void at(clock::time_point when, task fn);

  /// Runs `fn` after `delay`.
  void after(std::chrono::milliseconds delay, task fn) {
    at(clock::now() + delay, std::move(fn));
  }

  /// True once `stop` has begun (long tasks check it between steps).
  bool stopping() const;

  /// Drops pending tasks, waits for running ones, joins the threads.
  /// Idempotent. REQUIRES: not called from a task.
  void stop();

private:
  void run();

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::pair<clock::time_point, uint64_t>, task> queue_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace souk::sandbox
