// The creator's dashboard over real HTTP: two purchases and a refund show up
// in today's bucket and agree with the wallet, weeks and months add up to
// the same, bad ranges are refused naming the parameter, and nobody else
// sees the creator's money. Runs on SQLite and PostgreSQL (--backend).

#include "souk/core/time.hpp"

#include "shop.hpp"

using namespace souk::testing;

namespace {

http_reply get(shop& s, const std::string& target, const std::string& token) {
  std::vector<std::pair<std::string, std::string>> h;
  if (!token.empty())
    h.emplace_back("Authorization", "Bearer " + token);
  return http_request(s.port, "GET", target, {}, h);
}

json get_json(shop& s, const std::string& target, const std::string& token) {
  auto res = get(s, target, token);
  BOOST_REQUIRE_MESSAGE(res.status == 200, target << ": " << res.body);
  return json::parse(res.body);
}

// A new account with `role`, signed in: its session token.
std::string newcomer(shop& s, const std::string& role) {
  auto email = role + souk::random_hex(4) + "@example.com";
  auto body = json{{"email", email}, {"password", op_password}, {"role", role}};
  auto up = http_request(s.port, "POST", "/api/v1/auth/signup", body.dump(),
                         {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(up.status == 201, up.body);
  auto in
    = http_request(s.port, "POST", "/api/v1/auth/login",
                   json{{"email", email}, {"password", op_password}}.dump(),
                   {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(in.status == 200, in.body);
  return json::parse(in.body)["token"];
}

// The creator's NGN pending balance through GET /api/v1/wallet.
int64_t pending(shop& s) {
  auto items = get_json(s, "/api/v1/wallet", s.creator_token)["items"];
  BOOST_REQUIRE(items.size() == 1u);
  return items[0]["pending"].get<int64_t>();
}

void same_figures(const json& x, int64_t sales, int64_t gross, int64_t fees,
                  int64_t net, int64_t refunds) {
  BOOST_TEST_INFO(x.dump());
  BOOST_TEST(x["sales"] == sales);
  BOOST_TEST(x["gross"] == gross);
  BOOST_TEST(x["fees"] == fees);
  BOOST_TEST(x["net"] == net);
  BOOST_TEST(x["refunds"] == refunds);
  BOOST_TEST(x["earnings"] == net - refunds);
}

} // namespace

BOOST_AUTO_TEST_SUITE(dashboard)

BOOST_AUTO_TEST_CASE(sales_and_refunds_show_in_the_creators_series) {
  shop s;
  // No sales yet: no series at all.
  auto none = get_json(s, "/api/v1/dashboard/sales", s.creator_token);
  BOOST_TEST(none["series"].empty());
  BOOST_TEST(none["bucket"] == "day");

  std::vector<std::string> orders;
  for (int i = 0; i < 2; ++i) {
    auto o = s.checkout();
    orders.push_back(o["order"]["id"]);
    BOOST_REQUIRE(s.press(o, "pay").status == 303u);
  }
  for (auto& id : orders)
    BOOST_REQUIRE(s.reaches(id, "delivered"));

  // Two sales of NGN 5,000.00: each 35,000 fee, 465,000 net (docs/wallet.md).
  auto before = souk::to_iso_day(souk::day_of(souk::now()));
  auto doc = get_json(s, "/api/v1/dashboard/sales", s.creator_token);
  auto after = souk::to_iso_day(souk::day_of(souk::now()));
  std::string today = doc["to"];
  BOOST_TEST((today == before || today == after));
  auto first_day = *souk::parse_iso_day(today) - std::chrono::days{29};
  BOOST_TEST(doc["from"] == souk::to_iso_day(first_day));
  BOOST_REQUIRE(doc["series"].size() == 1u);
  auto ngn = doc["series"][0];
  BOOST_TEST(ngn["currency"] == "NGN");
  BOOST_REQUIRE(ngn["points"].size() == 30u);
  BOOST_TEST(ngn["points"][0]["start"] == doc["from"]);
  auto last = ngn["points"][29];
  BOOST_TEST(last["start"] == today);
  same_figures(last, 2, 1'000'000, 70'000, 930'000, 0);
  same_figures(ngn["totals"], 2, 1'000'000, 70'000, 930'000, 0);
  for (size_t i = 0; i < 29; ++i)
    same_figures(ngn["points"][i], 0, 0, 0, 0, 0);
  // The ledger agrees with the wallet: all of it is still pending.
  BOOST_TEST(pending(s) == 930'000);

  // A refund of 2/5 of the first order gives back 2/5 of its net.
  auto refund
    = http_request(s.port, "POST", "/api/v1/orders/" + orders[0] + "/refund",
                   json{{"amount", 200'000}}.dump(),
                   {{"Authorization", "Bearer " + s.op_token},
                    {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(refund.status == 202u, refund.body);
  BOOST_REQUIRE(s.reaches(orders[0], "refunded"));
  doc = get_json(s, "/api/v1/dashboard/sales", s.creator_token);
  BOOST_REQUIRE(doc["series"].size() == 1u);
  same_figures(doc["series"][0]["points"][29], 2, 1'000'000, 70'000, 930'000,
               186'000);
  same_figures(doc["series"][0]["totals"], 2, 1'000'000, 70'000, 930'000,
               186'000);
  BOOST_TEST(pending(s) == 930'000 - 186'000);

  // By week and by month: the same totals, today's bucket labelled by its
  // Monday or its first.
  auto day = *souk::parse_iso_day(today);
  auto monday = souk::to_iso_day(
    day - std::chrono::days{std::chrono::weekday{day}.iso_encoding() - 1});
  auto week = get_json(
    s, "/api/v1/dashboard/sales?bucket=week&from=" + today + "&to=" + today,
    s.creator_token);
  BOOST_TEST(week["bucket"] == "week");
  BOOST_REQUIRE(week["series"].size() == 1u);
  BOOST_REQUIRE(week["series"][0]["points"].size() == 1u);
  BOOST_TEST(week["series"][0]["points"][0]["start"] == monday);
  same_figures(week["series"][0]["points"][0], 2, 1'000'000, 70'000, 930'000,
               186'000);
  auto month = get_json(s,
                        "/api/v1/dashboard/sales?bucket=month&from="
                          + today.substr(0, 8) + "01&to=" + today,
                        s.creator_token);
  BOOST_REQUIRE(month["series"].size() == 1u);
  BOOST_REQUIRE(month["series"][0]["points"].size() == 1u);
  BOOST_TEST(month["series"][0]["points"][0]["start"]
             == today.substr(0, 8) + "01");
  same_figures(month["series"][0]["totals"], 2, 1'000'000, 70'000, 930'000,
               186'000);

  // A quiet range: the currency is still there, all zeros.
  auto quiet
    = get_json(s, "/api/v1/dashboard/sales?from=2020-02-01&to=2020-02-29",
               s.creator_token);
  BOOST_TEST(quiet["from"] == "2020-02-01");
  BOOST_TEST(quiet["to"] == "2020-02-29");
  BOOST_REQUIRE(quiet["series"].size() == 1u);
  BOOST_TEST(quiet["series"][0]["points"].size() == 29u);
  same_figures(quiet["series"][0]["totals"], 0, 0, 0, 0, 0);

  // Nobody else sees any of it: another creator has no series, a customer
  // and an operator are refused, an anonymous caller must sign in.
  auto other = get_json(s, "/api/v1/dashboard/sales", newcomer(s, "creator"));
  BOOST_TEST(other["series"].empty());
  auto customer = get(s, "/api/v1/dashboard/sales", newcomer(s, "customer"));
  BOOST_TEST(customer.status == 403u);
  BOOST_TEST(get(s, "/api/v1/dashboard/sales", s.op_token).status == 403u);
  BOOST_TEST(get(s, "/api/v1/dashboard/sales", {}).status == 401u);
}

BOOST_AUTO_TEST_CASE(bad_ranges_are_refused_naming_the_parameter) {
  shop s;
  struct bad {
    std::string query;
    std::string field;
  };
  for (auto& [query, field] : std::vector<bad>{
         {"from=2026-02-30", "from"},
         {"from=yesterday", "from"},
         {"to=2026-1-1", "to"},
         {"to=", "to"},
         {"bucket=year", "bucket"},
         {"from=2026-03-02&to=2026-03-01", "from"},
         {"from=2025-01-01&to=2026-01-02", "from"},
         {"from=2020-01-01&to=2026-01-01&bucket=month", "from"},
       }) {
    auto res = get(s, "/api/v1/dashboard/sales?" + query, s.creator_token);
    BOOST_TEST_INFO(query << " -> " << res.body);
    BOOST_TEST(res.status == 422u);
    BOOST_TEST(res.header("content-type").value_or("")
               == "application/problem+json");
    auto doc = json::parse(res.body);
    BOOST_TEST(doc["code"] == "invalid_field");
    BOOST_TEST(doc["field"] == field);
  }
  // The longest ranges are fine, and unknown parameters are ignored like
  // on every other route.
  BOOST_TEST(get(s, "/api/v1/dashboard/sales?from=2025-01-01&to=2025-12-31",
                 s.creator_token)
               .status
             == 200u);
  BOOST_TEST(get(s,
                 "/api/v1/dashboard/sales?from=2021-01-01&to=2025-12-31&"
                 "bucket=week&colour=blue",
                 s.creator_token)
               .status
             == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
