#include <algorithm>
#include <filesystem>

#include <boost/test/unit_test.hpp>

#include "souk/flows/interpreter.hpp"
#include "souk/flows/template.hpp"

using namespace std::chrono_literals;
namespace fl = souk::flows;

namespace {

std::vector<std::filesystem::path> shipped_files() {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::directory_iterator{SOUK_FLOW_TEMPLATES})
    if (e.path().extension() == ".yaml")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

fl::flow_template load_shipped(const std::string& name) {
  auto path = std::string{SOUK_FLOW_TEMPLATES} + "/" + name + ".yaml";
  auto x = fl::load_template_file(path, fl::default_actions());
  if (!x)
    BOOST_FAIL(x.err().detail);
  return std::move(*x);
}

} // namespace

BOOST_AUTO_TEST_SUITE(shipped)

BOOST_AUTO_TEST_CASE(every_shipped_template_validates) {
  auto files = shipped_files();
  BOOST_TEST(files.size() >= 2u);
  for (auto& path : files) {
    auto x = fl::load_template_file(path.string(), fl::default_actions());
    BOOST_TEST_INFO(path.string());
    BOOST_TEST(x.has_value(), (x ? std::string{} : x.err().detail));
    if (x) {
      // The file name is the flow's name: `soukctl flow graph NAME` and
      // products find templates by it.
      BOOST_TEST(x->name == path.stem().string());
      BOOST_TEST(x->hash.size() == 64u);
    }
  }
}

BOOST_AUTO_TEST_CASE(digital_download) {
  auto tpl = load_shipped("digital_download");
  BOOST_TEST(tpl.version == 3u);
  auto t = fl::start(tpl);
  BOOST_TEST(t.to == "pending");
  BOOST_REQUIRE(t.timeout.has_value());
  BOOST_TEST(t.timeout->after == 30min);
  auto paid = fl::on_event(tpl, "pending", "payment.succeeded");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(paid));
  auto& steps = std::get<fl::transition>(paid).steps;
  BOOST_REQUIRE(steps.size() == 2u);
  BOOST_TEST(steps[0].action == "wallet.credit_sale");
  BOOST_TEST(steps[1].action == "delivery.grant_access");
  BOOST_TEST(steps[1].params.at("expires_in") == "24h");
  BOOST_TEST(steps[1].retry.max_attempts == 8u);
  // Paid but nothing to deliver is refunded, never quietly `failed`.
  auto& gives_up = steps[1].retry.give_up_on;
  BOOST_TEST(gives_up.count(souk::errc::conflict) == 1u);
  auto stuck = fl::on_event(tpl, "paid", "steps.failed");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(stuck));
  BOOST_TEST(std::get<fl::transition>(stuck).to == "refunding");
  auto refunding = fl::on_event(tpl, "delivered", "refund.requested");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(refunding));
  BOOST_TEST(std::get<fl::transition>(refunding).steps.size() == 3u);
  for (auto name : {"refunded", "failed", "cancelled", "needs_attention"})
    BOOST_TEST(tpl.find(name)->terminal);
  // An operator cancels a pending order (POST /admin/orders/{id}/cancel).
  auto cancel = fl::on_event(tpl, "pending", "order.cancel");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(cancel));
  BOOST_TEST(std::get<fl::transition>(cancel).to == "cancelled");
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "paid", "order.cancel")));
}

BOOST_AUTO_TEST_CASE(licence_key) {
  auto tpl = load_shipped("licence_key");
  auto paid = fl::on_event(tpl, "pending", "payment.succeeded");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(paid));
  auto& steps = std::get<fl::transition>(paid).steps;
  BOOST_REQUIRE(steps.size() == 2u);
  BOOST_TEST(steps[1].action == "licence.issue_key");
  BOOST_TEST(steps[1].params.at("pool") == "default");
  // No key to give: the money goes back, not to an operator's queue.
  auto none = fl::on_event(tpl, "paid", "steps.failed");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(none));
  BOOST_TEST(std::get<fl::transition>(none).to == "refunding");
  auto done = fl::on_event(tpl, "paid", "steps.done");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(done));
  auto& receipt = std::get<fl::transition>(done).steps;
  BOOST_REQUIRE(receipt.size() == 1u);
  BOOST_TEST(receipt[0].action == "email.send");
  BOOST_TEST(receipt[0].params.at("template") == "receipt");
  auto refunding = fl::on_event(tpl, "delivered", "refund.requested");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(refunding));
  auto& undo = std::get<fl::transition>(refunding).steps;
  BOOST_TEST(std::any_of(undo.begin(), undo.end(), [](const fl::step& s) {
    return s.action == "delivery.revoke_access";
  }));
}

BOOST_AUTO_TEST_CASE(payout) {
  auto tpl = load_shipped("payout");
  BOOST_TEST(tpl.kind == "payout");
  auto t = fl::start(tpl);
  BOOST_TEST(t.to == "requested");
  BOOST_REQUIRE(t.steps.size() == 1u);
  BOOST_TEST(t.steps[0].action == "wallet.reserve_payout");
  BOOST_TEST(
    t.steps[0].retry.give_up_on.contains(souk::errc::insufficient_funds));
  auto to = [&](const char* state, const char* event) {
    auto d = fl::on_event(tpl, state, event);
    BOOST_REQUIRE(std::holds_alternative<fl::transition>(d));
    return std::get<fl::transition>(d).to;
  };
  BOOST_TEST(to("requested", "steps.failed") == "rejecting");
  BOOST_TEST(to("rejecting", "steps.done") == "rejected");
  // Money comes back only on the gateway's word, never because a step gave
  // up (the transfer may have gone through).
  BOOST_TEST(to("sending", "steps.failed") == "in_transit");
  BOOST_TEST(to("sending", "transfer.failed") == "returning");
  BOOST_TEST(to("in_transit", "transfer.success") == "settling");
  BOOST_TEST(to("in_transit", "transfer.reversed") == "returning");
  BOOST_TEST(to("paid", "transfer.reversed") == "returning");
  BOOST_TEST(to("returning", "steps.done") == "returned");
  for (auto name : {"rejected", "returned", "needs_attention"})
    BOOST_TEST(tpl.find(name)->terminal);
  BOOST_TEST(load_shipped("digital_download").kind == "order");
}

BOOST_AUTO_TEST_CASE(default_actions_list) {
  auto& c = fl::default_actions();
  BOOST_TEST(c.names().size() == 11u);
  BOOST_TEST(c.contains("payment.transfer"));
  BOOST_TEST(c.contains("licence.issue_key"));
  BOOST_TEST(c.params("delivery.grant_access").size() == 2u);
  BOOST_TEST(c.params("email.send").contains("template"));
  BOOST_TEST(c.params("wallet.credit_sale").empty());
  BOOST_TEST(!c.contains("wallet.steal"));
}

BOOST_AUTO_TEST_SUITE_END()
