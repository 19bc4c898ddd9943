#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace souk {

/// Callers waiting for something named by a key to change: an order page's
/// long poll (`Prefer: wait`) waits here for its order.
///
/// A waiter is woken once, by whichever comes first:
///  * `changed`: `notify(key)` was called (this process committed a change);
///  * `recheck`: `recheck` passed, so that it looks again for changes this
///    process was not told about (another node's, or a row `notify` does
///    not cover);
///  * `timeout`: its deadline passed;
///  * `closed`: the watch is closing (the server is shutting down).
///
/// Wake-ups run on the caller of `notify` or `close`, or on the watch's own
/// thread, and must not block (post the work elsewhere). Thread-safe.
class change_watch {
public:
  enum class wake { changed, recheck, timeout, closed };
  using clock = std::chrono::steady_clock;
  using callback = std::function<void(wake)>;

  /// Holds at most `capacity` waiters at once, and remembers the last
  /// `memory` changes for `wait`'s `since`.
  explicit change_watch(std::chrono::milliseconds recheck,
                        size_t capacity = 10'000, size_t memory = 4096);
  ~change_watch(); ///< closes
  change_watch(const change_watch&) = delete;
  change_watch& operator=(const change_watch&) = delete;

  /// Where the stream of changes stands now. Take it before reading what a
  /// waiter will wait on, and pass it to `wait`: a change notified in
  /// between then wakes the waiter at once instead of being missed.
  uint64_t position() const;

  /// Wakes `fn` once, as above, no later than `deadline`; at once (on this
  /// thread, with `changed`) if `key` was notified after `since`, or if the
  /// watch no longer remembers that far back. False (and `fn` dropped,
  /// never called) when the watch is closed or full: answer at once
  /// instead.
  bool wait(const std::string& key, uint64_t since, clock::time_point deadline,
            callback fn);

  /// Wakes every waiter of `key` with `changed`. Cheap when none waits.
  void notify(const std::string& key);

  /// Wakes every waiter with `closed`, and refuses waiters from now on.
  void close();

  /// How many wait now.
  size_t waiting() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace souk
