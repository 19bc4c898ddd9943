// End-to-end: the real soukctl binary.

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace st = souk::testing;

BOOST_AUTO_TEST_SUITE(soukctl)

BOOST_AUTO_TEST_CASE(migrate_and_migrations_report_what_they_did) {
  st::scratch_database db;
  st::temp_dir dir;
  auto shipped = souk::persistence::shipped_migrations(
                   st::backend_name() == "postgresql"
                     ? souk::persistence::backend::postgresql
                     : souk::persistence::backend::sqlite)
                   .size();
  auto before = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrations", "--json"}, {},
    dir.path());
  BOOST_REQUIRE_MESSAGE(before.code == 0, before.err);
  auto doc = nlohmann::json::parse(before.out);
  BOOST_TEST(doc["current"] == 0);
  BOOST_TEST(doc["pending"].size() == shipped);

  auto run = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "migrate"},
                             {}, dir.path());
  BOOST_REQUIRE_MESSAGE(run.code == 0, run.err);
  BOOST_TEST(run.out.find("applied 0001_nodes") != std::string::npos);

  auto again = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrate", "--json"}, {},
    dir.path());
  BOOST_TEST(again.code == 0);
  BOOST_TEST(nlohmann::json::parse(again.out)["applied"].empty());

  auto table = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrations"}, {}, dir.path());
  BOOST_TEST(table.code == 0);
  BOOST_TEST(table.out.find("0001_nodes") != std::string::npos);
  BOOST_TEST(table.out.find("applied") != std::string::npos);
  BOOST_TEST(table.out.find("pending") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(admin_create_makes_the_first_operator) {
  st::scratch_database db;
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin",
                            "create", "--email", " Ops@Example.com", "--json"},
                           {}, dir.path());
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  auto doc = nlohmann::json::parse(r.out);
  BOOST_TEST(doc["role"] == "operator");
  BOOST_TEST(doc["email"] == "ops@example.com");
  auto generated = doc["password"].get<std::string>();
  BOOST_TEST(generated.size() >= 20u);
  // The generated password logs in, and the account is an operator.
  auto pool = db.open(1);
  souk::accounts::policy p; // the default cost, as soukd uses it
  souk::accounts::service svc{pool, p};
  auto in = svc.log_in("ops@example.com", generated, "test", "test");
  BOOST_REQUIRE_MESSAGE(in, (in ? "" : in.err().detail));
  BOOST_TEST(in->who.role == "operator");
  // Once only: the same email again is refused.
  auto again = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin",
                                "create", "--email", "ops@example.com"},
                               {}, dir.path());
  BOOST_TEST(again.code == 2);
  BOOST_TEST(again.err.find("exists") != std::string::npos);
  // An empty password on stdin is refused, naming the rule.
  auto empty
    = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin", "create",
                       "--email", "two@example.com", "--password-stdin"},
                      {}, dir.path());
  BOOST_TEST(empty.code == 2);
  BOOST_TEST(empty.err.find("password") != std::string::npos);
  auto no_email = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "admin", "create"}, {}, dir.path());
  BOOST_TEST(no_email.code == 2);
  BOOST_TEST(no_email.err.find("--email") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ledger_check_passes_a_sound_ledger_and_names_problems) {
  st::scratch_database db;
  st::temp_dir dir;
  auto pool = db.open(2);
  auto m = souk::persistence::migrate(
    *pool, souk::persistence::shipped_migrations(pool->kind()));
  BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.err().detail));
  souk::persistence::ledger_repository ledger{*pool};
  auto pending = souk::persistence::creator_account("c1", "NGN", "pending");
  auto posted = ledger.post(
    {"sale:o1",
     "NGN",
     "sale",
     "o1",
     "a sale",
     {{souk::persistence::platform_account("NGN", "gateway"), pending, 500}},
     {}});
  BOOST_REQUIRE(posted);
  auto ok = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "check"}, {}, dir.path());
  BOOST_TEST(ok.code == 0, ok.out + ok.err);
  BOOST_TEST(ok.out.find("ledger ok: 2 accounts, 1 entries")
               != std::string::npos,
             ok.out);
  // Someone edits a balance by hand: named, exit 1.
  auto st = pool->run([&](soci::session& sql) {
    sql << "UPDATE ledger_accounts SET balance = 400 WHERE id = :id",
      soci::use(pending);
  });
  BOOST_REQUIRE(!st);
  auto bad = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "check", "--json"}, {},
    dir.path());
  BOOST_TEST(bad.code == 1);
  auto doc = nlohmann::json::parse(bad.out);
  BOOST_TEST(doc["ok"] == false);
  BOOST_TEST(doc["problems"].size() == 2u);
  BOOST_TEST(doc["problems"][1].get<std::string>().find(pending)
             != std::string::npos);
  pool->shutdown();
  auto usage = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "fix"}, {}, dir.path());
  BOOST_TEST(usage.code == 2);
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2_with_a_message) {
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKCTL, "frobnicate"}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("unknown command 'frobnicate'") != std::string::npos);
  r = st::run_program({SOUK_SOUKCTL}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  r = st::run_program({SOUK_SOUKCTL, "--database", "mysql://x", "migrate"}, {},
                      dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("mysql://x") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
