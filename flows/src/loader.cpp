#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <fstream>
#include <sodium.h>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "souk/core/hash.hpp"
#include "souk/core/units.hpp"
#include "souk/flows/template.hpp"

namespace souk::flows {

namespace {

bool is_name(std::string_view x) {
  return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// An event is two or more names joined by dots, e.g. "payment.succeeded".
bool is_event(std::string_view x) {
  if (x.find('.') == std::string_view::npos)
    return false;
  size_t start = 0;
  while (true) {
    auto dot = x.find('.', start);
    if (!is_name(x.substr(start, dot - start)))
      return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

std::optional<errc> errc_from_string(std::string_view text) {
  for (int i = 1; i <= static_cast<int>(last_errc); ++i) {
    auto code = static_cast<errc>(i);
    if (to_string(code) == text)
      return code;
  }
  return std::nullopt;
}

/// A map entry, copied out of the iterator (references into it dangle).
struct entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

/// Walks one template, remembering where each node came from.
class parser {
public:
  parser(std::string file, const action_catalog& actions)
    : file_(std::move(file)), actions_(actions) {}

  expected<flow_template> run(const YAML::Node& root);

  error fail(const YAML::Mark& mark, const std::string& what) const {
    // Null nodes made up by yaml-cpp carry no mark: fall back to 1:1.
    auto line = mark.is_null() ? 0 : mark.line;
    auto col = mark.is_null() ? 0 : mark.column;
    return error{errc::invalid_field,
                 fmt::format("{}:{}:{}: {}", file_, line + 1, col + 1, what)};
  }

private:
  /// The entries of `node`, which must be a map whose keys are unique and
  /// among `allowed` (any key if `allowed` is null).
  expected<std::vector<entry>>
  entries(const YAML::Node& node, const std::string& what,
          const std::vector<std::string>* allowed) const;

  /// The entries of the map under `e`.
  expected<std::vector<entry>>
  entries(const entry& e, const std::string& what,
          const std::vector<std::string>* allowed) const {
    if (e.value.IsNull())
      return fail(mark_of(e), fmt::format("{} must be a map", what));
    return entries(e.value, what, allowed);
  }

  /// Where `e`'s value is; its key's place if the value is empty, for
  /// yaml-cpp marks an empty value where the next token starts.
  static YAML::Mark mark_of(const entry& e) {
    return e.value.IsNull() ? e.key_node.Mark() : e.value.Mark();
  }

  expected<std::string> scalar(const entry& e) const;
  expected<std::chrono::milliseconds> duration(const entry& e) const;

  status parse_state(const entry& e, state& out);
  status parse_step(const YAML::Node& node, step& out);
  status parse_retry(const entry& e, retry_policy& out);
  status parse_timeout(const entry& e, timeout_spec& out);
  status check_graph(const flow_template& tpl) const;

  std::string file_;
  const action_catalog& actions_;
  // Where things were written, for errors found after parsing.
  std::map<std::string, YAML::Mark> state_marks_;
  /// Every transition in file order, so the first bad one is reported.
  struct target {
    std::string state, event, to;
    YAML::Mark mark;
  };
  std::vector<target> targets_;
  YAML::Mark emit_mark_; // of the last timeout parsed
  YAML::Mark initial_mark_;
};

expected<std::vector<entry>>
parser::entries(const YAML::Node& node, const std::string& what,
                const std::vector<std::string>* allowed) const {
  if (!node.IsMap())
    return fail(node.Mark(), fmt::format("{} must be a map", what));
  std::vector<entry> out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Node key_node = it->first;
    YAML::Node value = it->second;
    if (!key_node.IsScalar())
      return fail(key_node.Mark(),
                  fmt::format("{}: keys must be plain names", what));
    auto key = key_node.Scalar();
    auto same = [&](const entry& x) { return x.key == key; };
    if (std::any_of(out.begin(), out.end(), same))
      return fail(key_node.Mark(),
                  fmt::format("{}: duplicate key '{}'", what, key));
    if (allowed != nullptr
        && std::find(allowed->begin(), allowed->end(), key) == allowed->end())
      return fail(key_node.Mark(),
                  fmt::format("{}: unknown key '{}' (expected one of: {})",
                              what, key, fmt::join(*allowed, ", ")));
    out.push_back(entry{key, key_node, value});
  }
  return out;
}

expected<std::string> parser::scalar(const entry& e) const {
  if (!e.value.IsScalar())
    return fail(mark_of(e), fmt::format("'{}' expects a single value", e.key));
  return e.value.Scalar();
}

expected<std::chrono::milliseconds> parser::duration(const entry& e) const {
  auto text = scalar(e);
  if (!text)
    return text.err();
  auto d = parse_duration(*text);
  if (!d)
    return fail(e.value.Mark(), fmt::format("bad duration for '{}': {}", e.key,
                                            d.err().detail));
  return *d;
}

expected<flow_template> parser::run(const YAML::Node& root) {
  static const std::vector<std::string> keys{"flow", "version", "description",
                                             "kind", "initial", "states"};
  if (root.IsNull())
    return fail(root.Mark(), "empty flow template");
  auto top = entries(root, "the template", &keys);
  if (!top)
    return top.err();
  flow_template tpl;
  const entry* states_entry = nullptr;
  bool has_version = false;
  for (auto& e : *top) {
    if (e.key == "states") {
      states_entry = &e;
      continue;
    }
    auto text = scalar(e);
    if (!text)
      return text.err();
    if (e.key == "flow") {
      if (!is_name(*text))
        return fail(
          e.value.Mark(),
          fmt::format("bad flow name '{}' (expected [a-z0-9_]+)", *text));
      tpl.name = *text;
    } else if (e.key == "version") {
      auto n = parse_uint(*text);
      if (!n || *n == 0 || *n > UINT32_MAX)
        return fail(e.value.Mark(),
                    fmt::format("bad version '{}' (expected a positive "
                                "integer)",
                                *text));
      tpl.version = static_cast<uint32_t>(*n);
      has_version = true;
    } else if (e.key == "description") {
      tpl.description = *text;
    } else if (e.key == "kind") {
      if (*text != "order" && *text != "payout")
        return fail(
          e.value.Mark(),
          fmt::format("bad kind '{}' (expected order or payout)", *text));
      tpl.kind = *text;
    } else {
      tpl.initial = *text;
      initial_mark_ = e.value.Mark();
    }
  }
  if (tpl.name.empty())
    return fail(root.Mark(), "missing 'flow' (the template's name)");
  if (!has_version)
    return fail(root.Mark(), "missing 'version'");
  if (tpl.initial.empty())
    return fail(root.Mark(), "missing 'initial' (the first state)");
  if (states_entry == nullptr)
    return fail(root.Mark(), "missing 'states'");
  auto states = entries(*states_entry, "states", nullptr);
  if (!states)
    return states.err();
  if (states->empty())
    return fail(states_entry->value.Mark(), "'states' is empty");
  for (auto& e : *states) {
    state s;
    if (auto err = parse_state(e, s))
      return err;
    tpl.states.push_back(std::move(s));
  }
  if (auto err = check_graph(tpl))
    return err;
  return tpl;
}

status parser::parse_state(const entry& e, state& out) {
  static const std::vector<std::string> keys{"terminal", "steps", "on",
                                             "timeout"};
  if (!is_name(e.key))
    return fail(
      e.key_node.Mark(),
      fmt::format("bad state name '{}' (expected [a-z0-9_]+)", e.key));
  out.name = e.key;
  state_marks_[e.key] = e.key_node.Mark();
  auto what = fmt::format("state '{}'", e.key);
  auto body = entries(e, what, &keys);
  if (!body)
    return body.err();
  const entry* on_entry = nullptr;
  const entry* timeout_entry = nullptr;
  const entry* steps_entry = nullptr;
  for (auto& x : *body) {
    if (x.key == "terminal") {
      auto text = scalar(x);
      if (!text)
        return text.err();
      if (*text != "true" && *text != "false")
        return fail(x.value.Mark(), "'terminal' expects true or false");
      out.terminal = *text == "true";
    } else if (x.key == "on") {
      on_entry = &x;
    } else if (x.key == "timeout") {
      timeout_entry = &x;
    } else {
      steps_entry = &x;
    }
  }
  if (out.terminal) {
    // A terminal state is where an order ends: nothing may run or leave.
    for (auto* x : {steps_entry, on_entry, timeout_entry})
      if (x != nullptr)
        return fail(
          x->key_node.Mark(),
          fmt::format("terminal state '{}' cannot have '{}'", e.key, x->key));
    return {};
  }
  if (steps_entry != nullptr) {
    auto& list = steps_entry->value;
    if (!list.IsSequence() || list.size() == 0)
      return fail(mark_of(*steps_entry),
                  "'steps' expects a non-empty list of steps");
    for (size_t i = 0; i < list.size(); ++i) {
      YAML::Node item = list[i];
      step st;
      if (auto err = parse_step(item, st))
        return err;
      out.steps.push_back(std::move(st));
    }
  }
  if (on_entry == nullptr)
    return fail(e.key_node.Mark(),
                fmt::format("state '{}' has no way out: give it 'on' "
                            "transitions or mark it 'terminal: true'",
                            e.key));
  auto on
    = entries(*on_entry, fmt::format("'on' of state '{}'", e.key), nullptr);
  if (!on)
    return on.err();
  if (on->empty())
    return fail(on_entry->value.Mark(),
                fmt::format("state '{}' has no way out: 'on' is empty", e.key));
  const entry* done = nullptr;
  const entry* failed = nullptr;
  for (auto& x : *on) {
    if (!is_event(x.key))
      return fail(x.key_node.Mark(),
                  fmt::format("bad event name '{}' (expected dotted names, "
                              "e.g. payment.succeeded)",
                              x.key));
    if (x.key.starts_with("steps.")) {
      if (x.key != steps_done && x.key != steps_failed)
        return fail(x.key_node.Mark(),
                    fmt::format("unknown engine event '{}' (the engine emits "
                                "only steps.done and steps.failed)",
                                x.key));
      if (out.steps.empty())
        return fail(x.key_node.Mark(),
                    fmt::format("state '{}' has no steps, so '{}' never "
                                "happens",
                                e.key, x.key));
      (x.key == steps_done ? done : failed) = &x;
    }
    auto target = scalar(x);
    if (!target)
      return target.err();
    out.on[x.key] = *target;
    targets_.push_back({e.key, x.key, *target, x.value.Mark()});
  }
  // Handling only one of the two would strand the order silently on the
  // other; handling neither makes the steps side effects of the state.
  if ((done == nullptr) != (failed == nullptr)) {
    auto* have = done != nullptr ? done : failed;
    return fail(have->key_node.Mark(),
                fmt::format("state '{}' handles '{}' but not '{}'", e.key,
                            have->key,
                            done != nullptr ? steps_failed : steps_done));
  }
  if (timeout_entry != nullptr) {
    timeout_spec t;
    if (auto err = parse_timeout(*timeout_entry, t))
      return err;
    if (!out.on.contains(t.emit))
      return fail(emit_mark_,
                  fmt::format("the timeout emits '{}' but state '{}' does not "
                              "handle it in 'on'",
                              t.emit, e.key));
    out.timeout = std::move(t);
  }
  return {};
}

status parser::parse_timeout(const entry& e, timeout_spec& out) {
  static const std::vector<std::string> keys{"after", "emit"};
  auto body = entries(e, "'timeout'", &keys);
  if (!body)
    return body.err();
  const entry* after = nullptr;
  const entry* emit = nullptr;
  for (auto& x : *body)
    (x.key == "after" ? after : emit) = &x;
  if (after == nullptr)
    return fail(e.value.Mark(), "'timeout' needs 'after' (e.g. 30m)");
  if (emit == nullptr)
    return fail(e.value.Mark(), "'timeout' needs 'emit' (an event)");
  auto d = duration(*after);
  if (!d)
    return d.err();
  if (d->count() == 0)
    return fail(after->value.Mark(), "'after' must be longer than 0");
  auto ev = scalar(*emit);
  if (!ev)
    return ev.err();
  if (!is_event(*ev) || ev->starts_with("steps."))
    return fail(emit->value.Mark(),
                fmt::format("bad event name '{}' (expected dotted names, not "
                            "steps.*)",
                            *ev));
  out.after = *d;
  out.emit = *ev;
  // parse_state reports an unhandled emit here.
  emit_mark_ = emit->value.Mark();
  return {};
}

status parser::parse_step(const YAML::Node& node, step& out) {
  static const std::vector<std::string> keys{"call", "with", "retry"};
  auto body = entries(node, "a step", &keys);
  if (!body)
    return body.err();
  const entry* call = nullptr;
  const entry* with = nullptr;
  const entry* retry = nullptr;
  for (auto& x : *body)
    (x.key == "call" ? call : x.key == "with" ? with : retry) = &x;
  if (call == nullptr)
    return fail(node.Mark(), "a step needs 'call' (an action name)");
  auto action = scalar(*call);
  if (!action)
    return action.err();
  if (!actions_.contains(*action))
    return fail(call->value.Mark(),
                fmt::format("unknown action '{}' (known: {})", *action,
                            fmt::join(actions_.names(), ", ")));
  out.action = *action;
  if (with != nullptr) {
    auto params
      = entries(*with, fmt::format("'with' of '{}'", *action), nullptr);
    if (!params)
      return params.err();
    auto& accepted = actions_.params(*action);
    for (auto& p : *params) {
      if (!accepted.contains(p.key))
        return fail(
          p.key_node.Mark(),
          accepted.empty()
            ? fmt::format("'{}' takes no parameters, got '{}'", *action, p.key)
            : fmt::format("'{}' has no parameter '{}' (accepted: {})", *action,
                          p.key, fmt::join(accepted, ", ")));
      auto value = scalar(p);
      if (!value)
        return value.err();
      out.params[p.key] = *value;
    }
  }
  if (retry != nullptr)
    return parse_retry(*retry, out.retry);
  return {};
}

status parser::parse_retry(const entry& e, retry_policy& out) {
  static const std::vector<std::string> keys{
    "initial", "factor", "max_interval", "max_attempts", "give_up_on"};
  auto body = entries(e, "'retry'", &keys);
  if (!body)
    return body.err();
  YAML::Mark initial_mark = mark_of(e);
  for (auto& x : *body) {
    if (x.key == "give_up_on") {
      if (!x.value.IsSequence())
        return fail(mark_of(x), "'give_up_on' expects a list of error codes");
      for (size_t i = 0; i < x.value.size(); ++i) {
        YAML::Node item = x.value[i];
        auto code
          = item.IsScalar() ? errc_from_string(item.Scalar()) : std::nullopt;
        if (!code)
          return fail(item.Mark(),
                      fmt::format("unknown error code '{}' (e.g. "
                                  "invalid_field, not_found, conflict)",
                                  item.IsScalar() ? item.Scalar() : "?"));
        out.give_up_on.insert(*code);
      }
      continue;
    }
    auto text = scalar(x);
    if (!text)
      return text.err();
    if (x.key == "initial" || x.key == "max_interval") {
      auto d = duration(x);
      if (!d)
        return d.err();
      if (x.key == "initial") {
        if (d->count() == 0)
          return fail(x.value.Mark(), "'initial' must be longer than 0");
        out.initial = *d;
        initial_mark = x.value.Mark();
      } else {
        out.max_interval = *d;
      }
    } else if (x.key == "factor") {
      double f = 0;
      auto [end, ec]
        = std::from_chars(text->data(), text->data() + text->size(), f);
      if (ec != std::errc{} || end != text->data() + text->size()
          || !std::isfinite(f) || f < 1.0)
        return fail(
          x.value.Mark(),
          fmt::format("bad factor '{}' (expected a number >= 1)", *text));
      out.factor = f;
    } else {
      auto n = parse_uint(*text);
      if (!n || *n < 1 || *n > 1000)
        return fail(
          x.value.Mark(),
          fmt::format("bad max_attempts '{}' (expected 1 to 1000)", *text));
      out.max_attempts = static_cast<uint32_t>(*n);
    }
  }
  if (out.initial > out.max_interval)
    return fail(initial_mark,
                fmt::format("'initial' ({}) is longer than 'max_interval' ({})",
                            format_duration(out.initial),
                            format_duration(out.max_interval)));
  return {};
}

status parser::check_graph(const flow_template& tpl) const {
  if (tpl.find(tpl.initial) == nullptr)
    return fail(
      initial_mark_,
      fmt::format("initial state '{}' is not in 'states'", tpl.initial));
  for (auto& t : targets_)
    if (tpl.find(t.to) == nullptr)
      return fail(t.mark, fmt::format("'{}' in state '{}' leads to unknown "
                                      "state '{}'",
                                      t.event, t.state, t.to));
  // Forward from the initial state: every state must be reachable.
  std::set<std::string> reached{tpl.initial};
  std::deque<std::string> todo{tpl.initial};
  while (!todo.empty()) {
    auto* s = tpl.find(todo.front());
    todo.pop_front();
    for (auto& [event, to] : s->on)
      if (reached.insert(to).second)
        todo.push_back(to);
  }
  for (auto& s : tpl.states)
    if (!reached.contains(s.name))
      return fail(state_marks_.at(s.name),
                  fmt::format("state '{}' is unreachable from '{}'", s.name,
                              tpl.initial));
  // Backward from the terminal states: every state must be able to finish.
  std::set<std::string> finishing;
  for (auto& s : tpl.states)
    if (s.terminal)
      finishing.insert(s.name);
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& s : tpl.states)
      if (!finishing.contains(s.name)
          && std::any_of(s.on.begin(), s.on.end(), [&](const auto& kv) {
               return finishing.contains(kv.second);
             })) {
        finishing.insert(s.name);
        grew = true;
      }
  }
  for (auto& s : tpl.states)
    if (!finishing.contains(s.name))
      return fail(state_marks_.at(s.name),
                  fmt::format("no terminal state can be reached from state "
                              "'{}'",
                              s.name));
  return {};
}

} // namespace

expected<flow_template> load_template(std::string_view yaml_text,
                                      std::string_view file_name,
                                      const action_catalog& actions) {
  parser p{std::string{file_name}, actions};
  try {
    auto root = YAML::Load(std::string{yaml_text});
    auto tpl = p.run(root);
    if (tpl)
      tpl->hash = sha256_hex(yaml_text);
    return tpl;
  } catch (const YAML::Exception& e) {
    return p.fail(e.mark, e.msg);
  }
}

expected<flow_template> load_template_file(const std::string& path,
                                           const action_catalog& actions) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return error{errc::not_found,
                 fmt::format("{}: cannot open the flow template", path)};
  std::ostringstream text;
  text << in.rdbuf();
  return load_template(text.str(), path, actions);
}

} // namespace souk::flows
