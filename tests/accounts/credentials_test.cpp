#include <cctype>
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

#include "souk/accounts/credentials.hpp"

namespace sa = souk::accounts;
using souk::errc;

namespace {

// Cheap enough for a test, still a real Argon2id hash.
const sa::hash_cost cheap{1, 64ull << 10};

bool is_base64url(const std::string& s) {
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return false;
  return true;
}

bool is_lower_hex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

// A password that no rule refuses, `n` bytes long.
std::string varied(size_t n) {
  static constexpr std::string_view alphabet
    = "correct-horse-battery-staple-Z7q";
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += alphabet[i % alphabet.size()];
  return out;
}

void expect_bad_email(std::string_view text) {
  auto r = sa::normalize_email(text);
  BOOST_TEST_CONTEXT("email '" << text << "'") {
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::invalid_field);
    BOOST_TEST(r.err().field == "email");
    BOOST_TEST(!r.err().detail.empty());
  }
}

void expect_bad_password(std::string_view password, std::string_view email,
                         uint32_t min_length) {
  auto st = sa::check_password(password, email, min_length);
  BOOST_TEST_CONTEXT("password '" << password.substr(0, 40) << "' ("
                                  << password.size() << " bytes)") {
    BOOST_TEST(st.code == errc::invalid_field);
    BOOST_TEST(st.field == "password");
    BOOST_TEST(!st.detail.empty());
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(credentials)

BOOST_AUTO_TEST_CASE(emails_are_trimmed_and_lowercased) {
  BOOST_TEST(*sa::normalize_email("  Ada@Example.COM ") == "ada@example.com");
  BOOST_TEST(*sa::normalize_email("\t\nBOB.Smith+Tag@Mail.Example.org\r\n")
             == "bob.smith+tag@mail.example.org");
  BOOST_TEST(*sa::normalize_email("a@b.co") == "a@b.co");
  BOOST_TEST(*sa::normalize_email("o'brien@example.ie")
             == "o'brien@example.ie");
}

BOOST_AUTO_TEST_CASE(emails_without_the_right_shape_are_refused) {
  for (auto bad :
       {"", "   ", "\t\n", "no-at-sign.example.com", "two@at@example.com",
        "@example.com", "ada@", "ada@localhost", "ada@.example.com",
        "ada@example.com.", "ada@example..com", "ada@-example.com"})
    expect_bad_email(bad);
}

BOOST_AUTO_TEST_CASE(emails_with_characters_addresses_cannot_have_are_refused) {
  for (auto bad :
       {"ada lovelace@example.com", "ada@exa mple.com", "ada\t@example.com",
        "ada\x01@example.com", "ada\x7f@example.com", "\"ada\"@example.com",
        "<ada@example.com>", "Ada <ada@example.com>", "ada@example.com>",
        "ada,bob@example.com", "ada;bob@example.com", "ada\\@example.com",
        "ada(comment)@example.com", "ada@[127.0.0.1]"})
    expect_bad_email(bad);
  // A NUL in the middle must not end the check early.
  expect_bad_email(std::string_view{"ada\0x@example.com", 17});
}

BOOST_AUTO_TEST_CASE(the_local_part_is_at_most_64_characters) {
  auto domain = std::string{"@example.com"};
  BOOST_TEST(sa::normalize_email(std::string(64, 'a') + domain).has_value());
  expect_bad_email(std::string(65, 'a') + domain);
}

BOOST_AUTO_TEST_CASE(emails_are_at_most_254_characters) {
  // 64 + 1 + 189 = 254: the longest address allowed.
  auto label = std::string(62, 'd');
  auto domain = label + "." + label + "." + std::string(59, 'e') + ".com";
  auto ok = std::string(64, 'l') + "@" + domain;
  BOOST_REQUIRE_EQUAL(ok.size(), 254u);
  auto r = sa::normalize_email(ok);
  BOOST_TEST(r.has_value());
  expect_bad_email(ok + "m");
  // Surrounding whitespace is not counted.
  BOOST_TEST(sa::normalize_email("  " + ok + "  ").has_value());
}

BOOST_AUTO_TEST_CASE(a_good_passphrase_passes) {
  BOOST_TEST(
    !sa::check_password("correct horse battery staple", "ada@example.com", 10));
  BOOST_TEST(!sa::check_password(varied(10), "ada@example.com", 10));
  BOOST_TEST(!sa::check_password(varied(1024), "ada@example.com", 10));
}

BOOST_AUTO_TEST_CASE(passwords_shorter_than_the_minimum_are_refused) {
  expect_bad_password(varied(11), "ada@example.com", 12);
  BOOST_TEST(!sa::check_password(varied(12), "ada@example.com", 12));
  expect_bad_password("", "ada@example.com", 1);
  BOOST_TEST(!sa::check_password("x7", "ada@example.com", 2));
}

BOOST_AUTO_TEST_CASE(passwords_over_1024_bytes_are_refused) {
  expect_bad_password(varied(1025), "ada@example.com", 10);
  expect_bad_password(varied(100'000), "ada@example.com", 10);
}

BOOST_AUTO_TEST_CASE(common_passwords_are_refused_whatever_their_case) {
  for (auto bad : {"password123", "Password123", "PASSWORD123", "qwertyuiop",
                   "QWERTYUIOP", "QwErTyUiOp", "1234567890"})
    expect_bad_password(bad, "ada@example.com", 10);
  // Even when short passwords are allowed.
  for (auto bad : {"123456", "qwerty", "Password"})
    expect_bad_password(bad, "ada@example.com", 1);
}

BOOST_AUTO_TEST_CASE(the_email_and_its_local_part_are_refused) {
  expect_bad_password("ada.lovelace@example.com", "ada.lovelace@example.com",
                      10);
  expect_bad_password("Ada.Lovelace@Example.com", "ada.lovelace@example.com",
                      10);
  expect_bad_password("ada.lovelace", "ada.lovelace@example.com", 10);
  expect_bad_password("ADA.LOVELACE", "ada.lovelace@example.com", 10);
  // Containing the local part is fine.
  BOOST_TEST(!sa::check_password("ada.lovelace rides again",
                                 "ada.lovelace@example.com", 10));
}

BOOST_AUTO_TEST_CASE(one_repeated_character_is_refused) {
  expect_bad_password("~~~~~~~~~~~~", "ada@example.com", 10);
  expect_bad_password(std::string(40, 'Q'), "ada@example.com", 10);
  BOOST_TEST(
    !sa::check_password(std::string(39, 'Q') + "r", "ada@example.com", 10));
}

BOOST_AUTO_TEST_CASE(hashes_verify_the_right_password_only) {
  auto h = sa::hash_password("correct horse battery staple", cheap);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->starts_with("$argon2id$"));
  BOOST_TEST(sa::verify_password(*h, "correct horse battery staple"));
  BOOST_TEST(!sa::verify_password(*h, "correct horse battery stapl"));
  BOOST_TEST(!sa::verify_password(*h, "Correct horse battery staple"));
  BOOST_TEST(!sa::verify_password(*h, ""));
  BOOST_TEST(
    !sa::verify_password("not a hash", "correct horse battery staple"));
  BOOST_TEST(!sa::verify_password("", ""));
}

BOOST_AUTO_TEST_CASE(two_hashes_of_one_password_differ) {
  auto a = sa::hash_password("correct horse battery staple", cheap);
  auto b = sa::hash_password("correct horse battery staple", cheap);
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  BOOST_TEST(*a != *b);
  BOOST_TEST(sa::verify_password(*a, "correct horse battery staple"));
  BOOST_TEST(sa::verify_password(*b, "correct horse battery staple"));
}

BOOST_AUTO_TEST_CASE(needs_rehash_notices_a_changed_cost) {
  auto h = sa::hash_password("correct horse battery staple", cheap);
  BOOST_REQUIRE(h);
  BOOST_TEST(!sa::needs_rehash(*h, cheap));
  BOOST_TEST(sa::needs_rehash(*h, sa::hash_cost{2, cheap.memory}));
  BOOST_TEST(sa::needs_rehash(*h, sa::hash_cost{1, 128ull << 10}));
  // Garbage is rehashed rather than trusted.
  BOOST_TEST(sa::needs_rehash("not a hash", cheap));
}

BOOST_AUTO_TEST_CASE(equalize_timing_returns) {
  sa::equalize_timing(cheap);
  sa::equalize_timing(sa::hash_cost{2, cheap.memory});
  sa::equalize_timing(cheap);
}

BOOST_AUTO_TEST_CASE(session_tokens_are_43_base64url_characters_and_unique) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto t = sa::new_session_token();
    BOOST_TEST(t.size() == 43u);
    BOOST_TEST(is_base64url(t), t);
    BOOST_TEST(!sa::is_api_key(t));
    seen.insert(t);
  }
  BOOST_TEST(seen.size() == 200u);
}

BOOST_AUTO_TEST_CASE(api_keys_carry_their_marker) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto k = sa::new_api_key();
    BOOST_TEST(k.starts_with("souk_sk_"));
    BOOST_TEST(k.size() == 8u + 43u);
    BOOST_TEST(is_base64url(k.substr(8)), k);
    BOOST_TEST(sa::is_api_key(k));
    seen.insert(k);
  }
  BOOST_TEST(seen.size() == 200u);
  BOOST_TEST(!sa::is_api_key(""));
  BOOST_TEST(!sa::is_api_key("souk_sk"));
  BOOST_TEST(!sa::is_api_key("SOUK_SK_abc"));
}

