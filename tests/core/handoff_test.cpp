// souk::handoff: rows leased to their writer, handed over in memory. Taken
// oldest first and once; a row whose lease ends too soon is dropped (its
// table's claim takes it later); a full queue refuses.

#include <string>

#include <boost/test/unit_test.hpp>

#include "souk/core/handoff.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(handoff)

BOOST_AUTO_TEST_CASE(rows_are_taken_oldest_first_and_once) {
  souk::handoff<std::string> h;
  auto t = souk::now();
  BOOST_TEST(h.give("a", t + 60s));
  BOOST_TEST(h.give("b", t + 60s));
  BOOST_TEST(h.give("c", t + 60s));
  BOOST_TEST(h.size() == 3u);
  auto first = h.take(2, t + 30s);
  BOOST_REQUIRE_EQUAL(first.size(), 2u);
  BOOST_TEST(first[0] == "a");
  BOOST_TEST(first[1] == "b");
  auto rest = h.take(5, t + 30s);
  BOOST_REQUIRE_EQUAL(rest.size(), 1u);
  BOOST_TEST(rest[0] == "c");
  BOOST_TEST(h.take(5, t).empty());
}

BOOST_AUTO_TEST_CASE(a_row_whose_lease_ends_too_soon_is_dropped) {
  souk::handoff<std::string> h;
  auto t = souk::now();
  BOOST_TEST(h.give("short", t + 10s));
  BOOST_TEST(h.give("long", t + 60s));
  auto got = h.take(2, t + 30s);
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0] == "long");
  BOOST_TEST(h.size() == 0u); // dropped, not kept for later
}

BOOST_AUTO_TEST_CASE(a_full_queue_refuses) {
  souk::handoff<std::string> h{2};
  auto t = souk::now() + 60s;
  BOOST_TEST(h.give("a", t));
  BOOST_TEST(h.give("b", t));
  BOOST_TEST(!h.give("c", t));
  BOOST_TEST(h.take(1, souk::now()).front() == "a");
  BOOST_TEST(h.give("c", t));
}

BOOST_AUTO_TEST_SUITE_END()
