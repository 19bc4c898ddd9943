// The Paystack driver speaking to the sandbox gateway over real HTTP: every
// call of the gateway interface, and how the gateway's refusals map onto
// souk's error codes.

#include <optional>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/http/router.hpp"
#include "souk/http/server.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/payments/http_client.hpp"
#include "souk/sandbox/gateway.hpp"

using namespace std::chrono_literals;
namespace pay = souk::payments;

namespace {

struct sandboxed {
  std::shared_ptr<souk::sandbox::gateway> sim;
  souk::http::router routes;
  std::unique_ptr<souk::http::server> server;
  std::string url;

  sandboxed() {
    souk::sandbox::options o;
    o.secret_key = "sk_test_driver";
    o.refund_delay = 50ms;
    o.transfer_delay = 50ms;
    sim = std::make_shared<souk::sandbox::gateway>(o);
    sim->add_routes(routes, "");
    souk::http::server_options so;
    so.listen = "127.0.0.1:0";
    so.access_log = false;
    server = std::make_unique<souk::http::server>(so, routes);
    BOOST_REQUIRE(!server->start());
    url = "http://127.0.0.1:" + std::to_string(server->port());
    sim->set_public_url(url);
  }
  ~sandboxed() {
    sim->stop();
    server->shutdown(1s);
  }

  std::shared_ptr<pay::gateway> driver(const std::string& key
                                       = "sk_test_driver") {
    pay::paystack_options o;
    o.base_url = url + "/"; // a trailing slash is fine
    o.secret_key = key;
    o.timeout = 5s;
    return pay::make_paystack(o);
  }
};

pay::charge_request charge(const std::string& ref) {
  pay::charge_request r;
  r.email = "b@example.com";
  r.amount = 500000;
  r.currency = "NGN";
  r.reference = ref;
  r.callback_url = "http://shop.example/return";
  r.metadata = R"({"order_id":"o1"})";
  return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(driver)

BOOST_AUTO_TEST_CASE(charges_and_refunds) {
  sandboxed s;
  auto gw = s.driver();
  BOOST_TEST(gw->name() == "paystack");
  auto session = gw->initialize(charge("souk-d-1"));
  BOOST_REQUIRE_MESSAGE(session, (session ? "" : session.err().detail));
  BOOST_TEST(session->reference == "souk-d-1");
  BOOST_TEST(session->authorization_url.starts_with(s.url + "/checkout/"));
  BOOST_TEST(!session->access_code.empty());

  auto dup = gw->initialize(charge("souk-d-1"));
  BOOST_REQUIRE(!dup);
  BOOST_TEST(dup.err().code == souk::errc::conflict);

  auto unpaid = gw->verify("souk-d-1");
  BOOST_REQUIRE(unpaid);
  BOOST_TEST((unpaid->status == pay::charge_status::abandoned));
  BOOST_REQUIRE(!s.sim->pay("souk-d-1"));
  auto paid = gw->verify("souk-d-1");
  BOOST_REQUIRE(paid);
  BOOST_TEST((paid->status == pay::charge_status::success));
  BOOST_TEST(paid->amount == 500000);
  BOOST_TEST(paid->currency == "NGN");
  BOOST_TEST(paid->id > (uint64_t{1} << 32)); // kept as 64 bits
  BOOST_TEST(!paid->paid_at.empty());

  auto missing = gw->verify("souk-nope");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.err().code == souk::errc::not_found);

  pay::refund_request rr;
  rr.transaction = "souk-d-1";
  rr.amount = 100000;
  auto refund = gw->start_refund(rr);
  BOOST_REQUIRE_MESSAGE(refund, (refund ? "" : refund.err().detail));
  BOOST_TEST(refund->status == "pending");
  BOOST_TEST(refund->amount == 100000);
  BOOST_TEST(refund->transaction_reference == "souk-d-1");
  BOOST_TEST(refund->id > 0u);
  rr.amount = 900000; // more than is left
  auto over = gw->start_refund(rr);
  BOOST_REQUIRE(!over);
  BOOST_TEST(over.err().code == souk::errc::invalid_field);

  // The gateway's list of the charge's refunds, whoever asked for them.
  auto listed = gw->refunds_of(*paid);
  BOOST_REQUIRE_MESSAGE(listed, (listed ? "" : listed.err().detail));
  BOOST_REQUIRE(listed->size() == 1u);
  BOOST_TEST((*listed)[0].id == refund->id);
  BOOST_TEST((*listed)[0].amount == 100000);
  BOOST_TEST((*listed)[0].currency == "NGN");
  BOOST_TEST((*listed)[0].transaction_reference == "souk-d-1");
  BOOST_TEST(
    ((*listed)[0].status == "pending" || (*listed)[0].status == "processed"));
}

// A charge with many refunds is read page after page (Paystack lists at
// most 100 at a time); another charge's refunds are not among them.
BOOST_AUTO_TEST_CASE(refunds_of_a_charge_are_read_across_pages) {
  sandboxed s;
  auto gw = s.driver();
  for (auto ref : {"souk-p-1", "souk-p-2"}) {
    BOOST_REQUIRE(gw->initialize(charge(ref)));
    BOOST_REQUIRE(!s.sim->pay(ref));
  }
  auto none = gw->refunds_of(*gw->verify("souk-p-1"));
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
  pay::refund_request rr;
  rr.amount = 1;
  rr.transaction = "souk-p-2";
  BOOST_REQUIRE(gw->start_refund(rr));
  rr.transaction = "souk-p-1";
  for (int i = 0; i < 101; ++i)
    BOOST_REQUIRE(gw->start_refund(rr));
  auto many = gw->refunds_of(*gw->verify("souk-p-1"));
  BOOST_REQUIRE_MESSAGE(many, (many ? "" : many.err().detail));
  BOOST_TEST(many->size() == 101u);
  std::set<uint64_t> ids;
  for (auto& r : *many)
    ids.insert(r.id);
  BOOST_TEST(ids.size() == 101u); // no page read twice
  auto other = gw->refunds_of(*gw->verify("souk-p-2"));
  BOOST_REQUIRE(other);
  BOOST_TEST(other->size() == 1u);
  pay::charge unknown;
  unknown.reference = "souk-p-none";
  auto missing = gw->refunds_of(unknown); // no id: not asked at all
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.err().code == souk::errc::invalid_field);
}

