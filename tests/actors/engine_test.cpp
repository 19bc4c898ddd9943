// The order engine on CAF's deterministic scheduler: every actor runs on the
// test's thread when the test says so, database work runs inline, and time
// (CAF's and souk's) moves only when the test advances it. No sleeps.

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <soci/soci.h>

#include "souk/actors/engine.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/actors/services.hpp"
#include "souk/actors/supervisor.hpp"
#include "souk/core/ids.hpp"
#include "souk/orders/library.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

namespace sa = souk::actors;
namespace so = souk::orders;
namespace sp = souk::persistence;
using namespace std::chrono_literals;
using souk::errc;

namespace {

constexpr const char* flow_v1 = R"(flow: shop
version: 1
initial: pending
states:
  pending:
    timeout: { after: 30m, emit: payment.expired }
    on: { payment.succeeded: paid, payment.failed: failed, payment.expired: failed }
  paid:
    steps:
      - call: test.credit
      - call: test.ship
        with: { speed: fast }
        retry: { initial: 1s, factor: 2, max_interval: 1m, max_attempts: 3, give_up_on: [invalid_field] }
    on: { steps.done: delivered, steps.failed: failed }
  delivered:
    on: { refund.requested: refunded }
  refunded: { terminal: true }
  failed: { terminal: true }
)";

// Same name, new version: one step only.
constexpr const char* flow_v2 = R"(flow: shop
version: 2
initial: pending
states:
  pending:
    on: { payment.succeeded: paid }
  paid:
    steps: [ { call: test.credit } ]
    on: { steps.done: delivered, steps.failed: failed }
  delivered: { terminal: true }
  failed: { terminal: true }
)";

// A step of a service this node does not run.
constexpr const char* flow_elsewhere = R"(flow: elsewhere
version: 1
initial: pending
states:
  pending:
    on: { payment.succeeded: paid }
  paid:
    steps: [ { call: other.thing } ]
    on: { steps.done: done, steps.failed: done }
  done: { terminal: true }
)";

const souk::timestamp t0 = *souk::parse_iso("2030-01-01T00:00:00.000Z");

// What the test service saw and did. Idempotent like a real service: the
// effect of a key happens once however often the key arrives.
struct service_log {
  std::vector<sa::action_call> calls;
  std::map<std::string, int> effects; // idempotency key -> times applied
  std::map<std::string, std::vector<errc>> script; // action -> answers
  bool hold = false; // keep answers back (a step in the middle of running)
  std::vector<std::pair<caf::response_promise, sa::action_call>> held;

  sa::action_result run(const sa::action_call& c) {
    auto& answers = script[c.action];
    auto code = errc::ok;
    if (!answers.empty()) {
      code = answers.front();
      answers.erase(answers.begin());
    }
    if (code == errc::ok && effects[c.idempotency_key]++ > 0)
      effects[c.idempotency_key] = 1; // already applied: do not repeat
    return {code, code == errc::ok ? "" : "scripted failure"};
  }

  size_t calls_of(const std::string& action) const {
    return std::count_if(calls.begin(), calls.end(),
                         [&](auto& c) { return c.action == action; });
  }
};

using release_atom = caf::atom_constant<caf::atom("release")>;

