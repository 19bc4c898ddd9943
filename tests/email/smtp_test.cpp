// The email outbox against a real SMTP server on loopback (aiosmtpd): a
// queued message goes out once; a server refusing (451) and then accepting
// gets it on a retry; a sender dying between the hand-over and the record
// sends the very same message again (same Message-ID, same bytes), never a
// different one; STARTTLS and AUTH work, and a server that demands TLS
// never gets a message in the clear.

#include <algorithm>
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/email/message.hpp"
#include "souk/email/sender.hpp"
#include "souk/email/transport.hpp"
#include "souk/persistence/deliveries.hpp"
#include "souk/persistence/migrations.hpp"

#include "smtp_server.hpp"

namespace sp = souk::persistence;
namespace se = souk::email;
using namespace std::chrono_literals;

namespace {

struct outbox_fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);

  outbox_fixture() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  }

  /// Queues one email (leased to its writer for `leased`, if above zero);
  /// returns its row.
  sp::email_row queue(const std::string& to = "buyer@example.com",
                      std::chrono::milliseconds leased = 0ms) {
    sp::email_row e;
    e.id = souk::new_uuid();
    e.dedupe_key = "test:" + e.id;
    e.template_name = "receipt";
    e.recipient = to;
    e.message_id = e.id + "@shop.example";
    e.subject = "Your receipt";
    e.message = se::compose({"Shop <shop@example.com>",
                             to,
                             e.subject,
                             "Thanks.\nhttp://127.0.0.1/d/TOKEN\n",
                             "",
                             e.message_id,
                             {}});
    e.next_attempt_at = souk::to_iso(souk::now());
    e.created_at = e.next_attempt_at;
    e.updated_at = e.next_attempt_at;
    if (leased > 0ms)
      e.claimed_until = souk::to_iso(souk::now() + leased);
    auto added = sp::delivery_repository{*db}.enqueue_email(e);
    BOOST_REQUIRE(added);
    BOOST_REQUIRE(*added);
    // The same key twice is one email.
    auto again = e;
    again.id = souk::new_uuid();
    again.message_id = again.id + "@shop.example";
    auto twice = sp::delivery_repository{*db}.enqueue_email(again);
    BOOST_REQUIRE(twice);
    BOOST_TEST(!*twice);
    return e;
  }

  sp::email_row row(const std::string& id) {
    auto r = sp::delivery_repository{*db}.find_email(id);
    BOOST_REQUIRE(r);
    BOOST_REQUIRE(r->has_value());
    return **r;
  }

  se::sender sender_for(std::shared_ptr<se::transport> t,
                        se::sender_options o = {}) {
    o.envelope_from = "shop@example.com";
    if (o.retry_initial == 30s)
      o.retry_initial = 50ms;
    return se::sender{db, std::move(t), std::move(o)};
  }

  /// Runs rounds until `cond` or the deadline.
  template<class F>
  bool until(se::sender& s, F cond, std::chrono::milliseconds limit = 15s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      s.run_due();
      if (cond())
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return cond();
  }
};

std::shared_ptr<se::transport>
smtp_to(const souk::testing::smtp_server& srv, std::string tls = "off",
        std::string user = {}, std::string password = {},
        std::chrono::milliseconds timeout = 10s) {
  se::smtp_options o;
  o.url = srv.url();
  o.tls = std::move(tls);
  o.verify_peer = false; // the test server's certificate is self-signed
  o.username = std::move(user);
  o.password = std::move(password);
  o.timeout = timeout;
  return se::make_smtp_transport(std::move(o));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(email_outbox, outbox_fixture)

BOOST_AUTO_TEST_CASE(a_queued_email_goes_out_once_and_is_cleared) {
  souk::testing::smtp_server srv;
  auto e = queue();
  auto s = sender_for(smtp_to(srv));
  BOOST_REQUIRE(until(s, [&] { return row(e.id).status == "sent"; }));
  s.run_due();
  auto got = srv.messages();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].find("Message-ID: <" + e.message_id + ">")
             != std::string::npos);
  BOOST_TEST(got[0].find("http://127.0.0.1/d/TOKEN") != std::string::npos);
  auto env = srv.envelopes();
  BOOST_TEST(env[0].find("from shop@example.com") != std::string::npos);
  BOOST_TEST(env[0].find("to buyer@example.com") != std::string::npos);
  auto r = row(e.id);
  BOOST_TEST(r.attempts == 1);
  BOOST_TEST(r.message.empty()); // it held a download link
  BOOST_TEST(!r.sent_at.empty());
}

