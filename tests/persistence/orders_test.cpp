#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <tuple>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/flow_templates.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;
using namespace std::chrono_literals;

namespace {

constexpr const char* t0 = "2030-01-01T00:00:00.000Z";

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  sp::order_repository orders{*db};
  std::string user_id = souk::new_uuid();
  std::string product_id = souk::new_uuid();

  fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    // The prerequisites in plain SQL, so this suite depends on no other
    // repository.
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + user_id + "', 'buyer@example.com', 'x', 'customer', '" + t0 + "', '"
         + t0 + "')");
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product_id + "', '" + user_id
         + "', 'Book', 'A book', 5000, 'NGN', 'digital_download', "
           "'published', 1, '"
         + t0 + "', '" + t0 + "')");
  }

  void exec(const std::string& query) {
    auto st = db->run([&](soci::session& sql) { sql << query; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  souk::status try_exec(const std::string& query) {
    return db->run([&](soci::session& sql) { sql << query; });
  }

  long long count(const std::string& query) {
    long long n = -1;
    auto st = db->run([&](soci::session& sql) { sql << query, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // Creates a pending order and returns its id.
  std::string make_order(bool with_buyer = true) {
    sp::order_row o;
    o.id = souk::new_uuid();
    o.product_id = product_id;
    o.buyer_email = "buyer@example.com";
    if (with_buyer)
      o.buyer_id = user_id;
    o.amount = 5000;
    o.currency = "NGN";
    o.flow = "digital_download";
    o.flow_version = 1;
    o.flow_hash = "abc123";
    o.state = "pending";
    sp::event_row e;
    e.event = "order.created";
    e.actor = "system";
    e.detail = "{}";
    auto st = orders.create(o, e);
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return o.id;
  }

  sp::timer_row timer(const std::string& due_at,
                      const std::string& kind = "state_timeout") {
    sp::timer_row t;
    t.kind = kind;
    t.event = "payment.expired";
    t.due_at = due_at;
    return t;
  }

  sp::outbox_row outbox(const std::string& key) {
    sp::outbox_row x;
    x.action = "wallet.credit_sale";
    x.params = R"({"amount":5000})";
    x.idempotency_key = key;
    return x;
  }

  // pending → paid, arming one timer and enqueuing one side effect.
  sp::transition pay(const std::string& id, int64_t expected_version) {
    sp::transition t;
    t.order_id = id;
    t.expected_version = expected_version;
    t.state = "paid";
    t.event.event = "payment.succeeded";
    t.event.actor = "gateway";
    t.event.detail = R"({"reference":"r1"})";
    t.arm_timers.push_back(timer("2030-01-01T00:30:00.000Z", "step_retry"));
    t.enqueue.push_back(outbox(id + ":credit"));
    return t;
  }

  // Side effects `:a`, `:b` and `:c` of order `id`, to enqueue.
  std::vector<sp::outbox_row> three_side_effects(const std::string& id) {
    return {outbox(id + ":a"), outbox(id + ":b"), outbox(id + ":c")};
  }

  // A step's transition of a paid order at `version`: it stays paid.
  sp::transition step_in_paid(const std::string& id, int64_t version,
                              const std::string& event) {
    sp::transition t;
    t.order_id = id;
    t.expected_version = version;
    t.state = "paid";
    t.event.event = event;
    t.event.actor = "system";
    return t;
  }

  sp::order_snapshot snapshot(const std::string& id) {
    auto s = orders.load(id);
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.err().detail));
    BOOST_REQUIRE(s->has_value());
    return **s;
  }

  // Arms `n` timers due at t0 on a new order.
  std::vector<std::string> arm_due_timers(size_t n) {
    auto id = make_order();
    sp::transition t;
    t.order_id = id;
    t.expected_version = 1;
    t.state = "pending";
    t.event.event = "timers.armed";
    t.event.actor = "system";
    t.event.detail = "{}";
    for (size_t i = 0; i < n; ++i)
      t.arm_timers.push_back(timer(t0));
    auto r = orders.apply(t);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    std::vector<std::string> ids;
    for (auto& x : snapshot(id).timers)
      ids.push_back(x.id);
    return ids;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(orders, fixture)

BOOST_AUTO_TEST_CASE(create_then_load) {
  auto id = make_order();
  auto s = snapshot(id);
  BOOST_TEST(s.order.id == id);
  BOOST_TEST(s.order.version == 1);
  BOOST_TEST(s.order.state == "pending");
  BOOST_TEST(s.order.amount == 5000);
  BOOST_TEST(s.order.currency == "NGN");
  BOOST_TEST(s.order.flow_version == 1);
  BOOST_TEST(s.order.flow_hash == "abc123");
  BOOST_TEST(s.order.buyer_id == user_id);
  BOOST_TEST(s.order.last_error.empty());
  BOOST_TEST(!s.order.created_at.empty());
  BOOST_TEST(s.order.state_entered_at == s.order.created_at);
  BOOST_REQUIRE_EQUAL(s.events.size(), 1u);
  BOOST_TEST(s.events[0].seq == 1);
  BOOST_TEST(s.events[0].from_state.empty());
  BOOST_TEST(s.events[0].to_state == "pending");
  BOOST_TEST(s.events[0].actor == "system");
  BOOST_TEST(s.timers.empty());
  BOOST_TEST(s.outbox.empty());
  // A guest order has no buyer id.
  auto guest = snapshot(make_order(false));
  BOOST_TEST(guest.order.buyer_id.empty());
  // An unknown order is not an error.
  auto none = orders.load(souk::new_uuid());
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());
}

BOOST_AUTO_TEST_CASE(create_refuses_an_unknown_product_and_writes_nothing) {
  sp::order_row o;
  o.id = souk::new_uuid();
  o.product_id = souk::new_uuid();
  o.buyer_email = "buyer@example.com";
  o.amount = 1;
  o.currency = "NGN";
  o.flow = "digital_download";
  o.flow_version = 1;
  o.flow_hash = "h";
  o.state = "pending";
  sp::event_row e;
  e.event = "order.created";
  e.actor = "system";
  e.detail = "{}";
  BOOST_TEST((orders.create(o, e).code == souk::errc::database));
  BOOST_TEST(count("SELECT COUNT(*) FROM orders") == 0);
  BOOST_TEST(count("SELECT COUNT(*) FROM order_events") == 0);
}

BOOST_AUTO_TEST_CASE(apply_moves_state_and_writes_its_effects) {
  auto id = make_order();
  auto before = snapshot(id).order;
  auto r = orders.apply(pay(id, 1));
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_TEST(r->version == 2);
  BOOST_TEST(r->event_seq == 2);
  auto s = snapshot(id);
  BOOST_TEST(s.order.state == "paid");
  BOOST_TEST(s.order.version == 2);
  BOOST_TEST(s.order.state_entered_at >= before.state_entered_at);
  BOOST_TEST(s.order.updated_at >= before.updated_at);
  BOOST_REQUIRE_EQUAL(s.events.size(), 2u);
  BOOST_TEST(s.events[1].seq == 2);
  BOOST_TEST(s.events[1].event == "payment.succeeded");
  BOOST_TEST(s.events[1].from_state == "pending");
  BOOST_TEST(s.events[1].to_state == "paid");
  BOOST_TEST(s.events[1].actor == "gateway");
  BOOST_REQUIRE_EQUAL(s.timers.size(), 1u);
  BOOST_TEST(s.timers[0].kind == "step_retry");
  BOOST_TEST(s.timers[0].status == "pending");
  BOOST_TEST(s.timers[0].order_id == id);
  BOOST_REQUIRE_EQUAL(s.outbox.size(), 1u);
  BOOST_TEST(s.outbox[0].action == "wallet.credit_sale");
  BOOST_TEST(s.outbox[0].idempotency_key == id + ":credit");
  BOOST_TEST(s.outbox[0].attempts == 0);
  BOOST_TEST(s.outbox[0].status == "pending");

  // A step retry stays in the state: state_entered_at does not move.
  sp::transition retry;
  retry.order_id = id;
  retry.expected_version = 2;
  retry.state = "paid";
  retry.step_index = 1;
  retry.step_attempt = 2;
  retry.last_error = "storage unavailable";
  retry.event.event = "step.failed";
  retry.event.actor = "system";
  retry.event.detail = "{}";
  auto r2 = orders.apply(retry);
  BOOST_REQUIRE(r2);
  BOOST_TEST(r2->version == 3);
  auto s2 = snapshot(id);
  BOOST_TEST(s2.order.state_entered_at == s.order.state_entered_at);
  BOOST_TEST(s2.order.step_index == 1);
  BOOST_TEST(s2.order.step_attempt == 2);
  BOOST_TEST(s2.order.last_error == "storage unavailable");
  BOOST_TEST(s2.events.back().seq == 3);
  BOOST_TEST(s2.events.back().from_state == "paid");
}

BOOST_AUTO_TEST_CASE(a_stale_version_conflicts_and_writes_nothing) {
  auto id = make_order();
  BOOST_REQUIRE(orders.apply(pay(id, 1)));
  auto stale = pay(id, 1);
  stale.enqueue = {outbox(id + ":other")};
  auto r = orders.apply(stale);
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.err().code == souk::errc::conflict));
  auto s = snapshot(id);
  BOOST_TEST(s.order.version == 2);
  BOOST_TEST(s.events.size() == 2u);
  BOOST_TEST(count("SELECT COUNT(*) FROM timers") == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox") == 1);
  // An unknown order conflicts too.
  auto missing = orders.apply(pay(souk::new_uuid(), 1));
  BOOST_REQUIRE(!missing);
  BOOST_TEST((missing.err().code == souk::errc::conflict));
}

BOOST_AUTO_TEST_CASE(a_failure_mid_transaction_rolls_back_everything) {
  // Without and with the state it leaves (PostgreSQL: statement by
  // statement, then one statement).
  for (std::string from : {"", "paid"}) {
    BOOST_TEST_CONTEXT("from_state '" << from << "'") {
      auto id = make_order();
      BOOST_REQUIRE(orders.apply(pay(id, 1)));
      auto t = pay(id, 2);
      t.from_state = from;
      t.state = "delivered";
      t.cancel_all_timers = true;
      t.enqueue = {outbox(id + ":email")};
      // The order update, the event and the cancel run first; this row then
      // breaks the CHECK on kind.
      t.arm_timers = {timer(t0), timer(t0, "bogus")};
      auto r = orders.apply(t);
      BOOST_REQUIRE(!r);
      BOOST_TEST((r.err().code == souk::errc::database));
      auto s = snapshot(id);
      BOOST_TEST(s.order.state == "paid");
      BOOST_TEST(s.order.version == 2);
      BOOST_TEST(s.events.size() == 2u);
      BOOST_TEST(s.timers.size() == 1u); // still pending, not cancelled
      BOOST_TEST(
        count("SELECT COUNT(*) FROM timers WHERE order_id = '" + id + "'")
        == 1);
      BOOST_TEST(
        count("SELECT COUNT(*) FROM outbox WHERE order_id = '" + id + "'")
        == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(replaying_an_idempotency_key_adds_no_second_row) {
  auto id = make_order();
  BOOST_REQUIRE(orders.apply(pay(id, 1)));
  sp::transition again;
  again.order_id = id;
  again.expected_version = 2;
  again.state = "paid";
  again.event.event = "steps.replayed";
  again.event.actor = "system";
  again.event.detail = "{}";
  again.enqueue = {outbox(id + ":credit"), outbox(id + ":grant")};
  auto r = orders.apply(again);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox") == 2);
  auto s = snapshot(id);
  BOOST_REQUIRE_EQUAL(s.outbox.size(), 2u);
  std::set<std::string> keys{s.outbox[0].idempotency_key,
                             s.outbox[1].idempotency_key};
  BOOST_TEST(keys.count(id + ":credit") == 1u);
  BOOST_TEST(keys.count(id + ":grant") == 1u);
}

BOOST_AUTO_TEST_CASE(timers_are_cancelled_by_id_or_all_at_once) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.arm_timers
    = {timer("2030-01-01T00:10:00.000Z"), timer("2030-01-01T00:20:00.000Z"),
       timer("2030-01-01T00:30:00.000Z")};
  BOOST_REQUIRE(orders.apply(t));
  auto armed = snapshot(id).timers;
  BOOST_REQUIRE_EQUAL(armed.size(), 3u);

  sp::transition one;
  one.order_id = id;
  one.expected_version = 2;
  one.state = "paid";
  one.event.event = "step.done";
  one.event.actor = "system";
  one.event.detail = "{}";
  one.cancel_timers = {armed[0].id};
  BOOST_REQUIRE(orders.apply(one));
  auto left = snapshot(id).timers;
  BOOST_REQUIRE_EQUAL(left.size(), 2u);
  BOOST_TEST(left[0].id == armed[1].id);

  sp::transition all = one;
  all.expected_version = 3;
  all.state = "delivered";
  all.cancel_timers.clear();
  all.cancel_all_timers = true;
  // Cancel runs before arm: the new timer survives.
  all.arm_timers = {timer("2030-01-02T00:00:00.000Z")};
  BOOST_REQUIRE(orders.apply(all));
  auto after = snapshot(id).timers;
  BOOST_REQUIRE_EQUAL(after.size(), 1u);
  BOOST_TEST(after[0].due_at == "2030-01-02T00:00:00.000Z");
  BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE status = 'cancelled'")
             == 3);
}

BOOST_AUTO_TEST_CASE(only_due_timers_are_claimed_and_fired_once) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.arm_timers
    = {timer("2030-01-01T00:00:00.000Z"), timer("2030-01-01T01:00:00.000Z")};
  BOOST_REQUIRE(orders.apply(t));
  auto claimed
    = orders.claim_due_timers("node-a", "2030-01-01T00:30:00.000Z", 30s, 10);
  BOOST_REQUIRE_MESSAGE(claimed, (claimed ? "" : claimed.err().detail));
  BOOST_REQUIRE_EQUAL(claimed->size(), 1u);
  auto& c = claimed->front();
  BOOST_TEST(c.due_at == "2030-01-01T00:00:00.000Z");
  BOOST_TEST(c.claimed_by == "node-a");
  BOOST_TEST(c.claimed_until == "2030-01-01T00:30:30.000Z");
  BOOST_REQUIRE(!orders.mark_timer_fired(c.id));
  BOOST_TEST((orders.mark_timer_fired(c.id).code == souk::errc::not_found));
  // Fired timers are not claimed again, even long after.
  auto later
    = orders.claim_due_timers("node-a", "2030-01-01T00:59:00.000Z", 30s, 10);
  BOOST_REQUIRE(later);
  BOOST_TEST(later->empty());
  BOOST_TEST(snapshot(id).timers.size() == 1u);
  // A bad clock value is an error, not a claim of everything.
  BOOST_TEST(!orders.claim_due_timers("node-a", "yesterday", 30s, 10));
}

BOOST_AUTO_TEST_CASE(an_expired_claim_can_be_reclaimed_an_unexpired_one_not) {
  auto ids = arm_due_timers(1);
  auto a
    = orders.claim_due_timers("node-a", "2030-01-01T00:00:10.000Z", 30s, 10);
  BOOST_REQUIRE(a);
  BOOST_REQUIRE_EQUAL(a->size(), 1u);
  // Within node-a's lease: nothing for node-b.
  auto b
    = orders.claim_due_timers("node-b", "2030-01-01T00:00:39.999Z", 30s, 10);
  BOOST_REQUIRE(b);
  BOOST_TEST(b->empty());
  // node-a died; its lease ran out.
  auto b2
    = orders.claim_due_timers("node-b", "2030-01-01T00:00:40.000Z", 30s, 10);
  BOOST_REQUIRE(b2);
  BOOST_REQUIRE_EQUAL(b2->size(), 1u);
  BOOST_TEST(b2->front().id == ids[0]);
  BOOST_TEST(b2->front().claimed_by == "node-b");
  BOOST_TEST(b2->front().claimed_until == "2030-01-01T00:01:10.000Z");
}

BOOST_AUTO_TEST_CASE(concurrent_claimers_never_share_a_timer) {
  constexpr size_t n = 40;
  auto ids = arm_due_timers(n);
  BOOST_REQUIRE_EQUAL(ids.size(), n);
  auto db_a = scratch.open(2);
  auto db_b = scratch.open(2);
  std::vector<std::string> got_a, got_b;
  std::atomic<int> errors{0};
  std::atomic<size_t> total{0};
  std::atomic<int> ready{0};
  auto claimer = [&](sp::database& db, const std::string& node,
                     std::vector<std::string>& got) {
    sp::order_repository repo{db};
    // Start together, so the claims really overlap.
    ++ready;
    while (ready.load() < 2)
      std::this_thread::yield();
    for (int round = 0; round < 200; ++round) {
      auto r = repo.claim_due_timers(node, "2030-01-01T00:00:01.000Z", 60s, 3);
      if (!r) {
        ++errors;
        continue;
      }
      if (r->empty() && total.load() >= n)
        break;
      for (auto& t : *r)
        got.push_back(t.id);
      total += r->size();
      // Let the other node in: SQLite's busy handler backs off, so a
      // claimer looping flat out would starve it.
      std::this_thread::sleep_for(1ms);
    }
  };
  std::thread ta{[&] { claimer(*db_a, "node-a", got_a); }};
  std::thread tb{[&] { claimer(*db_b, "node-b", got_b); }};
  ta.join();
  tb.join();
  BOOST_TEST(errors.load() == 0);
  std::set<std::string> all(got_a.begin(), got_a.end());
  for (auto& id : got_b)
    BOOST_TEST(all.count(id) == 0u, "timer " << id << " claimed twice");
  all.insert(got_b.begin(), got_b.end());
  BOOST_TEST(got_a.size() + got_b.size() == n);
  BOOST_TEST(all == std::set<std::string>(ids.begin(), ids.end()));
  BOOST_TEST_MESSAGE("node-a " << got_a.size() << ", node-b " << got_b.size());
}

BOOST_AUTO_TEST_CASE(a_transition_completes_fails_and_retries_outbox_rows) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.enqueue = three_side_effects(id);
  BOOST_REQUIRE(orders.apply(t));
  auto rows = snapshot(id).outbox;
  BOOST_REQUIRE_EQUAL(rows.size(), 3u);
  auto step = step_in_paid(id, 2, "step.succeeded");
  sp::outbox_update done{rows[0].id, "done", true, {}, {}};
  sp::outbox_update retry{rows[1].id, "pending", true, "timeout", t0};
  sp::outbox_update failed{rows[2].id, "failed", true, "refused", {}};
  step.update_outbox = {done, retry, failed};
  BOOST_REQUIRE(orders.apply(step));
  auto left = snapshot(id).outbox;
  BOOST_REQUIRE_EQUAL(left.size(), 1u);
  BOOST_TEST(left[0].id == rows[1].id);
  BOOST_TEST(left[0].attempts == 1);
  BOOST_TEST(left[0].last_error == "timeout");
  BOOST_TEST(left[0].claimed_until == t0);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND "
                   "attempts = 1 AND done_at IS NOT NULL")
             == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'done' AND "
                   "done_at IS NOT NULL")
             == 1);
  // Updating a row that is no longer pending fails the whole transition.
  step.expected_version = 3;
  step.update_outbox = {done};
  step.enqueue = {outbox(id + ":d")};
  auto again = orders.apply(step);
  BOOST_TEST((!again && again.err().code == souk::errc::conflict));
  BOOST_TEST(snapshot(id).order.version == 3);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox") == 3);
}

