#include "souk/metrics/registry.hpp"

#include <mutex>
#include <set>
#include <sstream>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace souk::metrics {

namespace {

namespace pm = prometheus;

// Seconds: from a cached answer to a slow gateway call.
const pm::Histogram::BucketBoundaries latency_buckets{
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

pm::Labels
labels_of(std::initializer_list<std::pair<const char*, std::string_view>> xs) {
  pm::Labels out;
  for (auto& [k, v] : xs)
    out.emplace(k, std::string{v});
  return out;
}

pm::MetricFamily to_prometheus(const family& f) {
  pm::MetricFamily out;
  out.name = f.name;
  out.help = f.help;
  out.type = f.counter ? pm::MetricType::Counter : pm::MetricType::Gauge;
  for (auto& s : f.samples) {
    pm::ClientMetric m;
    for (auto& [k, v] : s.labels)
      m.label.push_back({k, v});
    if (f.counter)
      m.counter.value = s.value;
    else
      m.gauge.value = s.value;
    out.metric.push_back(std::move(m));
  }
  return out;
}

} // namespace

struct registry::impl {
  std::shared_ptr<pm::Registry> reg = std::make_shared<pm::Registry>();
  pm::Family<pm::Counter>& http_requests
    = pm::BuildCounter()
        .Name("souk_http_requests_total")
        .Help("HTTP requests answered, by method, route pattern and status.")
        .Register(*reg);
  pm::Family<pm::Histogram>& http_seconds
    = pm::BuildHistogram()
        .Name("souk_http_request_duration_seconds")
        .Help("Time from a request's header to its response, by method and "
              "route pattern.")
        .Register(*reg);
  pm::Family<pm::Counter>& transitions
    = pm::BuildCounter()
        .Name("souk_order_transitions_total")
        .Help("Orders (and payouts) moving from one state to another.")
        .Register(*reg);
  pm::Family<pm::Counter>& steps
    = pm::BuildCounter()
        .Name("souk_order_steps_total")
        .Help("Step attempts that ended: succeeded, retried (another attempt "
              "armed) or failed (given up).")
        .Register(*reg);
  pm::Family<pm::Counter>& parked
    = pm::BuildCounter()
        .Name("souk_orders_parked_total")
        .Help("Orders the engine parked in needs_attention, by who parked "
              "them.")
        .Register(*reg);
  pm::Family<pm::Counter>& restarts
    = pm::BuildCounter()
        .Name("souk_actor_restarts_total")
        .Help("Crashed actors restarted by supervision, by kind.")
        .Register(*reg);
  pm::Counter& activations
    = pm::BuildCounter()
        .Name("souk_actor_activations_total")
        .Help("Order actors started (rebuilt from the database).")
        .Register(*reg)
        .Add({});
  pm::Counter& passivations
    = pm::BuildCounter()
        .Name("souk_actor_passivations_total")
        .Help("Order actors stopped because they were idle or done.")
        .Register(*reg)
        .Add({});
  pm::Gauge& live_orders = pm::BuildGauge()
                             .Name("souk_actors_live")
                             .Help("Actors running on this node, by kind.")
                             .Register(*reg)
                             .Add({{"kind", "order"}});
  pm::Family<pm::Counter>& webhooks
    = pm::BuildCounter()
        .Name("souk_webhooks_total")
        .Help("Gateway webhooks received: accepted, duplicate or rejected "
              "(bad signature or body).")
        .Register(*reg);

  std::mutex mx;
  std::vector<collector> collectors;
};

registry::registry() : impl_(std::make_unique<impl>()) {}

registry::~registry() = default;

void registry::http_request(std::string_view method, std::string_view route,
                            int status, double seconds, bool held) {
  // Any token is a method to Beast: unknown ones share one series, or a
  // client could add series without end.
  static const std::set<std::string_view> known{
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (!known.count(method))
    method = "other";
  auto status_text = std::to_string(status);
  impl_->http_requests
    .Add(labels_of(
      {{"method", method}, {"route", route}, {"status", status_text}}))
    .Increment();
  if (held)
    return;
  impl_->http_seconds
    .Add(labels_of({{"method", method}, {"route", route}}), latency_buckets)
    .Observe(seconds);
}

void registry::transition(std::string_view flow, std::string_view from,
                          std::string_view to) {
  impl_->transitions
    .Add(labels_of({{"flow", flow}, {"from", from}, {"to", to}}))
    .Increment();
}

void registry::step(std::string_view flow, std::string_view action,
                    std::string_view result) {
  impl_->steps
    .Add(labels_of({{"flow", flow}, {"action", action}, {"result", result}}))
    .Increment();
}

void registry::parked(std::string_view by) {
  impl_->parked.Add(labels_of({{"by", by}})).Increment();
}

void registry::actor_restart(std::string_view kind) {
  impl_->restarts.Add(labels_of({{"kind", kind}})).Increment();
}

void registry::actor_activated(size_t live) {
  impl_->activations.Increment();
  impl_->live_orders.Set(static_cast<double>(live));
}

void registry::actor_passivated(size_t live) {
  impl_->passivations.Increment();
  impl_->live_orders.Set(static_cast<double>(live));
}

void registry::actors_live(size_t live) {
  impl_->live_orders.Set(static_cast<double>(live));
}

size_t registry::live_orders() const {
  return static_cast<size_t>(impl_->live_orders.Value());
}

void registry::webhook(std::string_view gateway, std::string_view result) {
  impl_->webhooks.Add(labels_of({{"gateway", gateway}, {"result", result}}))
    .Increment();
}

void registry::add_collector(collector c) {
  std::lock_guard guard{impl_->mx};
  impl_->collectors.push_back(std::move(c));
}

std::string registry::render() const {
  auto families = impl_->reg->Collect();
  std::vector<collector> cs;
  {
    std::lock_guard guard{impl_->mx};
    cs = impl_->collectors;
  }
  for (auto& c : cs)
    for (auto& f : c())
      families.push_back(to_prometheus(f));
  std::ostringstream out;
  pm::TextSerializer{}.Serialize(out, families);
  return out.str();
}

} // namespace souk::metrics
