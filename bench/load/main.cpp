// souk's load generator and chaos suite. See bench/README.md ("bench_load")
// and `bench_load --help`.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>
#include <sys/resource.h>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/core/units.hpp"
#include "souk/persistence/database.hpp"

#include "chaos.hpp"
#include "checks.hpp"
#include "cpu.hpp"
#include "http_client.hpp"
#include "replay.hpp"
#include "run.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace souk::load;

namespace {

constexpr const char* usage = R"(usage: bench_load [options]

Drives purchases end to end over real HTTP: checkout on soukd, Pay on the
standalone sandbox gateway's hosted page, the gateway's signed webhook,
delivery, fresh links and the download. Prints throughput, latencies,
errors, soukd's peak memory, the CPU time per order of each process (from
/proc) and, on PostgreSQL, commits per order and the database's own
single-insert ceiling (pgbench). Then checks that nothing
was lost or done twice. Exit 0 when every check passed.

  --database D          sqlite (default), postgresql (a private cluster with
                        durability on) or a postgresql:// URL of an empty
                        database
  --orders N            purchases in the peak phase (default 2000)
  --clients N           concurrent buyers in the peak phase (default 16)
  --creators N          creators, one product each (default 4)
  --half-orders N       purchases at half the peak rate (default orders/2)
  --warm-up N           purchases before the peak, not measured (default
                        orders/10; 0 under chaos); on PostgreSQL, ANALYZE
                        follows, as autovacuum would on a shop that has sold
  --no-latency-phase    skip the half-peak phase
  --long-poll           buyers follow their order by long poll (Prefer: wait)
                        instead of polling every 50 ms growing to 500 ms
  --pgbench-seconds N   length of each pgbench run (default 10; 0: none)
  --pool-size N         soukd's database connections (default 8)
  --chaos               faults at random moments (see below); implies
                        --no-latency-phase --pgbench-seconds 0 and, unless
                        given, --decline-percent 5 --abandon-percent 3
  --min-kills N         chaos: kill soukd at least N times, spread over the
                        run, and fail if it was SIGKILLed fewer times
  --chaos-interval A-B  chaos: gap between faults (default 1s-4s)
  --decline-percent P   buyers pressing Decline
  --abandon-percent P   buyers who never pay
  --seed N              random seed (default: from the clock; printed)
  --keep                keep the work directory (logs, database)
  --set KEY=VALUE       a setting for soukd (as soukd --set), e.g.
                        orders.inline_steps=false; may be repeated
  --help                this text

Chaos: soukd is killed with SIGKILL and started again; the sandbox is told
to duplicate, delay, drop and reorder webhooks and to fail verify calls;
PostgreSQL (a private cluster only) is restarted, fast or immediate.
)";

struct bad_usage {
  std::string message;
};

uint32_t number(const std::string& flag, const std::string& v, uint32_t max) {
  auto n = souk::parse_uint(v);
  if (!n || *n > max)
    throw bad_usage{fmt::format("{} must be a whole number up to {}, got '{}'",
                                flag, max, v)};
  return static_cast<uint32_t>(*n);
}

