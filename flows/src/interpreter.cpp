#include "souk/flows/interpreter.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace souk::flows {

namespace {

transition enter(const state& s, std::string from, std::string event) {
  return transition{std::move(from), std::move(event), s.name,
                    s.terminal,      s.steps,          s.timeout};
}

error unknown_state(std::string_view name) {
  return error{errc::not_found, fmt::format("no state '{}' in the flow", name)};
}

} // namespace

transition start(const flow_template& tpl) {
  // A loaded template's initial state always exists.
  return enter(*tpl.find(tpl.initial), {}, {});
}

expected<transition> reenter(const flow_template& tpl, std::string_view state,
                             std::string_view event) {
  auto* s = tpl.find(state);
  if (s == nullptr)
    return unknown_state(state);
  return enter(*s, std::string{state}, std::string{event});
}

event_result on_event(const flow_template& tpl, std::string_view state,
                      std::string_view event) {
  auto* from = tpl.find(state);
  auto refuse = not_allowed{std::string{state}, std::string{event}};
  if (from == nullptr)
    return refuse;
  auto i = std::find_if(from->on.begin(), from->on.end(),
                        [&](const auto& kv) { return kv.first == event; });
  if (i == from->on.end())
    return refuse;
  return enter(*tpl.find(i->second), std::string{state}, std::string{event});
}

expected<step_decision> first_step(const flow_template& tpl,
                                   std::string_view state) {
  auto* s = tpl.find(state);
  if (s == nullptr)
    return unknown_state(state);
  if (s->steps.empty())
    return step_decision{emit_event{std::string{steps_done}, errc::ok}};
  return step_decision{
    run_step{0, 1, s->steps.front().action, s->steps.front().params}};
}

expected<step_decision> after_attempt(const flow_template& tpl,
                                      std::string_view state, size_t index,
                                      uint32_t attempt, errc outcome) {
  auto* s = tpl.find(state);
  if (s == nullptr)
    return unknown_state(state);
  if (index >= s->steps.size() || attempt == 0)
    return error{errc::internal,
                 fmt::format("no attempt {} of step {} in state '{}' ({} "
                             "steps)",
                             attempt, index, state, s->steps.size())};
  if (outcome == errc::ok) {
    if (index + 1 == s->steps.size())
      return step_decision{emit_event{std::string{steps_done}, errc::ok}};
    auto& next = s->steps[index + 1];
    return step_decision{run_step{index + 1, 1, next.action, next.params}};
  }
  auto& retry = s->steps[index].retry;
  if (retry.give_up_on.contains(outcome) || attempt >= retry.max_attempts)
    return step_decision{emit_event{std::string{steps_failed}, outcome}};
  return step_decision{retry_step{index, attempt + 1, backoff(retry, attempt)}};
}

std::chrono::milliseconds backoff(const retry_policy& retry, uint32_t attempt) {
  return backoff(retry.initial, retry.factor, retry.max_interval, attempt);
}

std::chrono::milliseconds backoff(std::chrono::milliseconds initial,
                                  double factor,
                                  std::chrono::milliseconds max_interval,
                                  uint32_t attempt) {
  // Multiply step by step and stop at the cap, so large attempt numbers
  // cannot overflow.
  auto cap = static_cast<double>(max_interval.count());
  auto delay = static_cast<double>(initial.count());
  for (uint32_t i = 1; i < attempt && delay < cap; ++i)
    delay *= factor;
  return std::chrono::milliseconds{static_cast<int64_t>(std::min(delay, cap))};
}

} // namespace souk::flows
