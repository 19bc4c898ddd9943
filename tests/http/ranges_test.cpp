// Range headers against RFC 9110 §14: the forms of a range-spec, clipping,
// suffixes, unsatisfiable sets (416), malformed sets (ignored: a full 200),
// merged overlaps, and the cap on how many ranges one request may ask for.

#include <boost/test/unit_test.hpp>

#include "souk/http/ranges.hpp"

using souk::http::parse_range;
using kind = souk::http::range_answer::kind;

namespace {

std::string show(const souk::http::range_answer& a) {
  std::string out = a.what == kind::full            ? "full"
                    : a.what == kind::unsatisfiable ? "416"
                                                    : "206";
  for (auto& r : a.ranges)
    out += " " + std::to_string(r.first) + "-" + std::to_string(r.last);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(byte_ranges)

BOOST_AUTO_TEST_CASE(single_ranges) {
  BOOST_TEST(show(parse_range("bytes=0-99", 1000)) == "206 0-99");
  BOOST_TEST(show(parse_range("bytes=100-199", 1000)) == "206 100-199");
  BOOST_TEST(show(parse_range("bytes=900-", 1000)) == "206 900-999");
  BOOST_TEST(show(parse_range("bytes=-100", 1000)) == "206 900-999");
  // A last position past the end is clipped, a suffix longer than the file
  // is the whole file (§14.1.2).
  BOOST_TEST(show(parse_range("bytes=990-5000", 1000)) == "206 990-999");
  BOOST_TEST(show(parse_range("bytes=-5000", 1000)) == "206 0-999");
  BOOST_TEST(show(parse_range("bytes=0-0", 1000)) == "206 0-0");
  BOOST_TEST(show(parse_range("bytes=999-999", 1000)) == "206 999-999");
  // Case-insensitive unit, optional white space around list elements.
  BOOST_TEST(show(parse_range("Bytes= 0-9 ,", 1000)) == "206 0-9");
}

BOOST_AUTO_TEST_CASE(unsatisfiable) {
  BOOST_TEST(show(parse_range("bytes=1000-", 1000)) == "416");
  BOOST_TEST(show(parse_range("bytes=5000-6000", 1000)) == "416");
  BOOST_TEST(show(parse_range("bytes=-0", 1000)) == "416");
  BOOST_TEST(show(parse_range("bytes=0-", 0)) == "416");
  BOOST_TEST(show(parse_range("bytes=-10", 0)) == "416");
  // Unsatisfiable ranges among satisfiable ones are dropped.
  BOOST_TEST(show(parse_range("bytes=5000-,0-9", 1000)) == "206 0-9");
}

BOOST_AUTO_TEST_CASE(malformed_headers_are_ignored) {
  for (auto h : {"bytes=abc", "bytes=5-1", "bytes=", "bytes=1-2-3", "items=0-9",
                 "0-9", "bytes=--5", "bytes=+1-2", "bytes=0x1-2",
                 "bytes=99999999999999999999999-", "bytes=,,"})
    BOOST_TEST(show(parse_range(h, 1000)) == "full", h);
}

BOOST_AUTO_TEST_CASE(several_ranges_sorted_and_merged) {
  BOOST_TEST(show(parse_range("bytes=0-9,20-29", 1000)) == "206 0-9 20-29");
  BOOST_TEST(show(parse_range("bytes=20-29,0-9", 1000)) == "206 0-9 20-29");
  BOOST_TEST(show(parse_range("bytes=0-9,5-14", 1000)) == "206 0-14");
  BOOST_TEST(show(parse_range("bytes=0-9,10-19", 1000)) == "206 0-19");
  BOOST_TEST(show(parse_range("bytes=0-9,-10", 1000)) == "206 0-9 990-999");
  BOOST_TEST(show(parse_range("bytes=0-,0-9", 1000)) == "206 0-999");
  std::string many = "bytes=";
  for (int i = 0; i < 17; ++i)
    many += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
  BOOST_TEST(show(parse_range(many, 1000)) == "full");
}

BOOST_AUTO_TEST_SUITE_END()