// A step that ran and ended inside the transaction enqueuing it is written
// once, already done (the order engine's inline steps): with its attempts,
// last error and done_at, no lease, and not among the snapshot's pending
// rows. On PostgreSQL both ways of applying: one statement (the state
// known) and statement by statement.
BOOST_AUTO_TEST_CASE(a_row_enqueued_done_is_written_done_once) {
  for (bool known : {true, false}) {
    auto id = make_order();
    auto t = pay(id, 1);
    if (known)
      t.from_state = "pending";
    auto ran = outbox(id + ":ran");
    ran.status = "done";
    ran.attempts = 2;
    ran.last_error = "timeout";
    ran.claimed_until = "2030-01-01T00:01:00.000Z"; // a lease is never kept
    t.enqueue.push_back(ran);
    BOOST_REQUIRE(orders.apply(t));
    auto pending = snapshot(id).outbox;
    BOOST_REQUIRE_EQUAL(pending.size(), 1u);
    BOOST_TEST(pending[0].idempotency_key == id + ":credit");
    BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE idempotency_key = '"
                     + id
                     + ":ran' AND status = 'done' AND attempts = 2 AND "
                       "done_at IS NOT NULL AND claimed_until IS NULL AND "
                       "last_error = 'timeout'")
               == 1);
    BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE idempotency_key = '"
                     + id
                     + ":credit' AND status = 'pending' AND attempts = 0 AND "
                       "done_at IS NULL")
               == 1);
    // A row enqueued done whose key exists is not skipped quietly: its
    // step ran as if for the first time. The transition fails whole.
    auto again = step_in_paid(id, 2, "step.succeeded");
    if (known)
      again.from_state = "paid";
    again.enqueue = {ran};
    auto refused = orders.apply(again);
    BOOST_TEST((!refused && refused.err().code == souk::errc::conflict));
    BOOST_TEST(snapshot(id).order.version == 2);
    BOOST_TEST(
      count("SELECT COUNT(*) FROM outbox WHERE order_id = '" + id + "'") == 2);
  }
}