// The client's port of an envelope: one per connection.
std::string peer_of(const std::string& envelope) {
  auto at = envelope.find("peer ");
  return at == std::string::npos
           ? std::string{}
           : envelope.substr(at + 5, envelope.find('\n', at) - at - 5);
}

BOOST_AUTO_TEST_CASE(
  messages_share_a_kept_connection_until_the_server_drops_it) {
  souk::testing::smtp_server srv{{"--idle-timeout", "1"}};
  auto s = sender_for(smtp_to(srv));
  std::vector<sp::email_row> first;
  for (int i = 0; i < 3; ++i)
    first.push_back(queue());
  BOOST_REQUIRE(until(s, [&] {
    return std::all_of(first.begin(), first.end(),
                       [&](auto& e) { return row(e.id).status == "sent"; });
  }));
  // The server closes the connection after a second of silence: the next
  // message goes out at its first try all the same, on a new connection.
  std::this_thread::sleep_for(1500ms);
  auto later = queue();
  s.run_due();
  BOOST_TEST(row(later.id).status == "sent");
  BOOST_TEST(row(later.id).attempts == 1);
  auto env = srv.envelopes();
  BOOST_REQUIRE_EQUAL(env.size(), 4u);
  BOOST_TEST(!peer_of(env[0]).empty());
  BOOST_TEST(peer_of(env[1]) == peer_of(env[0]));
  BOOST_TEST(peer_of(env[2]) == peer_of(env[0]));
  BOOST_TEST(peer_of(env[3]) != peer_of(env[0]));
  for (auto& e : first)
    BOOST_TEST(row(e.id).attempts == 1);
}

// A server that takes two messages per connection and then closes it when
// the third starts: that message still goes out at its first try, on a new
// connection.
BOOST_AUTO_TEST_CASE(a_kept_connection_the_server_closes_is_replaced_at_once) {
  souk::testing::smtp_server srv{{"--per-connection", "2"}};
  auto s = sender_for(smtp_to(srv));
  std::vector<sp::email_row> sent;
  for (int i = 0; i < 3; ++i)
    sent.push_back(queue());
  s.run_due();
  for (auto& e : sent) {
    BOOST_TEST(row(e.id).status == "sent");
    BOOST_TEST(row(e.id).attempts == 1);
  }
  auto env = srv.envelopes();
  BOOST_REQUIRE_EQUAL(env.size(), 3u);
  BOOST_TEST(peer_of(env[1]) == peer_of(env[0]));
  BOOST_TEST(peer_of(env[2]) != peer_of(env[0]));
}

BOOST_AUTO_TEST_CASE(a_server_refusing_then_accepting_gets_it_on_a_retry) {
  souk::testing::smtp_server srv{{"--refuse", "2"}};
  auto e = queue();
  auto s = sender_for(smtp_to(srv));
  s.run_due();
  auto r = row(e.id);
  BOOST_TEST(r.status == "queued");
  BOOST_TEST(r.attempts == 1);
  BOOST_TEST(r.last_error.find("451") != std::string::npos);
  BOOST_TEST(r.next_attempt_at > r.updated_at.substr(0, 0)); // set
  BOOST_REQUIRE(until(s, [&] { return row(e.id).status == "sent"; }));
  BOOST_TEST(row(e.id).attempts == 3);
  BOOST_TEST(srv.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_mailbox_refused_for_good_is_given_up_at_once) {
  souk::testing::smtp_server srv{{"--reject-rcpt", "nobody"}};
  auto e = queue("nobody@example.com");
  auto s = sender_for(smtp_to(srv));
  s.run_due();
  auto r = row(e.id);
  BOOST_TEST(r.status == "failed");
  BOOST_TEST(r.attempts == 1);
  BOOST_TEST(r.last_error.find("550") != std::string::npos);
  BOOST_TEST(r.message.empty()); // its links are not kept
  BOOST_TEST(srv.messages().empty());
  // Others still go out.
  auto ok = queue("buyer@example.com");
  BOOST_REQUIRE(until(s, [&] { return row(ok.id).status == "sent"; }));
}

BOOST_AUTO_TEST_CASE(a_crash_between_send_and_record_sends_the_same_message) {
  souk::testing::smtp_server srv;
  auto e = queue();
  se::sender_options dying;
  dying.lease = 300ms;
  dying.after_send = [](const sp::email_row&) { return false; };
  auto first = sender_for(smtp_to(srv), dying);
  first.run_due();
  BOOST_REQUIRE_EQUAL(srv.messages().size(), 1u);
  BOOST_TEST(row(e.id).status == "queued"); // nothing recorded: "crashed"
  // Another node takes over once the claim runs out.
  auto second = sender_for(smtp_to(srv));
  second.run_due(); // still claimed by the dead sender: nothing
  BOOST_TEST(srv.messages().size() == 1u);
  BOOST_REQUIRE(until(second, [&] { return row(e.id).status == "sent"; }));
  auto got = srv.messages();
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[0] == got[1]); // the same bytes, so the same Message-ID
  BOOST_TEST(got[1].find("Message-ID: <" + e.message_id + ">")
             != std::string::npos);
}

