#include <set>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "souk/core/ids.hpp"

BOOST_AUTO_TEST_SUITE(ids)

BOOST_AUTO_TEST_CASE(uuids_are_version_7_in_canonical_form) {
  auto id = souk::new_uuid();
  BOOST_TEST(souk::is_uuid(id));
  BOOST_TEST(id[14] == '7');
  BOOST_TEST(
    (id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b'));
}

BOOST_AUTO_TEST_CASE(uuids_from_one_process_sort_by_creation) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10'000; ++i)
    ids.push_back(souk::new_uuid());
  for (size_t i = 1; i < ids.size(); ++i)
    BOOST_TEST_REQUIRE(ids[i - 1] < ids[i]);
}

BOOST_AUTO_TEST_CASE(uuids_do_not_collide_across_threads) {
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> threads;
  for (auto& v : per)
    threads.emplace_back([&v] {
      for (int i = 0; i < 5'000; ++i)
        v.push_back(souk::new_uuid());
    });
  for (auto& t : threads)
    t.join();
  std::set<std::string> all;
  for (auto& v : per)
    all.insert(v.begin(), v.end());
  BOOST_TEST(all.size() == 20'000u);
}

BOOST_AUTO_TEST_CASE(is_uuid_rejects_near_misses) {
  BOOST_TEST(!souk::is_uuid(""));
  BOOST_TEST(!souk::is_uuid("01890a5d-ac96-774b-bcce-b302099a8057x"));
  BOOST_TEST(!souk::is_uuid("01890A5D-AC96-774B-BCCE-B302099A8057"));
  BOOST_TEST(!souk::is_uuid("01890a5d_ac96_774b_bcce_b302099a8057"));
  BOOST_TEST(!souk::is_uuid("../../../etc/passwd-000000000000000"));
  BOOST_TEST(souk::is_uuid("01890a5d-ac96-774b-bcce-b302099a8057"));
}

BOOST_AUTO_TEST_CASE(random_tokens_have_the_requested_entropy) {
  auto hex = souk::random_hex(32);
  BOOST_TEST(hex.size() == 64u);
  auto token = souk::random_token(32); // 256 bits
  BOOST_TEST(token.size() == 43u);     // base64url, no padding
  BOOST_TEST(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                     "nopqrstuvwxyz0123456789-_")
             == std::string::npos);
  BOOST_TEST(souk::random_token(32) != token);
}

BOOST_AUTO_TEST_SUITE_END()