options parse(int argc, char** argv, bool& help) {
  options o;
  bool decline_set = false, abandon_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw bad_usage{a + " needs a value"};
      return argv[++i];
    };
    if (a == "--help" || a == "-h")
      help = true;
    else if (a == "--database") {
      o.database = value();
      if (o.database != "sqlite" && o.database != "postgresql"
          && !o.database.starts_with("postgresql://"))
        throw bad_usage{"--database must be sqlite, postgresql or a "
                        "postgresql:// URL, got '"
                        + o.database + "'"};
    } else if (a == "--orders")
      o.orders = number(a, value(), 10'000'000);
    else if (a == "--clients")
      o.clients = std::max(1u, number(a, value(), 1000));
    else if (a == "--creators")
      o.creators = std::max(1u, number(a, value(), 1000));
    else if (a == "--half-orders")
      o.half_orders = number(a, value(), 10'000'000);
    else if (a == "--warm-up")
      o.warm_up = number(a, value(), 10'000'000);
    else if (a == "--no-latency-phase")
      o.latency_phase = false;
    else if (a == "--long-poll")
      o.long_poll = true;
    else if (a == "--pgbench-seconds")
      o.pgbench_seconds = number(a, value(), 3600);
    else if (a == "--pool-size")
      o.pool_size = std::max(1u, number(a, value(), 200));
    else if (a == "--chaos")
      o.chaos = true;
    else if (a == "--min-kills")
      o.min_kills = number(a, value(), 1'000'000);
    else if (a == "--chaos-interval") {
      auto v = value();
      auto dash = v.find('-');
      auto lo = souk::parse_duration(v.substr(0, dash));
      auto hi = dash == std::string::npos
                  ? lo
                  : souk::parse_duration(v.substr(dash + 1));
      if (!lo || !hi || *hi < *lo || lo->count() < 1)
        throw bad_usage{"--chaos-interval must be like 1s-4s, got '" + v + "'"};
      o.chaos_min = *lo;
      o.chaos_max = *hi;
    } else if (a == "--decline-percent") {
      o.decline_percent = number(a, value(), 100);
      decline_set = true;
    } else if (a == "--abandon-percent") {
      o.abandon_percent = number(a, value(), 100);
      abandon_set = true;
    } else if (a == "--seed")
      o.seed = number(a, value(), UINT32_MAX);
    else if (a == "--keep")
      o.keep = true;
    else if (a == "--set") {
      auto kv = value();
      if (kv.find('=') == std::string::npos)
        throw bad_usage{"--set needs KEY=VALUE, got '" + kv + "'"};
      o.soukd_settings.push_back(std::move(kv));
    } else
      throw bad_usage{"unknown option '" + a + "' (see --help)"};
  }
  if (o.decline_percent + o.abandon_percent > 100)
    throw bad_usage{"--decline-percent and --abandon-percent add up to more "
                    "than 100"};
  if (o.chaos) {
    o.latency_phase = false;
    o.pgbench_seconds = 0;
    if (!decline_set)
      o.decline_percent = 5;
    if (!abandon_set)
      o.abandon_percent = 3;
  }
  if (o.half_orders == 0)
    o.half_orders = std::max(1u, o.orders / 2);
  if (o.warm_up < 0)
    o.warm_up = o.chaos ? 0 : o.orders / 10;
  if (o.seed == 0)
    o.seed = static_cast<uint64_t>(clock_type::now().time_since_epoch().count())
             % 1'000'000'007;
  o.soukd = SOUK_SOUKD;
  o.sandbox = SOUK_SANDBOX;
  o.soukctl = SOUK_SOUKCTL;
  o.cluster_script = SOUK_SOURCE_DIR "/scripts/pg-test-cluster";
  o.flow_template = SOUK_SOURCE_DIR "/templates/flows/digital_download.yaml";
  return o;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string spread(const std::vector<double>& v) {
  return fmt::format("p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms (n={})",
                     percentile(v, 0.50), percentile(v, 0.95),
                     percentile(v, 0.99), v.size());
}

// Commits in souk's database so far (PostgreSQL's own count; the figure
// lags by up to a second, so callers wait before reading it).
// Write transactions so far: PostgreSQL gives a transaction an id only when
// it writes (this query's own call takes one too).
long long write_transactions(souk::persistence::database& db) {
  long long n = -1;
  db.run([&](soci::session& sql) {
    sql << "SELECT CAST(txid_current() AS BIGINT)", soci::into(n);
  });
  return n;
}

// Bytes of write-ahead log written so far by the whole server.
long long wal_bytes(souk::persistence::database& db) {
  long long n = -1;
  db.run([&](soci::session& sql) {
    sql << "SELECT CAST(pg_current_wal_lsn() - '0/0' AS BIGINT)", soci::into(n);
  });
  return n;
}

