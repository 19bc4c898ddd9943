// The engine's plumbing: construction, authentication, the control API and
// the figures. Charges are in charges.cpp, payouts in payouts.cpp.

#include "engine.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "souk/core/hash.hpp"

#include "fields.hpp"

namespace souk::sandbox {

namespace {

// Paystack ids are well past 2^32 by now; starting there catches a client
// that squeezes them into 32 bits.
constexpr uint64_t first_id = 5'000'000'001;

constexpr int64_t max_delay_ms = 3'600'000;
constexpr int64_t max_window_ms = 60'000;
constexpr int64_t max_copies = 100;
constexpr int64_t max_verify_errors = 1'000;

behaviour sane(behaviour b) {
  b.copies = std::clamp<uint32_t>(b.copies, 1, max_copies);
  b.amount_delta = std::clamp(b.amount_delta, -max_amount, max_amount);
  if (b.delay.count() < 0)
    b.delay = {};
  if (b.reorder_window.count() < 0)
    b.reorder_window = {};
  return b;
}

} // namespace

answer refusal(unsigned http_status, std::string message) {
  return {http_status, {{"status", false}, {"message", std::move(message)}}};
}

answer success(unsigned http_status, std::string message, json data) {
  return {http_status,
          {{"status", true},
           {"message", std::move(message)},
           {"data", std::move(data)}}};
}

engine::engine(options o)
  : opts_(std::move(o)), balance_(opts_.balance), next_id_(first_id),
    webhooks_({opts_.secret_key, opts_.webhook_url, opts_.retry_first,
               opts_.retry_later, opts_.retry_for, opts_.webhook_timeout,
               opts_.attempts_kept}) {
  opts_.misbehave = sane(opts_.misbehave);
}

engine::~engine() {
  stop();
}

bool engine::authorized(std::optional<std::string_view> authorization) const {
  if (!authorization)
    return false;
  std::string_view value = *authorization;
  constexpr std::string_view scheme = "Bearer ";
  if (value.substr(0, scheme.size()) != scheme)
    return false;
  value.remove_prefix(scheme.size());
  // The key is fixed at construction: no lock needed to read it.
  return constant_time_equal(value, opts_.secret_key);
}

void engine::set_behaviour(behaviour b) {
  std::lock_guard guard{mtx_};
  opts_.misbehave = sane(b);
}

behaviour engine::current_behaviour() const {
  std::lock_guard guard{mtx_};
  return opts_.misbehave;
}

void engine::set_webhook_url(std::string url) {
  webhooks_.set_url(std::move(url));
}

void engine::set_public_url(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  std::lock_guard guard{mtx_};
  opts_.public_url = std::move(url);
}

status engine::set_transfer_outcome(std::string outcome) {
  if (outcome != "success" && outcome != "failed" && outcome != "reversed")
    return error{errc::invalid_field,
                 "the transfer outcome must be success, failed or reversed",
                 "status"};
  std::lock_guard guard{mtx_};
  transfer_outcome_ = std::move(outcome);
  return {};
}

gateway::counters engine::stats() const {
  gateway::counters out;
  {
    std::lock_guard guard{mtx_};
    out = calls_;
  }
  webhooks_.add_stats(out);
  return out;
}

uint64_t engine::verify_calls(const std::string& reference) const {
  std::lock_guard guard{mtx_};
  auto it = transactions_.find(reference);
  return it == transactions_.end() ? 0 : it->second.verify_calls;
}

std::vector<gateway::attempt> engine::attempts() const {
  return webhooks_.attempts();
}

void engine::stop() {
  // Timers first: a finishing refund or transfer hands a webhook over.
  timers_.stop();
  webhooks_.stop();
}

// -- control API --------------------------------------------------------------

answer engine::behaviour_json() const {
  auto b = current_behaviour();
  return success(200, "Behaviour retrieved",
                 {{"copies", b.copies},
                  {"delay_ms", b.delay.count()},
                  {"drop", b.drop},
                  {"reorder", b.reorder},
                  {"reorder_window_ms", b.reorder_window.count()},
                  {"verify_errors", b.verify_errors},
                  {"amount_delta", b.amount_delta}});
}

answer engine::put_behaviour(const json& body) {
  for (auto& [key, value] : body.items()) {
    static const std::vector<std::string> known{
      "copies",        "delay_ms",    "drop", "reorder", "reorder_window_ms",
      "verify_errors", "amount_delta"};
    if (std::find(known.begin(), known.end(), key) == known.end())
      return refusal(400, fmt::format("unknown field '{}'", key));
  }
  // PUT replaces: a field left out takes its default, so the result never
  // depends on what an earlier test left behind.
  behaviour b;
  auto integer = [&](const std::string& name, int64_t min, int64_t max,
                     auto assign) -> status {
    auto it = body.find(name);
    if (it == body.end() || it->is_null())
      return {};
    auto out_of_range = error{
      errc::invalid_field,
      fmt::format("{} must be an integer from {} to {}", name, min, max), name};
    if (!it->is_number_integer())
      return out_of_range;
    if (it->is_number_unsigned()
        && it->get<uint64_t>() > static_cast<uint64_t>(max))
      return out_of_range;
    auto value = it->get<int64_t>();
    if (value < min || value > max)
      return out_of_range;
    assign(value);
    return {};
  };
  auto boolean = [&](const std::string& name, bool& out) -> status {
    auto it = body.find(name);
    if (it == body.end() || it->is_null())
      return {};
    if (!it->is_boolean())
      return error{errc::invalid_field,
                   fmt::format("{} must be true or false", name), name};
    out = it->get<bool>();
    return {};
  };
  using ms = std::chrono::milliseconds;
  status problems[] = {
    integer("copies", 1, max_copies,
            [&](int64_t v) { b.copies = static_cast<uint32_t>(v); }),
    integer("delay_ms", 0, max_delay_ms, [&](int64_t v) { b.delay = ms{v}; }),
    integer("reorder_window_ms", 0, max_window_ms,
            [&](int64_t v) { b.reorder_window = ms{v}; }),
    integer("verify_errors", 0, max_verify_errors,
            [&](int64_t v) { b.verify_errors = static_cast<uint32_t>(v); }),
    integer("amount_delta", -max_amount, max_amount,
            [&](int64_t v) { b.amount_delta = v; }),
    boolean("drop", b.drop),
    boolean("reorder", b.reorder),
  };
  for (auto& p : problems)
    if (p)
      return refusal(400, p.detail);
  set_behaviour(b);
  auto out = behaviour_json();
  out.body["message"] = "Behaviour updated";
  return out;
}

answer engine::put_transfer_outcome(const json& body) {
  for (auto& [key, value] : body.items())
    if (key != "status")
      return refusal(400, fmt::format("unknown field '{}'", key));
  auto outcome = required_text(body, "status", 20);
  if (!outcome)
    return refusal(400, outcome.err().detail);
  if (auto err = set_transfer_outcome(*outcome))
    return refusal(400, err.detail);
  return success(200, "Transfer outcome updated", {{"status", *outcome}});
}

answer engine::stats_json() const {
  auto c = stats();
  auto attempts = json::array();
  for (auto& a : webhooks_.attempts())
    attempts.push_back({{"event", a.event},
                        {"reference", a.reference},
                        {"copy", a.copy},
                        {"number", a.number},
                        {"status", a.status},
                        {"at", a.at}});
  std::string outcome;
  {
    std::lock_guard guard{mtx_};
    outcome = transfer_outcome_;
  }
  return success(200, "Stats retrieved",
                 {{"verify_calls", c.verify_calls},
                  {"verify_errors", c.verify_errors},
                  {"webhook_attempts", c.webhook_attempts},
                  {"webhooks_delivered", c.webhooks_delivered},
                  {"webhooks_dropped", c.webhooks_dropped},
                  {"webhooks_given_up", c.webhooks_given_up},
                  {"initialize_calls", c.initialize_calls},
                  {"refund_calls", c.refund_calls},
                  {"refund_list_calls", c.refund_list_calls},
                  {"transfer_calls", c.transfer_calls},
                  {"transfer_outcome", outcome},
                  {"attempts", std::move(attempts)}});
}

} // namespace souk::sandbox