// On PostgreSQL `load` reads the whole snapshot in one statement (its lists
// as JSON built by the database): every field of every list comes back as
// written, NULLs as empty, and the newest real failure (not a row cancelled
// because the order left its state) as `last_failed`.
BOOST_AUTO_TEST_CASE(load_returns_every_list_of_the_snapshot_as_written) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.event.detail = R"({"note":"quote \" and naïve ₦ \\ done"})";
  t.event.dedup_key = "evt:" + id;
  t.enqueue = three_side_effects(id);
  BOOST_REQUIRE(orders.apply(t));
  auto rows = snapshot(id).outbox;
  BOOST_REQUIRE_EQUAL(rows.size(), 3u);
  auto step = step_in_paid(id, 2, "step.failed");
  step.event.detail = "{}";
  step.update_outbox = {{rows[0].id, "failed", true, "refused: no", {}},
                        {rows[1].id, "pending", true, "timeout", t0}};
  BOOST_REQUIRE(orders.apply(step));
  // A newer row cancelled because its order moved on is not a failure.
  exec("UPDATE outbox SET status = 'failed', last_error = '"
       + std::string{sp::cancelled_prefix}
       + " left paid', done_at = '2099-01-01T00:00:00.000Z' WHERE id = '"
       + rows[2].id + "'");

  auto s = snapshot(id);
  BOOST_TEST(s.order.version == 3);
  BOOST_TEST(s.order.state == "paid");
  BOOST_REQUIRE_EQUAL(s.events.size(), 3u);
  BOOST_TEST(s.events[1].detail == t.event.detail);
  BOOST_TEST(s.events[1].dedup_key == "evt:" + id);
  BOOST_TEST(s.events[1].from_state == "pending");
  BOOST_TEST(s.events[1].to_state == "paid");
  BOOST_TEST(s.events[2].seq == 3);
  BOOST_TEST(s.events[2].dedup_key.empty());
  // The events match the view's, read by a plain join.
  auto view = orders.load_view(id);
  BOOST_REQUIRE(view && view->has_value());
  BOOST_REQUIRE_EQUAL((*view)->events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto& a = s.events[i];
    auto& b = (*view)->events[i];
    BOOST_TEST(
      (std::tie(a.id, a.order_id, a.seq, a.event, a.from_state, a.to_state,
                a.actor, a.detail, a.dedup_key, a.created_at)
       == std::tie(b.id, b.order_id, b.seq, b.event, b.from_state, b.to_state,
                   b.actor, b.detail, b.dedup_key, b.created_at)));
  }
  BOOST_REQUIRE_EQUAL(s.timers.size(), 1u);
  BOOST_TEST(s.timers[0].order_id == id);
  BOOST_TEST(s.timers[0].kind == "step_retry");
  BOOST_TEST(s.timers[0].event == "payment.expired");
  BOOST_TEST(s.timers[0].due_at == "2030-01-01T00:30:00.000Z");
  BOOST_TEST(s.timers[0].status == "pending");
  BOOST_TEST(s.timers[0].claimed_by.empty());
  BOOST_REQUIRE_EQUAL(s.outbox.size(), 1u);
  BOOST_TEST(s.outbox[0].id == rows[1].id);
  BOOST_TEST(s.outbox[0].action == "wallet.credit_sale");
  BOOST_TEST(s.outbox[0].params == R"({"amount":5000})");
  BOOST_TEST(s.outbox[0].idempotency_key == id + ":b");
  BOOST_TEST(s.outbox[0].attempts == 1);
  BOOST_TEST(s.outbox[0].last_error == "timeout");
  BOOST_TEST(s.outbox[0].claimed_until == t0);
  BOOST_TEST(s.outbox[0].done_at.empty());
  BOOST_REQUIRE(s.last_failed);
  BOOST_TEST(s.last_failed->id == rows[0].id);
  BOOST_TEST(s.last_failed->status == "failed");
  BOOST_TEST(s.last_failed->last_error == "refused: no");
  BOOST_TEST(!s.last_failed->done_at.empty());
}

