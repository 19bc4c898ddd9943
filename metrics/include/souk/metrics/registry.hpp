#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::metrics {

/// A sample of a metric read when `/metrics` is scraped (a gauge such as
/// orders by state, or a counter kept elsewhere such as the database pool's
/// waits): its labels and value.
struct sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// A family of samples read at scrape time.
struct family {
  std::string name; ///< e.g. "souk_orders"
  std::string help;
  bool counter = false; ///< else a gauge
  std::vector<sample> samples;
};

/// Reads families when `/metrics` is scraped. Runs on the scraping thread
/// (a database thread): it may query the database; it must not throw.
using collector = std::function<std::vector<family>()>;

/// souk's metrics, kept with prometheus-cpp and rendered in the Prometheus
/// text format (version 0.0.4). One per node; every instrument souk records
/// is a method here, so names, labels and help live in one file
/// (docs/operations.md lists them).
///
/// Thread-safe: any thread may record; `render` may run concurrently.
class registry {
public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// One HTTP request: `route` is the matched pattern ("/d/{token}"), or
  /// "unmatched"; never the raw path, so the series stay few. A request a
  /// long poll held (`held`) is counted but not timed: its wait would
  /// swamp the latency of the route's other answers.
  void http_request(std::string_view method, std::string_view route, int status,
                    double seconds, bool held = false);

  /// An order (or payout) moved from `from` to `to` on `flow`.
  void transition(std::string_view flow, std::string_view from,
                  std::string_view to);

  /// A step attempt ended: `result` is "succeeded", "retried" (another
  /// attempt is armed) or "failed" (given up).
  void step(std::string_view flow, std::string_view action,
            std::string_view result);

  /// The engine parked an order in `needs_attention` (`by`: "engine" for a
  /// crash loop or a missing service).
  void parked(std::string_view by);

  /// A crashed actor is restarted (`kind`: "order").
  void actor_restart(std::string_view kind);

  /// An order actor was started (activated) or stopped when idle or done
  /// (passivated); `live` is how many run now.
  void actor_activated(size_t live);
  void actor_passivated(size_t live);
  /// How many order actors run now (after one stopped otherwise).
  void actors_live(size_t live);
  /// The last count given to the three calls above.
  size_t live_orders() const;

  /// A gateway webhook: `result` is "accepted", "duplicate" or "rejected".
  void webhook(std::string_view gateway, std::string_view result);

  /// Adds a collector read at every scrape.
  void add_collector(collector c);

  /// Every metric in the Prometheus text format.
  std::string render() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Checks `text` against the Prometheus text format (0.0.4) rules souk
/// relies on: HELP/TYPE before samples, valid metric and label names,
/// escaped label values, numeric values, counters ending in `_total`,
/// histogram buckets cumulative with a `+Inf` bucket equal to `_count`, no
/// duplicate series. Returns the problems found, each naming its line.
std::vector<std::string> lint(std::string_view text);

/// The sum of the samples of `name` in `text` whose labels include
/// `labels` (all series of `name` when empty); nullopt when none match.
std::optional<double> sum_of(std::string_view text, std::string_view name,
                             const std::map<std::string, std::string>& labels
                             = {});

} // namespace souk::metrics
