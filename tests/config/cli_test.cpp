#include <boost/test/unit_test.hpp>

#include "souk/config/cli.hpp"

namespace cfg = souk::config;

namespace {

souk::expected<cfg::command_line> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  return cfg::parse_command_line(static_cast<int>(argv.size()), argv.data(),
                                 {"check-config", "json"});
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(api_flags_map_to_config_keys) {
  auto x = parse({"--listen", "0.0.0.0:1", "--data-dir=/srv/souk", "--database",
                  "postgresql://h/db", "--config", "/etc/souk.yaml", "--set",
                  "http.body_limit=2MiB", "--check-config"});
  BOOST_REQUIRE_MESSAGE(x, (x ? "" : x.err().detail));
  BOOST_TEST(*x->src.file == "/etc/souk.yaml");
  std::vector<std::pair<std::string, std::string>> expected{
    {"listen", "0.0.0.0:1"},
    {"data_dir", "/srv/souk"},
    {"database.url", "postgresql://h/db"},
    {"http.body_limit", "2MiB"}};
  BOOST_TEST((x->src.flags == expected));
  BOOST_TEST(x->switches.count("check-config") == 1u);
}

BOOST_AUTO_TEST_CASE(positional_words_are_kept_in_order) {
  auto x = parse({"migrate", "--json", "now"});
  BOOST_REQUIRE(x);
  BOOST_TEST((x->positional == std::vector<std::string>{"migrate", "now"}));
}

BOOST_AUTO_TEST_CASE(unknown_and_incomplete_flags_are_errors) {
  BOOST_TEST(!parse({"--lisen", "x"}));
  BOOST_TEST(!parse({"--listen"}));
  BOOST_TEST(!parse({"--set", "novalue"}));
  BOOST_TEST(!parse({"--json=yes"}));
  auto x = parse({"--frobnicate"});
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("--frobnicate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(flags_are_validated_by_the_loader) {
  auto x = parse({"--set", "http.bogus=1"});
  BOOST_REQUIRE(x);
  auto loaded = cfg::load(x->src);
  BOOST_REQUIRE(!loaded);
  BOOST_TEST(loaded.err().detail.find("http.bogus") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
