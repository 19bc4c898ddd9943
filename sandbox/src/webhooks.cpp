// Webhook delivery. Each event is serialised and signed once; every copy and
// every retry sends those exact bytes, as Paystack does, so a receiver that
// verifies the raw body and deduplicates by content sees true duplicates.

#include "webhooks.hpp"

#include <algorithm>

#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/payments/http_client.hpp"

namespace souk::sandbox {

namespace {

// Paystack retries the first few attempts quickly, then slowly.
constexpr uint32_t quick_retries = 4;

} // namespace

webhook_sender::webhook_sender(settings s) : settings_(std::move(s)) {}

webhook_sender::~webhook_sender() {
  stop();
}

void webhook_sender::set_url(std::string url) {
  std::lock_guard guard{mtx_};
  settings_.url = std::move(url);
}

void webhook_sender::send(const std::string& event,
                          const std::string& reference,
                          const nlohmann::json& data, const behaviour& how) {
  nlohmann::json envelope{{"event", event}, {"data", data}};
  auto body
    = envelope.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto sig = signature(settings_.secret_key, body);
  auto copies = std::max<uint32_t>(how.copies, 1);
  std::vector<delivery_ptr> batch;
  for (uint32_t i = 1; i <= copies; ++i)
    batch.push_back(std::make_shared<delivery>(
      delivery{event, reference, body, sig, i, 0, {}}));
  bool start_window = false;
  {
    std::lock_guard guard{mtx_};
    if (how.drop || settings_.url.empty()) {
      dropped_ += copies;
      log::debug("sandbox: {} for {} dropped ({})", event, reference,
                 how.drop ? "drop is on" : "no webhook URL");
      return;
    }
    if (how.reorder) {
      start_window = held_.empty();
      held_.insert(held_.end(), batch.begin(), batch.end());
    }
  }
  if (how.reorder) {
    // The first event held opens the window; whatever arrives before it
    // closes goes out with it, newest first.
    if (start_window)
      threads_.after(how.reorder_window + how.delay,
                     [this] { release_held(); });
    return;
  }
  for (auto& d : batch)
    threads_.after(how.delay, [this, d] { attempt(d); });
}

void webhook_sender::release_held() {
  std::vector<delivery_ptr> batch;
  {
    std::lock_guard guard{mtx_};
    batch.swap(held_);
  }
  // One thread sends them in turn, so they arrive in exactly this order.
  std::reverse(batch.begin(), batch.end());
  for (auto& d : batch) {
    if (threads_.stopping())
      return;
    attempt(d);
  }
}

void webhook_sender::attempt(const delivery_ptr& d) {
  auto started = scheduler::clock::now();
  if (d->attempts == 0)
    d->first_attempt = started;
  auto number = ++d->attempts;
  auto at = to_iso(souk::now());
  std::string url;
  {
    std::lock_guard guard{mtx_};
    url = settings_.url;
  }
  long status = 0;
  if (!url.empty()) {
    payments::http_call call;
    call.method = "POST";
    call.url = url;
    call.headers = {{"Content-Type", "application/json"},
                    {"x-paystack-signature", d->signature},
                    {"User-Agent", "souk-sandbox"}};
    call.body = d->body;
    call.timeout = settings_.timeout;
    auto answer = payments::send(call);
    if (answer)
      status = answer->status;
    else
      log::debug("sandbox: {} attempt {} failed: {}", d->event, number,
                 answer.err().detail);
  }
  bool ok = status >= 200 && status < 300;
  {
    std::lock_guard guard{mtx_};
    ++attempts_;
    if (ok)
      ++delivered_;
    log_.push_back({d->event, d->reference, d->copy, number, status, at});
    if (log_.size() > settings_.attempts_kept)
      log_.pop_front();
  }
  if (ok)
    return;
  // Paystack's schedule: a few quick retries, then slow ones until the
  // retry period since the first attempt is over.
  auto wait
    = number <= quick_retries ? settings_.retry_first : settings_.retry_later;
  auto next = scheduler::clock::now() + wait;
  if (next > d->first_attempt + settings_.retry_for) {
    std::lock_guard guard{mtx_};
    ++given_up_;
    log::warn("sandbox: giving up on {} for {} (copy {}) after {} attempts",
              d->event, d->reference, d->copy, number);
    return;
  }
  threads_.at(next, [this, d] { attempt(d); });
}

void webhook_sender::add_stats(gateway::counters& out) const {
  std::lock_guard guard{mtx_};
  out.webhook_attempts = attempts_;
  out.webhooks_delivered = delivered_;
  out.webhooks_dropped = dropped_;
  out.webhooks_given_up = given_up_;
}

std::vector<gateway::attempt> webhook_sender::attempts() const {
  std::lock_guard guard{mtx_};
  return {log_.begin(), log_.end()};
}

void webhook_sender::stop() {
  threads_.stop();
}

} // namespace souk::sandbox