// A receipt is queued leased to its node and handed to that node's sender
// in memory: it goes out without a claim (no other sender may take it), but
// only while a whole claim's lease of it is left.
BOOST_AUTO_TEST_CASE(a_handed_email_goes_out_without_a_claim) {
  souk::testing::smtp_server srv;
  se::sender_options o;
  o.lease = 2s;
  auto s = sender_for(smtp_to(srv), o);
  auto other = sender_for(smtp_to(srv), o);
  auto e = queue("buyer@example.com", 10s);
  other.run_due(); // leased: no claim takes it
  BOOST_TEST(srv.messages().empty());
  BOOST_TEST(row(e.id).status == "queued");
  BOOST_TEST(s.hand(e));
  BOOST_TEST(s.run_due() == 1u);
  BOOST_TEST(row(e.id).status == "sent");
  BOOST_REQUIRE_EQUAL(srv.messages().size(), 1u);
  BOOST_TEST(srv.messages()[0].find("Message-ID: <" + e.message_id + ">")
             != std::string::npos);

  // Less of its lease left than a send may take: it is not sent from
  // memory, and the usual claim takes it once the lease has run out.
  auto late = queue("late@example.com", 1s);
  BOOST_TEST(s.hand(late));
  s.run_due();
  BOOST_TEST(srv.messages().size() == 1u);
  BOOST_TEST(row(late.id).status == "queued");
  BOOST_REQUIRE(until(other, [&] { return row(late.id).status == "sent"; }));
  BOOST_TEST(srv.messages().size() == 2u);

  // A sender stopping gives up what it was handed and did not send: any
  // sender takes it at once, not when its lease runs out.
  auto left = queue("left@example.com", 60s);
  BOOST_TEST(s.hand(left));
  s.release_handed();
  BOOST_TEST(row(left.id).claimed_until.empty());
  BOOST_TEST(other.run_due() == 1u);
  BOOST_TEST(row(left.id).status == "sent");
  BOOST_TEST(s.run_due() == 0u); // no longer handed
  BOOST_TEST(srv.messages().size() == 3u);
}

BOOST_AUTO_TEST_CASE(starttls_and_auth_and_never_in_the_clear) {
  souk::testing::smtp_server srv{
    {"--tls", "--user", "shop", "--password", "s3cret"}};
  // Without TLS the server refuses to go on: the email waits.
  auto e = queue();
  auto clear = sender_for(smtp_to(srv, "off", "shop", "s3cret"));
  clear.run_due();
  BOOST_TEST(row(e.id).status == "queued");
  BOOST_TEST(srv.messages().empty());
  // A wrong password: the email waits too (the operator's to fix).
  se::sender_options soon;
  soon.retry_initial = 1ms;
  std::this_thread::sleep_for(100ms);
  auto wrong = sender_for(smtp_to(srv, "starttls", "shop", "nope", 2s), soon);
  wrong.run_due();
  BOOST_TEST(row(e.id).status == "queued");
  BOOST_TEST(srv.messages().empty());
  auto good = sender_for(smtp_to(srv, "starttls", "shop", "s3cret"));
  BOOST_REQUIRE(until(good, [&] { return row(e.id).status == "sent"; }));
  auto env = srv.envelopes();
  BOOST_REQUIRE_EQUAL(env.size(), 1u);
  BOOST_TEST(env[0].find("tls yes") != std::string::npos);
  BOOST_TEST(env[0].find("auth yes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_retried_then_given_up) {
  auto port = souk::testing::free_port();
  se::smtp_options o;
  o.url = "smtp://127.0.0.1:" + std::to_string(port);
  o.tls = "off";
  o.timeout = 2s;
  se::sender_options quick;
  quick.retry_for = 300ms;
  auto e = queue();
  auto s = sender_for(se::make_smtp_transport(o), quick);
  s.run_due();
  BOOST_TEST(row(e.id).status == "queued");
  BOOST_REQUIRE(until(s, [&] { return row(e.id).status == "failed"; }));
  auto r = row(e.id);
  BOOST_TEST(!r.last_error.empty());
  BOOST_TEST(r.message.empty());
  BOOST_TEST(r.attempts >= 2);
}

BOOST_AUTO_TEST_SUITE_END()
