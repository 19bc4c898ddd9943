// The souk-sandbox program, run as a child process.

#include <csignal>
#include <regex>

#include "fixture.hpp"

using namespace souk::testing;

namespace {

const std::string sandbox_bin = SOUK_SANDBOX_PROGRAM;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(program)

BOOST_AUTO_TEST_CASE(serves_the_api_and_stops_cleanly_on_sigterm) {
  temp_dir dir;
  receiver hooks;
  child_process child{{sandbox_bin, "--listen", "127.0.0.1:0", "--webhook-url",
                       hooks.url(), "--retry-first", "100ms",
                       "--no-access-log"},
                      {"SOUK_SANDBOX_SECRET_KEY=sk_test_from_env"},
                      dir.path()};
  BOOST_REQUIRE_MESSAGE(
    child.wait_for_output("sandbox gateway listening on http://", 10s),
    "no ready line; stderr: " << child.err());
  std::smatch m;
  auto out = child.out();
  BOOST_REQUIRE(std::regex_search(
    out, m,
    std::regex{
      R"(^sandbox gateway listening on http://127\.0\.0\.1:(\d+)\n$)"}));
  auto port = static_cast<uint16_t>(std::stoi(m[1]));
  std::vector<std::pair<std::string, std::string>> auth{
    {"Authorization", "Bearer sk_test_from_env"},
    {"Content-Type", "application/json"}};

  auto res = http_request(
    port, "POST", "/transaction/initialize",
    R"({"email":"buyer@example.com","amount":"5000","reference":"prog-1"})",
    auth);
  BOOST_TEST_REQUIRE(res.status == 200u, res.body);
  auto init = json::parse(res.body);
  BOOST_TEST(init["data"]["authorization_url"].get<std::string>().rfind(
               "http://127.0.0.1:" + std::to_string(port) + "/checkout/", 0)
             == 0u);
  res = http_request(port, "GET", "/transaction/verify/prog-1", "", auth);
  BOOST_TEST(res.status == 200u);
  BOOST_TEST(json::parse(res.body)["data"]["status"] == "abandoned");
  // The default key is not the key any more.
  res = http_request(port, "GET", "/transaction/verify/prog-1", "",
                     {{"Authorization", "Bearer sk_test_souk_sandbox"}});
  BOOST_TEST(res.status == 401u);

  res
    = http_request(port, "POST", "/_sandbox/transactions/prog-1/pay", "", auth);
  BOOST_TEST(res.status == 200u);
  auto hook = hooks.wait_for(1).at(0);
  BOOST_TEST(hook.event() == "charge.success");
  BOOST_TEST(hook.signature
             == souk::hmac_sha512_hex("sk_test_from_env", hook.body));

  child.signal(SIGTERM);
  auto code = child.wait(10s);
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == 0);
  BOOST_TEST(child.out() == out); // exactly the one line
}

BOOST_AUTO_TEST_CASE(sigint_stops_it_too) {
  temp_dir dir;
  child_process child{{sandbox_bin, "--listen", "127.0.0.1:0", "--secret-key",
                       "sk_test_flag", "--copies", "2", "--reorder",
                       "--verify-errors", "1", "--amount-delta", "-5",
                       "--transfer-outcome", "failed", "--delay=10ms"},
                      {},
                      dir.path()};
  BOOST_REQUIRE(child.wait_for_output("listening on", 10s));
  child.signal(SIGINT);
  auto code = child.wait(10s);
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == 0);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_named_and_exit_2) {
  std::vector<std::pair<std::vector<std::string>, std::string>> cases{
    {{"--bogus"}, "--bogus"},
    {{"--copies", "0"}, "--copies"},
    {{"--copies"}, "--copies"},
    {{"--delay", "5"}, "--delay"},
    {{"--retry-first", "soon"}, "--retry-first"},
    {{"--listen", "nonsense"}, "--listen"},
    {{"--webhook-url", "ftp://example.com"}, "--webhook-url"},
    {{"--amount-delta", "1.5"}, "--amount-delta"},
    {{"--transfer-outcome", "lost"}, "--transfer-outcome"},
    {{"--verify-errors", "-1"}, "--verify-errors"},
  };
  for (auto& [args, flag] : cases) {
    std::vector<std::string> argv{sandbox_bin};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_program(argv, {}, ".", 10s);
    BOOST_TEST_CONTEXT(args.front()) {
      BOOST_TEST(r.code == 2);
      BOOST_TEST(contains(r.err, flag), r.err);
      BOOST_TEST(r.out.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(help_lists_the_flags) {
  auto r = run_program({sandbox_bin, "--help"}, {}, ".", 10s);
  BOOST_TEST(r.code == 0);
  for (auto flag :
       {"--listen", "--public-url", "--secret-key", "--webhook-url", "--copies",
        "--delay", "--drop", "--reorder", "--verify-errors", "--amount-delta",
        "--retry-first", "--retry-later", "--transfer-outcome"})
    BOOST_TEST(contains(r.out, flag), flag);
}

BOOST_AUTO_TEST_SUITE_END()
