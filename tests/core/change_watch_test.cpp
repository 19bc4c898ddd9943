// souk::change_watch: long polls waiting for a key to change. Each waiter
// is woken once: by a change of its key, a recheck, its deadline, or the
// watch closing; a closed or full watch refuses waiters.

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "souk/core/change_watch.hpp"

using namespace std::chrono_literals;
using souk::change_watch;

namespace {

// What woke whom, in order.
struct wakes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, change_watch::wake>> seen;

  change_watch::callback of(std::string who) {
    return [this, who](change_watch::wake w) {
      std::lock_guard lock{mu};
      seen.emplace_back(who, w);
      cv.notify_all();
    };
  }

  // Waits (up to 10 s, so a slow machine never fails it) for `n` wakes.
  bool at_least(size_t n) {
    std::unique_lock lock{mu};
    return cv.wait_for(lock, 10s, [&] { return seen.size() >= n; });
  }

  size_t count() {
    std::lock_guard lock{mu};
    return seen.size();
  }
};

auto in(std::chrono::milliseconds d) {
  return change_watch::clock::now() + d;
}

} // namespace

BOOST_AUTO_TEST_SUITE(change_watch_suite)

BOOST_AUTO_TEST_CASE(a_change_wakes_the_waiters_of_its_key_once) {
  wakes w; // outlives the watch, whose closing may still wake someone
  change_watch watch{60s};
  BOOST_TEST(watch.wait("a", watch.position(), in(60s), w.of("a1")));
  BOOST_TEST(watch.wait("a", watch.position(), in(60s), w.of("a2")));
  BOOST_TEST(watch.wait("b", watch.position(), in(60s), w.of("b")));
  BOOST_TEST(watch.waiting() == 3u);
  watch.notify("nobody");
  BOOST_TEST(w.count() == 0u);
  watch.notify("a");
  BOOST_REQUIRE_EQUAL(w.count(), 2u); // on the caller of notify
  for (auto& [who, why] : w.seen) {
    BOOST_TEST(who.substr(0, 1) == "a");
    BOOST_TEST((why == change_watch::wake::changed));
  }
  watch.notify("a"); // woken once: nothing waits on "a" now
  BOOST_TEST(w.count() == 2u);
  BOOST_TEST(watch.waiting() == 1u);
}

BOOST_AUTO_TEST_CASE(a_change_between_the_read_and_the_wait_is_not_missed) {
  wakes w;
  change_watch watch{60s, 10, 3};
  auto before = watch.position(); // then the caller reads...
  watch.notify("a");              // ...and "a" changes before it waits
  watch.notify("b");
  BOOST_TEST(watch.wait("a", before, in(60s), w.of("a")));
  BOOST_REQUIRE_EQUAL(w.count(), 1u); // at once, on this thread
  BOOST_TEST((w.seen[0].second == change_watch::wake::changed));
  // Another key's change does not count, nor does one the caller saw.
  BOOST_TEST(watch.wait("c", before, in(60s), w.of("c")));
  BOOST_TEST(watch.wait("a", watch.position(), in(60s), w.of("a-now")));
  BOOST_TEST(w.count() == 1u);
  BOOST_TEST(watch.waiting() == 2u);
  // Beyond what the watch remembers (3 changes), it cannot tell: at once.
  auto old = watch.position();
  for (auto k : {"x", "y", "z", "x"})
    watch.notify(k);
  BOOST_TEST(watch.wait("d", old, in(60s), w.of("d")));
  BOOST_REQUIRE_EQUAL(w.count(), 2u);
  BOOST_TEST(w.seen[1].first == "d");
}

BOOST_AUTO_TEST_CASE(
  a_waiter_looks_again_after_the_recheck_and_ends_at_its_deadline) {
  wakes w;
  change_watch watch{50ms};
  auto start = change_watch::clock::now();
  BOOST_TEST(watch.wait("slow", watch.position(), in(60s), w.of("recheck")));
  BOOST_TEST(watch.wait("soon", watch.position(), in(20ms), w.of("deadline")));
  BOOST_REQUIRE(w.at_least(2));
  BOOST_TEST((change_watch::clock::now() - start >= 50ms));
  BOOST_TEST(w.seen[0].first == "deadline");
  BOOST_TEST((w.seen[0].second == change_watch::wake::timeout));
  BOOST_TEST(w.seen[1].first == "recheck");
  BOOST_TEST((w.seen[1].second == change_watch::wake::recheck));
  BOOST_TEST(watch.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(closing_wakes_everyone_and_refuses_new_waiters) {
  wakes w;
  {
    change_watch watch{60s, 2};
    BOOST_TEST(watch.wait("a", watch.position(), in(60s), w.of("a")));
    BOOST_TEST(watch.wait("b", watch.position(), in(60s), w.of("b")));
    // Full: refused, and the refused callback is never called.
    BOOST_TEST(!watch.wait("c", watch.position(), in(60s), w.of("c")));
    watch.close();
    BOOST_REQUIRE_EQUAL(w.count(), 2u);
    for (auto& [who, why] : w.seen)
      BOOST_TEST((why == change_watch::wake::closed));
    BOOST_TEST(!watch.wait("d", watch.position(), in(60s), w.of("d")));
    BOOST_TEST(watch.waiting() == 0u);
  }
  {
    // Destroying an open watch closes it too.
    change_watch watch{60s};
    BOOST_TEST(watch.wait("e", watch.position(), in(60s), w.of("e")));
  }
  BOOST_REQUIRE_EQUAL(w.count(), 3u);
  BOOST_TEST(w.seen[2].first == "e");
  BOOST_TEST((w.seen[2].second == change_watch::wake::closed));
}

BOOST_AUTO_TEST_SUITE_END()