// A thread's calls share one kept-alive connection: no connect (or TLS
// handshake, against the real gateway) per call. A server restarted in
// between closes it; the next call connects again by itself.
BOOST_AUTO_TEST_CASE(calls_from_a_thread_reuse_one_connection) {
  std::optional<sandboxed> s;
  s.emplace();
  // Which of four calls opened a connection.
  auto calls = [&] {
    std::vector<bool> opened;
    for (int i = 0; i < 4; ++i) {
      pay::http_call c;
      c.url = s->url + "/transaction/verify/souk-none";
      c.headers = {{"Authorization", "Bearer sk_test_driver"}};
      auto a = pay::send(c);
      opened.push_back(!a || a->connected); // a failed call fails the test
    }
    return opened;
  };
  // On a new thread: one that called before may have kept another server's.
  std::vector<bool> first, second;
  std::thread{[&] {
    first = calls();
    s.reset(); // the server goes away with the connection kept to it
    s.emplace();
    second = calls(); // the dead connection is not used
  }}.join();
  BOOST_TEST((first == std::vector<bool>{true, false, false, false}));
  BOOST_TEST((second == std::vector<bool>{true, false, false, false}));
}

BOOST_AUTO_TEST_CASE(transfers) {
  sandboxed s;
  auto gw = s.driver();
  pay::recipient_request r;
  r.name = "Ada";
  r.account_number = "0001234567";
  r.bank_code = "058";
  r.currency = "NGN";
  auto rcp = gw->create_recipient(r);
  BOOST_REQUIRE_MESSAGE(rcp, (rcp ? "" : rcp.err().detail));
  BOOST_TEST(rcp->recipient_code.starts_with("RCP_"));
  auto same = gw->create_recipient(r);
  BOOST_REQUIRE(same);
  BOOST_TEST(same->recipient_code == rcp->recipient_code);

  pay::transfer_request t;
  t.amount = 250000;
  t.currency = "NGN";
  t.recipient = rcp->recipient_code;
  t.reference = "payout-0000000000000001";
  t.reason = "earnings";
  auto tr = gw->start_transfer(t);
  BOOST_REQUIRE_MESSAGE(tr, (tr ? "" : tr.err().detail));
  BOOST_TEST(tr->transfer_code.starts_with("TRF_"));
  BOOST_TEST(!pay::final_transfer_status(tr->status));
  // A retry with the same reference pays nothing more.
  auto retry = gw->start_transfer(t);
  BOOST_REQUIRE(retry);
  BOOST_TEST(retry->transfer_code == tr->transfer_code);
  BOOST_TEST(s.sim->stats().transfer_calls == 2u);
  std::string status;
  for (int i = 0; i < 100 && !pay::final_transfer_status(status); ++i) {
    std::this_thread::sleep_for(20ms);
    auto v = gw->verify_transfer(t.reference);
    BOOST_REQUIRE(v);
    status = v->status;
  }
  BOOST_TEST(status == "success");
}

BOOST_AUTO_TEST_CASE(errors_map_to_codes) {
  sandboxed s;
  auto wrong = s.driver("sk_test_wrong")->verify("souk-x");
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.err().code == souk::errc::config);

  souk::sandbox::behaviour b;
  b.verify_errors = 1;
  s.sim->set_behaviour(b);
  auto gw = s.driver();
  BOOST_REQUIRE(gw->initialize(charge("souk-d-2")));
  auto first = gw->verify("souk-d-2");
  BOOST_REQUIRE(!first);
  BOOST_TEST(first.err().code == souk::errc::unavailable);
  BOOST_TEST(gw->verify("souk-d-2").has_value());

  pay::paystack_options nobody;
  nobody.base_url = "http://127.0.0.1:1";
  nobody.secret_key = "k";
  auto down = pay::make_paystack(nobody)->verify("souk-x");
  BOOST_REQUIRE(!down);
  BOOST_TEST(down.err().code == souk::errc::unavailable);
}

BOOST_AUTO_TEST_SUITE_END()