// A transition that knows the state it leaves (as the planner's do) runs as
// one statement on PostgreSQL: every effect, and every guard, as before.
BOOST_AUTO_TEST_CASE(a_transition_from_a_known_state_writes_all_or_nothing) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.from_state = "pending";
  t.arm_timers.push_back(timer("2030-01-01T00:40:00.000Z"));
  t.enqueue = three_side_effects(id);
  auto r = orders.apply(t);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_TEST(r->version == 2);
  BOOST_TEST(r->event_seq == 2);
  auto s = snapshot(id);
  BOOST_TEST(s.order.state == "paid");
  BOOST_REQUIRE_EQUAL(s.events.size(), 2u);
  BOOST_TEST(s.events[1].from_state == "pending");
  BOOST_TEST(s.events[1].to_state == "paid");
  BOOST_TEST(s.events[1].detail == R"({"reference":"r1"})");
  BOOST_TEST(s.timers.size() == 2u);
  BOOST_REQUIRE_EQUAL(s.outbox.size(), 3u);

  // Settle three rows three ways, cancel the timers and arm a new one, and
  // enqueue one new row beside a replayed key.
  auto step = step_in_paid(id, 2, "step.succeeded");
  step.from_state = "paid";
  step.step_index = 1;
  step.last_error = "one failed";
  step.event.detail = "{}";
  step.event.dedup_key = "step:1";
  step.cancel_all_timers = true;
  step.arm_timers = {timer("2030-01-03T00:00:00.000Z")};
  step.update_outbox = {{s.outbox[0].id, "done", true, {}, {}},
                        {s.outbox[1].id, "pending", true, "timeout", t0},
                        {s.outbox[2].id, "failed", true, "refused", {}}};
  step.enqueue = {outbox(id + ":a"), outbox(id + ":d")};
  auto r2 = orders.apply(step);
  BOOST_REQUIRE_MESSAGE(r2, (r2 ? "" : r2.err().detail));
  BOOST_TEST(r2->version == 3);
  BOOST_TEST(r2->event_seq == 3);
  auto s2 = snapshot(id);
  BOOST_TEST(s2.order.step_index == 1);
  BOOST_TEST(s2.order.last_error == "one failed");
  BOOST_TEST(s2.order.state_entered_at == s.order.state_entered_at);
  BOOST_TEST(s2.events.back().dedup_key == "step:1");
  BOOST_REQUIRE_EQUAL(s2.timers.size(), 1u);
  BOOST_TEST(s2.timers[0].due_at == "2030-01-03T00:00:00.000Z");
  BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE status = 'cancelled'")
             == 2);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'done' AND "
                   "done_at IS NOT NULL")
             == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND "
                   "last_error = 'refused' AND done_at IS NOT NULL")
             == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND "
                   "attempts = 1 AND last_error = 'timeout' AND done_at IS "
                   "NULL")
             == 1);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox") == 4); // + :d

  // A stale version writes nothing.
  auto stale = step;
  stale.update_outbox.clear();
  stale.enqueue = {outbox(id + ":e")};
  auto r3 = orders.apply(stale);
  BOOST_REQUIRE(!r3);
  BOOST_TEST((r3.err().code == souk::errc::conflict));
  // Settling a row that is no longer pending undoes the whole transition,
  // the order's row included.
  auto settled_again = step;
  settled_again.expected_version = 3;
  settled_again.arm_timers = {timer("2030-01-04T00:00:00.000Z")};
  settled_again.event.dedup_key = "step:2";
  settled_again.update_outbox = {{s.outbox[0].id, "done", true, {}, {}}};
  settled_again.enqueue = {outbox(id + ":f")};
  auto r4 = orders.apply(settled_again);
  BOOST_REQUIRE(!r4);
  BOOST_TEST((r4.err().code == souk::errc::conflict), r4.err().detail);
  auto s4 = snapshot(id);
  BOOST_TEST(s4.order.version == 3);
  BOOST_TEST(s4.events.size() == 3u);
  BOOST_TEST(s4.timers.size() == 1u);
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox") == 4);
  BOOST_TEST(count("SELECT COUNT(*) FROM timers") == 3);
}

