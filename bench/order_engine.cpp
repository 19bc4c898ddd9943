// The order engine's figures: transitions per second through real order
// actors on a real database, and memory per suspended order with many
// orders waiting for payment (passivated: no actor) versus held live.
//
// Usage: bench_order_engine [ORDERS] [SUSPENDED] [LIVE]
//   ORDERS     orders driven pending -> paid -> (2 steps) -> done (2000)
//   SUSPENDED  orders created and left waiting for payment (100000)
//   LIVE       of those, how many are then activated (10000)
// SQLite always (a temporary file); PostgreSQL too if
// SOUK_BENCH_DATABASE_URL is set (an empty database it may fill).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <string>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/actors/engine.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/actors/runtime.hpp"
#include "souk/actors/services.hpp"
#include "souk/actors/supervisor.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/orders/library.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"

#include "rss.hpp"

using namespace std::chrono_literals;
namespace sa = souk::actors;

namespace {

constexpr const char* flow = R"(flow: bench
version: 1
initial: pending
states:
  pending:
    timeout: { after: 30m, emit: payment.expired }
    on: { payment.succeeded: paid, payment.expired: failed }
  paid:
    steps: [ { call: bench.one }, { call: bench.two } ]
    on: { steps.done: done, steps.failed: failed }
  done: { terminal: true }
  failed: { terminal: true }
)";

double rss_mib() {
  return static_cast<double>(souk::bench::rss_kib(getpid())) / 1024.0;
}

caf::behavior instant_service(caf::event_based_actor*, int) {
  return {[](sa::run_atom, sa::action_call&) { return sa::action_result{}; }};
}

long long count(souk::persistence::database& db, const std::string& q) {
  long long n = 0;
  auto err = db.run([&](soci::session& sql) { sql << q, soci::into(n); });
  if (err)
    throw std::runtime_error(err.detail);
  return n;
}

