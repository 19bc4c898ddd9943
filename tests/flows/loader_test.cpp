#include <boost/test/unit_test.hpp>

#include "souk/flows/template.hpp"

using namespace std::chrono_literals;
namespace fl = souk::flows;

namespace {

// A small catalog, so the loader is tested apart from souk's real actions.
fl::action_catalog test_actions() {
  fl::action_catalog c;
  c.add("svc.plain");
  c.add("svc.with", {"size", "mode"});
  return c;
}

// The smallest valid template; tests edit copies of it.
const std::string minimal = "flow: t\n"
                            "version: 1\n"
                            "initial: a\n"
                            "states:\n"
                            "  a:\n"
                            "    on: { go.now: b }\n"
                            "  b: { terminal: true }\n";

souk::expected<fl::flow_template> load(const std::string& text) {
  return fl::load_template(text, "t.yaml", test_actions());
}

// The error detail of loading `text`, which must fail.
std::string error_of(const std::string& text) {
  auto x = load(text);
  if (x)
    return "(loaded)";
  BOOST_TEST(x.err().code == souk::errc::invalid_field);
  return x.err().detail;
}

bool starts(const std::string& text, const std::string& prefix) {
  return text.starts_with(prefix);
}

#define SOUK_CHECK_ERROR(text, where_, what)                                   \
  do {                                                                         \
    auto detail = error_of(text);                                              \
    BOOST_TEST_INFO("detail: " << detail);                                     \
    BOOST_TEST(starts(detail, std::string{where_} + ": "));                    \
    BOOST_TEST(detail.find(what) != std::string::npos);                        \
  } while (false)

// A template with one state `a` holding `body` (indented by 4), a terminal
// `b`, and `a` leading to `b` on go.now unless the body has its own `on`.
std::string with_state(const std::string& body) {
  return "flow: t\n"    // 1
         "version: 1\n" // 2
         "initial: a\n" // 3
         "states:\n"    // 4
         "  a:\n"       // 5
         + body         // 6...
         + "  b: { terminal: true }\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(loader)

BOOST_AUTO_TEST_CASE(minimal_template_loads) {
  auto x = load(minimal);
  BOOST_REQUIRE(x);
  BOOST_TEST(x->name == "t");
  BOOST_TEST(x->version == 1u);
  BOOST_TEST(x->initial == "a");
  BOOST_REQUIRE(x->states.size() == 2u);
  BOOST_TEST(x->states[0].name == "a");
  BOOST_TEST(x->states[0].on.at("go.now") == "b");
  BOOST_TEST(x->states[1].terminal);
  BOOST_TEST(x->find("b") == &x->states[1]);
  BOOST_TEST(x->find("zz") == nullptr);
}

BOOST_AUTO_TEST_CASE(hash_is_sha256_of_the_bytes) {
  auto x = load(minimal);
  BOOST_REQUIRE(x);
  BOOST_TEST(x->hash.size() == 64u);
  // A comment changes the bytes, hence the pin, but not the meaning.
  auto y = load(minimal + "# edited\n");
  BOOST_REQUIRE(y);
  BOOST_TEST(x->hash != y->hash);
  BOOST_TEST(load(minimal)->hash == x->hash);
  // The digest of a one-liner, computed with sha256sum.
  auto z = fl::load_template("{flow: t, version: 1, initial: b, states: {b: "
                             "{terminal: true}}}",
                             "z.yaml", test_actions());
  BOOST_REQUIRE(z);
  BOOST_TEST(z->hash
             == "2ad7fcce2fbe1af4bf59ba269b7566abc333989390c8420be517e326bead37"
                "c4");
}

BOOST_AUTO_TEST_CASE(steps_and_retry_are_parsed_with_defaults) {
  auto x = load(
    with_state("    steps:\n"
               "      - call: svc.plain\n"
               "      - call: svc.with\n"
               "        with: { size: 5, mode: fast }\n"
               "        retry: { initial: 2s, factor: 1.5, max_interval: 10s, "
               "max_attempts: 3, give_up_on: [invalid_field, not_found] }\n"
               "    timeout: { after: 30m, emit: go.late }\n"
               "    on: { steps.done: b, steps.failed: b, go.late: b }\n"));
  BOOST_REQUIRE(x);
  auto& a = x->states[0];
  BOOST_REQUIRE(a.steps.size() == 2u);
  BOOST_TEST(a.steps[0].action == "svc.plain");
  BOOST_TEST(a.steps[0].params.empty());
  BOOST_TEST(a.steps[0].retry.initial == 1s);
  BOOST_TEST(a.steps[0].retry.factor == 2.0);
  BOOST_TEST(a.steps[0].retry.max_interval == 1min);
  BOOST_TEST(a.steps[0].retry.max_attempts == 5u);
  BOOST_TEST(a.steps[0].retry.give_up_on.empty());
  BOOST_TEST(a.steps[1].params.at("size") == "5");
  BOOST_TEST(a.steps[1].params.at("mode") == "fast");
  BOOST_TEST(a.steps[1].retry.initial == 2s);
  BOOST_TEST(a.steps[1].retry.factor == 1.5);
  BOOST_TEST(a.steps[1].retry.max_interval == 10s);
  BOOST_TEST(a.steps[1].retry.max_attempts == 3u);
  BOOST_TEST(a.steps[1].retry.give_up_on.size() == 2u);
  BOOST_TEST(a.steps[1].retry.give_up_on.contains(souk::errc::not_found));
  BOOST_REQUIRE(a.timeout.has_value());
  BOOST_TEST(a.timeout->after == 30min);
  BOOST_TEST(a.timeout->emit == "go.late");
}

BOOST_AUTO_TEST_CASE(steps_outcome_may_be_left_unhandled) {
  // Both unhandled: the steps are side effects of the state.
  BOOST_TEST(load(with_state("    steps: [ { call: svc.plain } ]\n"
                             "    on: { go.now: b }\n"))
               .has_value());
}

BOOST_AUTO_TEST_CASE(yaml_syntax_error) {
  SOUK_CHECK_ERROR("flow: t\nversion: [1\ninitial: a\n", "t.yaml:3:8", "");
  SOUK_CHECK_ERROR("flow: t\n  version: 1\n", "t.yaml:2:10", "");
}

BOOST_AUTO_TEST_CASE(not_a_map) {
  SOUK_CHECK_ERROR("", "t.yaml:1:1", "empty flow template");
  SOUK_CHECK_ERROR("- a\n- b\n", "t.yaml:1:1", "the template must be a map");
}

BOOST_AUTO_TEST_CASE(duplicate_keys_at_any_level) {
  SOUK_CHECK_ERROR("flow: t\nversion: 1\nflow: u\n", "t.yaml:3:1",
                   "duplicate key 'flow'");
  SOUK_CHECK_ERROR(minimal + "  a: { terminal: true }\n", "t.yaml:8:3",
                   "duplicate key 'a'");
  SOUK_CHECK_ERROR(with_state("    on: { go.now: b, go.now: b }\n"),
                   "t.yaml:6:22", "duplicate key 'go.now'");
  SOUK_CHECK_ERROR(with_state("    on: { go.now: b }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:7:5", "duplicate key 'on'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.with\n"
                              "        with: { size: 1, size: 2 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:26", "duplicate key 'size'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.plain\n"
                              "        retry: { factor: 2, factor: 3 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:29", "duplicate key 'factor'");
}

BOOST_AUTO_TEST_CASE(unknown_keys_at_any_level) {
  SOUK_CHECK_ERROR("flow: t\nversoin: 1\n", "t.yaml:2:1",
                   "unknown key 'versoin'");
  SOUK_CHECK_ERROR(with_state("    terminl: true\n    on: { go.now: b }\n"),
                   "t.yaml:6:5", "unknown key 'terminl'");
  SOUK_CHECK_ERROR(with_state("    steps: [ { call: svc.plain, wiht: {} } ]\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:33", "unknown key 'wiht'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.plain\n"
                              "        retry: { attempts: 3 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:18", "unknown key 'attempts'");
  SOUK_CHECK_ERROR(with_state("    timeout: { after: 1m, emit: go.now, x: 1 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:41", "unknown key 'x'");
}

BOOST_AUTO_TEST_CASE(flow_name) {
  SOUK_CHECK_ERROR("version: 1\ninitial: a\nstates: {}\n", "t.yaml:1:1",
                   "missing 'flow'");
  SOUK_CHECK_ERROR("flow: Bad-Name\n", "t.yaml:1:7", "bad flow name");
  SOUK_CHECK_ERROR("flow: [a]\n", "t.yaml:1:7", "expects a single value");
}

BOOST_AUTO_TEST_CASE(version) {
  SOUK_CHECK_ERROR("flow: t\ninitial: a\nstates: {}\n", "t.yaml:1:1",
                   "missing 'version'");
  SOUK_CHECK_ERROR("flow: t\nversion: 0\n", "t.yaml:2:10", "bad version '0'");
  SOUK_CHECK_ERROR("flow: t\nversion: -1\n", "t.yaml:2:10", "bad version");
  SOUK_CHECK_ERROR("flow: t\nversion: 1.5\n", "t.yaml:2:10", "bad version");
}

BOOST_AUTO_TEST_CASE(kind) {
  SOUK_CHECK_ERROR("flow: t\nversion: 1\nkind: gift\n", "t.yaml:3:7",
                   "bad kind 'gift' (expected order or payout)");
  auto order = load(minimal);
  BOOST_REQUIRE(order);
  BOOST_TEST(order->kind == "order");
  auto payout = load("kind: payout\n" + minimal);
  BOOST_REQUIRE(payout);
  BOOST_TEST(payout->kind == "payout");
}

BOOST_AUTO_TEST_CASE(initial) {
  SOUK_CHECK_ERROR("flow: t\nversion: 1\nstates: {}\n", "t.yaml:1:1",
                   "missing 'initial'");
  SOUK_CHECK_ERROR("flow: t\nversion: 1\ninitial: a\n", "t.yaml:1:1",
                   "missing 'states'");
  SOUK_CHECK_ERROR("flow: t\nversion: 1\ninitial: a\nstates: {}\n",
                   "t.yaml:4:9", "'states' is empty");
  SOUK_CHECK_ERROR("flow: t\n"
                   "version: 1\n"
                   "initial: nowhere\n"
                   "states:\n"
                   "  b: { terminal: true }\n",
                   "t.yaml:3:10", "initial state 'nowhere' is not in");
}

BOOST_AUTO_TEST_CASE(state_names) {
  SOUK_CHECK_ERROR(minimal + "  Bad: { terminal: true }\n", "t.yaml:8:3",
                   "bad state name 'Bad'");
  SOUK_CHECK_ERROR(minimal + "  c:\n", "t.yaml:8:3", "state 'c' must be a map");
  SOUK_CHECK_ERROR(with_state("    on:\n"), "t.yaml:6:5", "must be a map");
}

BOOST_AUTO_TEST_CASE(unknown_action) {
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.nope\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:7:15", "unknown action 'svc.nope'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - with: { size: 1 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:7:9", "a step needs 'call'");
  SOUK_CHECK_ERROR(with_state("    steps: []\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:12", "non-empty list");
}

BOOST_AUTO_TEST_CASE(parameter_not_accepted) {
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.with\n"
                              "        with: { size: 1, colour: red }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:26", "'svc.with' has no parameter 'colour'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.plain\n"
                              "        with: { size: 1 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:17", "'svc.plain' takes no parameters");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.with\n"
                              "        with: { size: [1, 2] }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:23", "expects a single value");
}

BOOST_AUTO_TEST_CASE(bad_durations) {
  SOUK_CHECK_ERROR(with_state("    timeout: { after: soon, emit: go.now }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:23", "bad duration for 'after'");
  SOUK_CHECK_ERROR(with_state("    timeout: { after: 0s, emit: go.now }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:23", "longer than 0");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.plain\n"
                              "        retry: { initial: 5 }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:27", "bad duration for 'initial'");
  SOUK_CHECK_ERROR(with_state("    steps:\n"
                              "      - call: svc.plain\n"
                              "        retry: { max_interval: 1x }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:8:32", "bad duration for 'max_interval'");
}

BOOST_AUTO_TEST_CASE(bad_retry_values) {
  auto retry = [](const std::string& r) {
    return with_state("    steps:\n"
                      "      - call: svc.plain\n"
                      "        retry: "
                      + r + "\n    on: { go.now: b }\n");
  };
  // "        retry: { " is 17 columns: the first value starts after it.
  SOUK_CHECK_ERROR(retry("{ factor: 0.5 }"), "t.yaml:8:26", "bad factor");
  SOUK_CHECK_ERROR(retry("{ factor: two }"), "t.yaml:8:26", "bad factor");
  SOUK_CHECK_ERROR(retry("{ max_attempts: 0 }"), "t.yaml:8:32",
                   "bad max_attempts '0'");
  SOUK_CHECK_ERROR(retry("{ initial: 2m, max_interval: 1m }"), "t.yaml:8:27",
                   "'initial' (2m) is longer than 'max_interval' (1m)");
  // Against the default max_interval (1m), pointing at 'initial'.
  SOUK_CHECK_ERROR(retry("{ initial: 5m }"), "t.yaml:8:27",
                   "longer than 'max_interval'");
  SOUK_CHECK_ERROR(retry("{ give_up_on: [invalid_field, nosuch] }"),
                   "t.yaml:8:46", "unknown error code 'nosuch'");
  SOUK_CHECK_ERROR(retry("{ give_up_on: [ok] }"), "t.yaml:8:31",
                   "unknown error code 'ok'");
  SOUK_CHECK_ERROR(retry("{ give_up_on: invalid_field }"), "t.yaml:8:30",
                   "expects a list");
  SOUK_CHECK_ERROR(retry("[1]"), "t.yaml:8:16", "'retry' must be a map");
}

BOOST_AUTO_TEST_CASE(transition_to_unknown_state) {
  SOUK_CHECK_ERROR(with_state("    on: { go.now: b, go.elsewhere: zz }\n"),
                   "t.yaml:6:36", "leads to unknown state 'zz'");
  // The first bad one in file order, not in event order.
  SOUK_CHECK_ERROR(with_state("    on: { zz.a: nowhere, go.now: b, aa.b: "
                              "elsewhere }\n"),
                   "t.yaml:6:17", "'zz.a' in state 'a' leads to unknown");
}

BOOST_AUTO_TEST_CASE(bad_event_names) {
  SOUK_CHECK_ERROR(with_state("    on: { go: b }\n"), "t.yaml:6:11",
                   "bad event name 'go'");
  SOUK_CHECK_ERROR(with_state("    on: { Go.now: b }\n"), "t.yaml:6:11",
                   "bad event name");
  SOUK_CHECK_ERROR(with_state("    on: { steps.oops: b }\n"), "t.yaml:6:11",
                   "unknown engine event 'steps.oops'");
  SOUK_CHECK_ERROR(with_state("    on: { go.now: b, steps.done: b }\n"),
                   "t.yaml:6:22", "has no steps, so 'steps.done' never");
  SOUK_CHECK_ERROR(with_state("    timeout: { after: 1m, emit: steps.done }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:33", "bad event name 'steps.done'");
}

BOOST_AUTO_TEST_CASE(steps_outcome_handled_by_halves) {
  SOUK_CHECK_ERROR(with_state("    steps: [ { call: svc.plain } ]\n"
                              "    on: { steps.done: b }\n"),
                   "t.yaml:7:11",
                   "handles 'steps.done' but not 'steps.failed'");
  SOUK_CHECK_ERROR(with_state("    steps: [ { call: svc.plain } ]\n"
                              "    on: { go.now: b, steps.failed: b }\n"),
                   "t.yaml:7:22",
                   "handles 'steps.failed' but not 'steps.done'");
}

BOOST_AUTO_TEST_CASE(terminal_states_have_nothing_else) {
  auto terminal_a = [](const std::string& rest) {
    return "flow: t\nversion: 1\ninitial: a\nstates:\n"
           "  a:\n    terminal: true\n"
           + rest;
  };
  SOUK_CHECK_ERROR(terminal_a("    steps: [ { call: svc.plain } ]\n"),
                   "t.yaml:7:5", "terminal state 'a' cannot have 'steps'");
  SOUK_CHECK_ERROR(terminal_a("    on: { go.now: a }\n"), "t.yaml:7:5",
                   "terminal state 'a' cannot have 'on'");
  SOUK_CHECK_ERROR(terminal_a("    timeout: { after: 1m, emit: go.now }\n"),
                   "t.yaml:7:5", "terminal state 'a' cannot have 'timeout'");
  BOOST_TEST(load(terminal_a("")).has_value());
  SOUK_CHECK_ERROR(with_state("    terminal: maybe\n    on: { go.now: b }\n"),
                   "t.yaml:6:15", "expects true or false");
}

BOOST_AUTO_TEST_CASE(timeout_event_must_be_handled) {
  SOUK_CHECK_ERROR(with_state("    timeout: { after: 30m, emit: go.late }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:34", "the timeout emits 'go.late' but state 'a'");
  SOUK_CHECK_ERROR(with_state("    timeout: { after: 30m }\n"
                              "    on: { go.now: b }\n"),
                   "t.yaml:6:14", "'timeout' needs 'emit'");
}

BOOST_AUTO_TEST_CASE(unreachable_state) {
  SOUK_CHECK_ERROR(minimal + "  lonely: { on: { go.now: b } }\n", "t.yaml:8:3",
                   "state 'lonely' is unreachable from 'a'");
}

BOOST_AUTO_TEST_CASE(no_terminal_reachable) {
  SOUK_CHECK_ERROR("flow: t\n"
                   "version: 1\n"
                   "initial: a\n"
                   "states:\n"
                   "  a: { on: { go.now: b, go.loop: c } }\n"
                   "  b: { terminal: true }\n"
                   "  c: { on: { go.back: d } }\n"
                   "  d: { on: { go.back: c } }\n",
                   "t.yaml:7:3",
                   "no terminal state can be reached from "
                   "state 'c'");
}

BOOST_AUTO_TEST_CASE(no_way_out) {
  SOUK_CHECK_ERROR(with_state("    steps: [ { call: svc.plain } ]\n"),
                   "t.yaml:5:3", "state 'a' has no way out");
  SOUK_CHECK_ERROR(with_state("    on: {}\n"), "t.yaml:6:9",
                   "has no way out: 'on' is empty");
}

BOOST_AUTO_TEST_CASE(file_errors) {
  auto x = fl::load_template_file("/nonexistent/x.yaml", test_actions());
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().code == souk::errc::not_found);
  BOOST_TEST(x.err().detail
             == "/nonexistent/x.yaml: cannot open the flow template");
}

BOOST_AUTO_TEST_CASE(graph) {
  auto x = load(with_state("    timeout: { after: 30m, emit: go.late }\n"
                           "    on: { go.now: b, go.late: b }\n"));
  BOOST_REQUIRE(x);
  auto dot = fl::to_dot(*x);
  BOOST_TEST_INFO(dot);
  BOOST_TEST(dot.starts_with("digraph \"t\" {\n"));
  BOOST_TEST(dot.find("\"b\" [shape=doublecircle];") != std::string::npos);
  BOOST_TEST(dot.find("\"a\" [shape=doublecircle]") == std::string::npos);
  BOOST_TEST(dot.find("\"__start\" -> \"a\";") != std::string::npos);
  BOOST_TEST(dot.find("\"a\" -> \"b\" [label=\"go.now\"];")
             != std::string::npos);
  BOOST_TEST(dot.find("\"a\" -> \"b\" [label=\"go.late\\nafter 30m\"];")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
