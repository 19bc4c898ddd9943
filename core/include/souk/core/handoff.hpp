#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "souk/core/time.hpp"

namespace souk {

/// Rows this process wrote already leased to itself ("born claimed": an
/// inbox row as the webhook is stored, a receipt as its order is
/// delivered), handed in memory to the round that works on them, so that
/// the round need not claim them again with a write of its own.
///
/// The database stays the source of truth: a row lost here (the process
/// died, the queue was full, the lease ran short while it waited) is still
/// leased in its table, and the usual claim takes it once the lease has run
/// out. So a row is only taken while enough of its lease is left for the
/// work, and never taken twice. Thread-safe.
template<class Row>
class handoff {
public:
  explicit handoff(size_t capacity = 1024) : capacity_(capacity) {}

  /// Hands `row`, leased until `lease_until`, to whoever takes next. False
  /// (and `row` dropped) when `capacity` rows wait already.
  bool give(Row row, timestamp lease_until) {
    std::lock_guard lock{mu_};
    if (waiting_.size() >= capacity_)
      return false;
    waiting_.emplace_back(std::move(row), lease_until);
    return true;
  }

  /// Up to `n` rows, oldest first, whose lease lasts past `needed_until`;
  /// rows whose lease ends sooner are dropped on the way.
  std::vector<Row> take(size_t n, timestamp needed_until) {
    std::vector<Row> out;
    std::lock_guard lock{mu_};
    while (out.size() < n && !waiting_.empty()) {
      auto& [row, until] = waiting_.front();
      if (until > needed_until)
        out.push_back(std::move(row));
      waiting_.pop_front();
    }
    return out;
  }

  /// Every row still waiting (e.g. to release their leases at shutdown).
  std::vector<Row> take_all() {
    std::vector<Row> out;
    std::lock_guard lock{mu_};
    for (auto& [row, until] : waiting_)
      out.push_back(std::move(row));
    waiting_.clear();
    return out;
  }

  size_t size() const {
    std::lock_guard lock{mu_};
    return waiting_.size();
  }

private:
  mutable std::mutex mu_;
  size_t capacity_;
  std::deque<std::pair<Row, timestamp>> waiting_;
};

} // namespace souk
