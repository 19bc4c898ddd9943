#include "scheduler.hpp"

#include <exception>

#include "souk/core/log.hpp"

namespace souk::sandbox {

scheduler::scheduler(size_t threads) {
  if (threads == 0)
    threads = 1;
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] { run(); });
}

scheduler::~scheduler() {
  stop();
}

void scheduler::at(clock::time_point when, task fn) {
  {
    std::lock_guard guard{mtx_};
    if (stopping_)
      return;
    queue_.emplace(std::make_pair(when, seq_++), std::move(fn));
  }
  // One sleeper is enough: it re-reads the head of the queue and either
  // runs it or sleeps until it is due.
  cv_.notify_one();
}

bool scheduler::stopping() const {
  std::lock_guard guard{mtx_};
  return stopping_;
}

void scheduler::stop() {
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void scheduler::run() {
  std::unique_lock lock{mtx_};
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto head = queue_.begin();
    auto due = head->first.first;
    if (due > clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(head->second);
    queue_.erase(head);
    lock.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      log::error("sandbox: a scheduled task failed: {}", e.what());
    } catch (...) {
      log::error("sandbox: a scheduled task failed");
    }
    lock.lock();
  }
}

} // namespace souk::sandbox
