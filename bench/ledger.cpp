// The ledger's own ceiling for sales: concurrent threads post sale
// postings (the gateway pays a creator's `pending` the net and the
// platform's `fees` the fee, as `wallet.credit_sale` does) through
// `ledger_repository::post`, and the program prints postings per second per
// number of threads, then proves the ledger (`check`).
//
// Every sale touches the platform's two accounts. Kept on one row each,
// concurrent sales queue on those rows, each waiting for the one before to
// be durable; kept in stripes (migration 0017), they do not.
//
// Usage: bench_ledger [SECONDS] [THREADS...]   (default: 8 s; 1 8 32)
// On a private durable PostgreSQL cluster (scripts/pg-test-cluster), or on
// the database SOUK_BENCH_DATABASE_URL names (an empty one it may fill).

#include "souk/persistence/ledger.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"

#include "load/processes.hpp"

namespace sp = souk::persistence;

int main(int argc, char** argv) {
  souk::log::setup(souk::log::level::warn, souk::log::format::text);
  int seconds = argc > 1 ? std::atoi(argv[1]) : 8;
  std::vector<int> threads;
  for (int i = 2; i < argc; ++i)
    threads.push_back(std::atoi(argv[i]));
  if (threads.empty())
    threads = {1, 8, 32};
  if (seconds <= 0) {
    std::fprintf(stderr, "usage: bench_ledger [SECONDS] [THREADS...]\n");
    return 2;
  }

  std::unique_ptr<souk::load::pg_cluster> cluster;
  std::string url;
  if (auto* given = std::getenv("SOUK_BENCH_DATABASE_URL"); given && *given) {
    url = given;
  } else {
    cluster = std::make_unique<souk::load::pg_cluster>(
      std::string{SOUK_SOURCE_DIR} + "/scripts/pg-test-cluster");
    url = cluster->start();
    if (url.empty())
      return 1;
  }
  sp::database::options o;
  o.url = url;
  o.pool_size = 32;
  auto opened = sp::database::open(o);
  if (!opened) {
    std::fprintf(stderr, "bench_ledger: %s\n", opened.err().detail.c_str());
    return 1;
  }
  auto db = *opened;
  if (auto m = sp::migrate(*db, sp::shipped_migrations(db->kind())); !m) {
    std::fprintf(stderr, "bench_ledger: %s\n", m.err().detail.c_str());
    return 1;
  }
  sp::ledger_repository ledger{*db};
  const auto gateway = sp::platform_account("NGN", "gateway");
  const auto fees = sp::platform_account("NGN", "fees");
  std::vector<std::string> creators;
  for (int i = 0; i < 64; ++i)
    creators.push_back(sp::creator_account(souk::new_uuid(), "NGN", "pending"));

  std::printf("bench_ledger: sale postings through ledger_repository::post "
              "on %s; %d s per round; 64 creators\n",
              cluster ? "a private PostgreSQL 15 cluster (durability on)"
                      : "SOUK_BENCH_DATABASE_URL",
              seconds);
  std::atomic<uint64_t> serial{0};
  for (int n : threads) {
    std::atomic<uint64_t> done{0}, failed{0};
    std::atomic<bool> stop{false};
    std::mutex first_failure_mx;
    std::string first_failure;
    std::vector<std::thread> workers;
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < n; ++t)
      workers.emplace_back([&] {
        while (!stop.load()) {
          auto i = serial.fetch_add(1);
          auto& creator = creators[i % creators.size()];
          auto key = fmt::format("sale:bench-{}", i);
          sp::posting p{key,
                        "NGN",
                        "sale",
                        key,
                        "bench sale",
                        {{gateway, creator, 465'000}, {gateway, fees, 35'000}},
                        {}};
          if (auto r = ledger.post(p)) {
            ++done;
          } else if (failed++ == 0) {
            std::lock_guard lock{first_failure_mx};
            first_failure = r.err().detail;
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::seconds{seconds});
    stop = true;
    for (auto& w : workers)
      w.join();
    double elapsed
      = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
    std::printf("  %2d thread(s): %8.0f sale postings/s (%llu, %llu failed)\n",
                n, static_cast<double>(done.load()) / elapsed,
                static_cast<unsigned long long>(done.load()),
                static_cast<unsigned long long>(failed.load()));
    if (!first_failure.empty())
      std::printf("      the first failure: %s\n", first_failure.c_str());
    std::fflush(stdout);
  }
  auto report = ledger.check();
  if (!report) {
    std::printf("ledger check failed: %s\n", report.err().detail.c_str());
    return 1;
  }
  std::printf("ledger check: %zu accounts, %zu entries, %zu problem(s)\n",
              report->accounts, report->entries, report->problems.size());
  for (auto& p : report->problems)
    std::printf("  %s\n", p.c_str());
  db->shutdown();
  return report->problems.empty() ? 0 : 1;
}