caf::behavior test_service(caf::event_based_actor* self,
                           std::shared_ptr<service_log> log) {
  return {
    // Answers the held calls, from inside the service as a real one would.
    [log](release_atom) {
      auto held = std::move(log->held);
      log->held.clear();
      log->hold = false;
      for (auto& [rp, c] : held)
        rp.deliver(log->run(c));
    },
    [self, log](sa::run_atom,
                sa::action_call& c) -> caf::result<sa::action_result> {
      log->calls.push_back(c);
      if (log->hold) {
        auto rp = self->make_response_promise();
        log->held.emplace_back(rp, c);
        return rp;
      }
      return log->run(c);
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::actor_clock::time_point clock_start;
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  souk::flows::action_catalog catalog;
  std::shared_ptr<so::flow_library> flows;
  std::shared_ptr<sa::service_directory> dir
    = std::make_shared<sa::service_directory>();
  std::shared_ptr<service_log> service = std::make_shared<service_log>();
  std::unique_ptr<sa::order_engine> engine;
  caf::actor sup;
  std::string product_id = souk::new_uuid();

  // Steps the engine ran itself, inside its transactions (inline_fixture).
  std::vector<sa::action_call> inline_calls;
  // The orders `on_change` was told about, one entry per committed change.
  std::vector<std::string> changes;

  // `local`: the test service's steps run inline, each writing a row of
  // `effects` before it answers as scripted.
  explicit fixture(bool local = false, bool commits_after = false)
    : sys(init(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    clock_start = sched.clock().now();
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    exec("CREATE TABLE effects (action TEXT NOT NULL)");
    auto user = souk::new_uuid();
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + user
         + "', 'c@example.com', 'x', 'creator', '2030-01-01', "
           "'2030-01-01')");
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product_id + "', '" + user
         + "', 'Book', '', 5000, 'NGN', 'shop', 'published', 1, "
           "'2030-01-01', '2030-01-01')");
    catalog.add("test.credit");
    catalog.add("test.ship", {"speed"});
    catalog.add("other.thing");
    flows = std::make_shared<so::flow_library>(catalog, db);
    BOOST_REQUIRE(!flows->add(flow_v1, "shop.yaml"));
    BOOST_REQUIRE(!flows->add(flow_elsewhere, "elsewhere.yaml"));

    sa::engine_options o;
    o.node_id = "node-test";
    o.plan.retry_jitter = 0;
    o.plan.step_lease = 60s;
    o.restart.jitter = 0;
    o.restart.initial = 500ms;
    o.restart.max_restarts = 3;
    o.step_timeout = 1h; // held steps stay in flight while time is advanced
    o.services = {"test"};
    o.clock = [this] { return now(); };
    o.executor = [](std::function<void()> job) { job(); };
    o.on_change = [this](const std::string& id) { changes.push_back(id); };
    if (local)
      o.local_services["test"].commits_after = commits_after;
    if (local)
      o.local_services["test"].run
        = [this](const sa::action_call& c) -> souk::status {
        inline_calls.push_back(c);
        auto wrote = db->write([&](soci::session& sql) {
          sql << "INSERT INTO effects (action) VALUES (:a)",
            soci::use(c.action);
        });
        if (wrote)
          return wrote;
        auto answer = service->run(c);
        if (answer.code == errc::ok)
          return {};
        return souk::error{answer.code, answer.detail};
      };
    engine = std::make_unique<sa::order_engine>(sys, db, flows, dir, o);
    auto children = engine->children();
    children.push_back(sa::child_spec{"test", [this](caf::actor_system& s) {
                                        auto h = s.spawn(test_service, service);
                                        dir->put("test", h);
                                        return h;
                                      }});
    sup = sa::spawn_supervisor(sys, sa::restart_policy{}, std::move(children),
                               std::make_shared<sa::supervision_board>());
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sched.run();
    sup = nullptr;
    for (auto& [rp, c] : service->held)
      rp = caf::response_promise{};
    dir->put("test", caf::actor{});
    dir->put("orders", caf::actor{});
    dir->put("timers", caf::actor{});
  }

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.file-verbosity", caf::atom("quiet"));
    return c;
  }

  souk::timestamp now() {
    return t0
           + std::chrono::duration_cast<std::chrono::milliseconds>(
             sched.clock().now() - clock_start);
  }

  /// The one text column `query` reads, row by row.
  std::vector<std::string> texts(const std::string& query) {
    std::vector<std::string> out;
    auto st = db->run([&](soci::session& sql) {
      soci::rowset<std::string> rs = (sql.prepare << query);
      for (auto& a : rs)
        out.push_back(a);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return out;
  }

  /// The rows the inline steps left, in order.
  std::vector<std::string> effects() {
    return texts("SELECT action FROM effects ORDER BY action");
  }

  void exec(const std::string& q) {
    auto st = db->run([&](soci::session& sql) { sql << q; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  /// From now on every write of an outbox row is listed in `outbox_writes`
  /// ("insert pending test.credit", "update done test.ship", ...; sorted, as
  /// PostgreSQL runs the clauses of one statement in no set order).
  void watch_outbox_writes() {
    exec("CREATE TABLE outbox_writes (what TEXT NOT NULL)");
    if (db->kind() == sp::backend::postgresql) {
      exec("CREATE FUNCTION note_outbox_write() RETURNS trigger LANGUAGE "
           "plpgsql AS $$ BEGIN INSERT INTO outbox_writes VALUES (lower(TG_OP) "
           "|| ' ' || NEW.status || ' ' || NEW.action); RETURN NULL; END $$");
      exec("CREATE TRIGGER outbox_written AFTER INSERT OR UPDATE ON outbox "
           "FOR EACH ROW EXECUTE FUNCTION note_outbox_write()");
      return;
    }
    for (std::string op : {"insert", "update"})
      exec("CREATE TRIGGER outbox_" + op + " AFTER " + op
           + " ON outbox BEGIN INSERT INTO outbox_writes VALUES ('" + op
           + " ' || NEW.status || ' ' || NEW.action); END");
  }

  std::vector<std::string> outbox_writes() {
    return texts("SELECT what FROM outbox_writes ORDER BY what");
  }

  // Runs every actor until nothing is left to do.
  void run() { sched.run(); }

  // Moves time forward, firing what falls due, and runs.
  void advance(std::chrono::milliseconds d) {
    sched.advance_time(d);
    run();
  }

  std::string create(const std::string& flow = "shop") {
    sp::order_row base;
    base.product_id = product_id;
    base.buyer_email = "buyer@example.com";
    base.amount = 5000;
    base.currency = "NGN";
    auto o = engine->create(base, flow);
    BOOST_REQUIRE_MESSAGE(o, (o ? "" : o.err().detail));
    run();
    return o->id;
  }

  souk::expected<so::outcome> deliver(const std::string& id,
                                      const std::string& event,
                                      const std::string& key = {}) {
    std::optional<souk::expected<so::outcome>> got;
    engine->deliver(id, {event, "test", "", key},
                    [&](souk::expected<so::outcome> x) { got = x; });
    run();
    BOOST_REQUIRE_MESSAGE(got, "no answer to " << event);
    return *got;
  }

  /// Delivers `event` with writes of the caller's (`with`) that add a row
  /// `what` to `effects` and then answer `answer`; `told` collects the
  /// outcomes they were run with.
  souk::expected<so::outcome> deliver_with(const std::string& id,
                                           const std::string& event,
                                           const std::string& key,
                                           std::vector<so::outcome>& told,
                                           souk::status answer = {}) {
    so::event_input in{event, "test", "", key};
    in.with = [&told, answer](so::outcome r, sp::database& db) -> souk::status {
      told.push_back(r);
      auto wrote = db.write([&](soci::session& sql) {
        sql << "INSERT INTO effects (action) VALUES ('caller')";
      });
      if (wrote)
        return wrote;
      return answer;
    };
    std::optional<souk::expected<so::outcome>> got;
    engine->deliver(id, std::move(in),
                    [&](souk::expected<so::outcome> x) { got = x; });
    run();
    BOOST_REQUIRE_MESSAGE(got, "no answer to " << event);
    return *got;
  }

  /// What the two tests of an event's own writes check, with steps run by
  /// the service actor or inline.
  void an_events_writes_commit_with_it() {
    std::vector<so::outcome> told;
    auto id = create();
    auto r = deliver_with(id, "payment.succeeded", "evt-1", told);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    BOOST_TEST((*r == so::outcome::applied));
    BOOST_TEST(rows(id).order.state == "delivered");
    BOOST_REQUIRE_EQUAL(told.size(), 1u);
    BOOST_TEST((told[0] == so::outcome::applied));
    auto caller = [&] {
      auto e = effects();
      return std::count(e.begin(), e.end(), "caller");
    };
    BOOST_TEST(caller() == 1);
    // A duplicate writes nothing: the caller's writes do not run.
    r = deliver_with(id, "payment.succeeded", "evt-1", told);
    BOOST_REQUIRE(r);
    BOOST_TEST((*r == so::outcome::duplicate));
    BOOST_TEST(told.size() == 1u);
    BOOST_TEST(caller() == 1);
    // An event the state ignores is recorded, with the caller's writes.
    auto other = create();
    r = deliver_with(other, "refund.requested", "", told);
    BOOST_REQUIRE(r);
    BOOST_TEST((*r == so::outcome::ignored));
    BOOST_REQUIRE_EQUAL(told.size(), 2u);
    BOOST_TEST((told[1] == so::outcome::ignored));
    BOOST_TEST(caller() == 2);

    // Writes that fail undo the event's record with them; the failure is
    // the answer, and the order is as before.
    auto third = create();
    r = deliver_with(third, "payment.succeeded", "evt-3", told,
                     souk::error{errc::precondition_failed, "not any more"});
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.err().code == errc::precondition_failed));
    BOOST_TEST(rows(third).order.state == "pending");
    BOOST_TEST(events(third) == std::vector<std::string>{"order.created"},
               boost::test_tools::per_element());
    BOOST_TEST(caller() == 2);
    // Nothing stuck: the same event without them goes through.
    BOOST_TEST(
      (*deliver(third, "payment.succeeded", "evt-3") == so::outcome::applied));
    BOOST_TEST(rows(third).order.state == "delivered");
  }

  sa::order_inspection inspect(const std::string& id) {
    std::optional<souk::expected<sa::order_inspection>> got;
    engine->inspect(id,
                    [&](souk::expected<sa::order_inspection> x) { got = x; });
    run();
    BOOST_REQUIRE(got);
    BOOST_REQUIRE_MESSAGE(*got, (*got ? "" : got->err().detail));
    return **got;
  }

  std::vector<std::string> live() {
    std::optional<souk::expected<std::vector<std::string>>> got;
    engine->live([&](souk::expected<std::vector<std::string>> x) { got = x; });
    run();
    BOOST_REQUIRE(got && *got);
    return **got;
  }

  sp::order_snapshot rows(const std::string& id) {
    auto s = sp::order_repository{*db}.load(id);
    BOOST_REQUIRE(s && s->has_value());
    return **s;
  }

  std::vector<std::string> events(const std::string& id) {
    std::vector<std::string> out;
    for (auto& e : rows(id).events)
      out.push_back(e.event);
    return out;
  }

  caf::actor actor_of(const std::string& id) {
    caf::actor found;
    auto mgr = dir->get("orders");
    sys.spawn(
      [&found, mgr, id](caf::event_based_actor* self, int) {
        self
          ->request(mgr, 1s, caf::atom_constant<caf::atom("lookup")>::value, id)
          .then([&found](caf::actor& h) { found = h; }, [](caf::error&) {});
      },
      0);
    run();
    return found;
  }

  void kill(const std::string& id) {
    auto h = actor_of(id);
    BOOST_REQUIRE(h);
    caf::anon_send_exit(h, caf::exit_reason::kill);
    run();
  }
};

using strings = std::vector<std::string>;

struct inline_fixture : fixture {
  inline_fixture() : fixture(true) {}
};

// The test service's steps commit right after themselves (as the wallet's).
struct commits_after_fixture : fixture {
  commits_after_fixture() : fixture(true, true) {}
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(engine, fixture)

BOOST_AUTO_TEST_CASE(happy_path) {
  auto id = create();
  BOOST_TEST(rows(id).order.state == "pending");
  // Waiting for a payment needs no actor.
  BOOST_TEST(live().empty());
  auto r = deliver(id, "payment.succeeded", "evt-1");
  BOOST_REQUIRE(r);
  BOOST_TEST((*r == so::outcome::applied));
  auto s = rows(id);
  BOOST_TEST(s.order.state == "delivered");
  BOOST_TEST(s.order.flow_hash == flows->current("shop").value()->hash);
  BOOST_TEST(events(id)
               == (strings{"order.created", "payment.succeeded",
                           "step.succeeded", "steps.done"}),
             boost::test_tools::per_element());
  BOOST_TEST(service->calls.size() == 2u);
  BOOST_TEST(service->calls[1].params == R"({"speed":"fast"})");
  BOOST_TEST(service->effects.size() == 2u);
  BOOST_TEST(s.outbox.empty());
  BOOST_TEST(s.timers.empty()); // the payment timeout was cancelled
  // Each commit told the node, after it: paid, then each step's success.
  BOOST_TEST(changes == (strings{id, id, id}),
             boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(local_steps_commit_with_the_transition_before_them,
                        inline_fixture) {
  auto id = create();
  watch_outbox_writes();
  auto r = deliver(id, "payment.succeeded", "evt-1");
  BOOST_REQUIRE(r);
  BOOST_TEST((*r == so::outcome::applied));
  auto s = rows(id);
  BOOST_TEST(s.order.state == "delivered");
  // No service actor ran a step: the engine ran both, in order, with what
  // the actor would have been given.
  BOOST_TEST(service->calls.empty());
  BOOST_REQUIRE_EQUAL(inline_calls.size(), 2u);
  BOOST_TEST(inline_calls[0].action == "test.credit");
  BOOST_TEST(inline_calls[1].action == "test.ship");
  BOOST_TEST(inline_calls[1].params == R"({"speed":"fast"})");
  BOOST_TEST(inline_calls[1].attempt == 1u);
  BOOST_TEST(inline_calls[1].order.state == "paid");
  BOOST_TEST(!inline_calls[0].idempotency_key.empty());
  BOOST_TEST(effects() == (strings{"test.credit", "test.ship"}),
             boost::test_tools::per_element());
  // The same timeline as steps run one by one; nothing left to run.
  BOOST_TEST(events(id)
               == (strings{"order.created", "payment.succeeded",
                           "step.succeeded", "steps.done"}),
             boost::test_tools::per_element());
  BOOST_TEST(s.outbox.empty());
  BOOST_TEST(s.timers.empty());
  // Each step's outbox row, enqueued and ended in this one transaction, was
  // written once, already done, with its attempt and no lease.
  BOOST_TEST(outbox_writes()
               == (strings{"insert done test.credit", "insert done test.ship"}),
             boost::test_tools::per_element());
  auto h = sp::order_repository{*db}.history(id);
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL((*h)->outbox.size(), 2u);
  for (auto& x : (*h)->outbox) {
    BOOST_TEST(x.status == "done");
    BOOST_TEST(x.attempts == 1);
    BOOST_TEST(x.claimed_until.empty());
    BOOST_TEST(!x.done_at.empty());
    BOOST_TEST(!x.idempotency_key.empty());
  }
  // One commit for the lot, so the node heard of one change.
  BOOST_TEST(changes == (strings{id}), boost::test_tools::per_element());
  // The actor knows it too: a refund moves it on from `delivered`.
  BOOST_TEST(inspect(id).state == "delivered");
  auto refund = deliver(id, "refund.requested");
  BOOST_REQUIRE(refund);
  BOOST_TEST((*refund == so::outcome::applied));
  BOOST_TEST(rows(id).order.state == "refunded");
}

BOOST_FIXTURE_TEST_CASE(a_failing_local_step_undoes_the_lot_and_runs_as_usual,
                        inline_fixture) {
  service->script["test.ship"] = {errc::unavailable};
  auto id = create();
  deliver(id, "payment.succeeded");
  // Inline, credit wrote its row and ship failed after writing its own:
  // both rolled back with the transition to `paid`, which then committed
  // alone. Credit ran through the service actor; its success led to ship,
  // run inline again and answering ok this time.
  BOOST_TEST(rows(id).order.state == "delivered");
  BOOST_TEST(inline_calls.size() == 3u);
  BOOST_REQUIRE_EQUAL(service->calls.size(), 1u);
  BOOST_TEST(service->calls[0].action == "test.credit");
  BOOST_TEST(effects() == strings{"test.ship"},
             boost::test_tools::per_element());
  BOOST_TEST(events(id)
               == (strings{"order.created", "payment.succeeded",
                           "step.succeeded", "steps.done"}),
             boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_local_step_failing_through_its_actor_is_retried,
                        inline_fixture) {
  // Fails inline and then through the actor: the template's retry rules
  // apply as they do to any step.
  service->script["test.credit"] = {errc::unavailable, errc::unavailable};
  auto id = create();
  deliver(id, "payment.succeeded");
  auto s = rows(id);
  BOOST_TEST(s.order.state == "paid");
  BOOST_TEST(s.order.last_error == "unavailable: scripted failure");
  BOOST_TEST(effects().empty());
  BOOST_REQUIRE_EQUAL(s.timers.size(), 1u);
  BOOST_TEST(s.timers[0].kind == "step_retry");
  // The retry starts the step again: inline, and it goes through now.
  advance(2s);
  BOOST_TEST(rows(id).order.state == "delivered");
  BOOST_TEST(effects() == (strings{"test.credit", "test.ship"}),
             boost::test_tools::per_element());
  BOOST_TEST(events(id)
               == (strings{"order.created", "payment.succeeded", "step.failed",
                           "step.retry", "step.succeeded", "steps.done"}),
             boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_local_step_that_commits_after_it_ends_its_transaction,
                        commits_after_fixture) {
  service->script["test.ship"] = {errc::unavailable};
  auto id = create();
  deliver(id, "payment.succeeded");
  // Credit committed with `paid` and its own success; ship ran inline in a
  // transaction of its own, failed and rolled back only itself, then ran
  // through the service actor.
  BOOST_TEST(rows(id).order.state == "delivered");
  BOOST_TEST(inline_calls.size() == 2u);
  BOOST_REQUIRE_EQUAL(service->calls.size(), 1u);
  BOOST_TEST(service->calls[0].action == "test.ship");
  BOOST_TEST(effects() == strings{"test.credit"},
             boost::test_tools::per_element());
  BOOST_TEST(events(id)
               == (strings{"order.created", "payment.succeeded",
                           "step.succeeded", "steps.done"}),
             boost::test_tools::per_element());
  // Without a failure both still run inline, in two transactions. Credit's
  // row was written done with `paid`; ship's was enqueued pending by that
  // commit (a crash after it must find ship still to run), then ended.
  inline_calls.clear();
  service->calls.clear();
  auto other = create();
  watch_outbox_writes();
  deliver(other, "payment.succeeded");
  BOOST_TEST(rows(other).order.state == "delivered");
  BOOST_TEST(inline_calls.size() == 2u);
  BOOST_TEST(service->calls.empty());
  BOOST_TEST(
    outbox_writes()
      == (strings{"insert done test.credit", "insert pending test.ship",
                  "update done test.ship"}),
    boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_events_own_writes_commit_with_it) {
  an_events_writes_commit_with_it();
}

BOOST_FIXTURE_TEST_CASE(an_events_own_writes_commit_with_it_and_local_steps,
                        inline_fixture) {
  an_events_writes_commit_with_it();
  // The local steps' rows are there for the orders that were paid, not
  // for the one whose event was undone the first time.
  auto e = effects();
  BOOST_TEST(std::count(e.begin(), e.end(), "test.credit") == 2);
}

BOOST_AUTO_TEST_CASE(a_step_fails_then_succeeds_within_its_retries) {
  service->script["test.ship"] = {errc::unavailable};
  auto id = create();
  deliver(id, "payment.succeeded");
  auto s = rows(id);
  BOOST_TEST(s.order.state == "paid");
  BOOST_TEST(s.order.step_attempt == 2);
  BOOST_TEST(s.order.last_error == "unavailable: scripted failure");
  BOOST_REQUIRE_EQUAL(s.timers.size(), 1u);
  BOOST_TEST(s.timers[0].kind == "step_retry");
  // The retry is a durable timer: it fires when its time comes.
  advance(999ms);
  BOOST_TEST(rows(id).order.state == "paid");
  advance(1s);
  BOOST_TEST(rows(id).order.state == "delivered");
  BOOST_REQUIRE_EQUAL(service->calls_of("test.ship"), 2u);
  BOOST_TEST(service->calls[1].idempotency_key
             == service->calls[2].idempotency_key);
  BOOST_TEST(service->calls[2].attempt == 2u);
  BOOST_TEST(
    events(id)
      == (strings{"order.created", "payment.succeeded", "step.succeeded",
                  "step.failed", "step.retry", "steps.done"}),
    boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(retries_exhausted_fail_the_order) {
  service->script["test.ship"]
    = {errc::timeout, errc::timeout, errc::timeout, errc::ok};
  auto id = create();
  deliver(id, "payment.succeeded");
  advance(1s); // attempt 2
  advance(2s); // attempt 3, the last
  auto s = rows(id);
  BOOST_TEST(s.order.state == "failed");
  BOOST_TEST(s.order.last_error == "timeout: scripted failure");
  BOOST_TEST(service->calls_of("test.ship") == 3u);
  BOOST_TEST(events(id).back() == "steps.failed");
  advance(1min); // nothing more happens
  BOOST_TEST(service->calls_of("test.ship") == 3u);
}

BOOST_AUTO_TEST_CASE(a_state_timeout_fires_from_the_timers_table) {
  auto id = create();
  advance(29min);
  BOOST_TEST(rows(id).order.state == "pending");
  advance(1min + 1s);
  auto s = rows(id);
  BOOST_TEST(s.order.state == "failed");
  BOOST_TEST(s.events.back().event == "payment.expired");
  BOOST_TEST(s.events.back().actor == "timer");
  BOOST_TEST(s.timers.empty());
}

BOOST_AUTO_TEST_CASE(an_event_not_allowed_is_recorded_and_ignored) {
  auto id = create();
  auto r = deliver(id, "refund.requested");
  BOOST_REQUIRE(r);
  BOOST_TEST((*r == so::outcome::ignored));
  BOOST_TEST(rows(id).order.state == "pending");
  BOOST_TEST(rows(id).events.back().detail.starts_with("ignored"));
  // The order carries on normally.
  BOOST_TEST((*deliver(id, "payment.succeeded") == so::outcome::applied));
  BOOST_TEST(rows(id).order.state == "delivered");
}

BOOST_AUTO_TEST_CASE(a_duplicate_event_has_no_second_side_effect) {
  auto id = create();
  BOOST_TEST(
    (*deliver(id, "payment.succeeded", "evt-7") == so::outcome::applied));
  auto heard = changes.size();
  BOOST_TEST(
    (*deliver(id, "payment.succeeded", "evt-7") == so::outcome::duplicate));
  BOOST_TEST(service->calls.size() == 2u);
  BOOST_TEST(rows(id).events.size() == 4u);
  BOOST_TEST(changes.size() == heard); // a duplicate changes nothing
}

BOOST_AUTO_TEST_CASE(a_killed_order_actor_runs_its_step_exactly_once) {
  service->hold = true;
  auto id = create();
  deliver(id, "payment.succeeded");
  BOOST_REQUIRE_EQUAL(service->held.size(), 1u); // test.credit is running
  kill(id);
  // The service finishes the step, but its answer has nobody to go to.
  auto [rp, call] = service->held.front();
  service->held.clear();
  rp.deliver(service->run(call));
  service->hold = false;
  run();
  BOOST_TEST(rows(id).order.state == "paid");
  // The manager restarts the actor after its backoff; it rebuilds from the
  // rows and runs the step again under the same key.
  advance(500ms);
  BOOST_TEST(rows(id).order.state == "delivered");
  BOOST_TEST(service->calls_of("test.credit") == 2u);
  BOOST_TEST(service->calls[0].idempotency_key
             == service->calls[1].idempotency_key);
  BOOST_TEST(service->effects[service->calls[0].idempotency_key] == 1);
}

BOOST_AUTO_TEST_CASE(an_order_that_keeps_crashing_is_parked) {
  service->hold = true;
  auto id = create();
  deliver(id, "payment.succeeded");
  // Killed in the middle of its step again and again: 3 restarts with
  // backoff (500ms, 1s, 2s), then the 4th crash parks it.
  std::chrono::milliseconds delays[] = {500ms, 1s, 2s};
  for (auto d : delays) {
    kill(id);
    advance(d);
    BOOST_TEST(rows(id).order.state == "paid");
  }
  kill(id);
  auto s = rows(id);
  BOOST_TEST(s.order.state == "needs_attention");
  BOOST_TEST(s.order.parked_from == "paid");
  BOOST_TEST(s.order.last_error.find("crashed 4 times") != std::string::npos);
  BOOST_TEST(s.events.back().event == "order.parked");
  // Nothing restarts it in a loop; it answers questions and holds events.
  auto calls = service->calls.size();
  advance(1min);
  BOOST_TEST(service->calls.size() == calls);
  service->hold = false;
  auto held = deliver(id, "payment.succeeded");
  BOOST_REQUIRE(held);
  BOOST_TEST((*held == so::outcome::ignored));
  BOOST_TEST(inspect(id).state == "needs_attention");
}

BOOST_AUTO_TEST_CASE(a_database_failure_delays_a_step_without_a_crash) {
  service->hold = true;
  auto id = create();
  deliver(id, "payment.succeeded");
  BOOST_REQUIRE_EQUAL(service->held.size(), 1u);
  // The step's answer arrives while the database refuses its transaction.
  exec("ALTER TABLE order_events RENAME TO order_events_away");
  caf::anon_send(dir->get("test"), release_atom::value);
  run();
  BOOST_TEST(live() == strings{id}, boost::test_tools::per_element());
  advance(500ms); // tried again, failed again: waits longer
  BOOST_TEST(live() == strings{id}, boost::test_tools::per_element());
  exec("ALTER TABLE order_events_away RENAME TO order_events");
  advance(1s);
  auto s = rows(id);
  BOOST_TEST(s.order.state == "delivered");
  // No crash: a restart would have run test.credit again.
  BOOST_TEST(service->calls_of("test.credit") == 1u);
  BOOST_TEST(service->calls_of("test.ship") == 1u);
}

BOOST_AUTO_TEST_CASE(crashes_far_apart_do_not_park_an_order) {
  service->hold = true;
  auto id = create();
  deliver(id, "payment.succeeded");
  // Five crashes, each after the last has left the 10-minute window.
  for (int i = 0; i < 5; ++i) {
    kill(id);
    advance(11min);
    BOOST_TEST(rows(id).order.state == "paid");
  }
  BOOST_TEST(service->calls_of("test.credit") == 6u); // first run + 5 restarts
}

BOOST_AUTO_TEST_CASE(idle_orders_are_passivated_and_come_back_on_demand) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(create());
  BOOST_TEST(live().empty());
  auto x = inspect(ids[0]); // activates it
  BOOST_TEST(x.state == "pending");
  BOOST_TEST(live() == strings{ids[0]}, boost::test_tools::per_element());
  advance(61s);
  BOOST_TEST(live().empty());
  deliver(ids[0], "payment.succeeded");
  BOOST_TEST(rows(ids[0]).order.state == "delivered");
  BOOST_TEST(live().size() == 1u); // delivered still waits for refunds
  advance(61s);
  BOOST_TEST(live().empty());
  // A finished order (terminal state) leaves memory at once.
  deliver(ids[1], "payment.failed");
  BOOST_TEST(rows(ids[1]).order.state == "failed");
  BOOST_TEST(live().empty());
}

BOOST_AUTO_TEST_CASE(looking_at_orders_does_not_keep_them_in_memory) {
  auto id = create();
  inspect(id); // activates it
  // An operator's console polls every 20 s; the order still passivates
  // once it has had no work for the idle timeout (60 s).
  for (int i = 0; i < 5; ++i) {
    std::optional<souk::expected<std::vector<sa::order_inspection>>> got;
    engine->survey([&](auto x) { got = std::move(x); });
    run();
    BOOST_REQUIRE(got && *got);
    if (i < 3)
      BOOST_TEST((*got)->size() == 1u);
    advance(20s);
  }
  BOOST_TEST(live().empty());
  // Looking at a passivated order never activates it.
  std::optional<souk::expected<sa::order_inspection>> peeked;
  engine->peek(id, [&](auto x) { peeked = std::move(x); });
  run();
  BOOST_REQUIRE(peeked);
  BOOST_TEST(!*peeked);
  BOOST_TEST(live().empty());
}

BOOST_AUTO_TEST_CASE(inspection_reports_the_live_snapshot) {
  service->hold = true;
  auto id = create();
  auto before = inspect(id);
  BOOST_TEST(before.flow == "shop");
  BOOST_TEST(before.flow_version == 1);
  BOOST_TEST(before.version == 1);
  BOOST_REQUIRE_EQUAL(before.timers.size(), 1u);
  BOOST_TEST(before.timers[0].event == "payment.expired");
  BOOST_TEST(!before.step_in_flight);
  advance(5s);
  deliver(id, "payment.succeeded");
  auto during = inspect(id);
  BOOST_TEST(during.state == "paid");
  BOOST_TEST(during.step_action == "test.credit");
  BOOST_TEST(during.step_attempt == 1);
  BOOST_TEST(during.step_in_flight);
  BOOST_TEST(during.timers.empty());
  BOOST_TEST(during.ms_in_state >= 0);
  BOOST_TEST(during.mailbox_size == 0u);
  // An order that does not exist is not found, not created.
  std::optional<souk::expected<sa::order_inspection>> none;
  engine->inspect(souk::new_uuid(),
                  [&](souk::expected<sa::order_inspection> x) { none = x; });
  run();
  BOOST_TEST((none && !*none && none->err().code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(a_step_of_a_service_not_installed_parks_the_order) {
  auto id = create("elsewhere");
  deliver(id, "payment.succeeded");
  auto s = rows(id);
  BOOST_TEST(s.order.state == "needs_attention");
  BOOST_TEST(s.order.last_error.find("no service 'other'")
             != std::string::npos);
  BOOST_TEST(s.outbox.empty()); // failed as "parked: ...", kept as evidence
}

BOOST_AUTO_TEST_CASE(orders_finish_on_the_template_version_they_pinned) {
  auto old_order = create();
  BOOST_REQUIRE(!flows->add(flow_v2, "shop.yaml"));
  auto new_order = create();
  BOOST_TEST(rows(old_order).order.flow_version == 1);
  BOOST_TEST(rows(new_order).order.flow_version == 2);
  deliver(old_order, "payment.succeeded");
  deliver(new_order, "payment.succeeded");
  BOOST_TEST(service->calls_of("test.ship") == 1u); // only v1 ships
  BOOST_TEST(rows(old_order).order.state == "delivered");
  BOOST_TEST(rows(new_order).order.state == "delivered");
  // A node that never loaded v1 still rebuilds the old order from the
  // template text the database kept.
  so::flow_library fresh{catalog, db};
  auto v1 = fresh.pinned(rows(old_order).order.flow_hash);
  BOOST_REQUIRE_MESSAGE(v1, (v1 ? "" : v1.err().detail));
  BOOST_TEST((*v1)->version == 1u);
  BOOST_TEST(((*v1)->find("paid")->steps.size() == 2u));
}

BOOST_AUTO_TEST_SUITE_END()
