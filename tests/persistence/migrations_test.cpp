#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;

namespace {

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  const std::vector<sp::migration>& shipped
    = sp::shipped_migrations(db->kind());

  int applied_rows() {
    int n = -1;
    db->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM schema_migrations", soci::into(n);
    });
    return n;
  }
};

std::vector<sp::migration> test_set() {
  return {*sp::make_migration("0001_a.sql", "CREATE TABLE a (x INTEGER);"),
          *sp::make_migration("0002_b.sql",
                              "CREATE TABLE b (y TEXT);\n"
                              "INSERT INTO b (y) VALUES ('semi;colon');")};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(migrations, fixture)

BOOST_AUTO_TEST_CASE(a_fresh_database_has_everything_pending) {
  auto state = sp::inspect(*db, shipped);
  BOOST_REQUIRE(state);
  BOOST_TEST(state->current == 0);
  BOOST_TEST(state->pending.size() == shipped.size());
}

BOOST_AUTO_TEST_CASE(migrate_applies_all_then_nothing) {
  auto first = sp::migrate(*db, shipped);
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : first.err().detail));
  BOOST_TEST(first->size() == shipped.size());
  auto second = sp::migrate(*db, shipped);
  BOOST_REQUIRE(second);
  BOOST_TEST(second->empty());
  auto state = sp::inspect(*db, shipped);
  BOOST_REQUIRE(state);
  BOOST_TEST(state->pending.empty());
  BOOST_TEST(state->current == shipped.back().version);
  BOOST_TEST(applied_rows() == static_cast<int>(shipped.size()));
}

BOOST_AUTO_TEST_CASE(new_migrations_apply_on_top_of_old_ones) {
  auto set = test_set();
  std::vector<sp::migration> first_only{set[0]};
  BOOST_REQUIRE(sp::migrate(*db, first_only));
  auto more = sp::migrate(*db, set);
  BOOST_REQUIRE(more);
  BOOST_TEST((*more == std::vector<std::string>{"0002_b"}));
  std::string y;
  db->run([&](soci::session& sql) { sql << "SELECT y FROM b", soci::into(y); });
  BOOST_TEST(y == "semi;colon");
}

BOOST_AUTO_TEST_CASE(orders_written_before_0020_get_their_creator) {
  // A shop on 0019 with an order, then the rest of the shipped set.
  auto& shipped = sp::shipped_migrations(db->kind());
  std::vector<sp::migration> before;
  for (auto& m : shipped)
    if (m.version < 20)
      before.push_back(m);
  BOOST_REQUIRE(sp::migrate(*db, before));
  auto t = std::string{"2026-01-01T00:00:00.000Z"};
  auto st = db->run([&](soci::session& sql) {
    sql << "INSERT INTO users (id, email, password_hash, role, created_at, "
           "updated_at) VALUES ('u1', 'c@example.com', 'x', 'creator', :t1, "
           ":t2)",
      soci::use(t), soci::use(t);
    sql << "INSERT INTO products (id, creator_id, title, description, "
           "price_amount, currency, flow, status, version, created_at, "
           "updated_at) VALUES ('p1', 'u1', 'Book', '', 5000, 'NGN', "
           "'digital_download', 'published', 1, :t1, :t2)",
      soci::use(t), soci::use(t);
    sql << "INSERT INTO orders (id, product_id, buyer_email, amount, "
           "currency, flow, flow_version, flow_hash, state, version, "
           "step_index, step_attempt, state_entered_at, created_at, "
           "updated_at) VALUES ('o1', 'p1', 'b@example.com', 5000, 'NGN', "
           "'digital_download', 1, 'h', 'delivered', 3, 0, 0, :t1, :t2, :t3)",
      soci::use(t), soci::use(t), soci::use(t);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_REQUIRE(sp::migrate(*db, shipped));
  std::string creator;
  db->run([&](soci::session& sql) {
    sql << "SELECT creator_id FROM orders WHERE id = 'o1'", soci::into(creator);
  });
  BOOST_TEST(creator == "u1");
}

BOOST_AUTO_TEST_CASE(a_failing_migration_leaves_nothing_behind) {
  std::vector<sp::migration> set{
    *sp::make_migration("0001_ok.sql", "CREATE TABLE ok (x INTEGER);"),
    *sp::make_migration("0002_bad.sql", "CREATE TABLE half (x INTEGER);\n"
                                        "THIS IS NOT SQL;")};
  auto result = sp::migrate(*db, set);
  BOOST_REQUIRE(!result);
  BOOST_TEST(result.err().detail.find("0002_bad") != std::string::npos);
  auto state = sp::inspect(*db, set);
  BOOST_REQUIRE(state);
  BOOST_TEST((state->pending == std::vector<std::string>{"0002_bad"}));
  // The half-applied table was rolled back with its migration.
  auto st = db->run([](soci::session& sql) {
    int n = 0;
    sql << "SELECT count(*) FROM half", soci::into(n);
  });
  BOOST_TEST((st.code == souk::errc::database));
}

BOOST_AUTO_TEST_CASE(an_edited_applied_migration_is_detected) {
  auto set = test_set();
  BOOST_REQUIRE(sp::migrate(*db, set));
  auto edited = set;
  edited[0]
    = *sp::make_migration("0001_a.sql", "CREATE TABLE a (x INTEGER, z TEXT);");
  auto state = sp::inspect(*db, edited);
  BOOST_REQUIRE(!state);
  BOOST_TEST(state.err().detail.find("0001_a was changed")
             != std::string::npos);
  auto again = sp::migrate(*db, edited);
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.err().detail.find("0001_a was changed")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(versions_unknown_to_this_binary_are_reported) {
  auto set = test_set();
  BOOST_REQUIRE(sp::migrate(*db, set));
  std::vector<sp::migration> older{set[0]};
  auto state = sp::inspect(*db, older);
  BOOST_REQUIRE(state);
  BOOST_TEST((state->unknown == std::vector<int>{2}));
}

BOOST_AUTO_TEST_CASE(concurrent_migrators_apply_each_migration_once) {
  // Separate pools behave like separate processes: their own connections.
  std::vector<std::thread> threads;
  std::vector<size_t> applied(4, 0);
  std::vector<std::string> errors(4);
  for (size_t i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto own = scratch.open(1);
      auto r = sp::migrate(*own, sp::shipped_migrations(own->kind()));
      if (r)
        applied[i] = r->size();
      else
        errors[i] = r.err().detail;
    });
  for (auto& t : threads)
    t.join();
  size_t total = 0;
  for (size_t i = 0; i < 4; ++i) {
    BOOST_TEST_INFO("migrator " << i);
    BOOST_TEST(errors[i].empty());
    total += applied[i];
  }
  BOOST_TEST(total == shipped.size());
  BOOST_TEST(applied_rows() == static_cast<int>(shipped.size()));
}

BOOST_AUTO_TEST_SUITE_END()
