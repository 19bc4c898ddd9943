#include "souk/flows/template.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "souk/core/units.hpp"

namespace souk::flows {

const state* flow_template::find(std::string_view name) const {
  auto i = std::find_if(states.begin(), states.end(),
                        [&](const state& s) { return s.name == name; });
  return i == states.end() ? nullptr : &*i;
}

void action_catalog::add(std::string action, std::set<std::string> params) {
  actions_[std::move(action)] = std::move(params);
}

bool action_catalog::contains(std::string_view action) const {
  return actions_.find(action) != actions_.end();
}

const std::set<std::string>&
action_catalog::params(std::string_view action) const {
  return actions_.find(action)->second;
}

std::vector<std::string> action_catalog::names() const {
  std::vector<std::string> out;
  for (auto& [name, params] : actions_)
    out.push_back(name);
  return out;
}

const action_catalog& default_actions() {
  // The actions souk's service actors answer; a template naming any other
  // is rejected when it loads, not when an order reaches the step.
  static const action_catalog catalog = [] {
    action_catalog c;
    c.add("wallet.credit_sale");
    c.add("wallet.reverse_sale");
    c.add("delivery.grant_access", {"expires_in", "max_downloads"});
    c.add("delivery.revoke_access");
    c.add("email.send", {"template"});
    c.add("payment.refund");
    c.add("wallet.reserve_payout");
    c.add("wallet.settle_payout");
    c.add("wallet.return_payout");
    c.add("payment.transfer");
    c.add("licence.issue_key", {"pool"});
    return c;
  }();
  return catalog;
}

std::string to_dot(const flow_template& tpl) {
  // Names are [a-z0-9_]+ and events dotted names, so quoting never needs
  // escapes.
  std::string out = fmt::format("digraph \"{}\" {{\n", tpl.name);
  out += fmt::format("  label=\"{} version {}\";\n", tpl.name, tpl.version);
  out += "  rankdir=LR;\n  node [shape=circle];\n";
  out += "  \"__start\" [shape=point];\n";
  out += fmt::format("  \"__start\" -> \"{}\";\n", tpl.initial);
  for (auto& s : tpl.states)
    if (s.terminal)
      out += fmt::format("  \"{}\" [shape=doublecircle];\n", s.name);
  for (auto& s : tpl.states) {
    for (auto& [event, to] : s.on) {
      auto label = event;
      if (s.timeout && s.timeout->emit == event)
        label += "\\nafter " + format_duration(s.timeout->after);
      out += fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", s.name, to,
                         label);
    }
  }
  out += "}\n";
  return out;
}

} // namespace souk::flows
