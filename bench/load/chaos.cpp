#include "chaos.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace souk::load {

chaos_monkey::chaos_monkey(const options& o, soukd_node& soukd,
                           pg_cluster* cluster, std::string sandbox_url,
                           std::string sandbox_key)
  : o_(o), soukd_(soukd), cluster_(cluster),
    sandbox_url_(std::move(sandbox_url)), sandbox_key_(std::move(sandbox_key)),
    rng_(o.seed ^ 0xc4a05ull) {}

chaos_monkey::~chaos_monkey() {
  stop();
}

void chaos_monkey::start(const std::atomic<uint32_t>* begun, uint32_t total) {
  begun_ = begun;
  total_ = total;
  running_ = true;
  thread_ = std::thread{[this] { loop(); }};
}

void chaos_monkey::stop() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard g{wake_mtx_};
    running_ = false;
  }
  wake_.notify_all();
  thread_.join();
  sandbox_behaviour("{}");
}

std::map<std::string, uint64_t> chaos_monkey::done() const {
  std::lock_guard g{mtx_};
  return done_;
}

uint64_t chaos_monkey::kills() const {
  std::lock_guard g{mtx_};
  auto it = done_.find("soukd killed (SIGKILL) and restarted");
  return it == done_.end() ? 0 : it->second;
}

void chaos_monkey::note(const std::string& what) {
  std::lock_guard g{mtx_};
  ++done_[what];
}

void chaos_monkey::sandbox_behaviour(const std::string& body) {
  http_client client;
  auto r = client.request("PUT", sandbox_url_ + "/_sandbox/behaviour", body,
                          {"Authorization: Bearer " + sandbox_key_,
                           "Content-Type: application/json"});
  if (r.status != 200)
    std::fprintf(stderr,
                 "souk-load: the sandbox refused behaviour %s: %ld %s\n",
                 body.c_str(), r.status, r.body.c_str());
}

bool chaos_monkey::kill_due() const {
  if (o_.min_kills == 0 || begun_ == nullptr || total_ == 0)
    return false;
  auto k = kills();
  if (k >= o_.min_kills)
    return false;
  return static_cast<double>(begun_->load()) / total_
         >= static_cast<double>(k + 1) / (o_.min_kills + 1);
}

void chaos_monkey::kill_soukd() {
  // Killed at any moment: mid-request, mid-transaction, mid-start-up.
  soukd_.stop(true);
  std::this_thread::sleep_for(std::chrono::milliseconds{
    std::uniform_int_distribution<int64_t>{0, 500}(rng_)});
  soukd_.start();
  note("soukd killed (SIGKILL) and restarted");
}

void chaos_monkey::loop() {
  auto pick = [this](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>{lo, hi}(rng_);
  };
  auto next_fault = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{
                      pick(o_.chaos_min.count(), o_.chaos_max.count())};
  while (true) {
    {
      // Wake at the next fault, or sooner to see whether a kill is due.
      std::unique_lock lock{wake_mtx_};
      auto until = std::min(next_fault, std::chrono::steady_clock::now()
                                          + std::chrono::milliseconds{100});
      if (wake_.wait_until(lock, until, [this] { return !running_; }))
        return;
    }
    if (kill_due()) {
      kill_soukd();
      continue;
    }
    if (std::chrono::steady_clock::now() < next_fault)
      continue;
    next_fault = std::chrono::steady_clock::now()
                 + std::chrono::milliseconds{
                   pick(o_.chaos_min.count(), o_.chaos_max.count())};
    auto roll = pick(0, 99);
    if (roll < 45) {
      kill_soukd();
    } else if (roll < 85 || !cluster_) {
      // The gateway misbehaves until the next change.
      nlohmann::json b = nlohmann::json::object();
      std::string what;
      switch (pick(0, 5)) {
      case 0:
        b["copies"] = pick(2, 3);
        what = "sandbox: duplicate webhooks";
        break;
      case 1:
        b["delay_ms"] = pick(100, 1500);
        what = "sandbox: delay webhooks";
        break;
      case 2:
        b["drop"] = true;
        what = "sandbox: drop webhooks";
        break;
      case 3:
        b["reorder"] = true;
        b["reorder_window_ms"] = pick(50, 500);
        what = "sandbox: reorder webhooks";
        break;
      case 4:
        b["verify_errors"] = pick(1, 3);
        what = "sandbox: fail verify calls";
        break;
      default:
        what = "sandbox: behave";
        break;
      }
      sandbox_behaviour(b.dump());
      note(what);
    } else {
      auto mode = pick(0, 1) ? "fast" : "immediate";
      if (cluster_->restart(mode))
        note(fmt::format("PostgreSQL restarted ({})", mode));
      else
        note("PostgreSQL restart failed");
    }
  }
}

} // namespace souk::load
