#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "souk/sandbox/gateway.hpp"

#include "scheduler.hpp"

namespace souk::sandbox {

/// Delivers signed events to the webhook URL on its own two threads, with
/// Paystack's retry schedule (compressed) and the misbehaviour asked for.
/// Thread-safe; `send` never blocks on the network, so HTTP handlers may
/// call it.
class webhook_sender {
public:
  struct settings {
    std::string secret_key;
    std::string url;
    std::chrono::milliseconds retry_first;
    std::chrono::milliseconds retry_later;
    std::chrono::milliseconds retry_for;
    std::chrono::milliseconds timeout;
    size_t attempts_kept;
  };

  explicit webhook_sender(settings s);
  ~webhook_sender(); ///< calls `stop`

  void set_url(std::string url);

  /// Serialises `{"event": event, "data": data}` once and queues
  /// `how.copies` deliveries of those exact bytes. `reference` only labels
  /// the attempts.
  void send(const std::string& event, const std::string& reference,
            const nlohmann::json& data, const behaviour& how);

  /// Adds this sender's figures to `out`.
  void add_stats(gateway::counters& out) const;

  std::vector<gateway::attempt> attempts() const;

  /// See `gateway::stop`.
  void stop();

private:
  /// One copy of one event, through its retries.
  struct delivery {
    std::string event;
    std::string reference;
    std::string body;
    std::string signature;
    uint32_t copy = 0;
    uint32_t attempts = 0;
    scheduler::clock::time_point first_attempt;
  };
  using delivery_ptr = std::shared_ptr<delivery>;

  /// Makes one attempt now (blocking) and schedules the next on failure.
  void attempt(const delivery_ptr& d);

  /// Sends what `reorder` held back, newest first, one after the other.
  void release_held();

  settings settings_;
  mutable std::mutex mtx_;
  std::vector<delivery_ptr> held_;
  std::deque<gateway::attempt> log_;
  uint64_t attempts_ = 0;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  uint64_t given_up_ = 0;
  scheduler threads_{2}; // last: stopped before the members it uses go
};

} // namespace souk::sandbox
