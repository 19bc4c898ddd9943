// The payments repository on both backends: idempotency keys, settling a
// payment once, the inbox's deduplication and leases, refunds that only move
// forward and are asked by one caller at a time. And the delivery rows a
// checkout leads to: links issued, renewed and reset, written whole or not
// at all (PostgreSQL writes each in one statement, SQLite in a transaction:
// both must leave the same rows).

#include <atomic>
#include <optional>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/deliveries.hpp"
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

  std::string text(const std::string& query) {
    std::string out;
    soci::indicator ind = soci::i_null;
    auto st = db->run(
      [&](soci::session& sql) { sql << query, soci::into(out, ind); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return ind == soci::i_ok ? out : std::string{"NULL"};
  }

  long long count(const std::string& query) {
    long long n = -1;
    auto st = db->run([&](soci::session& sql) { sql << query, soci::into(n); });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // A checkout's rows, answering the Idempotency-Key `key` (none if empty).
  sp::checkout_rows checkout_of(const std::string& key = {}) {
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
    return rows;
  }

  // A checkout's rows written; returns the payment.
  sp::payment_row checkout(const std::string& key = {}) {
    auto rows = checkout_of(key);
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

// Claimers racing for due rows (four nodes' rounds at once) take each row
// exactly once: on PostgreSQL one UPDATE ... FOR UPDATE SKIP LOCKED each.
// `claim` returns the ids it took, or nothing when the claim failed (the
// assertions run on this thread: Boost.Test's are not thread-safe).
template<class Claim>
void racing_claimers_take_each_row_once(size_t rows, Claim claim) {
  std::vector<std::vector<std::string>> taken(4);
  std::atomic<int> failed{0};
  std::vector<std::thread> claimers;
  for (auto& mine : taken)
    claimers.emplace_back([&mine, &claim, &failed] {
      while (true) {
        auto ids = claim();
        if (!ids) {
          ++failed;
          return;
        }
        if (ids->empty())
          return;
        mine.insert(mine.end(), ids->begin(), ids->end());
      }
    });
  for (auto& t : claimers)
    t.join();
  BOOST_TEST(failed.load() == 0);
  std::set<std::string> all;
  size_t total = 0;
  for (auto& mine : taken) {
    total += mine.size();
    all.insert(mine.begin(), mine.end());
  }
  BOOST_TEST(total == rows);
  BOOST_TEST(all.size() == rows);
}

// The ids of rows a claim took; nothing if it failed.
template<class Rows>
std::optional<std::vector<std::string>> ids_of(const Rows& got) {
  if (!got)
    return std::nullopt;
  std::vector<std::string> ids;
  for (auto& row : *got)
    ids.push_back(row.id);
  return ids;
}

} // namespace

BOOST_AUTO_TEST_SUITE(payments_rows)

BOOST_AUTO_TEST_CASE(a_checkout_whose_key_was_released_writes_nothing) {
  shop_rows f;
  using k = sp::idempotency_claim;
  BOOST_REQUIRE((f.repo.claim_key("orders:guest", "gone", "h", later(60s))->kind
                 == k::owned));
  BOOST_REQUIRE(!f.repo.release_key("orders:guest", "gone"));
  auto rows = f.checkout_of("gone");
  sp::timer_row timer;
  timer.kind = "state_timeout";
  timer.event = "payment.expired";
  timer.due_at = later(60s);
  rows.timers.push_back(timer);
  sp::outbox_row check;
  check.action = "payment.check";
  check.params = "{}";
  check.idempotency_key = rows.order.id + ":check";
  rows.outbox.push_back(check);
  rows.access_hash = "abc";
  auto st = f.repo.create_checkout(rows);
  BOOST_REQUIRE(st);
  BOOST_TEST(st.code == souk::errc::conflict);
  BOOST_TEST(st.detail.find("Idempotency-Key") != std::string::npos);
  auto id = "'" + rows.order.id + "'";
  // Each table a checkout writes holds `n` rows of the order.
  auto each_table_holds = [&](long long n) {
    for (auto table :
         {"orders WHERE id = ", "order_events WHERE order_id = ",
          "timers WHERE order_id = ", "outbox WHERE order_id = ",
          "payments WHERE order_id = ", "order_access WHERE order_id = "})
      BOOST_TEST(
        f.count(std::string{"SELECT COUNT(*) FROM "} + table + id) == n, table);
  };
  each_table_holds(0);
  // With the key held, the same rows go in whole.
  BOOST_REQUIRE((f.repo.claim_key("orders:guest", "gone", "h", later(60s))->kind
                 == k::owned));
  st = f.repo.create_checkout(rows);
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  each_table_holds(1);
  BOOST_TEST(f.text("SELECT status FROM idempotency_keys WHERE idem_key = "
                    "'gone'")
             == "done");
  BOOST_TEST(f.text("SELECT to_state FROM order_events WHERE order_id = " + id)
             == "pending");
  BOOST_TEST(f.text("SELECT buyer_id FROM orders WHERE id = " + id) == "NULL");
}

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

BOOST_AUTO_TEST_CASE(an_order_page_is_read_in_one_go) {
  shop_rows f;
  auto p = f.checkout();
  auto page = f.repo.order_page_of(p.order_id);
  BOOST_REQUIRE_MESSAGE(page, (page ? "" : page.err().detail));
  BOOST_REQUIRE(page->has_value());
  auto& pg = **page;
  auto alone = sp::order_repository{*f.db}.visibility(p.order_id);
  BOOST_REQUIRE(alone && alone->has_value());
  BOOST_TEST(pg.reader.kind == "order");
  BOOST_TEST(pg.reader.payments == 1);
  BOOST_TEST(pg.reader.tag == (*alone)->tag);
  BOOST_TEST(pg.reader.creator_id == f.user_id);
  if (f.db->kind() == sp::backend::postgresql) {
    // The order and its events as load_view reads them; the payment as
    // find_by_order does.
    auto view = sp::order_repository{*f.db}.load_view(p.order_id);
    BOOST_REQUIRE(view && view->has_value());
    BOOST_REQUIRE(pg.view.has_value());
    BOOST_TEST(pg.view->order.id == p.order_id);
    BOOST_TEST(pg.view->order.version == (*view)->order.version);
    BOOST_TEST(pg.view->order.buyer_id.empty());
    BOOST_REQUIRE_EQUAL(pg.view->events.size(), (*view)->events.size());
    BOOST_TEST(pg.view->events[0].event == (*view)->events[0].event);
    BOOST_TEST(pg.view->events[0].to_state == "pending");
    BOOST_REQUIRE(pg.payment.has_value());
    BOOST_TEST(pg.payment->reference == p.reference);
    BOOST_TEST(pg.payment->status == "initialized");
    BOOST_TEST(pg.payment->gateway_id.empty());
  } else {
    BOOST_TEST(!pg.view.has_value()); // the caller reads it
    BOOST_TEST(!pg.payment.has_value());
  }
  // An order without a payment has none; no order, no page.
  auto bare = f.checkout_of();
  BOOST_REQUIRE(
    !sp::order_repository{*f.db}.create(bare.order, bare.first_event, {}, {}));
  auto none = f.repo.order_page_of(bare.order.id);
  BOOST_REQUIRE(none && none->has_value());
  BOOST_TEST((*none)->reader.payments == 0);
  BOOST_TEST(!(*none)->payment.has_value());
  BOOST_TEST(!f.repo.order_page_of(souk::new_uuid())->has_value());
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

BOOST_AUTO_TEST_CASE(racing_claimers_take_each_gateway_event_once) {
  shop_rows f;
  for (int i = 0; i < 40; ++i) {
    sp::inbox_row e;
    e.gateway = "paystack";
    e.event_key = "charge.success:" + std::to_string(i);
    e.event = "charge.success";
    e.reference = "souk-" + std::to_string(i);
    e.payload = "{}";
    BOOST_REQUIRE(*f.repo.store_event(e));
  }
  racing_claimers_take_each_row_once(40, [&] {
    return ids_of(f.repo.claim_due_events(later(0ms), later(60s), 2));
  });
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

// The gateway's id of a refund, once known, stays: a webhook about another
// refund (another id) matched to this row by mistake cannot rename it.
BOOST_AUTO_TEST_CASE(a_refunds_gateway_id_is_never_replaced) {
  shop_rows f;
  auto p = f.checkout();
  sp::refund_row want;
  want.order_id = p.order_id;
  want.payment_id = p.id;
  want.idempotency_key = "o:1:3";
  want.amount = 2000;
  want.currency = "NGN";
  auto row = f.repo.refund_for(want);
  BOOST_REQUIRE(row);
  BOOST_TEST(*f.repo.claim_refund(row->id, later(60s)));
  BOOST_TEST(*f.repo.update_refund(row->id, "pending", "101", ""));
  BOOST_TEST(*f.repo.update_refund(row->id, "processed", "102", ""));
  auto done = f.repo.refunds_of(p.id);
  BOOST_TEST((*done)[0].status == "processed");
  BOOST_TEST((*done)[0].gateway_id == "101");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(delivery_rows)

BOOST_AUTO_TEST_CASE(racing_claimers_take_each_email_once) {
  shop_rows f;
  sp::delivery_repository repo{*f.db};
  for (int i = 0; i < 40; ++i) {
    sp::email_row e;
    e.id = souk::new_uuid();
    e.dedupe_key = "mail:" + std::to_string(i);
    e.template_name = "receipt";
    e.recipient = "b@example.com";
    e.message_id = e.id + "@example.com";
    e.subject = "Your receipt";
    e.message = "Subject: Your receipt\r\n\r\nhi";
    e.next_attempt_at = e.created_at = e.updated_at
      = "2020-01-01T00:00:00.000Z"; // due
    BOOST_REQUIRE(*repo.enqueue_email(e));
  }
  racing_claimers_take_each_row_once(
    40, [&] { return ids_of(repo.claim_emails(later(0ms), later(60s), 2)); });
}

BOOST_AUTO_TEST_CASE(links_are_issued_renewed_and_reset_whole_or_not_at_all) {
  shop_rows f;
  auto order = f.checkout().order_id;
  f.exec("INSERT INTO product_files (id, product_id, name, storage_key, size, "
         "sha256, content_type, created_at, updated_at) VALUES ('file-1', '"
         + f.product_id
         + "', 'book.pdf', 'key-1', 10, 'x', "
           "'application/pdf', '"
         + t0 + "', '" + t0 + "')");
  sp::delivery_repository repo{*f.db};
  const int64_t hour = 3'600'000;
  BOOST_REQUIRE(*repo.grant_files(order, f.product_id, 5, hour, t0) == 1);
  auto listed = (*repo.grants_of(order)).at(0);
  // Read with the list: the product's file count and title (for emails).
  BOOST_TEST(listed.product_files == 1);
  BOOST_TEST(listed.product_title == "Book");
  BOOST_TEST(listed.link_sets == -1); // not asked for
  auto grant = listed.grant.id;
  f.exec("UPDATE download_grants SET downloads = 3, expires_at = "
         "'2020-01-01T00:00:00.000Z' WHERE id = '"
         + grant + "'");
  auto field = [&](const std::string& column) {
    return f.text("SELECT " + column + " FROM download_grants WHERE id = '"
                  + grant + "'");
  };
  auto replaced = [&](const std::string& hash) {
    return f.text("SELECT replaced_at FROM download_links WHERE token_hash = '"
                  + hash + "'");
  };
  auto links = [&](const std::string& hash) {
    return f.count("SELECT COUNT(*) FROM download_links WHERE token_hash = '"
                   + hash + "'");
  };
  auto email = [&](const std::string& key) {
    sp::email_row e;
    e.id = souk::new_uuid();
    e.dedupe_key = key;
    e.order_id = order;
    e.template_name = "receipt";
    e.recipient = "b@example.com";
    e.message_id = e.id + "@example.com";
    e.subject = "Your receipt";
    e.message = "Subject: Your receipt\r\n\r\nhi";
    e.next_attempt_at = e.created_at = e.updated_at = t0;
    return e;
  };

  enum { renew = 1, reset = 2, keep = 4 };
  auto issue = [&](const std::string& hash, int how, const std::string& at,
                   std::optional<sp::email_row> mail = std::nullopt) {
    sp::link_issue i;
    i.links = {{grant, hash}};
    i.renew = (how & renew) != 0;
    i.reset_downloads = (how & reset) != 0;
    i.keep_current = (how & keep) != 0;
    i.email = std::move(mail);
    i.now = at;
    return repo.issue_links(i);
  };

  // Renewed: the expiry becomes now + the grant's lifetime, to the
  // millisecond and in the same text form as every other time.
  const std::string n1 = "2031-02-03T04:05:06.789Z";
  auto w = issue("h1", renew, n1);
  BOOST_REQUIRE_MESSAGE(w, (w ? "" : w.err().detail));
  BOOST_TEST(*w);
  BOOST_TEST(field("expires_at") == "2031-02-03T05:05:06.789Z");
  BOOST_TEST(field("updated_at") == n1);
  BOOST_TEST(replaced("h1") == "NULL");
  // A second link replaces the first, not itself.
  const std::string n2 = "2031-12-31T23:30:00.000Z";
  BOOST_REQUIRE(*issue("h2", renew, n2));
  BOOST_TEST(replaced("h1") == n2);
  BOOST_TEST(replaced("h2") == "NULL");
  BOOST_TEST(field("expires_at") == "2032-01-01T00:30:00.000Z");
  // Never shortened.
  f.exec("UPDATE download_grants SET expires_at = '2099-01-01T00:00:00.000Z' "
         "WHERE id = '"
         + grant + "'");
  BOOST_REQUIRE(*issue("h3", renew, n2));
  BOOST_TEST(field("expires_at") == "2099-01-01T00:00:00.000Z");
  BOOST_TEST(field("downloads") == "3");
  // Reset: the count starts again; the expiry stays without renew.
  BOOST_REQUIRE(*issue("h4", reset, n2));
  BOOST_TEST(field("downloads") == "0");
  BOOST_TEST(field("last_client") == "NULL");
  BOOST_TEST(field("expires_at") == "2099-01-01T00:00:00.000Z");
  BOOST_TEST(replaced("h3") == n2);

  // A receipt's link leaves the current ones working; its key is used once.
  BOOST_REQUIRE(*issue("h5", keep, n2, email("receipt:1")));
  BOOST_TEST(replaced("h4") == "NULL");
  BOOST_TEST(links("h5") == 1);
  auto again = issue("h6", keep, n2, email("receipt:1"));
  BOOST_REQUIRE(again);
  BOOST_TEST(!*again);
  BOOST_TEST(links("h6") == 0);
  BOOST_TEST(f.count("SELECT COUNT(*) FROM email_outbox WHERE dedupe_key = "
                     "'receipt:1'")
             == 1);

  // Link sets counted with the grants, as on their own (a set is a
  // moment: h1 at n1, h2 to h5 at n2).
  for (auto [since, sets] : {std::pair{n1, 2},
                             {n2, 1},
                             {std::string{"2032-06-01T00:00:00.000Z"}, 0}}) {
    auto with = repo.grants_of(order, since);
    BOOST_REQUIRE(with && with->size() == 1);
    BOOST_TEST(with->front().link_sets == sets);
    BOOST_TEST(*repo.link_sets_since(order, since) == sets);
    BOOST_TEST(with->front().grant.id == grant);
    BOOST_TEST(with->front().product_title == "Book");
  }

  // A revoked grant: an error naming it, and nothing written at all.
  BOOST_REQUIRE(*repo.revoke(order, "refunded", n2) == 1);
  for (int how : {int{keep}, renew | reset}) {
    auto refused = issue("h7", how, n2, email("fresh:2"));
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.err().code == souk::errc::link_revoked);
    BOOST_TEST(links("h7") == 0);
    BOOST_TEST(f.count("SELECT COUNT(*) FROM email_outbox WHERE dedupe_key "
                       "= 'fresh:2'")
               == 0);
    BOOST_TEST(replaced("h5") == "NULL");
  }
}

BOOST_AUTO_TEST_SUITE_END()