BOOST_AUTO_TEST_CASE(a_transition_fires_its_timer_once) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.arm_timers = {timer(t0)};
  BOOST_REQUIRE(orders.apply(t));
  auto timer_id = snapshot(id).timers.at(0).id;
  sp::transition fire;
  fire.order_id = id;
  fire.expected_version = 2;
  fire.state = "failed";
  fire.event.event = "payment.expired";
  fire.event.actor = "timer";
  fire.fire_timer = timer_id;
  BOOST_REQUIRE(orders.apply(fire));
  BOOST_TEST(count("SELECT COUNT(*) FROM timers WHERE status = 'fired'") == 1);
  // The same timer delivered again (a second claim): refused, nothing written.
  fire.expected_version = 3;
  auto twice = orders.apply(fire);
  BOOST_TEST((!twice && twice.err().code == souk::errc::conflict));
  BOOST_TEST(snapshot(id).events.size() == 3u);
}

BOOST_AUTO_TEST_CASE(an_event_key_is_recorded_once_per_order) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.event.dedup_key = "evt-1";
  BOOST_REQUIRE(orders.apply(t));
  BOOST_TEST(snapshot(id).events.back().dedup_key == "evt-1");
  sp::transition dup;
  dup.order_id = id;
  dup.expected_version = 2;
  dup.state = "paid";
  dup.event.event = "payment.succeeded";
  dup.event.actor = "gateway";
  dup.event.dedup_key = "evt-1";
  auto r = orders.apply(dup);
  BOOST_TEST((!r && r.err().code == souk::errc::database));
  BOOST_TEST(snapshot(id).order.version == 2);
  // Another order may carry the same key.
  auto other = make_order();
  auto t2 = pay(other, 1);
  t2.event.dedup_key = "evt-1";
  t2.enqueue = {outbox(other + ":credit")};
  BOOST_TEST(orders.apply(t2).has_value());
}