template<class F>
double seconds(F f) {
  auto t = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

void run(const std::string& label, const std::string& url, int orders,
         int suspended, int live) {
  souk::persistence::database::options o;
  o.url = url;
  o.pool_size = 4;
  auto db = souk::persistence::database::open(o);
  if (!db)
    throw std::runtime_error(db.err().detail);
  auto migrated = souk::persistence::migrate(
    **db, souk::persistence::shipped_migrations((*db)->kind()));
  if (!migrated)
    throw std::runtime_error(migrated.err().detail);
  auto user = souk::new_uuid(), product = souk::new_uuid();
  auto email = user + "@example.com";
  if (auto err = (*db)->run([&](soci::session& sql) {
        sql << "INSERT INTO users (id, email, password_hash, role, "
               "created_at, updated_at) VALUES (:i, :e, 'x', 'creator', "
               "'2030-01-01', '2030-01-01')",
          soci::use(user), soci::use(email);
        sql << "INSERT INTO products (id, creator_id, title, description, "
               "price_amount, currency, flow, status, version, created_at, "
               "updated_at) VALUES (:i, :c, 'B', '', 5000, 'NGN', 'bench', "
               "'published', 1, '2030-01-01', '2030-01-01')",
          soci::use(product), soci::use(user);
      }))
    throw std::runtime_error(err.detail);

  souk::flows::action_catalog catalog;
  catalog.add("bench.one");
  catalog.add("bench.two");
  auto flows = std::make_shared<souk::orders::flow_library>(catalog, *db);
  if (auto err = flows->add(flow, "bench.yaml"))
    throw std::runtime_error(err.detail);
  auto dir = std::make_shared<sa::service_directory>();
  sa::engine_options eo;
  eo.node_id = "bench";
  eo.services = {"bench"};
  eo.idle_timeout = 10min; // the memory phase measures live actors
  eo.sweep_interval = 10min;
  sa::runtime rt{{}};
  sa::order_engine engine{rt.system(), *db, flows, dir, eo};
  auto children = engine.children();
  children.push_back(sa::child_spec{"bench", [dir](caf::actor_system& sys) {
                                      auto h = sys.spawn(instant_service, 0);
                                      dir->put("bench", h);
                                      return h;
                                    }});
  rt.adopt(sa::spawn_supervisor(rt.system(), {}, std::move(children),
                                std::make_shared<sa::supervision_board>()));

  souk::persistence::order_row base;
  base.product_id = product;
  base.buyer_email = "buyer@example.com";
  base.amount = 5000;
  base.currency = "NGN";

  // -- throughput
  std::vector<std::string> ids;
  auto created = seconds([&] {
    for (int i = 0; i < orders; ++i) {
      auto x = engine.create(base, "bench");
      if (!x)
        throw std::runtime_error(x.err().detail);
      ids.push_back(x->id);
    }
  });
  std::atomic<int> answered{0}, failed{0};
  auto driven = seconds([&] {
    for (auto& id : ids)
      engine.deliver(id, {"payment.succeeded", "bench", "", {}},
                     [&](souk::expected<souk::orders::outcome> r) {
                       ++answered;
                       if (!r)
                         ++failed;
                     });
    while (count(**db, "SELECT COUNT(*) FROM orders WHERE state = 'done'")
           < orders)
      std::this_thread::sleep_for(5ms);
  });
  // Per order: the event into paid, one step.succeeded, steps.done.
  auto transitions = 3.0 * orders;
  fmt::print("{:<10} create {:>6} orders: {:>7.0f} orders/s\n", label, orders,
             orders / created);
  fmt::print("{:<10} drive  {:>6} orders to done: {:>7.0f} transitions/s "
             "({:.2f} s, {} errors)\n",
             label, orders, transitions / driven, driven, failed.load());

  // -- memory of suspended orders
  malloc_trim(0);
  auto before = rss_mib();
  auto create_time = seconds([&] {
    for (int i = 0; i < suspended; ++i)
      if (!engine.create(base, "bench"))
        throw std::runtime_error("create failed");
  });
  malloc_trim(0);
  auto after = rss_mib();
  auto live_now = engine.live_wait();
  fmt::print("{:<10} {} orders waiting for payment (created at {:.0f}/s): "
             "{} live actors, RSS {:.1f} -> {:.1f} MiB = {:.0f} bytes per "
             "suspended order\n",
             label, suspended, suspended / create_time,
             live_now ? live_now->size() : 0, before, after,
             (after - before) * 1024 * 1024 / suspended);

  // -- the same orders held live
  auto waiting = std::vector<std::string>{};
  if (auto err = (*db)->run([&](soci::session& sql) {
        soci::rowset<std::string> rows
          = (sql.prepare << "SELECT id FROM orders WHERE state = 'pending' "
                            "LIMIT :n",
             soci::use(live));
        for (auto& r : rows)
          waiting.push_back(r);
      }))
    throw std::runtime_error(err.detail);
  std::atomic<int> inspected{0};
  auto activate = seconds([&] {
    for (auto& id : waiting)
      engine.inspect(
        id, [&](souk::expected<sa::order_inspection>) { ++inspected; });
    while (inspected < static_cast<int>(waiting.size()))
      std::this_thread::sleep_for(5ms);
  });
  auto held = rss_mib();
  auto live_after = engine.live_wait();
  fmt::print("{:<10} {} of them activated in {:.2f} s: {} live actors, RSS "
             "+{:.1f} MiB = {:.0f} bytes per live order actor\n",
             label, waiting.size(), activate,
             live_after ? live_after->size() : 0, held - after,
             (held - after) * 1024 * 1024
               / std::max<size_t>(waiting.size(), 1));
  rt.shutdown();
  (*db)->shutdown();
}

} // namespace

int main(int argc, char** argv) {
  int orders = argc > 1 ? std::atoi(argv[1]) : 2000;
  int suspended = argc > 2 ? std::atoi(argv[2]) : 100000;
  int live = argc > 3 ? std::atoi(argv[3]) : 10000;
  souk::log::setup(souk::log::level::warn, souk::log::format::text);
  auto tmp = std::filesystem::temp_directory_path()
             / ("souk-bench-" + souk::random_hex(6));
  std::filesystem::create_directories(tmp);
  try {
    run("sqlite", "sqlite://" + (tmp / "bench.db").string(), orders, suspended,
        live);
    if (auto* pg = std::getenv("SOUK_BENCH_DATABASE_URL"))
      run("postgresql", pg, orders, suspended, live);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_order_engine: %s\n", e.what());
    std::filesystem::remove_all(tmp);
    return 1;
  }
  std::filesystem::remove_all(tmp);
  return 0;
}
