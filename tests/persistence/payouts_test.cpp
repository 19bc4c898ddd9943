// Payout rows on both backends: a payout is a flow instance in `orders`
// (kind 'payout', no product or buyer) with its own row; an order still
// needs its product and buyer; the transfer status only moves forward;
// accounts are one per creator and currency; the list pages by id; due
// checks are claimed once. And migration 0008 keeps the orders made before
// it (SQLite rebuilds the table).

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payouts.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;

namespace {

constexpr const char* t0 = "2030-01-01T00:00:00.000Z";

struct payout_rows_fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(2);
  sp::payout_repository repo{*db};
  std::string creator = souk::new_uuid();

  explicit payout_rows_fixture(bool migrate = true) {
    if (!migrate)
      return;
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    add_user(creator);
  }

  void add_user(const std::string& id) {
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + id + "', '" + id + "@example.com', 'x', 'creator', '" + t0 + "', '"
         + t0 + "')");
  }

  void exec(const std::string& query) {
    auto st = db->run([&](soci::session& sql) { sql << query; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  long long count(const std::string& query) {
    long long n = 0;
    auto st = db->run([&](soci::session& sql) { sql << query, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  sp::payout_rows rows(int64_t amount, const std::string& key = {}) {
    sp::payout_rows r;
    r.instance.id = souk::new_uuid();
    r.instance.kind = "payout";
    r.instance.amount = amount;
    r.instance.currency = "NGN";
    r.instance.flow = "payout";
    r.instance.flow_version = 1;
    r.instance.flow_hash = "h";
    r.instance.state = "requested";
    r.first_event.event = "payout.created";
    r.first_event.actor = "system";
    r.payout.creator_id = creator;
    r.payout.amount = amount;
    r.payout.currency = "NGN";
    r.payout.gateway = "paystack";
    r.payout.recipient_code = "RCP_1";
    r.payout.reference = "payout-" + r.instance.id;
    r.payout.next_check_at = "2020-01-01T00:00:00.000Z"; // due
    if (!key.empty())
      r.answer = {"payouts:" + creator, key, 201, "{}"};
    return r;
  }

  sp::payout_row create(int64_t amount) {
    auto r = rows(amount);
    auto st = repo.create(r);
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    auto p = repo.find(r.instance.id);
    BOOST_REQUIRE(p);
    BOOST_REQUIRE(p->has_value());
    return **p;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(payout_rows)

BOOST_AUTO_TEST_CASE(a_payout_is_a_flow_instance_without_product_or_buyer) {
  payout_rows_fixture f;
  auto p = f.create(150'000);
  BOOST_TEST(p.transfer_status == "unsent");
  BOOST_TEST(p.reference == "payout-" + p.id);
  auto snap = sp::order_repository{*f.db}.load(p.id);
  BOOST_REQUIRE(snap);
  BOOST_REQUIRE(snap->has_value());
  BOOST_TEST((*snap)->order.kind == "payout");
  BOOST_TEST((*snap)->order.product_id.empty());
  BOOST_TEST((*snap)->order.buyer_email.empty());
  BOOST_TEST((*snap)->events.size() == 1u);
  auto v = f.repo.view(p.id);
  BOOST_REQUIRE(v);
  BOOST_REQUIRE(v->has_value());
  BOOST_TEST((*v)->state == "requested");
}

BOOST_AUTO_TEST_CASE(an_order_still_needs_its_product_and_buyer) {
  payout_rows_fixture f;
  sp::order_row o;
  o.kind = "order";
  o.amount = 5000;
  o.currency = "NGN";
  o.flow = "digital_download";
  o.flow_version = 1;
  o.flow_hash = "h";
  o.state = "pending";
  sp::event_row e;
  e.event = "order.created";
  e.actor = "system";
  auto st = sp::order_repository{*f.db}.create(o, e);
  BOOST_TEST(st.code == souk::errc::database);
  BOOST_TEST(f.count("SELECT COUNT(*) FROM orders") == 0);
  o.kind = "gift"; // not a kind
  o.product_id.clear();
  st = sp::order_repository{*f.db}.create(o, e);
  BOOST_TEST(st.code == souk::errc::database);
}

BOOST_AUTO_TEST_CASE(a_failed_creation_writes_nothing) {
  payout_rows_fixture f;
  auto r = f.rows(100'000);
  r.payout.creator_id = "nobody"; // no such user: the payout row is refused
  auto st = f.repo.create(r);
  BOOST_TEST(st.code == souk::errc::database);
  BOOST_TEST(f.count("SELECT COUNT(*) FROM orders") == 0);
  BOOST_TEST(f.count("SELECT COUNT(*) FROM order_events") == 0);
  BOOST_TEST(f.count("SELECT COUNT(*) FROM payouts") == 0);
}

BOOST_AUTO_TEST_CASE(the_transfer_status_only_moves_forward) {
  payout_rows_fixture f;
  auto p = f.create(100'000);
  auto moved = f.repo.record_transfer(p.id, "pending", "TRF_1", "otp", "");
  BOOST_REQUIRE(moved);
  BOOST_TEST(*moved);
  moved = f.repo.record_transfer(p.id, "pending", "", "pending", "");
  BOOST_TEST(!*moved); // there already
  moved = f.repo.record_transfer(p.id, "success", "", "success", "");
  BOOST_TEST(*moved);
  moved = f.repo.record_transfer(p.id, "failed", "", "failed", "late");
  BOOST_TEST(!*moved); // success is never undone by a failure
  moved = f.repo.record_transfer(p.id, "reversed", "", "reversed", "bank");
  BOOST_TEST(*moved);
  moved = f.repo.record_transfer(p.id, "success", "", "success", "");
  BOOST_TEST(!*moved);
  auto now = f.repo.find(p.id);
  BOOST_REQUIRE(now);
  auto& row = **now;
  BOOST_TEST(row.transfer_status == "reversed");
  BOOST_TEST(row.transfer_code == "TRF_1"); // an empty argument keeps it
  BOOST_TEST(row.reason == "bank");
  BOOST_TEST(row.gateway_status == "reversed");
}

BOOST_AUTO_TEST_CASE(one_account_per_creator_and_currency) {
  payout_rows_fixture f;
  sp::payout_account_row a{f.creator, "NGN", "paystack", "RCP_a", "nuban",
                           "Ada",     "058", "1234",     "",      ""};
  BOOST_TEST(!f.repo.save_account(a));
  a.recipient_code = "RCP_b";
  a.account_last4 = "9999";
  BOOST_TEST(!f.repo.save_account(a));
  a.currency = "USD";
  BOOST_TEST(!f.repo.save_account(a));
  auto all = f.repo.accounts_of(f.creator);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE(all->size() == 2u);
  BOOST_TEST((*all)[0].currency == "NGN");
  BOOST_TEST((*all)[0].recipient_code == "RCP_b");
  BOOST_TEST((*all)[0].account_last4 == "9999");
  auto none = f.repo.account(f.creator, "GHS");
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());
}

BOOST_AUTO_TEST_CASE(the_list_pages_newest_first) {
  payout_rows_fixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(f.create(100'000 + i).id);
  auto other = souk::new_uuid();
  f.add_user(other);
  auto first = f.repo.list(f.creator, 3);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(first->size() == 3u);
  BOOST_TEST((*first)[0].payout.id == ids[4]);
  BOOST_TEST((*first)[2].payout.id == ids[2]);
  auto rest = f.repo.list(f.creator, 3, (*first)[2].payout.id);
  BOOST_REQUIRE(rest);
  BOOST_REQUIRE(rest->size() == 2u);
  BOOST_TEST((*rest)[1].payout.id == ids[0]);
  auto theirs = f.repo.list(other, 10);
  BOOST_REQUIRE(theirs);
  BOOST_TEST(theirs->empty());
}

BOOST_AUTO_TEST_CASE(due_checks_are_claimed_once_and_closed) {
  payout_rows_fixture f;
  auto p = f.create(100'000);
  auto now = souk::to_iso(souk::now());
  auto until = souk::to_iso(souk::now() + std::chrono::minutes{1});
  auto a = f.repo.claim_due(now, until, 10);
  auto b = f.repo.claim_due(now, until, 10);
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  BOOST_TEST(a->size() == 1u);
  BOOST_TEST(b->empty());
  BOOST_TEST(!f.repo.reschedule(p.id, "2020-01-02T00:00:00.000Z", "otp"));
  auto again = f.repo.claim_due(now, until, 10);
  BOOST_REQUIRE(again);
  BOOST_REQUIRE(again->size() == 1u);
  BOOST_TEST(again->front().checks == 1);
  BOOST_TEST(again->front().gateway_status == "otp");
  BOOST_TEST(!f.repo.close_checks(p.id));
  auto none = f.repo.claim_due(
    souk::to_iso(souk::now() + std::chrono::hours{1}), until, 10);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
}

BOOST_AUTO_TEST_CASE(migration_8_keeps_the_orders_made_before_it) {
  payout_rows_fixture f{false};
  auto all = sp::shipped_migrations(f.db->kind());
  std::vector<sp::migration> upto7;
  for (auto& m : all)
    if (m.version <= 7)
      upto7.push_back(m);
  auto r = sp::migrate(*f.db, upto7);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  f.add_user(f.creator);
  auto product = souk::new_uuid();
  auto order = souk::new_uuid();
  f.exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product + "', '" + f.creator
         + "', 'Book', '', 5000, 'NGN', 'digital_download', 'published', 1, '"
         + t0 + "', '" + t0 + "')");
  f.exec("INSERT INTO orders (id, product_id, buyer_email, amount, currency, "
         "flow, flow_version, flow_hash, state, version, step_index, "
         "step_attempt, state_entered_at, created_at, updated_at, "
         "parked_from) VALUES ('"
         + order + "', '" + product
         + "', 'b@example.com', 5000, 'NGN', 'digital_download', 1, 'h', "
           "'needs_attention', 3, 0, 0, '"
         + t0 + "', '" + t0 + "', '" + t0 + "', 'paid')");
  f.exec("INSERT INTO order_events (id, order_id, seq, event, actor, detail, "
         "created_at) VALUES ('"
         + souk::new_uuid() + "', '" + order
         + "', 1, 'order.created', 'system', '', '" + t0 + "')");
  r = sp::migrate(*f.db, all);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  auto snap = sp::order_repository{*f.db}.load(order);
  BOOST_REQUIRE(snap);
  BOOST_REQUIRE(snap->has_value());
  auto& o = (*snap)->order;
  BOOST_TEST(o.kind == "order");
  BOOST_TEST(o.product_id == product);
  BOOST_TEST(o.parked_from == "paid");
  BOOST_TEST(o.version == 3);
  BOOST_TEST((*snap)->events.size() == 1u);
  // The foreign keys still hold, and are enforced again afterwards.
  auto st = f.db->run([&](soci::session& sql) {
    sql << "INSERT INTO order_events (id, order_id, seq, event, actor, "
           "detail, created_at) VALUES ('x', 'no-such-order', 1, 'e', 's', "
           "'', '2030-01-01T00:00:00.000Z')";
  });
  BOOST_TEST(st.code == souk::errc::database);
}

BOOST_AUTO_TEST_SUITE_END()