BOOST_AUTO_TEST_CASE(create_writes_the_initial_timers_and_outbox) {
  sp::order_row o;
  o.id = souk::new_uuid();
  o.product_id = product_id;
  o.buyer_email = "buyer@example.com";
  o.amount = 5000;
  o.currency = "NGN";
  o.flow = "digital_download";
  o.flow_version = 1;
  o.flow_hash = "abc123";
  o.state = "pending";
  sp::event_row e;
  e.event = "order.created";
  e.actor = "system";
  auto st = orders.create(o, e, {timer(t0)}, {outbox(o.id + ":first")});
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  auto s = snapshot(o.id);
  BOOST_TEST(s.timers.size() == 1u);
  BOOST_TEST(s.outbox.size() == 1u);
  BOOST_TEST(s.order.parked_from.empty());
}

BOOST_AUTO_TEST_CASE(park_records_the_state_and_cancels_timers) {
  auto id = make_order();
  auto t = pay(id, 1);
  t.arm_timers = {timer(t0)};
  BOOST_REQUIRE(orders.apply(t));
  bool parked_now = false;
  BOOST_REQUIRE(
    !orders.park(id, "crashed 3 times: boom", "supervisor", &parked_now));
  BOOST_TEST(parked_now);
  auto s = snapshot(id);
  BOOST_TEST(s.order.state == std::string{sp::parked_state});
  BOOST_TEST(s.order.parked_from == "paid");
  BOOST_TEST(s.order.last_error == "crashed 3 times: boom");
  BOOST_TEST(s.order.version == 3);
  BOOST_TEST(s.timers.empty());
  BOOST_TEST(s.outbox.empty()); // failed, kept as evidence
  BOOST_TEST(count("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND "
                   "last_error = 'parked: crashed 3 times: boom'")
             == 1);
  BOOST_TEST(s.events.back().event == "order.parked");
  BOOST_TEST(s.events.back().seq == 3);
  BOOST_TEST(s.events.back().from_state == "paid");
  // Parking twice changes nothing (and says so, so the parked counter does
  // not count it); an unknown order is not found.
  BOOST_REQUIRE(!orders.park(id, "again", "supervisor", &parked_now));
  BOOST_TEST(!parked_now);
  BOOST_TEST(snapshot(id).order.version == 3);
  BOOST_TEST(
    (orders.park(souk::new_uuid(), "x", "y").code == souk::errc::not_found));
}

