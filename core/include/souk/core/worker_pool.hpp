#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace souk {

/// A fixed set of threads for blocking or CPU-heavy work (password hashing,
/// calls that chain database work) that must stay off the HTTP event loop
/// and CAF's scheduler. Its size bounds how much such work runs at once.
/// Thread-safe.
class worker_pool {
public:
  explicit worker_pool(size_t threads);
  ~worker_pool(); ///< runs what is queued, then joins
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Queues `job`; returns at once. After `shutdown` the job is dropped.
  void post(std::function<void()> job);

  /// Finishes queued jobs and joins the threads. Idempotent.
  void shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace souk
