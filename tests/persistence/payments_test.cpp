// The payments repository on both backends: idempotency keys, settling a
// payment once, the inbox's deduplication and leases, refunds that only move
// forward and are asked by one caller at a time.

#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"
#include "souk/testing/support.hpp"

namespace sp = souk::persistence;
using namespace std::chrono_literals;

namespace {

constexpr const char* t0 = "2030-01-01T00:00:00.000Z";

struct shop_rows {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(4);
  sp::payment_repository repo{*db};
  std::string user_id = souk::new_uuid();
  std::string product_id = souk::new_uuid();

  shop_rows() {
    auto r = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
    exec("INSERT INTO users (id, email, password_hash, role, created_at, "
         "updated_at) VALUES ('"
         + user_id + "', 'c@example.com', 'x', 'creator', '" + t0 + "', '" + t0
         + "')");
    exec("INSERT INTO products (id, creator_id, title, description, "
         "price_amount, currency, flow, status, version, created_at, "
         "updated_at) VALUES ('"
         + product_id + "', '" + user_id
         + "', 'Book', '', 5000, 'NGN', 'digital_download', 'published', 1, '"
         + t0 + "', '" + t0 + "')");
  }

  void exec(const std::string& query) {
    auto st = db->run([&](soci::session& sql) { sql << query; });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  // A checkout's rows; returns the payment.
  sp::payment_row checkout(const std::string& key = {}) {
    sp::checkout_rows rows;
    rows.order.id = souk::new_uuid();
    rows.order.product_id = product_id;
    rows.order.buyer_email = "b@example.com";
    rows.order.amount = 5000;
    rows.order.currency = "NGN";
    rows.order.flow = "digital_download";
    rows.order.flow_version = 1;
    rows.order.flow_hash = "h";
    rows.order.state = "pending";
    rows.first_event.event = "order.created";
    rows.first_event.actor = "system";
    rows.payment.gateway = "paystack";
    rows.payment.reference = "souk-" + rows.order.id;
    rows.payment.amount = 5000;
    rows.payment.currency = "NGN";
    rows.payment.email = "b@example.com";
    rows.payment.authorization_url = "http://gw/checkout/x";
    rows.payment.access_code = "x";
    rows.payment.gateway_status = "initialized";
    rows.payment.next_check_at = "2020-01-01T00:00:00.000Z"; // due
    if (!key.empty())
      rows.answer = {"orders:guest", key, 201, "{\"order\":{}}"};
    auto st = repo.create_checkout(rows);
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    auto p = repo.find_by_reference(rows.payment.reference);
    BOOST_REQUIRE(p);
    BOOST_REQUIRE(p->has_value());
    return **p;
  }
};

std::string later(std::chrono::milliseconds d) {
  return souk::to_iso(souk::now() + d);
}

} // namespace

BOOST_AUTO_TEST_SUITE(payments_rows)

BOOST_AUTO_TEST_CASE(idempotency_keys) {
  shop_rows f;
  using k = sp::idempotency_claim;
  auto first = f.repo.claim_key("orders:guest", "key-1", "hash-a", later(60s));
  BOOST_REQUIRE(first);
  BOOST_TEST((first->kind == k::owned));
  auto busy = f.repo.claim_key("orders:guest", "key-1", "hash-a", later(60s));
  BOOST_TEST((busy->kind == k::in_progress));
  auto other = f.repo.claim_key("orders:guest", "key-1", "hash-b", later(60s));
  BOOST_TEST((other->kind == k::mismatch));
  // Another scope is another key.
  auto mine = f.repo.claim_key("orders:someone", "key-1", "hash-b", later(60s));
  BOOST_TEST((mine->kind == k::owned));
  f.checkout("key-1");
  auto replay = f.repo.claim_key("orders:guest", "key-1", "hash-a", later(60s));
  BOOST_TEST((replay->kind == k::replay));
  BOOST_TEST(replay->status == 201);
  BOOST_TEST(replay->body == "{\"order\":{}}");

  // A claim whose request died is taken over once its lock ran out, by one
  // taker only.
  BOOST_TEST(
    (f.repo.claim_key("s", "dead", "h", later(-1s))->kind == k::owned));
  BOOST_TEST(
    (f.repo.claim_key("s", "dead", "h", later(60s))->kind == k::owned));
  BOOST_TEST(
    (f.repo.claim_key("s", "dead", "h", later(60s))->kind == k::in_progress));
  // Released keys run again.
  BOOST_TEST(!f.repo.release_key("s", "dead"));
  BOOST_TEST(
    (f.repo.claim_key("s", "dead", "h", later(60s))->kind == k::owned));
}

BOOST_AUTO_TEST_CASE(racing_claims_of_a_new_key_have_one_owner) {
  shop_rows f;
  std::atomic<int> owners{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto c = f.repo.claim_key("orders:guest", "race", "h", later(60s));
      if (!c)
        ++errors;
      else if (c->kind == sp::idempotency_claim::owned)
        ++owners;
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(owners.load() == 1);
}

BOOST_AUTO_TEST_CASE(a_payment_settles_once) {
  shop_rows f;
  auto p = f.checkout();
  auto won = f.repo.settle(p.id, "succeeded", "success", "18446744073709551615",
                           "webhook", "{}");
  BOOST_REQUIRE(won);
  BOOST_TEST(*won);
  auto again
    = f.repo.settle(p.id, "mismatch", "success", "1", "callback", "{}");
  BOOST_TEST(!*again);
  auto now = f.repo.find_by_reference(p.reference);
  BOOST_TEST((*now)->status == "succeeded");
  BOOST_TEST((*now)->settled_by == "webhook");
  BOOST_TEST((*now)->gateway_id == "18446744073709551615"); // u64 kept
  // Settled but not confirmed by its order: still due for reconciliation;
  // closed: not any more.
  auto due = f.repo.claim_due_checks(later(0ms), later(60s), 10);
  BOOST_REQUIRE(due);
  BOOST_TEST(due->size() == 1u);
  BOOST_TEST(!f.repo.close_checks(p.id));
  BOOST_TEST(f.repo.claim_due_checks(later(120s), later(180s), 10)->empty());
}

BOOST_AUTO_TEST_CASE(a_payment_given_up_on_can_still_be_paid_late) {
  shop_rows f;
  auto p = f.checkout();
  BOOST_TEST(*f.repo.settle(p.id, "failed", "abandoned", "", "reconciliation",
                            "stopped asking"));
  BOOST_TEST(!*f.repo.settle(p.id, "failed", "abandoned", "", "x", ""));
  BOOST_TEST(
    *f.repo.settle(p.id, "succeeded", "success", "9", "webhook", "{}"));
  BOOST_TEST(!*f.repo.settle(p.id, "mismatch", "success", "9", "webhook", ""));
  BOOST_TEST((*f.repo.find_by_reference(p.reference))->status == "succeeded");
}

BOOST_AUTO_TEST_CASE(a_mismatch_stays_due_until_its_order_is_parked) {
  shop_rows f;
  auto p = f.checkout();
  BOOST_TEST(*f.repo.settle(p.id, "mismatch", "success", "9", "webhook", "{}"));
  auto due = f.repo.claim_due_checks(later(0ms), later(60s), 10);
  BOOST_REQUIRE(due->size() == 1u);
  BOOST_TEST((*due)[0].status == "mismatch");
  BOOST_TEST(!f.repo.close_checks(p.id));
  BOOST_TEST(f.repo.claim_due_checks(later(120s), later(180s), 10)->empty());
}

BOOST_AUTO_TEST_CASE(leases_give_each_row_to_one_claimer) {
  shop_rows f;
  for (int i = 0; i < 3; ++i)
    f.checkout();
  auto a = f.repo.claim_due_checks(later(0ms), later(60s), 2);
  auto b = f.repo.claim_due_checks(later(0ms), later(60s), 10);
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  BOOST_TEST(a->size() == 2u);
  BOOST_TEST(b->size() == 1u);
  BOOST_TEST((*b)[0].id != (*a)[0].id);
  BOOST_TEST((*b)[0].id != (*a)[1].id);
  // Leases run out.
  BOOST_TEST(f.repo.claim_due_checks(later(61s), later(120s), 10)->size()
             == 3u);
}

BOOST_AUTO_TEST_CASE(the_inbox_keeps_one_row_per_event) {
  shop_rows f;
  sp::inbox_row e;
  e.gateway = "paystack";
  e.event_key = "charge.success:1:success";
  e.event = "charge.success";
  e.reference = "souk-x";
  e.payload = "{}";
  BOOST_TEST(*f.repo.store_event(e));
  BOOST_TEST(!*f.repo.store_event(e));
  e.event_key = "charge.success:2:success";
  BOOST_TEST(*f.repo.store_event(e));
  auto got = f.repo.claim_due_events(later(0ms), later(60s), 10);
  BOOST_REQUIRE(got);
  BOOST_TEST(got->size() == 2u);
  BOOST_TEST(f.repo.claim_due_events(later(0ms), later(60s), 10)->empty());
  auto& first = (*got)[0];
  BOOST_TEST(!f.repo.retry_event(first.id, "verify: 500", later(1s)));
  BOOST_TEST(!f.repo.finish_event((*got)[1].id, "processed", ""));
  auto retried = f.repo.claim_due_events(later(2s), later(60s), 10);
  BOOST_REQUIRE(retried->size() == 1u);
  BOOST_TEST((*retried)[0].attempts == 1);
  BOOST_TEST((*retried)[0].last_error == "verify: 500");
}

BOOST_AUTO_TEST_CASE(refunds_are_asked_once_and_only_move_forward) {
  shop_rows f;
  auto p = f.checkout();
  sp::refund_row want;
  want.order_id = p.order_id;
  want.payment_id = p.id;
  want.idempotency_key = "o:1:2";
  want.amount = 2000;
  want.currency = "NGN";
  auto row = f.repo.refund_for(want);
  BOOST_REQUIRE(row);
  BOOST_TEST(row->status == "requested");
  auto same = f.repo.refund_for(want); // the step again: the same row
  BOOST_TEST(same->id == row->id);
  BOOST_TEST(*f.repo.claim_refund(row->id, later(60s)));
  BOOST_TEST(!*f.repo.claim_refund(row->id, later(60s)));
  auto asking = f.repo.refunds_of(p.id);
  BOOST_TEST((*asking)[0].status == "asking");
  BOOST_TEST(!(*asking)[0].asking_until.empty());
  // The webhook says processed before the step records pending: the step's
  // late write cannot undo it.
  BOOST_TEST(*f.repo.update_refund(row->id, "processed", "77", ""));
  BOOST_TEST(!*f.repo.update_refund(row->id, "pending", "77", ""));
  BOOST_TEST(!*f.repo.update_refund(row->id, "requested", "", "again"));
  auto done = f.repo.refunds_of(p.id);
  BOOST_TEST((*done)[0].status == "processed");
  BOOST_TEST((*done)[0].gateway_id == "77");
  BOOST_TEST(!(*done)[0].processed_at.empty());
  BOOST_TEST(!f.repo.update_refund(row->id, "lost", "", ""));
}

BOOST_AUTO_TEST_SUITE_END()
