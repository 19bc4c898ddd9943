#include "souk/core/worker_pool.hpp"

#include <atomic>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace souk {

struct worker_pool::impl {
  explicit impl(size_t n) : pool(n) {}
  boost::asio::thread_pool pool;
  std::atomic<bool> stopped{false};
};

worker_pool::worker_pool(size_t threads)
  : impl_(std::make_unique<impl>(threads == 0 ? 1 : threads)) {}

worker_pool::~worker_pool() {
  shutdown();
}

void worker_pool::post(std::function<void()> job) {
  // After shutdown nothing runs any more: drop the job (and what it holds)
  // now rather than keep it queued until the pool is destroyed.
  if (impl_->stopped.load())
    return;
  boost::asio::post(impl_->pool, std::move(job));
}

void worker_pool::shutdown() {
  if (!impl_->stopped.exchange(true))
    impl_->pool.join();
}

} // namespace souk
