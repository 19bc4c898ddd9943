// A soukd node with a test service, for crash tests: `soukd` itself runs no
// step it does not have a real service for, so this program adds one. It
// embeds the same node (database, actors, HTTP) and adds:
//
// * the action `test.record {tag}`, run by the service `test`, which fails
//   every first attempt (so durable retry timers are needed) and otherwise
//   appends the step's idempotency key to DATA_DIR/effects.log unless the
//   key is already there: an idempotent side effect whose count the test
//   can check after SIGKILLs;
// * the flow `crashy` (written to DATA_DIR/flows): wait 2s (a durable state
//   timeout), then two such steps.
//
// Usage: flow_node --data-dir DIR [--database URL] [--create N]

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/spawn_options.hpp>
#include <soci/soci.h>

#include "souk/actors/engine.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/core/ids.hpp"
#include "souk/persistence/database.hpp"

#include "node.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* crashy = R"(flow: crashy
version: 1
initial: waiting
states:
  waiting:
    timeout: { after: 2s, emit: wait.over }
    on: { wait.over: working }
  working:
    steps:
      - call: test.record
        with: { tag: a }
        retry: { initial: 1s, max_attempts: 6 }
      - call: test.record
        with: { tag: b }
        retry: { initial: 1s, max_attempts: 6 }
    on: { steps.done: done, steps.failed: failed }
  done: { terminal: true }
  failed: { terminal: true }
)";

bool recorded(const std::string& path, const std::string& key) {
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line))
    if (line == key)
      return true;
  return false;
}

// Runs detached: it blocks on the file and sleeps to make steps take time,
// so a SIGKILL lands in the middle of some.
caf::behavior recorder(caf::event_based_actor*, std::string path) {
  return {
    [path](souk::actors::run_atom, souk::actors::action_call& c) {
      std::this_thread::sleep_for(30ms);
      if (c.attempt == 1)
        return souk::actors::action_result{souk::errc::unavailable,
                                           "first attempts fail"};
      if (!recorded(path, c.idempotency_key)) {
        auto line = c.idempotency_key + "\n";
        int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0 || ::write(fd, line.data(), line.size()) < 0
            || ::fsync(fd) != 0) {
          if (fd >= 0)
            ::close(fd);
          return souk::actors::action_result{souk::errc::unavailable,
                                             std::strerror(errno)};
        }
        ::close(fd);
      }
      return souk::actors::action_result{};
    },
  };
}

int fail(const std::string& what) {
  std::cerr << "flow_node: " << what << "\n";
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  std::string data_dir, database;
  int create = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--data-dir")
      data_dir = v;
    else if (k == "--database")
      database = v;
    else if (k == "--create")
      create = std::stoi(v);
    else
      return fail("unknown argument " + k);
  }
  if (data_dir.empty())
    return fail("--data-dir is required");

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  fs::create_directories(fs::path{data_dir} / "flows");
  std::ofstream{fs::path{data_dir} / "flows" / "crashy.yaml"} << crashy;
  auto effects = (fs::path{data_dir} / "effects.log").string();

  souk::config::settings cfg;
  cfg.data_dir = data_dir;
  cfg.listen = "127.0.0.1:0";
  cfg.database.url = database;
  cfg.log.access_log = false;
  cfg.flows.directory = (fs::path{data_dir} / "flows").string();
  cfg.orders.timer_poll = 200ms;
  cfg.orders.timer_lease = 2s;
  cfg.orders.sweep_interval = 1s;
  cfg.orders.step_timeout = 2s;
  cfg.orders.restart_initial = 100ms;

  souk::node_extensions ext;
  ext.actions["test.record"] = {"tag"};
  ext.services.emplace_back("test", [effects](caf::actor_system& sys) {
    return sys.spawn<caf::detached>(recorder, effects);
  });
  souk::node n{cfg, ext};
  if (auto err = n.start())
    return fail(err.detail);

  if (create > 0) {
    souk::persistence::database::options o;
    o.url = cfg.effective_database_url();
    auto db = souk::persistence::database::open(o);
    if (!db)
      return fail(db.err().detail);
    auto user = souk::new_uuid(), product = souk::new_uuid();
    auto email = user + "@example.com";
    auto st = (*db)->run([&](soci::session& sql) {
      sql << "INSERT INTO users (id, email, password_hash, role, created_at, "
             "updated_at) VALUES (:id, :e, 'x', 'creator', '2030-01-01', "
             "'2030-01-01')",
        soci::use(user), soci::use(email);
      sql << "INSERT INTO products (id, creator_id, title, description, "
             "price_amount, currency, flow, status, version, created_at, "
             "updated_at) VALUES (:id, :c, 'Crash', '', 5000, 'NGN', "
             "'crashy', 'published', 1, '2030-01-01', '2030-01-01')",
        soci::use(product), soci::use(user);
    });
    if (st)
      return fail(st.detail);
    for (int i = 0; i < create; ++i) {
      souk::persistence::order_row base;
      base.product_id = product;
      base.buyer_email = "buyer@example.com";
      base.amount = 5000;
      base.currency = "NGN";
      auto o2 = n.engine().create(base, "crashy");
      if (!o2)
        return fail(o2.err().detail);
    }
    (*db)->shutdown();
    std::cout << "created " << create << std::endl;
  }
  std::cout << "flow_node ready" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  n.stop();
  return 0;
}
