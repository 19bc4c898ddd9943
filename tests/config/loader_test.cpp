#include <fstream>

#include <boost/test/unit_test.hpp>

#include "souk/config/loader.hpp"
#include "souk/testing/support.hpp"

using namespace std::chrono_literals;
namespace cfg = souk::config;

namespace {

struct fixture {
  souk::testing::temp_dir dir;

  std::string write(const std::string& text) {
    auto path = (dir.path() / "souk.yaml").string();
    std::ofstream{path} << text;
    return path;
  }

  souk::expected<cfg::loaded> load_text(const std::string& text) {
    cfg::sources src;
    src.file = write(text);
    return cfg::load(src);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(loader, fixture)

BOOST_AUTO_TEST_CASE(defaults_apply_without_sources) {
  auto x = cfg::load({});
  BOOST_REQUIRE(x);
  BOOST_TEST(x->values.listen == "127.0.0.1:8080");
  BOOST_TEST(x->values.data_dir == "var");
  BOOST_TEST(x->values.http.body_limit == 1u << 20);
  BOOST_TEST(x->origin.at("listen") == "default");
  auto url = x->values.effective_database_url();
  BOOST_TEST(url.starts_with("sqlite:///"));
  BOOST_TEST(url.ends_with("/var/souk.db"));
}

BOOST_AUTO_TEST_CASE(file_values_land_in_the_structs) {
  auto x = load_text("listen: 0.0.0.0:9000\n"
                     "http:\n"
                     "  body_limit: 2MiB\n"
                     "  idle_timeout: 30s\n"
                     "database:\n"
                     "  url: postgresql://souk:pw@db:5432/souk\n"
                     "  pool_size: 16\n"
                     "log:\n"
                     "  format: json\n"
                     "  access_log: false\n");
  BOOST_REQUIRE_MESSAGE(x, (x ? "" : x.err().detail));
  BOOST_TEST(x->values.listen == "0.0.0.0:9000");
  BOOST_TEST(x->values.http.body_limit == 2u << 20);
  BOOST_TEST(x->values.http.idle_timeout.count() == 30'000);
  BOOST_TEST(x->values.database.pool_size == 16u);
  BOOST_TEST((x->values.log.format == souk::log::format::json));
  BOOST_TEST(x->values.log.access_log == false);
  BOOST_TEST(x->origin.at("http.body_limit").ends_with("souk.yaml:3:15"));
}

BOOST_AUTO_TEST_CASE(unknown_key_names_key_file_and_line) {
  auto x = load_text("listen: 127.0.0.1:1\n"
                     "http:\n"
                     "  body_limt: 2MiB\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().code == souk::errc::config);
  auto& msg = x.err().detail;
  BOOST_TEST_INFO(msg);
  BOOST_TEST(msg.find("souk.yaml:3:3") != std::string::npos);
  BOOST_TEST(msg.find("unknown key 'http.body_limt'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_section_is_refused) {
  auto x = load_text("smtp:\n  host: mail\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("souk.yaml:1:1: unknown key 'smtp'")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_value_where_a_section_belongs_is_refused) {
  auto x = load_text("http: 5\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("unknown key 'http'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_refused) {
  auto x = load_text("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("souk.yaml:2:1: duplicate key 'listen'")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_values_name_key_line_and_expectation) {
  auto x = load_text("http:\n  body_limit: lots\n");
  BOOST_REQUIRE(!x);
  auto& msg = x.err().detail;
  BOOST_TEST_INFO(msg);
  BOOST_TEST(msg.find("souk.yaml:2:15") != std::string::npos);
  BOOST_TEST(msg.find("http.body_limit") != std::string::npos);
  BOOST_TEST(msg.find("'lots'") != std::string::npos);
  for (auto bad :
       {"listen: nowhere\n", "listen: host:99999\n",
        "database:\n  url: mysql://x\n", "database:\n  pool_size: 0\n",
        "log:\n  level: loud\n", "http:\n  threads: [1, 2]\n",
        "public_url: ftp://x\n", "database:\n  migrate_on_start: maybe\n",
        "auth:\n  sessions_kept_for: 30m\n",
        "payments:\n  idempotency_keys_kept_for: 0s\n"}) {
    BOOST_TEST_INFO("yaml: " << bad);
    BOOST_TEST(!load_text(bad));
  }
}

BOOST_AUTO_TEST_CASE(trusted_proxies_are_networks_named_when_bad) {
  auto x = load_text("http:\n  trusted_proxies: 10.0.0.0/8, proxy.lan\n");
  BOOST_REQUIRE(!x);
  auto& msg = x.err().detail;
  BOOST_TEST_INFO(msg);
  BOOST_TEST(msg.find("http.trusted_proxies") != std::string::npos);
  BOOST_TEST(msg.find("souk.yaml:2:20") != std::string::npos);
  BOOST_TEST(msg.find("'proxy.lan'") != std::string::npos);
  auto ok = load_text("http:\n  trusted_proxies: \"10.0.0.0/8 ::1\"\n");
  BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.err().detail));
  BOOST_TEST(ok->values.http.trusted_proxies == "10.0.0.0/8, ::1/128");
  BOOST_TEST(cfg::load({})->values.http.trusted_proxies.empty());
}

BOOST_AUTO_TEST_CASE(the_forwarded_header_is_one_of_two) {
  auto x = load_text("http:\n  forwarded_header: x-real-ip\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("http.forwarded_header") != std::string::npos);
  auto ok = load_text("http:\n  forwarded_header: Forwarded\n");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->values.http.forwarded_header == "forwarded");
  BOOST_TEST(cfg::load({})->values.http.forwarded_header == "x-forwarded-for");
}

BOOST_AUTO_TEST_CASE(cors_origins_are_web_origins_named_when_bad) {
  auto x = load_text("http:\n  cors_origins: https://shop.example.com/\n");
  BOOST_REQUIRE(!x);
  auto& msg = x.err().detail;
  BOOST_TEST_INFO(msg);
  BOOST_TEST(msg.find("http.cors_origins") != std::string::npos);
  BOOST_TEST(msg.find("souk.yaml:2:17") != std::string::npos);
  BOOST_TEST(msg.find("'https://shop.example.com/'") != std::string::npos);
  auto ok = load_text("http:\n  cors_origins: \"https://A.example "
                      "http://localhost:3000\"\n  cors_max_age: 1h\n");
  BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.err().detail));
  BOOST_TEST(ok->values.http.cors_origins
             == "https://a.example, http://localhost:3000");
  BOOST_TEST(ok->values.http.cors_max_age.count() == 3'600'000);
  BOOST_TEST(cfg::load({})->values.http.cors_origins.empty());
  auto long_age = load_text("http:\n  cors_max_age: 25h\n");
  BOOST_REQUIRE(!long_age);
  BOOST_TEST(long_age.err().detail.find("http.cors_max_age")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(retention_is_at_least_an_hour) {
  auto x = load_text("auth:\n  login_failures_kept_for: 59m\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST_INFO(x.err().detail);
  BOOST_TEST(x.err().detail.find("at least 1h") != std::string::npos);
  auto ok = load_text("auth:\n  login_failures_kept_for: 1h\n");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->values.auth.login_failures_kept_for == std::chrono::hours{1});
}

BOOST_AUTO_TEST_CASE(postgresql_session_timeouts_are_at_most_a_day) {
  for (auto key : {"lock_timeout", "idle_in_transaction_timeout"}) {
    auto x = load_text(std::string{"database:\n  "} + key + ": 25h\n");
    BOOST_REQUIRE(!x);
    BOOST_TEST_INFO(x.err().detail);
    BOOST_TEST(x.err().detail.find(std::string{"database."} + key)
               != std::string::npos);
    BOOST_TEST(x.err().detail.find("at most 24h") != std::string::npos);
    auto ok = load_text(std::string{"database:\n  "} + key + ": 24h\n");
    BOOST_REQUIRE(ok);
  }
  auto off = load_text("database:\n  lock_timeout: 0s\n");
  BOOST_REQUIRE(off);
  BOOST_TEST(off->values.database.lock_timeout.count() == 0);
}

BOOST_AUTO_TEST_CASE(email_senders_are_from_1_to_64) {
  for (auto bad : {"0", "65", "many"}) {
    auto x = load_text(std::string{"email:\n  senders: "} + bad + "\n");
    BOOST_REQUIRE(!x);
    BOOST_TEST_INFO(x.err().detail);
    BOOST_TEST(x.err().detail.find("email.senders") != std::string::npos);
    BOOST_TEST(x.err().detail.find("from 1 to 64") != std::string::npos);
  }
  auto ok = load_text("email:\n  senders: 64\n");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->values.email.senders == 64u);
}

BOOST_AUTO_TEST_CASE(broken_yaml_reports_its_position) {
  auto x = load_text("http:\n  body_limit: [1\n");
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("souk.yaml:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error) {
  cfg::sources src;
  src.file = (dir.path() / "absent.yaml").string();
  auto x = cfg::load(src);
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("absent.yaml: cannot open")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_file_changes_nothing) {
  auto x = load_text("# nothing here\n");
  BOOST_REQUIRE(x);
  BOOST_TEST(x->values.listen == "127.0.0.1:8080");
}

BOOST_AUTO_TEST_CASE(env_overrides_file_and_flags_override_env) {
  cfg::sources src;
  src.file = write("listen: 127.0.0.1:1000\nhttp:\n  threads: 3\n");
  src.env = {{"SOUK_LISTEN", "127.0.0.1:2000"},
             {"SOUK_HTTP_THREADS", "5"},
             {"HOME", "/root"},
             {"SOUK_TEST_DATABASE_URL", "ignored"}};
  src.flags = {{"listen", "127.0.0.1:3000"}};
  auto x = cfg::load(src);
  BOOST_REQUIRE_MESSAGE(x, (x ? "" : x.err().detail));
  BOOST_TEST(x->values.listen == "127.0.0.1:3000");
  BOOST_TEST(x->values.http.threads == 5u);
  BOOST_TEST(x->origin.at("http.threads") == "env SOUK_HTTP_THREADS");
  BOOST_TEST(x->origin.at("listen") == "command line");
}

BOOST_AUTO_TEST_CASE(unknown_or_bad_env_variables_are_refused) {
  cfg::sources src;
  src.env = {{"SOUK_LISTN", "127.0.0.1:1"}};
  auto x = cfg::load(src);
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("SOUK_LISTN") != std::string::npos);
  src.env = {{"SOUK_HTTP_BODY_LIMIT", "huge"}};
  x = cfg::load(src);
  BOOST_REQUIRE(!x);
  BOOST_TEST(x.err().detail.find("SOUK_HTTP_BODY_LIMIT") != std::string::npos);
  BOOST_TEST(x.err().detail.find("'huge'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(describe_masks_database_passwords) {
  cfg::sources src;
  src.flags = {{"database.url", "postgresql://souk:s3cret@db/souk"}};
  auto x = cfg::load(src);
  BOOST_REQUIRE(x);
  auto text = cfg::describe(*x);
  BOOST_TEST(text.find("s3cret") == std::string::npos);
  BOOST_TEST(text.find("postgresql://souk:***@db/souk") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(example_file_loads_and_documents_every_key) {
  cfg::sources src;
  src.file = SOUK_EXAMPLE_CONFIG;
  auto x = cfg::load(src);
  BOOST_REQUIRE_MESSAGE(x, (x ? "" : x.err().detail));
  // It states the defaults: loading it changes no value.
  auto defaults = cfg::load({});
  BOOST_REQUIRE(defaults);
  for (auto& k : cfg::known_keys()) {
    BOOST_TEST_INFO("key " << k.key);
    BOOST_TEST(x->origin.at(k.key) != "default"); // present in the file
  }
  auto strip = [](std::string text) {
    std::string out;
    std::istringstream in{text};
    for (std::string line; std::getline(in, line);)
      out += line.substr(0, line.find("  #")) + "\n";
    return out;
  };
  BOOST_TEST(strip(cfg::describe(*x)) == strip(cfg::describe(*defaults)));
}

BOOST_AUTO_TEST_SUITE_END()