long long commits(souk::persistence::database& db) {
  long long n = -1;
  db.run([&](soci::session& sql) {
    sql << "SELECT xact_commit FROM pg_stat_database WHERE datname = "
           "current_database()",
      soci::into(n);
  });
  return n;
}

// Webhook arrival (the first copy of charge.success in the inbox) to the
// order's move to delivered, from soukd's own timestamps, for `ids`.
std::vector<double> webhook_to_delivered(souk::persistence::database& db,
                                         const std::vector<std::string>& ids) {
  std::map<std::string, std::string> received, delivered, reference;
  db.run([&](soci::session& sql) {
    soci::rowset<soci::row> a
      = (sql.prepare << "SELECT reference, MIN(received_at) FROM inbox WHERE "
                        "event = 'charge.success' GROUP BY reference");
    for (auto& row : a)
      received[row.get<std::string>(0)] = row.get<std::string>(1);
    soci::rowset<soci::row> b
      = (sql.prepare << "SELECT order_id, MIN(created_at) FROM order_events "
                        "WHERE to_state = 'delivered' GROUP BY order_id");
    for (auto& row : b)
      delivered[row.get<std::string>(0)] = row.get<std::string>(1);
    soci::rowset<soci::row> c
      = (sql.prepare << "SELECT order_id, reference FROM payments");
    for (auto& row : c)
      reference[row.get<std::string>(0)] = row.get<std::string>(1);
  });
  std::vector<double> out;
  for (auto& id : ids) {
    auto r = received.find(reference[id]);
    auto d = delivered.find(id);
    if (r == received.end() || d == delivered.end())
      continue;
    auto from = souk::parse_iso(r->second);
    auto to = souk::parse_iso(d->second);
    if (from && to)
      out.push_back(
        std::chrono::duration<double, std::milli>(*to - *from).count());
  }
  return out;
}

struct phase_result {
  std::vector<order_record> records;
  double seconds = 0;   ///< first checkout to last completion
  size_t completed = 0; ///< delivered and downloaded
  double per_second() const { return seconds > 0 ? completed / seconds : 0; }
};

// `count` purchases, numbered from `first`: closed loop with `workers`
// buyers when `rate` is 0, else open loop, one started every 1/rate s.
// `begun`, if given, counts the purchases started.
phase_result run_phase(const shop& s, const options& o, uint32_t first,
                       uint32_t count, uint32_t workers, double rate,
                       const std::string& run_id, error_counts& errors,
                       std::atomic<uint32_t>* begun = nullptr) {
  phase_result out;
  out.records.resize(count);
  std::atomic<uint32_t> next{0};
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (uint32_t w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (uint32_t i; (i = next++) < count;) {
        if (rate > 0)
          std::this_thread::sleep_until(
            t0
            + std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(i / rate)));
        if (begun != nullptr)
          ++*begun;
        out.records[i] = buy(s, o, first + i, run_id, errors);
      }
    });
  for (auto& t : threads)
    t.join();
  auto last = t0;
  for (auto& r : out.records)
    if (r.downloaded) {
      ++out.completed;
      last = std::max(last, r.done);
    }
  out.seconds = std::chrono::duration<double>(last - t0).count();
  return out;
}

std::vector<double> checkout_ms(const phase_result& p) {
  std::vector<double> v;
  for (auto& r : p.records)
    if (r.checked_out)
      v.push_back(r.checkout_ms);
  return v;
}

std::vector<std::string> delivered_ids(const phase_result& p) {
  std::vector<std::string> v;
  for (auto& r : p.records)
    if (r.delivered)
      v.push_back(r.order_id);
  return v;
}