BOOST_AUTO_TEST_CASE(the_api_key_prefix_is_its_first_12_characters) {
  auto k = sa::new_api_key();
  auto p = sa::api_key_prefix(k);
  BOOST_TEST(p.size() == 12u);
  BOOST_TEST(k.starts_with(p));
  BOOST_TEST(p.starts_with("souk_sk_"));
  // Two keys share the marker but (almost surely) not the whole prefix; the
  // prefix alone is far from the key.
  BOOST_TEST(p.size() < k.size());
}

BOOST_AUTO_TEST_CASE(token_hashes_are_sha256_hex) {
  auto t = sa::new_session_token();
  auto h = sa::token_hash(t);
  BOOST_TEST(h.size() == 64u);
  BOOST_TEST(is_lower_hex(h), h);
  BOOST_TEST(sa::token_hash(t) == h);
  BOOST_TEST(h != t);
  BOOST_TEST(sa::token_hash(sa::new_session_token()) != h);
  // The SHA-256 test vector for "abc".
  BOOST_TEST(
    sa::token_hash("abc")
    == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(csrf_tokens_derive_from_but_differ_from_the_session) {
  auto t = sa::new_session_token();
  auto c = sa::csrf_token_for(t);
  BOOST_TEST(c == sa::csrf_token_for(t));
  BOOST_TEST(c != t);
  BOOST_TEST(c != sa::token_hash(t));
  BOOST_TEST(!c.empty());
  BOOST_TEST(sa::csrf_token_for(sa::new_session_token()) != c);
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_whole_strings) {
  BOOST_TEST(sa::constant_time_equal("", ""));
  BOOST_TEST(sa::constant_time_equal("abc", "abc"));
  BOOST_TEST(!sa::constant_time_equal("abc", "abd"));
  BOOST_TEST(!sa::constant_time_equal("abc", "xbc"));
  BOOST_TEST(!sa::constant_time_equal("abc", "ab"));
  BOOST_TEST(!sa::constant_time_equal("ab", "abc"));
  BOOST_TEST(!sa::constant_time_equal("", "a"));
  auto t = sa::new_session_token();
  BOOST_TEST(sa::constant_time_equal(t, std::string{t}));
  BOOST_TEST(!sa::constant_time_equal(t, sa::new_session_token()));
}

BOOST_AUTO_TEST_SUITE_END()