BOOST_AUTO_TEST_CASE(orders_needing_resume_lists_unleased_side_effects) {
  auto idle = make_order();
  auto with_timer = make_order();
  auto unleased = make_order();
  auto expired = make_order();
  auto leased = make_order();
  auto parked = make_order();
  auto t = pay(with_timer, 1);
  t.enqueue.clear();
  BOOST_REQUIRE(orders.apply(t));
  BOOST_REQUIRE(orders.apply(pay(unleased, 1)));
  for (auto& [id, lease] : {std::pair{expired, "2030-01-01T00:00:00.000Z"},
                            std::pair{leased, "2030-01-01T02:00:00.000Z"}}) {
    auto p = pay(id, 1);
    p.enqueue[0].claimed_until = lease;
    BOOST_REQUIRE(orders.apply(p));
  }
  BOOST_REQUIRE(orders.apply(pay(parked, 1)));
  BOOST_REQUIRE(!orders.park(parked, "stuck", "test"));
  auto now = "2030-01-01T01:00:00.000Z";
  auto r = orders.orders_needing_resume(now, 100);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  std::vector<std::string> want{unleased, expired};
  std::sort(want.begin(), want.end());
  BOOST_TEST(*r == want, boost::test_tools::per_element());
  // Paging.
  auto first = orders.orders_needing_resume(now, 1);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE_EQUAL(first->size(), 1u);
  auto second = orders.orders_needing_resume(now, 10, first->front());
  BOOST_REQUIRE(second);
  BOOST_TEST(second->size() == 1u);
  // A lease taken now hides the order until it runs out.
  auto row = snapshot(unleased).outbox.at(0);
  BOOST_REQUIRE(
    !orders.lease_outbox(unleased, row.id, "2030-01-01T03:00:00.000Z"));
  BOOST_TEST(orders.orders_needing_resume(now, 100)->size() == 1u);
  // Taking it again only if the lease ran out: it has not.
  BOOST_TEST(
    (orders.lease_outbox(unleased, row.id, "2030-01-01T04:00:00.000Z", now).code
     == souk::errc::conflict));
  BOOST_TEST(!orders.lease_outbox(unleased, row.id, "2030-01-01T04:00:00.000Z",
                                  "2030-01-01T03:00:00.000Z"));
  BOOST_TEST(
    (orders.lease_outbox(idle, row.id, now).code == souk::errc::not_found));
}

