#include "souk/core/change_watch.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace souk {

struct change_watch::impl {
  struct waiter {
    std::string key;
    clock::time_point due;
    bool last = false; // due is the deadline: a timeout, not a recheck
    callback fn;
  };

  std::chrono::milliseconds recheck;
  size_t capacity;
  size_t memory;
  // The stream of changes: its position, the last `memory` of them, and
  // the newest position of each key among those.
  uint64_t position = 0;
  std::deque<std::pair<uint64_t, std::string>> recent;
  std::unordered_map<std::string, uint64_t> last_change;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  uint64_t next_id = 0;
  std::map<uint64_t, waiter> waiters;
  std::unordered_multimap<std::string, uint64_t> by_key;
  std::set<std::pair<clock::time_point, uint64_t>> by_due;
  std::thread timer;

  // Takes waiter `id` out of every index. REQUIRES: `mu` held.
  waiter take(std::map<uint64_t, waiter>::iterator it) {
    auto [first, last] = by_key.equal_range(it->second.key);
    for (auto k = first; k != last; ++k)
      if (k->second == it->first) {
        by_key.erase(k);
        break;
      }
    by_due.erase({it->second.due, it->first});
    auto w = std::move(it->second);
    waiters.erase(it);
    return w;
  }

  void run() {
    std::unique_lock lock{mu};
    while (!closed) {
      if (by_due.empty()) {
        cv.wait(lock);
        continue;
      }
      auto next = by_due.begin()->first;
      if (clock::now() < next) {
        cv.wait_until(lock, next);
        continue;
      }
      std::vector<std::pair<wake, callback>> due;
      auto now = clock::now();
      while (!by_due.empty() && by_due.begin()->first <= now) {
        auto w = take(waiters.find(by_due.begin()->second));
        due.emplace_back(w.last ? wake::timeout : wake::recheck,
                         std::move(w.fn));
      }
      lock.unlock();
      for (auto& [why, fn] : due)
        fn(why);
      due.clear(); // drop what the callbacks hold before taking the lock
      lock.lock();
    }
  }
};

change_watch::change_watch(std::chrono::milliseconds recheck, size_t capacity,
                           size_t memory)
  : impl_(std::make_unique<impl>()) {
  impl_->recheck = recheck;
  impl_->capacity = capacity;
  impl_->memory = std::max<size_t>(memory, 1);
  impl_->timer = std::thread{[d = impl_.get()] { d->run(); }};
}

change_watch::~change_watch() {
  close();
  impl_->timer.join();
}

uint64_t change_watch::position() const {
  std::lock_guard lock{impl_->mu};
  return impl_->position;
}

bool change_watch::wait(const std::string& key, uint64_t since,
                        clock::time_point deadline, callback fn) {
  std::unique_lock lock{impl_->mu};
  auto& d = *impl_;
  if (d.closed || d.waiters.size() >= d.capacity)
    return false;
  // Changed since the caller read it, or too long ago to tell: wake now.
  auto last = d.last_change.find(key);
  bool forgotten = !d.recent.empty() && since + 1 < d.recent.front().first;
  if ((last != d.last_change.end() && last->second > since) || forgotten) {
    lock.unlock();
    fn(wake::changed);
    return true;
  }
  auto id = d.next_id++;
  auto recheck_at = clock::now() + d.recheck;
  impl::waiter w{key, std::min(deadline, recheck_at), deadline <= recheck_at,
                 std::move(fn)};
  bool earliest = d.by_due.empty() || w.due < d.by_due.begin()->first;
  d.by_due.emplace(w.due, id);
  d.by_key.emplace(key, id);
  d.waiters.emplace(id, std::move(w));
  if (earliest)
    d.cv.notify_one();
  return true;
}

void change_watch::notify(const std::string& key) {
  std::vector<callback> woken;
  {
    std::lock_guard lock{impl_->mu};
    auto& d = *impl_;
    auto at = ++d.position;
    d.recent.emplace_back(at, key);
    d.last_change[key] = at;
    if (d.recent.size() > d.memory) {
      auto& [old_at, old_key] = d.recent.front();
      if (auto k = d.last_change.find(old_key);
          k != d.last_change.end() && k->second == old_at)
        d.last_change.erase(k);
      d.recent.pop_front();
    }
    if (d.by_key.empty())
      return;
    auto [first, last] = d.by_key.equal_range(key);
    std::vector<uint64_t> ids;
    for (auto k = first; k != last; ++k)
      ids.push_back(k->second);
    for (auto id : ids)
      woken.push_back(d.take(d.waiters.find(id)).fn);
  }
  for (auto& fn : woken)
    fn(wake::changed);
}

void change_watch::close() {
  std::vector<callback> woken;
  {
    std::lock_guard lock{impl_->mu};
    auto& d = *impl_;
    d.closed = true;
    for (auto& [id, w] : d.waiters)
      woken.push_back(std::move(w.fn));
    d.waiters.clear();
    d.by_key.clear();
    d.by_due.clear();
    d.cv.notify_one();
  }
  for (auto& fn : woken)
    fn(wake::closed);
}

size_t change_watch::waiting() const {
  std::lock_guard lock{impl_->mu};
  return impl_->waiters.size();
}

} // namespace souk
