#include <thread>

#include <boost/test/unit_test.hpp>

#include "souk/core/ids.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/nodes.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;

namespace {

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  sp::node_repository nodes{*db};

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  sp::node_row make_row() {
    sp::node_row row;
    row.id = souk::new_uuid();
    row.hostname = "host-a";
    row.pid = 4242;
    row.version = "0.1.0";
    row.listen = "127.0.0.1:8080";
    return row;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(nodes, fixture)

BOOST_AUTO_TEST_CASE(registered_nodes_are_listed_while_running) {
  auto row = make_row();
  BOOST_REQUIRE(!nodes.register_node(row));
  auto all = nodes.list(true);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 1u);
  BOOST_TEST(all->front().id == row.id);
  BOOST_TEST(all->front().pid == 4242);
  BOOST_TEST(all->front().stopped_at.empty());
  BOOST_TEST(all->front().started_at == all->front().heartbeat_at);
}

BOOST_AUTO_TEST_CASE(heartbeats_move_forward) {
  auto row = make_row();
  BOOST_REQUIRE(!nodes.register_node(row));
  auto before = nodes.list(true)->front().heartbeat_at;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_REQUIRE(!nodes.heartbeat(row.id));
  auto after = nodes.list(true)->front().heartbeat_at;
  BOOST_TEST(after > before);
}

BOOST_AUTO_TEST_CASE(heartbeat_of_an_unknown_node_is_not_found) {
  auto st = nodes.heartbeat(souk::new_uuid());
  BOOST_TEST((st.code == souk::errc::not_found));
}

BOOST_AUTO_TEST_CASE(stopped_nodes_drop_out_of_the_running_list) {
  auto a = make_row();
  auto b = make_row();
  BOOST_REQUIRE(!nodes.register_node(a));
  BOOST_REQUIRE(!nodes.register_node(b));
  BOOST_REQUIRE(!nodes.mark_stopped(a.id));
  BOOST_TEST(nodes.list(true)->size() == 1u);
  auto all = nodes.list(false);
  BOOST_REQUIRE_EQUAL(all->size(), 2u);
  for (auto& n : *all)
    BOOST_TEST((n.id == a.id) == !n.stopped_at.empty());
}

BOOST_AUTO_TEST_CASE(the_database_refuses_invalid_rows) {
  auto row = make_row();
  row.pid = 0; // CHECK (pid > 0)
  auto st = nodes.register_node(row);
  BOOST_TEST((st.code == souk::errc::database));
  BOOST_TEST(nodes.list(false)->empty());
  auto dup = make_row();
  BOOST_REQUIRE(!nodes.register_node(dup));
  BOOST_TEST((nodes.register_node(dup).code == souk::errc::database));
}

BOOST_AUTO_TEST_SUITE_END()
