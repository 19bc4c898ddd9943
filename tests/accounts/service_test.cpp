#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace sa = souk::accounts;
namespace sp = souk::persistence;
using namespace std::chrono_literals;
using souk::errc;

namespace {

constexpr std::string_view good_password = "correct horse battery staple";
constexpr std::string_view other_password = "tr0ub4dor & three";

// Cheap hashing and short throttle windows so the suite runs in seconds; the
// windows are still wide enough that a slow (sanitized, loaded) machine gets
// each blocked attempt in before the block ends.
sa::policy test_policy() {
  sa::policy p;
  p.cost = sa::hash_cost{1, 64ull << 10};
  p.password_min_length = 10;
  p.session_ttl = 1h;
  p.failures_before_block = 3;
  p.block_initial = 1000ms;
  p.block_max = 1500ms;
  return p;
}

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  sa::policy rules = test_policy();
  sa::service svc{db, rules};

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  int count(const std::string& table) {
    int n = -1;
    auto st = db->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM " + table, soci::into(n);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // One text column of the row where `key_column` = `key` ("" if none).
  std::string text(const std::string& table, const std::string& column,
                   const std::string& key_column, const std::string& key) {
    std::string out;
    auto st = db->run([&](soci::session& sql) {
      soci::indicator ind = soci::i_ok;
      sql << "SELECT " + column + " FROM " + table + " WHERE " + key_column
               + " = :k",
        soci::use(key), soci::into(out, ind);
      if (ind != soci::i_ok)
        out.clear();
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return out;
  }

  // The failed-login count for `email` (0 without a throttle row).
  int failures(const std::string& email) {
    int n = 0;
    auto st = db->run([&](soci::session& sql) {
      sql << "SELECT failures FROM login_throttle WHERE email = :e",
        soci::use(email), soci::into(n);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // Every non-null text value in `table`.
  std::vector<std::string> all_text(const std::string& table) {
    std::vector<std::string> out;
    auto st = db->run([&](soci::session& sql) {
      soci::rowset<soci::row> rows = sql.prepare << "SELECT * FROM " + table;
      for (auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i)
          if (r.get_indicator(i) == soci::i_ok
              && r.get_properties(i).get_data_type() == soci::dt_string)
            out.push_back(r.get<std::string>(i));
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return out;
  }

  sa::user sign_up(const std::string& email,
                   std::string_view role = sa::customer) {
    auto u = svc.sign_up(email, good_password, role);
    BOOST_REQUIRE_MESSAGE(u, (u ? "" : u.err().detail));
    return *u;
  }

  sa::login_result log_in(const std::string& email,
                          std::string_view password = good_password) {
    auto in = svc.log_in(email, password, "127.0.0.1", "test-agent/1.0");
    BOOST_REQUIRE_MESSAGE(in, (in ? "" : in.err().detail));
    return *in;
  }

  sa::principal principal_of(const std::string& token) {
    auto p = svc.authenticate(token);
    BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.err().detail));
    return *p;
  }

  sa::principal signed_in(const std::string& email,
                          std::string_view role = sa::customer) {
    sign_up(email, role);
    return principal_of(log_in(email).token);
  }

  errc login_code(const std::string& email, std::string_view password) {
    auto in = svc.log_in(email, password, "127.0.0.1", "test-agent/1.0");
    return in ? errc::ok : in.err().code;
  }
};

void wait_past_block(const sa::policy& p) {
  std::this_thread::sleep_for(p.block_max + 500ms);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(service, fixture)

// --- sign-up --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sign_up_creates_customers_and_creators) {
  auto c = svc.sign_up("carol@example.com", good_password, sa::customer);
  BOOST_REQUIRE(c);
  BOOST_TEST(c->role == "customer");
  BOOST_TEST(c->email == "carol@example.com");
  BOOST_TEST(souk::is_uuid(c->id), c->id);
  BOOST_TEST(souk::parse_iso(c->created_at).has_value());
  auto k = svc.sign_up("kim@example.com", good_password, sa::creator);
  BOOST_REQUIRE(k);
  BOOST_TEST(k->role == "creator");
  BOOST_TEST(k->id != c->id);
  BOOST_TEST(count("users") == 2);
  BOOST_TEST(text("users", "role", "id", k->id) == "creator");
  // The password is stored only as an Argon2id hash.
  auto hash = text("users", "password_hash", "id", c->id);
  BOOST_TEST(hash.starts_with("$argon2id$"));
  BOOST_TEST(hash.find(good_password) == std::string::npos);
  BOOST_TEST(sa::verify_password(hash, good_password));
}

BOOST_AUTO_TEST_CASE(sign_up_normalises_the_email) {
  auto u = sign_up("  Ada.Lovelace@Example.COM\t");
  BOOST_TEST(u.email == "ada.lovelace@example.com");
  BOOST_TEST(text("users", "email", "id", u.id) == "ada.lovelace@example.com");
  // Logging in with another spelling finds the same account.
  auto in = log_in(" ADA.LOVELACE@example.com ");
  BOOST_TEST(in.who.id == u.id);
}

BOOST_AUTO_TEST_CASE(sign_up_refuses_operators_and_unknown_roles) {
  for (auto role : {"operator", "admin", "", "Customer", "creator "}) {
    BOOST_TEST_CONTEXT("role '" << role << "'") {
      auto u = svc.sign_up("mallory@example.com", good_password, role);
      BOOST_REQUIRE(!u);
      BOOST_TEST(u.err().code == errc::invalid_field);
      BOOST_TEST(u.err().field == "role");
    }
  }
  BOOST_TEST(count("users") == 0);
}

BOOST_AUTO_TEST_CASE(a_taken_email_is_a_conflict_in_any_spelling) {
  auto first = sign_up("ada@example.com");
  for (auto again : {"ada@example.com", "ADA@example.com", "  Ada@Example.Com ",
                     "ada@EXAMPLE.COM\n"}) {
    BOOST_TEST_CONTEXT("email '" << again << "'") {
      auto u = svc.sign_up(again, other_password, sa::creator);
      BOOST_REQUIRE(!u);
      BOOST_TEST(u.err().code == errc::conflict);
    }
  }
  auto op = svc.create_operator("Ada@example.com", other_password);
  BOOST_REQUIRE(!op);
  BOOST_TEST(op.err().code == errc::conflict);
  BOOST_TEST(count("users") == 1);
  // The original account is untouched.
  BOOST_TEST(text("users", "role", "id", first.id) == "customer");
  BOOST_TEST(log_in("ada@example.com").who.id == first.id);
}

BOOST_AUTO_TEST_CASE(bad_emails_and_passwords_name_the_field) {
  for (auto email : {"", "not-an-email", "a@b", "a b@example.com"}) {
    BOOST_TEST_CONTEXT("email '" << email << "'") {
      auto u = svc.sign_up(email, good_password, sa::customer);
      BOOST_REQUIRE(!u);
      BOOST_TEST(u.err().code == errc::invalid_field);
      BOOST_TEST(u.err().field == "email");
    }
  }
  for (std::string password :
       {std::string{"short"}, std::string{"Password123"},
        std::string{"bea@example.com"}, std::string{"zzzzzzzzzzzz"},
        std::string(1025, 'x') + "y"}) {
    BOOST_TEST_CONTEXT("password '" << password.substr(0, 20) << "'") {
      auto u = svc.sign_up("bea@example.com", password, sa::creator);
      BOOST_REQUIRE(!u);
      BOOST_TEST(u.err().code == errc::invalid_field);
      BOOST_TEST(u.err().field == "password");
    }
  }
  BOOST_TEST(count("users") == 0);
  BOOST_TEST(count("login_throttle") == 0);
}

BOOST_AUTO_TEST_CASE(create_operator_makes_an_operator) {
  auto op = svc.create_operator(" Root@Example.com ", good_password);
  BOOST_REQUIRE(op);
  BOOST_TEST(op->role == "operator");
  BOOST_TEST(op->email == "root@example.com");
  BOOST_TEST(text("users", "role", "id", op->id) == "operator");
  auto p = principal_of(log_in("root@example.com").token);
  BOOST_TEST(p.who.role == "operator");
  BOOST_TEST(p.who.id == op->id);
  // Operators obey the password rules too.
  auto weak = svc.create_operator("root2@example.com", "qwertyuiop");
  BOOST_REQUIRE(!weak);
  BOOST_TEST(weak.err().field == "password");
}

// --- log-in ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(log_in_opens_a_session) {
  auto u = sign_up("ada@example.com", sa::creator);
  auto before = souk::now();
  auto in = log_in("ada@example.com");
  auto after = souk::now();
  BOOST_TEST(in.token.size() == 43u);
  BOOST_TEST(!sa::is_api_key(in.token));
  BOOST_TEST(in.csrf_token == sa::csrf_token_for(in.token));
  BOOST_TEST(in.who.id == u.id);
  BOOST_TEST(in.who.email == "ada@example.com");
  BOOST_TEST(in.who.role == "creator");
  auto expires = souk::parse_iso(in.expires_at);
  BOOST_REQUIRE(expires);
  BOOST_TEST((*expires >= before + rules.session_ttl));
  BOOST_TEST((*expires <= after + rules.session_ttl));
  BOOST_TEST(count("sessions") == 1);
  auto hash = sa::token_hash(in.token);
  BOOST_TEST(text("sessions", "user_id", "token_hash", hash) == u.id);
  BOOST_TEST(text("sessions", "remote", "token_hash", hash) == "127.0.0.1");
  BOOST_TEST(text("sessions", "user_agent", "token_hash", hash)
             == "test-agent/1.0");
  BOOST_TEST(text("sessions", "expires_at", "token_hash", hash)
             == in.expires_at);
  // Each log-in is its own session.
  auto again = log_in("ada@example.com");
  BOOST_TEST(again.token != in.token);
  BOOST_TEST(again.csrf_token != in.csrf_token);
  BOOST_TEST(count("sessions") == 2);
}

BOOST_AUTO_TEST_CASE(the_database_never_holds_the_token) {
  sign_up("ada@example.com");
  auto in = log_in("ada@example.com");
  std::string stored;
  auto st = db->run([&](soci::session& sql) {
    sql << "SELECT token_hash FROM sessions", soci::into(stored);
  });
  BOOST_REQUIRE(!st);
  BOOST_TEST(stored == sa::token_hash(in.token));
  BOOST_TEST(stored != in.token);
  for (auto& table : {"sessions", "users", "login_throttle", "api_keys"})
    for (auto& value : all_text(table)) {
      BOOST_TEST_CONTEXT(table << " value '" << value << "'") {
        BOOST_TEST(value.find(in.token) == std::string::npos);
        BOOST_TEST(value.find(in.csrf_token) == std::string::npos);
      }
    }
  BOOST_TEST(all_text("sessions").size() >= 7u); // the scan saw the row
}

BOOST_AUTO_TEST_CASE(wrong_password_and_unknown_email_look_the_same) {
  sign_up("ada@example.com");
  auto wrong = svc.log_in("ada@example.com", other_password, "127.0.0.1", "");
  auto unknown
    = svc.log_in("nobody@example.com", good_password, "127.0.0.1", "");
  BOOST_REQUIRE(!wrong);
  BOOST_REQUIRE(!unknown);
  BOOST_TEST(wrong.err().code == errc::unauthorized);
  BOOST_TEST(unknown.err().code == errc::unauthorized);
  BOOST_TEST(wrong.err().detail == unknown.err().detail);
  BOOST_TEST(wrong.err().field == unknown.err().field);
  BOOST_TEST(wrong.err().detail.find("ada") == std::string::npos);
  BOOST_TEST(count("sessions") == 0);
}

BOOST_AUTO_TEST_CASE(log_in_names_malformed_fields) {
  auto bad_email = svc.log_in("not-an-email", good_password, "", "");
  BOOST_REQUIRE(!bad_email);
  BOOST_TEST(bad_email.err().code == errc::invalid_field);
  BOOST_TEST(bad_email.err().field == "email");
  auto no_password = svc.log_in("ada@example.com", "", "", "");
  BOOST_REQUIRE(!no_password);
  BOOST_TEST(no_password.err().code == errc::invalid_field);
  BOOST_TEST(no_password.err().field == "password");
  // Neither counts as a failed login.
  BOOST_TEST(count("login_throttle") == 0);
}

// --- authenticate -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fresh_session_token_authenticates) {
  auto u = sign_up("kim@example.com", sa::creator);
  auto in = log_in("kim@example.com");
  auto p = principal_of(in.token);
  BOOST_TEST((p.credential == sa::principal::via::session));
  BOOST_TEST(p.who.id == u.id);
  BOOST_TEST(p.who.email == "kim@example.com");
  BOOST_TEST(p.who.role == "creator");
  BOOST_TEST(p.credential_id
             == text("sessions", "id", "token_hash", sa::token_hash(in.token)));
  // Repeatable.
  BOOST_TEST(principal_of(in.token).credential_id == p.credential_id);
}

BOOST_AUTO_TEST_CASE(unknown_and_malformed_tokens_are_unauthorized) {
  sign_up("kim@example.com");
  auto in = log_in("kim@example.com");
  for (std::string token :
       {sa::new_session_token(), sa::new_api_key(), std::string{},
        std::string{"souk_sk_"}, in.token.substr(1), in.token + "x",
        sa::token_hash(in.token), in.csrf_token, std::string(300, 'a'),
        in.token + std::string(300, ' ')}) {
    BOOST_TEST_CONTEXT("token '" << token.substr(0, 60) << "'") {
      auto p = svc.authenticate(token);
      BOOST_REQUIRE(!p);
      BOOST_TEST(p.err().code == errc::unauthorized);
    }
  }
}

BOOST_AUTO_TEST_CASE(log_out_ends_only_that_session) {
  sign_up("kim@example.com");
  auto a = log_in("kim@example.com");
  auto b = log_in("kim@example.com");
  auto pa = principal_of(a.token);
  BOOST_TEST(!svc.log_out(pa));
  auto gone = svc.authenticate(a.token);
  BOOST_REQUIRE(!gone);
  BOOST_TEST(gone.err().code == errc::unauthorized);
  BOOST_TEST(!text("sessions", "revoked_at", "id", pa.credential_id).empty());
  // The other session lives on.
  BOOST_TEST(svc.authenticate(b.token).has_value());
  // Logging out again is harmless.
  BOOST_TEST(!svc.log_out(pa));
  BOOST_TEST(!svc.authenticate(a.token));
}

BOOST_AUTO_TEST_CASE(sessions_expire) {
  sign_up("kim@example.com");
  auto p = rules;
  p.session_ttl = 500ms;
  sa::service short_lived{db, p};
  auto start = std::chrono::steady_clock::now();
  auto in = short_lived.log_in("kim@example.com", good_password, "", "");
  BOOST_REQUIRE(in);
  auto fresh = short_lived.authenticate(in->token);
  if (std::chrono::steady_clock::now() - start < 400ms)
    BOOST_TEST(fresh.has_value());
  std::this_thread::sleep_until(start + p.session_ttl + 300ms);
  auto late = short_lived.authenticate(in->token);
  BOOST_REQUIRE(!late);
  BOOST_TEST(late.err().code == errc::unauthorized);
  // Expiry is a property of the session, not of the service's policy.
  BOOST_TEST(!svc.authenticate(in->token));
}

BOOST_AUTO_TEST_CASE(log_out_refuses_api_keys) {
  auto creator = signed_in("kim@example.com", sa::creator);
  auto made = svc.create_api_key(creator, "ci");
  BOOST_REQUIRE(made);
  auto by_key = principal_of(made->key);
  BOOST_TEST((by_key.credential == sa::principal::via::api_key));
  auto st = svc.log_out(by_key);
  BOOST_TEST(st.code == errc::forbidden);
  // Neither the key nor the session were touched.
  BOOST_TEST(svc.authenticate(made->key).has_value());
  BOOST_TEST(text("api_keys", "revoked_at", "id", made->info.id).empty());
  BOOST_TEST(svc.list_api_keys(creator)->front().revoked_at.empty());
}

// --- throttling -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(too_many_failures_block_even_the_right_password) {
  sign_up("ada@example.com");
  for (uint32_t i = 0; i < rules.failures_before_block; ++i)
    BOOST_TEST(login_code("ada@example.com", other_password)
               == errc::unauthorized);
  auto blocked = svc.log_in("ada@example.com", good_password, "", "");
  BOOST_REQUIRE(!blocked);
  BOOST_TEST(blocked.err().code == errc::rate_limited);
  BOOST_TEST(blocked.err().retry_after >= 1s);
  BOOST_TEST(blocked.err().retry_after
             <= std::chrono::ceil<std::chrono::seconds>(rules.block_max));
  // Another spelling of the same email is the same throttle.
  BOOST_TEST(login_code(" ADA@example.com", good_password)
             == errc::rate_limited);
  BOOST_TEST(count("sessions") == 0);
  // Other emails are not affected.
  sign_up("bob@example.com");
  BOOST_TEST(login_code("bob@example.com", good_password) == errc::ok);
}

BOOST_AUTO_TEST_CASE(unknown_emails_are_throttled_alike) {
  sign_up("ada@example.com");
  for (uint32_t i = 0; i < rules.failures_before_block; ++i) {
    auto real = svc.log_in("ada@example.com", other_password, "", "");
    auto ghost = svc.log_in("ghost@example.com", other_password, "", "");
    BOOST_REQUIRE(!real);
    BOOST_REQUIRE(!ghost);
    BOOST_TEST(real.err().code == errc::unauthorized);
    BOOST_TEST(ghost.err().code == errc::unauthorized);
    BOOST_TEST(real.err().detail == ghost.err().detail);
  }
  auto real = svc.log_in("ada@example.com", good_password, "", "");
  auto ghost = svc.log_in("ghost@example.com", good_password, "", "");
  BOOST_REQUIRE(!real);
  BOOST_REQUIRE(!ghost);
  BOOST_TEST(real.err().code == errc::rate_limited);
  BOOST_TEST(ghost.err().code == errc::rate_limited);
  BOOST_TEST(ghost.err().retry_after >= 1s);
  BOOST_TEST(real.err().retry_after == ghost.err().retry_after);
  BOOST_TEST(failures("ghost@example.com")
             == static_cast<int>(rules.failures_before_block));
}

BOOST_AUTO_TEST_CASE(the_block_passes_and_success_resets_the_count) {
  sign_up("ada@example.com");
  for (uint32_t i = 0; i < rules.failures_before_block; ++i)
    BOOST_TEST(login_code("ada@example.com", other_password)
               == errc::unauthorized);
  BOOST_TEST(login_code("ada@example.com", good_password)
             == errc::rate_limited);
  wait_past_block(rules);
  BOOST_TEST(login_code("ada@example.com", good_password) == errc::ok);
  BOOST_TEST(count("login_throttle") == 0);
  // A fresh count: one short of a block, and the right password still works.
  for (uint32_t i = 0; i + 1 < rules.failures_before_block; ++i)
    BOOST_TEST(login_code("ada@example.com", other_password)
               == errc::unauthorized);
  BOOST_TEST(login_code("ada@example.com", good_password) == errc::ok);
  BOOST_TEST(login_code("ada@example.com", other_password)
             == errc::unauthorized);
}

BOOST_AUTO_TEST_CASE(fifty_wrong_passwords_in_a_row) {
  sign_up("ada@example.com");
  int unauthorized = 0;
  int limited = 0;
  for (int i = 0; i < 50; ++i) {
    auto in = svc.log_in("ada@example.com", other_password, "", "");
    BOOST_REQUIRE(!in);
    if (in.err().code == errc::unauthorized)
      ++unauthorized;
    else if (in.err().code == errc::rate_limited)
      ++limited;
    else
      BOOST_ERROR("unexpected error " << in.err().code << ": "
                                      << in.err().detail);
  }
  BOOST_TEST_MESSAGE(unauthorized << " unauthorized, " << limited
                                  << " rate limited");
  BOOST_TEST(unauthorized + limited == 50);
  BOOST_TEST(unauthorized >= static_cast<int>(rules.failures_before_block));
  BOOST_TEST(limited >= 40);
  // Blocked attempts are answered before the password is looked at: only
  // the checked ones were counted as failures.
  BOOST_TEST(failures("ada@example.com") == unauthorized);
  wait_past_block(rules);
  BOOST_TEST(login_code("ada@example.com", good_password) == errc::ok);
  BOOST_TEST(count("login_throttle") == 0);
}

BOOST_AUTO_TEST_CASE(blocks_grow_after_further_failures) {
  sign_up("ada@example.com");
  for (uint32_t i = 0; i < rules.failures_before_block; ++i)
    BOOST_TEST(login_code("ada@example.com", other_password)
               == errc::unauthorized);
  auto first = souk::parse_iso(
    text("login_throttle", "blocked_until", "email", "ada@example.com"));
  auto last = souk::parse_iso(
    text("login_throttle", "last_failure_at", "email", "ada@example.com"));
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(last);
  BOOST_TEST(((*first - *last) >= rules.block_initial - 50ms));
  BOOST_TEST(((*first - *last) <= rules.block_initial + 500ms));
  // After the block, one more failure blocks again, for longer (capped).
  std::this_thread::sleep_for(*first - souk::now() + 300ms);
  BOOST_TEST(login_code("ada@example.com", other_password)
             == errc::unauthorized);
  auto second = souk::parse_iso(
    text("login_throttle", "blocked_until", "email", "ada@example.com"));
  last = souk::parse_iso(
    text("login_throttle", "last_failure_at", "email", "ada@example.com"));
  BOOST_REQUIRE(second);
  BOOST_TEST(((*second - *last)
              >= std::min(2 * rules.block_initial, rules.block_max) - 50ms));
  BOOST_TEST(((*second - *last) <= rules.block_max + 500ms));
  BOOST_TEST(login_code("ada@example.com", good_password)
             == errc::rate_limited);
}

// --- API keys ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(api_key_names_are_1_to_100_characters) {
  auto creator = signed_in("kim@example.com", sa::creator);
  for (std::string name :
       {std::string{}, std::string{" "}, std::string{"     "},
        std::string(101, 'n'), std::string(100, 'n') + "x"}) {
    BOOST_TEST_CONTEXT("name of " << name.size() << " bytes") {
      auto made = svc.create_api_key(creator, name);
      BOOST_REQUIRE(!made);
      BOOST_TEST(made.err().code == errc::invalid_field);
      BOOST_TEST(made.err().field == "name");
    }
  }
  BOOST_TEST(count("api_keys") == 0);
  BOOST_TEST(svc.create_api_key(creator, std::string(100, 'n')).has_value());
  BOOST_TEST(svc.create_api_key(creator, "x").has_value());
  auto padded = svc.create_api_key(creator, "deploy   ");
  BOOST_REQUIRE(padded);
  BOOST_TEST(padded->info.name == "deploy");
}

BOOST_AUTO_TEST_CASE(an_api_key_is_shown_once_and_stored_as_a_hash) {
  auto creator = signed_in("kim@example.com", sa::creator);
  auto made = svc.create_api_key(creator, "ci");
  BOOST_REQUIRE(made);
  BOOST_TEST(sa::is_api_key(made->key));
  BOOST_TEST(made->info.name == "ci");
  BOOST_TEST(made->info.prefix == sa::api_key_prefix(made->key));
  BOOST_TEST(souk::is_uuid(made->info.id));
  BOOST_TEST(souk::parse_iso(made->info.created_at).has_value());
  BOOST_TEST(made->info.last_used_at.empty());
  BOOST_TEST(made->info.revoked_at.empty());
  BOOST_TEST(count("api_keys") == 1);
  BOOST_TEST(text("api_keys", "key_hash", "id", made->info.id)
             == sa::token_hash(made->key));
  BOOST_TEST(text("api_keys", "prefix", "id", made->info.id)
             == made->info.prefix);
  BOOST_TEST(text("api_keys", "user_id", "id", made->info.id)
             == creator.who.id);
  for (auto& table : {"api_keys", "users", "sessions"})
    for (auto& value : all_text(table)) {
      BOOST_TEST_CONTEXT(table << " value '" << value << "'") {
        BOOST_TEST(value.find(made->key) == std::string::npos);
      }
    }
  // The listing never has the key.
  auto listed = svc.list_api_keys(creator);
  BOOST_REQUIRE(listed);
  BOOST_REQUIRE_EQUAL(listed->size(), 1u);
  BOOST_TEST(listed->front().id == made->info.id);
  BOOST_TEST(listed->front().name == "ci");
  BOOST_TEST(listed->front().prefix == made->info.prefix);
  BOOST_TEST(listed->front().created_at == made->info.created_at);
  BOOST_TEST(listed->front().last_used_at.empty());
  BOOST_TEST(listed->front().revoked_at.empty());
}

BOOST_AUTO_TEST_CASE(api_keys_authenticate_and_record_their_use) {
  auto creator = signed_in("kim@example.com", sa::creator);
  auto made = svc.create_api_key(creator, "ci");
  BOOST_REQUIRE(made);
  auto before = souk::now();
  auto p = principal_of(made->key);
  BOOST_TEST((p.credential == sa::principal::via::api_key));
  BOOST_TEST(p.credential_id == made->info.id);
  BOOST_TEST(p.who.id == creator.who.id);
  BOOST_TEST(p.who.role == "creator");
  auto used = svc.list_api_keys(creator)->front().last_used_at;
  BOOST_REQUIRE(!used.empty());
  auto at = souk::parse_iso(used);
  BOOST_REQUIRE(at);
  BOOST_TEST((*at >= before));
  // Only the hash of a key works, not the prefix or the hash.
  BOOST_TEST(!svc.authenticate(made->info.prefix));
  BOOST_TEST(!svc.authenticate(sa::token_hash(made->key)));
}

BOOST_AUTO_TEST_CASE(api_keys_are_listed_newest_first_per_user) {
  auto kim = signed_in("kim@example.com", sa::creator);
  auto lee = signed_in("lee@example.com", sa::creator);
  auto a = svc.create_api_key(kim, "first");
  std::this_thread::sleep_for(5ms);
  auto b = svc.create_api_key(kim, "second");
  auto c = svc.create_api_key(lee, "lee's");
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  BOOST_REQUIRE(c);
  auto mine = svc.list_api_keys(kim);
  BOOST_REQUIRE(mine);
  BOOST_REQUIRE_EQUAL(mine->size(), 2u);
  BOOST_TEST((*mine)[0].id == b->info.id);
  BOOST_TEST((*mine)[1].id == a->info.id);
  auto theirs = svc.list_api_keys(lee);
  BOOST_REQUIRE(theirs);
  BOOST_REQUIRE_EQUAL(theirs->size(), 1u);
  BOOST_TEST(theirs->front().id == c->info.id);
  // A key's principal lists the same keys as a session does.
  BOOST_TEST(svc.list_api_keys(principal_of(a->key))->size() == 2u);
}

BOOST_AUTO_TEST_CASE(owners_revoke_their_keys) {
  auto creator = signed_in("kim@example.com", sa::creator);
  auto made = svc.create_api_key(creator, "ci");
  BOOST_REQUIRE(made);
  BOOST_REQUIRE(svc.authenticate(made->key));
  BOOST_TEST(!svc.revoke_api_key(creator, made->info.id));
  auto after = svc.authenticate(made->key);
  BOOST_REQUIRE(!after);
  BOOST_TEST(after.err().code == errc::unauthorized);
  auto listed = svc.list_api_keys(creator);
  BOOST_REQUIRE_EQUAL(listed->size(), 1u);
  auto revoked_at = listed->front().revoked_at;
  BOOST_TEST(souk::parse_iso(revoked_at).has_value());
  // Revoking again succeeds and keeps the first time.
  BOOST_TEST(!svc.revoke_api_key(creator, made->info.id));
  BOOST_TEST(svc.list_api_keys(creator)->front().revoked_at == revoked_at);
  BOOST_TEST(!svc.authenticate(made->key));
}

BOOST_AUTO_TEST_CASE(other_users_keys_are_invisible) {
  auto kim = signed_in("kim@example.com", sa::creator);
  auto lee = signed_in("lee@example.com", sa::creator);
  auto cat = signed_in("cat@example.com", sa::customer);
  auto made = svc.create_api_key(kim, "ci");
  BOOST_REQUIRE(made);
  for (auto* who : {&lee, &cat}) {
    auto st = svc.revoke_api_key(*who, made->info.id);
    BOOST_TEST(st.code == errc::not_found);
  }
  // Also through a key of the other creator.
  auto lees = svc.create_api_key(lee, "lee");
  BOOST_REQUIRE(lees);
  BOOST_TEST(svc.revoke_api_key(principal_of(lees->key), made->info.id).code
             == errc::not_found);
  BOOST_TEST(svc.authenticate(made->key).has_value());
  BOOST_TEST(svc.list_api_keys(kim)->front().revoked_at.empty());
  BOOST_TEST(svc.list_api_keys(lee)->size() == 1u);
  // Unknown ids look just like other users' keys.
  auto unknown = svc.revoke_api_key(kim, souk::new_uuid());
  BOOST_TEST(unknown.code == errc::not_found);
  BOOST_TEST(svc.revoke_api_key(kim, "").code == errc::not_found);
  BOOST_TEST(svc.revoke_api_key(kim, "' OR 1=1 --").code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(operators_revoke_any_key) {
  auto kim = signed_in("kim@example.com", sa::creator);
  auto made = svc.create_api_key(kim, "ci");
  BOOST_REQUIRE(made);
  BOOST_REQUIRE(svc.create_operator("root@example.com", good_password));
  auto root = principal_of(log_in("root@example.com").token);
  BOOST_TEST(!svc.revoke_api_key(root, made->info.id));
  BOOST_TEST(!svc.authenticate(made->key));
  BOOST_TEST(!svc.revoke_api_key(root, made->info.id));
  BOOST_TEST(svc.revoke_api_key(root, souk::new_uuid()).code
             == errc::not_found);
}

// --- rehashing --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_changed_cost_rehashes_on_the_next_log_in) {
  auto u = sign_up("ada@example.com");
  auto old_hash = text("users", "password_hash", "id", u.id);
  BOOST_TEST(!sa::needs_rehash(old_hash, rules.cost));
  auto p = rules;
  p.cost = sa::hash_cost{2, 128ull << 10};
  sa::service stronger{db, p};
  auto in = stronger.log_in("ada@example.com", good_password, "", "");
  BOOST_REQUIRE(in);
  auto new_hash = text("users", "password_hash", "id", u.id);
  BOOST_TEST(new_hash != old_hash);
  BOOST_TEST(new_hash.starts_with("$argon2id$"));
  BOOST_TEST(!sa::needs_rehash(new_hash, p.cost));
  BOOST_TEST(sa::verify_password(new_hash, good_password));
  // The same cost again leaves the hash alone.
  BOOST_REQUIRE(stronger.log_in("ada@example.com", good_password, "", ""));
  BOOST_TEST(text("users", "password_hash", "id", u.id) == new_hash);
  // A wrong password never rehashes.
  BOOST_TEST(login_code("ada@example.com", other_password)
             == errc::unauthorized);
  BOOST_TEST(text("users", "password_hash", "id", u.id) == new_hash);
  // The old service still logs in (and moves the hash back to its cost).
  BOOST_TEST(login_code("ada@example.com", good_password) == errc::ok);
  BOOST_TEST(
    !sa::needs_rehash(text("users", "password_hash", "id", u.id), rules.cost));
}

// -- regressions --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(any_user_agent_bytes_still_log_in) {
  BOOST_REQUIRE(svc.sign_up("ua@example.com", good_password, "customer"));
  // A multi-byte character cut by the 512-byte limit, and raw high bytes:
  // PostgreSQL refuses invalid UTF-8, so they must not reach it.
  std::string cut(511, 'a');
  cut += "\xc3\xa9";
  for (auto agent : {cut, std::string{"Mozilla \xff\xfe\x80"}}) {
    auto in
      = svc.log_in("ua@example.com", good_password, "10.0.0.1\xff", agent);
    BOOST_REQUIRE_MESSAGE(in, (in ? "" : in.err().detail));
  }
}

BOOST_AUTO_TEST_CASE(simultaneous_sign_ups_for_one_email_conflict_cleanly) {
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, conflicts{0}, other{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto u = svc.sign_up("race@example.com", good_password, "customer");
      if (u)
        ++created;
      else if (u.err().code == errc::conflict)
        ++conflicts;
      else
        ++other;
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(created.load() == 1);
  BOOST_TEST(conflicts.load() == 5);
  BOOST_TEST(other.load() == 0);
  BOOST_TEST(count("users") == 1);
}

BOOST_AUTO_TEST_CASE(parallel_guesses_cannot_slip_past_the_block) {
  BOOST_REQUIRE(svc.sign_up("par@example.com", good_password, "customer"));
  std::vector<std::thread> threads;
  std::atomic<int> checked{0}, throttled{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto in
        = svc.log_in("par@example.com", "wrong guess number one", "t", "t");
      if (!in && in.err().code == errc::unauthorized)
        ++checked;
      else if (!in && in.err().code == errc::rate_limited)
        ++throttled;
    });
  for (auto& t : threads)
    t.join();
  // failures_before_block is 3: at most 3 passwords were checked.
  BOOST_TEST(checked.load() <= 3);
  BOOST_TEST(checked.load() + throttled.load() == 8);
  BOOST_TEST(failures("par@example.com") == checked.load());
}

BOOST_AUTO_TEST_CASE(key_names_are_trimmed_and_blank_ones_refused) {
  BOOST_REQUIRE(svc.sign_up("names@example.com", good_password, "creator"));
  auto in = svc.log_in("names@example.com", good_password, "t", "t");
  BOOST_REQUIRE(in);
  auto p = svc.authenticate(in->token);
  BOOST_REQUIRE(p);
  for (auto blank : {"\t", "\n", " \t\r\n "}) {
    auto k = svc.create_api_key(*p, blank);
    BOOST_REQUIRE(!k);
    BOOST_TEST(k.err().field == "name");
  }
  auto k = svc.create_api_key(*p, "  ci runner\t");
  BOOST_REQUIRE(k);
  BOOST_TEST(k->info.name == "ci runner");
}

BOOST_AUTO_TEST_CASE(password_length_counts_characters) {
  // Five two-byte characters are ten bytes but five characters.
  auto five = std::string{"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
  auto u = svc.sign_up("utf8@example.com", five, "customer");
  BOOST_REQUIRE(!u);
  BOOST_TEST(u.err().field == "password");
  BOOST_TEST(
    svc.sign_up("utf8@example.com", five + five, "customer").has_value());
}

BOOST_AUTO_TEST_CASE(non_ascii_emails_are_refused_clearly) {
  auto u = svc.sign_up("caf\xc3\xa9@example.com", good_password, "customer");
  BOOST_REQUIRE(!u);
  BOOST_TEST(u.err().field == "email");
  BOOST_TEST(count("users") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