// Lists go newest first, a page at a time after the last (created_at, id)
// seen; ties in time are ordered by id. A creator's sales interleave their
// products; filters combine; nothing is skipped or repeated across pages.
BOOST_AUTO_TEST_CASE(lists_page_through_every_filter_newest_first) {
  auto other_creator = souk::new_uuid();
  exec("INSERT INTO users (id, email, password_hash, role, created_at, "
       "updated_at) VALUES ('"
       + other_creator + "', 'other@example.com', 'x', 'creator', '" + t0
       + "', '" + t0 + "')");
  std::vector<std::string> products{product_id};
  for (auto& creator :
       {user_id, user_id, other_creator}) { // two more of ours, one theirs
    products.push_back(souk::new_uuid());
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + products.back() + "', '" + creator
         + "', 'Book', 'A book', 5000, 'NGN', 'digital_download', "
           "'published', 1, '"
         + t0 + "', '" + t0 + "')");
  }
  struct made {
    std::string id;
    bool signed_in;
    std::string created, product, state, email;
  };
  std::vector<made> all;
  for (int i = 0; i < 40; ++i) {
    auto id = make_order(i % 4 != 1); // some guests, without a buyer_id
    made m{id,
           i % 4 != 1,
           fmt::format("2026-02-01T00:00:{:02}.000Z", i / 2),
           products[static_cast<size_t>(i) % 4],
           i % 5 == 0 ? "delivered" : "pending",
           i % 3 == 0 ? "a@example.com" : "b@example.com"};
    // An order's product never changes: moving it here moves its creator.
    exec("UPDATE orders SET created_at = '" + m.created + "', product_id = '"
         + m.product + "', creator_id = (SELECT creator_id FROM products "
         + "WHERE id = '" + m.product + "'), state = '" + m.state
         + "', buyer_email = '" + m.email + "' WHERE id = '" + id + "'");
    all.push_back(m);
  }
  // A row written without its creator (a node of a version before 0020,
  // during a rolling upgrade) has it filled in by the database.
  {
    made m{souk::new_uuid(), false,     "2026-02-01T00:00:07.000Z",
           products[3],      "pending", "b@example.com"};
    exec("INSERT INTO orders (id, product_id, buyer_email, amount, currency, "
         "flow, flow_version, flow_hash, state, version, step_index, "
         "step_attempt, state_entered_at, created_at, updated_at) VALUES ('"
         + m.id + "', '" + m.product + "', 'b@example.com', 5000, 'NGN', "
         + "'digital_download', 1, 'h', 'pending', 1, 0, 0, '" + m.created
         + "', '" + m.created + "', '" + m.created + "')");
    all.push_back(m);
  }
  // A payout is an order row too, and no list shows it.
  auto payout = make_order();
  exec("UPDATE orders SET kind = 'payout', created_at = "
       "'2026-03-01T00:00:00.000Z' WHERE id = '"
       + payout + "'");
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
    return std::tie(a.created, a.id) > std::tie(b.created, b.id);
  });
  auto expect = [&](auto keep) {
    std::vector<std::string> ids;
    for (auto& m : all)
      if (keep(m))
        ids.push_back(m.id);
    return ids;
  };
  auto pages = [&](const sp::order_scope& scope) {
    std::vector<std::string> ids;
    std::string after_created, after_id;
    for (int page = 0; page < 50; ++page) {
      auto got = orders.list_for(scope, after_created, after_id, 3);
      BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().detail));
      for (auto& x : *got) {
        ids.push_back(x.order.id);
        BOOST_TEST(x.product_title == "Book");
      }
      if (got->size() < 3)
        return ids;
      after_created = got->back().order.created_at;
      after_id = got->back().order.id;
    }
    BOOST_FAIL("paging did not end");
    return ids;
  };
  sp::order_scope everything;
  BOOST_TEST(pages(everything) == expect([](auto&) { return true; }));
  sp::order_scope ours;
  ours.creator_id = user_id;
  BOOST_TEST(pages(ours)
             == expect([&](auto& m) { return m.product != products[3]; }));
  sp::order_scope theirs;
  theirs.creator_id = other_creator;
  theirs.state = "pending";
  BOOST_TEST(pages(theirs) == expect([&](auto& m) {
               return m.product == products[3] && m.state == "pending";
             }));
  sp::order_scope one_product;
  one_product.product_id = products[1];
  one_product.buyer_email = "a@example.com";
  BOOST_TEST(pages(one_product) == expect([&](auto& m) {
               return m.product == products[1] && m.email == "a@example.com";
             }));
  sp::order_scope buyer;
  buyer.buyer_id = user_id;
  BOOST_TEST(pages(buyer) == expect([](auto& m) { return m.signed_in; }));
  sp::order_scope state_only;
  state_only.state = "delivered";
  BOOST_TEST(pages(state_only)
             == expect([](auto& m) { return m.state == "delivered"; }));
  sp::order_scope email_only;
  email_only.buyer_email = "b@example.com";
  BOOST_TEST(pages(email_only)
             == expect([](auto& m) { return m.email == "b@example.com"; }));
  sp::order_scope delivered;
  delivered.state = "delivered";
  delivered.creator_id = user_id;
  delivered.buyer_id = user_id;
  BOOST_TEST(pages(delivered) == expect([&](auto& m) {
               return m.state == "delivered" && m.product != products[3]
                      && m.signed_in;
             }));
}

BOOST_AUTO_TEST_CASE(the_database_refuses_bad_kinds_and_statuses) {
  auto id = make_order();
  auto timer_sql = [&](const std::string& kind, const std::string& status) {
    return "INSERT INTO timers (id, order_id, kind, event, due_at, status, "
           "created_at) VALUES ('"
           + souk::new_uuid() + "', '" + id + "', '" + kind + "', 'e', '" + t0
           + "', '" + status + "', '" + t0 + "')";
  };
  auto outbox_sql = [&](const std::string& status) {
    return "INSERT INTO outbox (id, order_id, action, params, "
           "idempotency_key, status, attempts, created_at) VALUES ('"
           + souk::new_uuid() + "', '" + id + "', 'a', '{}', '"
           + souk::new_uuid() + "', '" + status + "', 0, '" + t0 + "')";
  };
  BOOST_TEST(!try_exec(timer_sql("state_timeout", "pending")));
  BOOST_TEST(
    (try_exec(timer_sql("alarm", "pending")).code == souk::errc::database));
  BOOST_TEST((try_exec(timer_sql("step_retry", "snoozed")).code
              == souk::errc::database));
  BOOST_TEST(!try_exec(outbox_sql("pending")));
  BOOST_TEST((try_exec(outbox_sql("sent")).code == souk::errc::database));
  // Orders: positive amounts in a known currency only.
  BOOST_TEST(
    (try_exec("UPDATE orders SET amount = 0").code == souk::errc::database));
  BOOST_TEST((try_exec("UPDATE orders SET currency = 'EUR'").code
              == souk::errc::database));
  BOOST_TEST(
    (try_exec("UPDATE orders SET version = 0").code == souk::errc::database));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(flow_templates, fixture)

BOOST_AUTO_TEST_CASE(a_template_is_stored_once_by_hash) {
  sp::flow_template_repository repo{*db};
  sp::flow_template_row row{"h1", "digital_download", 1, "flow: x\n", {}};
  BOOST_REQUIRE(!repo.save(row));
  row.source = "changed";
  BOOST_REQUIRE(!repo.save(row)); // same hash: kept as first stored
  auto got = repo.find("h1");
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->source == "flow: x\n");
  BOOST_TEST((*got)->version == 1);
  BOOST_TEST(!repo.find("nope")->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
