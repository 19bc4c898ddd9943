#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::flows {

/// The events the engine itself emits when a state's steps end.
inline constexpr std::string_view steps_done = "steps.done";
inline constexpr std::string_view steps_failed = "steps.failed";

/// How a step is retried. Defaults apply to every key a template omits.
struct retry_policy {
  /// Delay before the second attempt. Default 1s.
  std::chrono::milliseconds initial{1000};
  /// Growth of the delay per attempt; >= 1. Default 2.
  double factor = 2.0;
  /// Cap on the delay; >= initial. Default 1m.
  std::chrono::milliseconds max_interval{60'000};
  /// Attempts in all, the first included; >= 1. Default 5.
  uint32_t max_attempts = 5;
  /// Error codes that end the step at once, without retrying. Default none.
  std::set<errc> give_up_on;
};

/// One call to a service action, e.g. `delivery.grant_access`.
struct step {
  std::string action;                        ///< a name in the action catalog
  std::map<std::string, std::string> params; ///< `with:`, scalars as text
  retry_policy retry;                        ///< `retry:`, defaults filled in
};

/// A state's timer: after `after` in the state, the engine emits `emit`.
struct timeout_spec {
  std::chrono::milliseconds after{0};
  std::string emit;
};

/// One state of a flow.
struct state {
  std::string name;
  bool terminal = false;
  std::vector<step> steps;               ///< run in order on entering
  std::optional<timeout_spec> timeout;   ///< armed on entering
  std::map<std::string, std::string> on; ///< event -> next state
};

/// A validated flow template. Every invariant `load_template` checks holds:
/// `initial` and every transition target name a state, every state is
/// reachable and can reach a terminal state.
struct flow_template {
  std::string name;
  uint32_t version = 0;
  std::string description;
  /// What the flow's instances are: "order" (a buyer's purchase; products
  /// name these flows) or "payout" (a creator's payout).
  std::string kind = "order";
  std::string initial;
  std::vector<state> states; ///< in file order
  /// SHA-256 (lowercase hex) of the template's bytes: an order pins
  /// `name`, `version` and `hash` so later edits change new orders only.
  std::string hash;

  /// The state called `name`, or nullptr.
  const state* find(std::string_view name) const;
};

/// The actions a template may `call`, each with the parameter names its
/// `with:` may use. Not thread-safe to modify; read-only use is.
class action_catalog {
public:
  /// Adds (or replaces) `action` accepting exactly `params`.
  void add(std::string action, std::set<std::string> params = {});

  /// True if `action` is known.
  bool contains(std::string_view action) const;

  /// The parameters `action` accepts. REQUIRES: contains(action).
  const std::set<std::string>& params(std::string_view action) const;

  /// All action names, sorted.
  std::vector<std::string> names() const;

private:
  std::map<std::string, std::set<std::string>, std::less<>> actions_;
};

/// The actions souk's services implement: wallet.credit_sale,
/// wallet.reverse_sale, delivery.grant_access {expires_in, max_downloads},
/// delivery.revoke_access, email.send {template}, payment.refund,
/// licence.issue_key {pool}.
const action_catalog& default_actions();

/// Parses and validates a template (format: docs/flows.md). `file_name`
/// only labels errors. Every failure is `errc::invalid_field` with detail
/// "FILE:LINE:COL: message" pointing at the offending node.
expected<flow_template> load_template(std::string_view yaml_text,
                                      std::string_view file_name,
                                      const action_catalog& actions);

/// Reads `path` and calls `load_template`. An unreadable file is
/// `errc::not_found` ("PATH: cannot open the flow template").
expected<flow_template> load_template_file(const std::string& path,
                                           const action_catalog& actions);

/// The template as a Graphviz digraph: states as nodes (terminal ones
/// `doublecircle`), edges labelled with their event, the timeout's edge
/// also with "after DURATION".
std::string to_dot(const flow_template& tpl);

} // namespace souk::flows
