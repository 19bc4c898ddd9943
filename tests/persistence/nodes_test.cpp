#include <future>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/nodes.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;
using namespace std::chrono_literals;

namespace {

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  sp::node_repository nodes{*db};

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  void exec(const std::string& query) {
    auto st = db->run([&](soci::session& sql) { sql << query; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  long long count(const std::string& query) {
    long long n = -1;
    auto st = db->run([&](soci::session& sql) { sql << query, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // Liveness where only the pids in `running` exist on this host.
  static sp::liveness only(std::set<int> running) {
    sp::liveness l;
    l.process_exists = [running](int pid) { return running.count(pid) > 0; };
    return l;
  }

  // A node that held every kind of lease when it died: a claimed timer, a
  // leased outbox row, a claimed inbox event and an Idempotency-Key lock.
  void leases_held_by_a_crashed_node() {
    auto t0 = souk::to_iso(souk::now());
    auto later = souk::to_iso(souk::now() + 10min);
    auto user = souk::new_uuid();
    auto product = souk::new_uuid();
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + user + "', 'c@example.com', 'x', 'creator', '" + t0 + "', '" + t0
         + "')");
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product + "', '" + user
         + "', 'Book', 'A book', 5000, 'NGN', 'digital_download', "
           "'published', 1, '"
         + t0 + "', '" + t0 + "')");
    sp::order_row o;
    o.id = souk::new_uuid();
    o.product_id = product;
    o.buyer_email = "b@example.com";
    o.amount = 5000;
    o.currency = "NGN";
    o.flow = "digital_download";
    o.flow_version = 1;
    o.flow_hash = "abc";
    o.state = "paid";
    sp::event_row e;
    e.event = "order.created";
    e.actor = "system";
    e.detail = "{}";
    sp::timer_row t;
    t.kind = "state_timeout";
    t.event = "payment.expired";
    t.due_at = t0;
    sp::outbox_row x;
    x.action = "wallet.credit_sale";
    x.params = "{}";
    x.idempotency_key = o.id + ":credit";
    sp::order_repository orders{*db};
    BOOST_REQUIRE(!orders.create(o, e, {t}, {x}));
    auto claimed = orders.claim_due_timers("dead-node", t0, 10min, 10);
    BOOST_REQUIRE(claimed);
    BOOST_REQUIRE_EQUAL(claimed->size(), 1u);
    auto snap = orders.load(o.id);
    BOOST_REQUIRE(snap && *snap);
    BOOST_REQUIRE_EQUAL((*snap)->outbox.size(), 1u);
    BOOST_REQUIRE(
      !orders.lease_outbox(o.id, (*snap)->outbox.front().id, later));
    exec("INSERT INTO inbox (id, gateway, event_key, event, reference, "
         "payload, status, attempts, next_attempt_at, claimed_until, "
         "received_at) VALUES ('"
         + souk::new_uuid()
         + "', 'paystack', 'k1', 'charge.success', 'r1', "
           "'{}', 'received', 1, '"
         + t0 + "', '" + later + "', '" + t0 + "')");
    exec("INSERT INTO idempotency_keys (scope, idem_key, request_hash, "
         "status, locked_until, created_at) VALUES ('orders:guest', 'k1', "
         "'h', 'started', '"
         + later + "', '" + t0 + "')");
  }

  long long leases_held() {
    auto t = souk::to_iso(souk::now());
    return count("SELECT COUNT(*) FROM timers WHERE claimed_until IS NOT NULL")
           + count(
             "SELECT COUNT(*) FROM outbox WHERE claimed_until IS NOT NULL")
           + count("SELECT COUNT(*) FROM inbox WHERE claimed_until IS NOT NULL")
           + count(
             "SELECT COUNT(*) FROM idempotency_keys WHERE locked_until > '" + t
             + "'");
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
  BOOST_REQUIRE(nodes.register_node(row));
  auto all = nodes.list(true);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 1u);
  BOOST_TEST(all->front().id == row.id);
  BOOST_TEST(all->front().pid == 4242);
  BOOST_TEST(all->front().stopped_at.empty());
  BOOST_TEST(all->front().started_at == all->front().heartbeat_at);
}

// Start-up waits for the nodes table however long another session holds
// it, rather than failing after the everyday lock_timeout.
BOOST_AUTO_TEST_CASE(registration_waits_past_the_lock_timeout) {
  if (db->kind() != sp::backend::postgresql)
    return; // SQLite writers queue on the file lock (busy_timeout)
  sp::database::options opts;
  opts.url = scratch.url();
  opts.pool_size = 1;
  opts.lock_timeout = 100ms;
  auto quick = sp::database::open(opts);
  BOOST_REQUIRE(quick);
  std::promise<void> holding;
  std::thread other([&] {
    db->transact([&](soci::session& sql) -> souk::status {
      sql << "LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE";
      holding.set_value();
      std::this_thread::sleep_for(600ms);
      return {};
    });
  });
  holding.get_future().wait();
  auto registered = sp::node_repository{**quick}.register_node(make_row());
  other.join();
  BOOST_TEST_INFO((registered ? "" : registered.err().detail));
  BOOST_TEST(static_cast<bool>(registered));
}

BOOST_AUTO_TEST_CASE(heartbeats_move_forward) {
  auto row = make_row();
  BOOST_REQUIRE(nodes.register_node(row));
  auto before = nodes.list(true)->front().heartbeat_at;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_REQUIRE(!nodes.heartbeat(row.id));
  auto after = nodes.list(true)->front().heartbeat_at;
  BOOST_TEST(after > before);
}

// A node another node took for dead (and marked stopped) learns it from its
// next heartbeat, which no longer moves its row.
BOOST_AUTO_TEST_CASE(a_node_marked_stopped_is_told_so_by_its_heartbeat) {
  auto row = make_row();
  BOOST_REQUIRE(nodes.register_node(row));
  BOOST_REQUIRE(!nodes.mark_stopped(row.id));
  auto before = nodes.list(false)->front().heartbeat_at;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto st = nodes.heartbeat(row.id);
  BOOST_TEST((st.code == souk::errc::conflict));
  BOOST_TEST(st.detail.find("marked stopped") != std::string::npos);
  BOOST_TEST(nodes.list(false)->front().heartbeat_at == before);
  BOOST_TEST(nodes.list(true)->empty());
}

BOOST_AUTO_TEST_CASE(heartbeat_of_an_unknown_node_is_not_found) {
  auto st = nodes.heartbeat(souk::new_uuid());
  BOOST_TEST((st.code == souk::errc::not_found));
}

BOOST_AUTO_TEST_CASE(stopped_nodes_drop_out_of_the_running_list) {
  auto a = make_row();
  auto b = make_row();
  BOOST_REQUIRE(nodes.register_node(a));
  BOOST_REQUIRE(nodes.register_node(b));
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
  BOOST_REQUIRE(!st);
  BOOST_TEST((st.err().code == souk::errc::database));
  BOOST_TEST(nodes.list(false)->empty());
  auto dup = make_row();
  BOOST_REQUIRE(nodes.register_node(dup));
  auto again = nodes.register_node(dup);
  BOOST_REQUIRE(!again);
  BOOST_TEST((again.err().code == souk::errc::database));
}

BOOST_AUTO_TEST_CASE(a_crashed_predecessor_is_stopped_and_its_leases_freed) {
  auto dead = make_row();
  BOOST_REQUIRE(nodes.register_node(dead));
  leases_held_by_a_crashed_node();
  BOOST_REQUIRE_EQUAL(leases_held(), 4);
  // Restarted on the same host and address; pid 4242 is gone.
  auto next = make_row();
  next.pid = 5000;
  auto r = nodes.register_node(next, only({5000}));
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_REQUIRE_EQUAL(r->gone.size(), 1u);
  BOOST_TEST(r->gone.front().id == dead.id);
  BOOST_TEST(r->alone);
  BOOST_TEST(r->leases_freed == 4);
  BOOST_TEST(leases_held() == 0);
  BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE claimed_by IS NOT NULL")
             == 0);
  auto running = nodes.list(true);
  BOOST_REQUIRE_EQUAL(running->size(), 1u);
  BOOST_TEST(running->front().id == next.id);
}

BOOST_AUTO_TEST_CASE(leases_stay_while_another_node_runs) {
  auto dead = make_row();
  BOOST_REQUIRE(nodes.register_node(dead));
  auto other = make_row();
  other.hostname = "host-b"; // its pid means nothing here
  BOOST_REQUIRE(nodes.register_node(other, only({4242})));
  leases_held_by_a_crashed_node();
  auto next = make_row();
  next.pid = 5000;
  auto r = nodes.register_node(next, only({5000}));
  BOOST_REQUIRE(r);
  // The predecessor is known gone, but host-b may hold some of the leases.
  BOOST_REQUIRE_EQUAL(r->gone.size(), 1u);
  BOOST_TEST(r->gone.front().id == dead.id);
  BOOST_TEST(!r->alone);
  BOOST_TEST(r->leases_freed == 0);
  BOOST_TEST(leases_held() == 4);
  BOOST_TEST(nodes.list(true)->size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_live_process_or_another_address_is_not_a_predecessor) {
  auto a = make_row();
  BOOST_REQUIRE(nodes.register_node(a));
  auto b = make_row();
  b.listen = "127.0.0.1:8081"; // another node on the same host
  b.pid = 5000;
  auto r = nodes.register_node(b, only({5000}));
  BOOST_REQUIRE(r);
  BOOST_TEST(r->gone.empty());
  BOOST_TEST(!r->alone);
  // Same address, but its process still exists.
  auto c = make_row();
  c.pid = 5001;
  r = nodes.register_node(c, only({4242, 5000, 5001}));
  BOOST_REQUIRE(r);
  BOOST_TEST(r->gone.empty());
  BOOST_TEST(nodes.list(true)->size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_node_silent_past_dead_after_is_gone) {
  auto a = make_row();
  a.hostname = "host-b";
  BOOST_REQUIRE(nodes.register_node(a));
  leases_held_by_a_crashed_node();
  std::this_thread::sleep_for(20ms);
  auto b = make_row();
  sp::liveness l = only({4242});
  l.dead_after = 10ms;
  auto r = nodes.register_node(b, l);
  BOOST_REQUIRE(r);
  BOOST_REQUIRE_EQUAL(r->gone.size(), 1u);
  BOOST_TEST(r->gone.front().id == a.id);
  BOOST_TEST(r->alone);
  BOOST_TEST(leases_held() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
