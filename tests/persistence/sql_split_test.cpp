#include <boost/test/unit_test.hpp>

#include "souk/persistence/migrations.hpp"

using souk::persistence::split_statements;

BOOST_AUTO_TEST_SUITE(sql_split)

BOOST_AUTO_TEST_CASE(splits_on_semicolons_and_drops_comments_and_blanks) {
  auto parts = split_statements("-- header\nCREATE TABLE a (x INT);\n\n"
                                "CREATE INDEX a_x ON a (x);\n-- trailing\n");
  BOOST_REQUIRE_EQUAL(parts.size(), 2u);
  BOOST_TEST(parts[0] == "CREATE TABLE a (x INT)");
  BOOST_TEST(parts[1] == "CREATE INDEX a_x ON a (x)");
}

BOOST_AUTO_TEST_CASE(semicolons_in_strings_and_comments_do_not_split) {
  auto parts = split_statements("INSERT INTO t VALUES ('a;b', 'it''s;');\n"
                                "SELECT 1; -- a; comment\nSELECT 2");
  BOOST_REQUIRE_EQUAL(parts.size(), 3u);
  BOOST_TEST(parts[0] == "INSERT INTO t VALUES ('a;b', 'it''s;')");
  BOOST_TEST(parts[2] == "SELECT 2");
}

BOOST_AUTO_TEST_CASE(dollar_quoted_bodies_stay_whole) {
  auto parts = split_statements(
    "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; "
    "END; $$ LANGUAGE plpgsql;\nSELECT 1;");
  BOOST_REQUIRE_EQUAL(parts.size(), 2u);
  BOOST_TEST(parts[0].ends_with("LANGUAGE plpgsql"));
}

BOOST_AUTO_TEST_CASE(sqlite_trigger_bodies_stay_whole) {
  auto parts = split_statements(
    "CREATE TRIGGER no_update BEFORE UPDATE ON t BEGIN SELECT RAISE(ABORT, "
    "'immutable'); SELECT 2; END;\nCREATE TABLE u (x INT);");
  BOOST_REQUIRE_EQUAL(parts.size(), 2u);
  BOOST_TEST(parts[0].ends_with("END"));
  BOOST_TEST(parts[1] == "CREATE TABLE u (x INT)");
}

BOOST_AUTO_TEST_CASE(migration_names_must_carry_a_version) {
  auto m = souk::persistence::make_migration("sqlite/0007_orders.sql", "x");
  BOOST_REQUIRE(m);
  BOOST_TEST(m->version == 7);
  BOOST_TEST(m->name == "0007_orders");
  BOOST_TEST(m->checksum.size() == 64u);
  BOOST_TEST(!souk::persistence::make_migration("orders.sql", "x"));
  BOOST_TEST(!souk::persistence::make_migration("0007_orders.txt", "x"));
  BOOST_TEST(!souk::persistence::make_migration("0000_zero.sql", "x"));
}

BOOST_AUTO_TEST_CASE(both_backends_ship_the_same_versions) {
  using souk::persistence::backend;
  auto& a = souk::persistence::shipped_migrations(backend::sqlite);
  auto& b = souk::persistence::shipped_migrations(backend::postgresql);
  BOOST_REQUIRE(!a.empty());
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].name == b[i].name);
    BOOST_TEST(a[i].version == static_cast<int>(i + 1)); // no gaps
  }
}

BOOST_AUTO_TEST_SUITE_END()