// pgbench with one INSERT per transaction against `url`, `clients` at once;
// transactions per second, or a negative number.
double pgbench(const std::string& url, const fs::path& dir, uint32_t clients,
               uint32_t seconds) {
  auto script = dir / "insert.sql";
  std::ofstream{script} << "INSERT INTO ceiling (payload) VALUES ('order');\n";
  auto out = run_command(fmt::format(
    "/usr/lib/postgresql/15/bin/pgbench -n -f '{}' -c {} -j {} -T {} '{}' 2>&1",
    script.string(), clients, std::min(clients, 2u), seconds, url));
  std::smatch m;
  if (std::regex_search(out, m, std::regex{R"(tps = ([0-9.]+) \(without)"}))
    return std::stod(m[1]);
  std::fprintf(stderr, "souk-load: pgbench failed:\n%s\n", out.c_str());
  return -1;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "bench_load: %s\n", what.c_str());
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  options o;
  try {
    bool help = false;
    o = parse(argc, argv, help);
    if (help) {
      std::fputs(usage, stdout);
      return 0;
    }
  } catch (const bad_usage& e) {
    std::fprintf(stderr, "bench_load: %s\n", e.message.c_str());
    return 2;
  }
  souk::log::setup(souk::log::level::warn, souk::log::format::text);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  char templ[] = "/tmp/souk-load-XXXXXX";
  if (!mkdtemp(templ))
    return fail("cannot create a work directory");
  fs::path work = templ;
  struct cleanup {
    fs::path dir;
    bool keep;
    ~cleanup() {
      if (keep)
        std::printf("work directory kept: %s\n", dir.c_str());
      else {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    }
  } remove_work{work, o.keep};

  // The database.
  std::unique_ptr<pg_cluster> cluster;
  std::string url, admin_url, described;
  if (o.database == "sqlite") {
    url = "sqlite://" + (work / "souk.db").string();
    described = "SQLite (WAL, a file on local disk)";
  } else {
    if (o.database == "postgresql") {
      cluster = std::make_unique<pg_cluster>(o.cluster_script);
      admin_url = cluster->start();
      if (admin_url.empty())
        return fail("no PostgreSQL");
      described = "PostgreSQL 15, a private cluster (fsync, "
                  "synchronous_commit and full_page_writes on)";
    } else {
      admin_url = o.database;
      described = "PostgreSQL at " + o.database;
    }
    souk::persistence::database::options a;
    a.url = admin_url;
    a.pool_size = 1;
    auto admin = souk::persistence::database::open(a);
    if (!admin)
      return fail(admin.err().detail);
    if (cluster) {
      auto st = (*admin)->run([](soci::session& sql) {
        sql << "CREATE DATABASE souk";
        sql << "CREATE DATABASE ceiling";
      });
      if (st)
        return fail(st.detail);
      url = with_database(admin_url, "souk");
    } else {
      url = admin_url;
    }
    (*admin)->shutdown();
  }

  // The flow: the shipped one; under chaos a copy whose unpaid orders give
  // up after 20 s, so that the run can drain.
  std::string flow = "digital_download";
  if (o.chaos) {
    std::ifstream in{o.flow_template};
    std::stringstream text;
    text << in.rdbuf();
    auto yaml = std::regex_replace(
      text.str(), std::regex{"flow: digital_download"}, "flow: load_download");
    yaml = std::regex_replace(yaml, std::regex{"after: 30m"}, "after: 20s");
    fs::create_directories(work / "flows");
    std::ofstream{work / "flows" / "load_download.yaml"} << yaml;
    flow = "load_download";
  }

  // The gateway, then soukd.
  std::string key = "sk_test_souk_load";
  auto soukd_port = free_port();
  auto sandbox_port = free_port();
  std::string sandbox_url = "http://127.0.0.1:" + std::to_string(sandbox_port);
  child sandbox{
    {o.sandbox, "--listen", "127.0.0.1:" + std::to_string(sandbox_port),
     "--secret-key", key, "--webhook-url",
     fmt::format("http://127.0.0.1:{}/api/v1/webhooks/paystack", soukd_port),
     "--no-access-log", "--log-level", "warn", "--retry-first", "300ms",
     "--retry-later", "1s", "--retry-for", "30m", "--keep-attempts",
     "100000000"},
    (work / "sandbox.log").string()};
  if (!sandbox.start()
      || !wait_ok(sandbox_url + "/_sandbox/behaviour", std::chrono::seconds{20},
                  {"Authorization: Bearer " + key}))
    return fail("the sandbox gateway did not start (" + sandbox.log_path()
                + ")");

  std::vector<std::string> soukd_args{
    o.soukd, "--listen", "127.0.0.1:" + std::to_string(soukd_port),
    "--data-dir", (work / "var").string(), "--database", url, "--log-level",
    "warn", "--set", "log.access_log=false", "--set",
    "payments.gateway=paystack", "--set",
    "payments.paystack.base_url=" + sandbox_url, "--set",
    "payments.paystack.secret_key=" + key, "--set",
    fmt::format("database.pool_size={}", o.pool_size),
    // Every buyer here shares one address; the per-address limit on
    // checkout is for abuse, not for this.
    "--set", "auth.rate_limit_per_minute=1000000", "--set",
    "auth.rate_limit_burst=100000"};
  if (o.chaos)
    for (std::string s : {"flows.directory=" + (work / "flows").string(),
                          std::string{"payments.reconcile_after=3s"},
                          std::string{"payments.reconcile_max_interval=5s"},
                          std::string{"payments.retry_initial=300ms"},
                          std::string{"payments.retry_max=3s"},
                          std::string{"orders.sweep_interval=2s"},
                          std::string{"email.retry_initial=1s"},
                          std::string{"email.poll=1s"}}) {
      soukd_args.push_back("--set");
      soukd_args.push_back(s);
    }
  for (auto& s : o.soukd_settings) {
    soukd_args.push_back("--set");
    soukd_args.push_back(s);
  }
  soukd_node soukd{soukd_args, (work / "soukd.log").string(), soukd_port};
  if (!soukd.start() || !soukd.wait_ready(std::chrono::seconds{60}))
    return fail("soukd did not become ready (" + soukd.log() + ")");

  souk::persistence::database::options dbo;
  dbo.url = url;
  dbo.pool_size = 2;
  auto opened = souk::persistence::database::open(dbo);
  if (!opened)
    return fail(opened.err().detail);
  auto db = *opened;

  // Creators (straight into the database: sign-up is rate-limited per
  // address and hashing passwords is not what is measured), then their
  // products through the API: create, upload, publish.
  shop s;
  s.soukd_url = soukd.url();
  s.sandbox_url = sandbox_url;
  {
    souk::accounts::service accounts{db, souk::accounts::policy{}};
    http_client client;
    std::string content(16 * 1024, 'x');
    for (uint32_t c = 0; c < o.creators; ++c) {
      auto email = fmt::format("creator{}@load.example", c);
      std::string password = "load test password";
      if (!accounts.sign_up(email, password, "creator"))
        return fail("cannot create " + email);
      auto login = accounts.log_in(email, password, "load", "load");
      if (!login)
        return fail("cannot sign in " + email);
      std::vector<std::string> auth{"Authorization: Bearer " + login->token,
                                    "Content-Type: application/json"};
      auto made = client.request(
        "POST", s.soukd_url + "/api/v1/products",
        json{{"title", fmt::format("Load test ebook {}", c)},
             {"price", {{"amount", 500000}, {"currency", "NGN"}}},
             {"flow", flow}}
          .dump(),
        auth);
      auto doc = json::parse(made.body, nullptr, false);
      if (made.status != 201 || doc.is_discarded())
        return fail("cannot create a product: " + made.body);
      product p{doc.value("id", ""), content.size()};
      auto up = client.request("PUT",
                               s.soukd_url + "/api/v1/products/" + p.id
                                 + "/files?name=book.pdf",
                               content, {auth[0]});
      auto pub = client.request(
        "POST", s.soukd_url + "/api/v1/products/" + p.id + "/publish", {},
        auth);
      if (up.status != 201 || pub.status != 200)
        return fail("cannot upload or publish: " + up.body + pub.body);
      s.products.push_back(p);
    }
  }

  bool pg = url.starts_with("postgresql");
  std::printf("bench_load: %s; %u creators; seed %llu\n", described.c_str(),
              o.creators, static_cast<unsigned long long>(o.seed));
  std::printf("machine: %u cores (%s); soukd pool_size %u, http threads 2\n",
              std::thread::hardware_concurrency(),
              run_command("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | "
                          "sed 's/^ *//' | tr -d '\\n'")
                .c_str(),
              o.pool_size);
  std::fflush(stdout);

  std::string run_id = souk::random_hex(6);
  error_counts errors;
  std::vector<order_record> all;

  // The warm-up, not measured: a shop that has sold before, whose tables
  // have rows and (PostgreSQL) statistics that say so, as autovacuum keeps
  // them. Measured from empty tables, the plans are made for tables of a
  // few rows and stay cached while they grow.
  auto warm = static_cast<uint32_t>(o.warm_up);
  if (warm > 0) {
    // Its errors apart: the figures printed below are the measured phases'.
    error_counts warm_errors;
    auto w = run_phase(s, o, 0, warm, o.clients, 0, run_id, warm_errors);
    all = std::move(w.records);
    if (pg) {
      auto st = db->run([](soci::session& sql) { sql << "ANALYZE"; });
      if (st)
        return fail("ANALYZE after the warm-up: " + st.detail);
    }
    uint64_t warm_failures = 0;
    for (auto& [kind, n] : warm_errors.snapshot())
      warm_failures += n;
    std::printf("warm-up: %u purchases, %zu completed, %llu error(s) (not "
                "measured)%s\n",
                warm, w.completed,
                static_cast<unsigned long long>(warm_failures),
                pg ? "; ANALYZE" : "");
    std::fflush(stdout);
  }

  // The peak phase (with the chaos monkey, if asked).
  std::unique_ptr<chaos_monkey> monkey;
  std::atomic<uint32_t> begun{0};
  if (o.chaos) {
    monkey = std::make_unique<chaos_monkey>(o, soukd, cluster.get(),
                                            sandbox_url, key);
    monkey->start(&begun, o.orders);
  }
  // Where the CPU goes: soukd, the gateway, PostgreSQL (our own cluster's
  // processes), the buyers (this program) and the machine as a whole.
  auto read_cpu = [&] {
    cpu_reading r;
    r.soukd = process_cpu_seconds(soukd.pid());
    r.sandbox = process_cpu_seconds(sandbox.pid());
    if (cluster)
      r.postgres = postgres_cpu_seconds(cluster->data_dir());
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    r.self
      = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec)
        + static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec)
            / 1e6;
    r.machine = machine_cpu_seconds();
    return r;
  };
  auto commits_before = pg ? commits(*db) : 0;
  auto writes_before = pg ? write_transactions(*db) : 0;
  auto wal_before = pg ? wal_bytes(*db) : 0;
  auto cpu_before = read_cpu();
  auto peak
    = run_phase(s, o, warm, o.orders, o.clients, 0, run_id, errors, &begun);
  if (monkey)
    monkey->stop();
  long long commits_peak = 0, writes_peak = 0, wal_peak = 0;
  if (pg) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    commits_peak = commits(*db) - commits_before;
    writes_peak = write_transactions(*db) - writes_before - 1;
    wal_peak = wal_bytes(*db) - wal_before;
  }
  auto cpu_after = read_cpu();
  std::printf("\npeak: %u purchases by %u buyers at once: %zu completed in "
              "%.1f s = %.1f completed orders/s\n",
              o.orders, o.clients, peak.completed, peak.seconds,
              peak.per_second());
  std::printf("  checkout latency:            %s\n",
              spread(checkout_ms(peak)).c_str());
  std::printf("  webhook-to-delivered latency: %s\n",
              spread(webhook_to_delivered(*db, delivered_ids(peak))).c_str());
  // Not under chaos: a crash restart of PostgreSQL resets its statistics.
  if (pg && peak.completed && !o.chaos)
    std::printf("  database commits per completed order: %.1f that wrote "
                "(transaction ids used), %.1f in all (pg_stat_database, "
                "reads included)\n",
                static_cast<double>(writes_peak) / peak.completed,
                static_cast<double>(commits_peak) / peak.completed);
  if (pg && peak.completed && !o.chaos)
    std::printf("  write-ahead log per completed order: %.1f KiB\n",
                static_cast<double>(wal_peak) / 1024.0 / peak.completed);
  // Not under chaos either: restarted processes take their counts along.
  if (!o.chaos)
    std::printf(
      "  CPU per completed order: %s\n",
      cpu_per_order(cpu_before, cpu_after, peak.completed, cluster != nullptr)
        .c_str());
  std::fflush(stdout);

  // Half of that rate, open loop: the latency a shop sees when not flat out.
  all.insert(all.end(), peak.records.begin(), peak.records.end());
  if (o.latency_phase && peak.per_second() > 0) {
    double rate = peak.per_second() / 2;
    auto half_before = read_cpu();
    auto half = run_phase(s, o, warm + o.orders, o.half_orders,
                          std::max(64u, o.clients * 4), rate, run_id, errors);
    auto half_after = read_cpu();
    std::printf("\nhalf peak: %u purchases offered at %.1f/s: %zu completed "
                "at %.1f orders/s\n",
                o.half_orders, rate, half.completed, half.per_second());
    std::printf("  checkout latency:            %s\n",
                spread(checkout_ms(half)).c_str());
    std::printf("  webhook-to-delivered latency: %s\n",
                spread(webhook_to_delivered(*db, delivered_ids(half))).c_str());
    if (!o.chaos)
      std::printf("  CPU per completed order: %s\n",
                  cpu_per_order(half_before, half_after, half.completed,
                                cluster != nullptr)
                    .c_str());
    all.insert(all.end(), half.records.begin(), half.records.end());
  }

  auto errs = errors.snapshot();
  std::printf("\nerrors (each retried or counted against the order):%s\n",
              errs.empty() ? " none" : "");
  for (auto& [kind, n] : errs)
    std::printf("  %8llu  %s\n", static_cast<unsigned long long>(n),
                kind.c_str());
  std::printf("soukd peak resident memory: %.1f MiB\n",
              soukd.peak_rss_kib() / 1024.0);
  if (monkey) {
    std::printf("faults:\n");
    for (auto& [kind, n] : monkey->done())
      std::printf("  %8llu  %s\n", static_cast<unsigned long long>(n),
                  kind.c_str());
  }
  std::fflush(stdout);

  // Drain, then the checks.
  bool ok = true;
  std::string left;
  if (!drain(*db, o, left)) {
    std::printf("\nFAIL: the load did not drain in %lld s: %s\n",
                static_cast<long long>(o.drain_limit.count() / 1000),
                left.c_str());
    ok = false;
  }
  // Buyers who gave up waiting come back for their files, as they would
  // from the receipt.
  size_t late = 0, late_ok = 0;
  for (auto& r : all) {
    if (r.plan != order_record::intent::pay || !r.paid || r.downloaded
        || r.order_id.empty())
      continue;
    std::string state;
    db->run([&](soci::session& sql) {
      sql << "SELECT state FROM orders WHERE id = :id", soci::use(r.order_id),
        soci::into(state);
    });
    if (state != "delivered")
      continue;
    ++late;
    if (download_late(s, o, r, errors))
      ++late_ok;
  }
  if (late)
    std::printf("\n%zu buyers who gave up waiting came back later: %zu got "
                "their files\n",
                late, late_ok);
  check_report report;
  try {
    report = check_all(*db, o, all, url, sandbox_url, key, 1);
  } catch (const std::exception& e) {
    report.failures.push_back(e.what());
  }
  std::printf("\nchecks:\n");
  for (auto& n : report.notes)
    std::printf("  %s\n", n.c_str());
  for (auto& f : report.failures)
    std::printf("  FAIL: %s\n", f.c_str());
  if (o.chaos && monkey->kills() < o.min_kills) {
    std::printf(
      "  FAIL: soukd was killed %llu times, fewer than --min-kills %u\n",
      static_cast<unsigned long long>(monkey->kills()), o.min_kills);
    ok = false;
  }
  ok = ok && report.failures.empty();

  // The database's own ceiling, with souk idle, on the same server.
  if (pg && cluster && o.pgbench_seconds > 0) {
    soukd.stop(false);
    auto ceiling_url = with_database(admin_url, "ceiling");
    souk::persistence::database::options c;
    c.url = ceiling_url;
    c.pool_size = 1;
    auto cdb = souk::persistence::database::open(c);
    if (cdb) {
      (*cdb)->run([](soci::session& sql) {
        sql << "CREATE TABLE ceiling (id BIGSERIAL PRIMARY KEY, payload TEXT "
               "NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())";
      });
      (*cdb)->shutdown();
    }
    auto one = pgbench(ceiling_url, work, 1, o.pgbench_seconds);
    auto pooled = pgbench(ceiling_url, work, o.pool_size, o.pgbench_seconds);
    std::printf("\ndatabase ceiling (pgbench, one INSERT per transaction, same "
                "server, durability on):\n");
    std::printf("  1 client: %.0f tps; %u clients (soukd's pool): %.0f tps\n",
                one, o.pool_size, pooled);
    if (pooled > 0)
      std::printf("  souk/database ratio: %.1f orders/s / %.0f tps = %.4f "
                  "(aim: at least 0.05); against 1 client: %.4f\n",
                  peak.per_second(), pooled, peak.per_second() / pooled,
                  one > 0 ? peak.per_second() / one : 0.0);

    // The order's own SQL with soukd stopped: what the database allows when
    // it runs nothing else, as soukd sends it and in the fewest commits.
    std::printf("\nthe order's SQL alone (pgbench replaying one order per "
                "run, soukd stopped, %u clients; bench/load/sql/):\n",
                o.pool_size);
    struct shape {
      const char* file;
      const char* what;
    };
    for (auto [file, what] :
         {shape{"order.sql", "as soukd runs it (8 writing commits, 4 polls)"},
          shape{"lean.sql", "in 5 commits, no reads, no outbox row for a step "
                            "that ends in its transaction"}}) {
      auto r = replay_order_sql(
        *db, url, fs::path{SOUK_SOURCE_DIR} / "bench" / "load" / "sql" / file,
        work, o.pool_size, o.pgbench_seconds);
      if (r.orders_per_second < 0) {
        std::printf("  FAIL: %s\n", r.error.c_str());
        ok = false;
        continue;
      }
      std::printf("  %s: %.1f orders/s = %.4f of the single-insert rate\n",
                  what, r.orders_per_second,
                  pooled > 0 ? r.orders_per_second / pooled : 0.0);
    }
  }

  std::printf("\n%s\n", ok ? "PASS: every check held"
                           : "FAIL: see above; logs in the work directory");
  if (!ok && !o.keep) {
    // Keep the evidence.
    remove_work.keep = true;
  }
  db->shutdown();
  soukd.stop(false);
  return ok ? 0 : 1;
}
