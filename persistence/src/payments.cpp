#include "souk/persistence/payments.hpp"

#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

const std::string key_taken_over
  = "the Idempotency-Key was taken over by another request";

using rows::claim_due;
using rows::find_one;
using rows::get_int;
using rows::null_if_empty;
using rows::opt_string;

constexpr const char* payment_columns
  = "id, order_id, gateway, reference, amount, currency, email, status, "
    "authorization_url, access_code, gateway_status, gateway_id, settled_by, "
    "evidence, checks, next_check_at, created_at, updated_at, settled_at";

// A payment from its columns (payment_columns), from column `at` on.
payment_row read_payment_at(const soci::row& r, size_t at) {
  payment_row p;
  p.id = r.get<std::string>(at);
  p.order_id = r.get<std::string>(at + 1);
  p.gateway = r.get<std::string>(at + 2);
  p.reference = r.get<std::string>(at + 3);
  p.amount = get_int(r, at + 4);
  p.currency = r.get<std::string>(at + 5);
  p.email = r.get<std::string>(at + 6);
  p.status = r.get<std::string>(at + 7);
  p.authorization_url = r.get<std::string>(at + 8);
  p.access_code = r.get<std::string>(at + 9);
  p.gateway_status = r.get<std::string>(at + 10);
  p.gateway_id = opt_string(r, at + 11);
  p.settled_by = opt_string(r, at + 12);
  p.evidence = opt_string(r, at + 13);
  p.checks = static_cast<int32_t>(get_int(r, at + 14));
  p.next_check_at = r.get<std::string>(at + 15);
  p.created_at = r.get<std::string>(at + 16);
  p.updated_at = r.get<std::string>(at + 17);
  p.settled_at = opt_string(r, at + 18);
  return p;
}

payment_row read_payment(const soci::row& r) {
  return read_payment_at(r, 0);
}

constexpr const char* inbox_columns
  = "id, gateway, event_key, event, reference, payload, status, attempts, "
    "next_attempt_at, last_error, received_at, processed_at, claimed_until";

inbox_row read_inbox(const soci::row& r) {
  inbox_row x;
  x.id = r.get<std::string>(0);
  x.gateway = r.get<std::string>(1);
  x.event_key = r.get<std::string>(2);
  x.event = r.get<std::string>(3);
  x.reference = r.get<std::string>(4);
  x.payload = r.get<std::string>(5);
  x.status = r.get<std::string>(6);
  x.attempts = static_cast<int32_t>(get_int(r, 7));
  x.next_attempt_at = r.get<std::string>(8);
  x.last_error = opt_string(r, 9);
  x.received_at = r.get<std::string>(10);
  x.processed_at = opt_string(r, 11);
  x.claimed_until = opt_string(r, 12);
  return x;
}

constexpr const char* refund_columns
  = "id, order_id, payment_id, idempotency_key, amount, currency, status, "
    "gateway_id, last_error, created_at, updated_at, processed_at, "
    "asking_until";

refund_row read_refund(const soci::row& r) {
  refund_row x;
  x.id = r.get<std::string>(0);
  x.order_id = r.get<std::string>(1);
  x.payment_id = r.get<std::string>(2);
  x.idempotency_key = r.get<std::string>(3);
  x.amount = get_int(r, 4);
  x.currency = r.get<std::string>(5);
  x.status = r.get<std::string>(6);
  x.gateway_id = opt_string(r, 7);
  x.last_error = opt_string(r, 8);
  x.created_at = r.get<std::string>(9);
  x.updated_at = r.get<std::string>(10);
  x.processed_at = opt_string(r, 11);
  x.asking_until = opt_string(r, 12);
  return x;
}

} // namespace

// -- idempotency keys

expected<idempotency_claim>
payment_repository::claim_key(const std::string& scope, const std::string& key,
                              const std::string& hash,
                              const std::string& locked_until) {
  idempotency_claim out;
  auto now_text = to_iso(now());
  // Insert-or-nothing first, on its own (the usual case, a new key, ends
  // here): two requests racing with a new key must not both insert
  // (PostgreSQL would refuse the second with an error).
  long long ins_rows = 0;
  if (auto err = db_.write([&](soci::session& sql) {
        ins_rows = rows::exec(sql,
                              "INSERT INTO idempotency_keys (scope, idem_key, "
                              "request_hash, status, locked_until, created_at) "
                              "VALUES (:s, :k, :h, 'started', :l, :c) ON "
                              "CONFLICT (scope, idem_key) DO NOTHING",
                              soci::use(scope), soci::use(key), soci::use(hash),
                              soci::use(locked_until), soci::use(now_text));
      }))
    return err;
  if (ins_rows == 1) {
    out.kind = idempotency_claim::owned;
    return out;
  }
  // The key exists: a replay, another request, or one that died holding it.
  auto st = db_.transact([&](soci::session& sql) -> status {
    std::string stored_hash, status_text, body, lock;
    int response_status = 0;
    soci::indicator status_ind = soci::i_null, body_ind = soci::i_null;
    const bool found = rows::read_one(
      sql,
      "SELECT request_hash, status, response_status, response_body, "
      "locked_until FROM idempotency_keys WHERE scope = :s AND idem_key "
      "= :k",
      soci::use(scope), soci::use(key), soci::into(stored_hash),
      soci::into(status_text), soci::into(response_status, status_ind),
      soci::into(body, body_ind), soci::into(lock));
    if (!found) {
      // Released between our insert and our read: the caller tries again.
      out.kind = idempotency_claim::in_progress;
      return {};
    }
    if (stored_hash != hash) {
      out.kind = idempotency_claim::mismatch;
      return {};
    }
    if (status_text == "done") {
      out.kind = idempotency_claim::replay;
      out.status = response_status;
      out.body = body_ind == soci::i_ok ? body : std::string{};
      return {};
    }
    // Its request died holding it: take it over, unless someone else just
    // did (the guard makes only one taker win).
    const long long take_rows
      = rows::exec(sql,
                   "UPDATE idempotency_keys SET locked_until = :l WHERE "
                   "scope = :s AND idem_key = :k AND status = 'started' "
                   "AND locked_until <= :now",
                   soci::use(locked_until), soci::use(scope), soci::use(key),
                   soci::use(now_text));
    out.kind = take_rows == 1 ? idempotency_claim::owned
                              : idempotency_claim::in_progress;
    return {};
  });
  if (st)
    return st;
  return out;
}

status payment_repository::release_key(const std::string& scope,
                                       const std::string& key) {
  return db_.write([&](soci::session& sql) {
    rows::exec(
      sql,
      "DELETE FROM idempotency_keys WHERE scope = :s AND idem_key = :k "
      "AND status = 'started'",
      soci::use(scope), soci::use(key));
  });
}

// -- payments

status payment_repository::create_checkout(const checkout_rows& rows) {
  auto now_text = to_iso(now());
  auto p = rows.payment;
  p.id = p.id.empty() ? new_uuid() : p.id;
  p.order_id = rows.order.id;
  p.created_at = p.created_at.empty() ? now_text : p.created_at;
  p.updated_at = p.created_at;
  if (p.next_check_at.empty())
    p.next_check_at = p.created_at;
  if (db_.kind() == backend::postgresql) {
    // One statement: one round trip, no BEGIN/COMMIT.
    rows::builder b;
    detail::new_order_clauses(b, rows.order, rows.first_event, rows.timers,
                              rows.outbox);
    b.sql(", p AS (INSERT INTO payments (id, order_id, gateway, reference, "
          "amount, currency, email, status, authorization_url, access_code, "
          "gateway_status, checks, next_check_at, created_at, updated_at) "
          "VALUES (")
      .text(p.id)
      .sql(", ")
      .text(p.order_id)
      .sql(", ")
      .text(p.gateway)
      .sql(", ")
      .text(p.reference)
      .sql(", ")
      .integer(p.amount)
      .sql(", ")
      .text(p.currency)
      .sql(", ")
      .text(p.email)
      .sql(", 'initialized', ")
      .text(p.authorization_url)
      .sql(", ")
      .text(p.access_code)
      .sql(", ")
      .text(p.gateway_status)
      .sql(", 0, ")
      .text(p.next_check_at)
      .sql(", ")
      .text(p.created_at)
      .sql(", ")
      .text(p.updated_at)
      .sql("))");
    if (!rows.access_hash.empty())
      b.sql(", a AS (INSERT INTO order_access (order_id, token_hash) VALUES (")
        .text(p.order_id)
        .sql(", ")
        .text(rows.access_hash)
        .sql("))");
    detail::finish_key_clause(b, rows.answer);
    if (auto written = detail::write_at_once(db_, b, key_taken_over); !written)
      return written.err();
    return {};
  }
  return db_.transact([&](soci::session& sql) -> status {
    detail::insert_new_order(sql, rows.order, rows.first_event, rows.timers,
                             rows.outbox);
    long long amount = p.amount;
    int checks = 0;
    rows::exec(
      sql,
      "INSERT INTO payments (id, order_id, gateway, reference, amount, "
      "currency, email, status, authorization_url, access_code, "
      "gateway_status, checks, next_check_at, created_at, updated_at) "
      "VALUES (:id, :o, :g, :r, :a, :c, :e, 'initialized', :u, :ac, :gs, "
      ":n, :nc, :ca, :ua)",
      soci::use(p.id), soci::use(p.order_id), soci::use(p.gateway),
      soci::use(p.reference), soci::use(amount), soci::use(p.currency),
      soci::use(p.email), soci::use(p.authorization_url),
      soci::use(p.access_code), soci::use(p.gateway_status), soci::use(checks),
      soci::use(p.next_check_at), soci::use(p.created_at),
      soci::use(p.updated_at));
    if (!rows.access_hash.empty())
      rows::exec(
        sql, "INSERT INTO order_access (order_id, token_hash) VALUES (:o, :h)",
        soci::use(p.order_id), soci::use(rows.access_hash));
    return detail::finish_key(sql, rows.answer);
  });
}

namespace detail {

void finish_key_clause(rows::builder& b, const idempotency_answer& a) {
  if (a.key.empty()) {
    b.sql(" SELECT 1");
    return;
  }
  b.sql(", k AS (UPDATE idempotency_keys SET status = 'done', "
        "response_status = ")
    .integer(a.status)
    .sql(", response_body = ")
    .text(a.body)
    .sql(" WHERE scope = ")
    .text(a.scope)
    .sql(" AND idem_key = ")
    .text(a.key)
    .sql(" AND status = 'started' RETURNING 1) SELECT 1 / (SELECT COUNT(*) "
         "FROM k)");
}

expected<int64_t> write_at_once(database& db, rows::builder& b,
                                const std::string& refused) {
  bool divided_by_zero = false;
  long long value = 0;
  auto st = db.write([&](soci::session& sql) {
    statement_lease stmt{sql, b.str()};
    b.bind(*stmt);
    stmt->exchange(soci::into(value));
    stmt->define_and_bind();
    try {
      stmt.execute(true);
    } catch (const soci::soci_error& err) {
      // Inside a transaction the failed statement aborted it: `database`
      // sees that and fails the write (and the transaction) all the same.
      if (sqlstate_of(err) != "22012")
        throw;
      divided_by_zero = true;
    }
  });
  if (st)
    return st;
  if (divided_by_zero)
    return error{errc::conflict, refused};
  return value;
}

status finish_key(soci::session& sql, const idempotency_answer& a) {
  if (a.key.empty())
    return {};
  const long long upd_rows
    = rows::exec(sql,
                 "UPDATE idempotency_keys SET status = 'done', "
                 "response_status = :st, response_body = :b WHERE "
                 "scope = :s AND idem_key = :k AND status = "
                 "'started'",
                 soci::use(a.status), soci::use(a.body), soci::use(a.scope),
                 soci::use(a.key));
  if (upd_rows != 1)
    return error{errc::conflict, key_taken_over};
  return {};
}

} // namespace detail

expected<std::optional<payment_row>>
payment_repository::find_by_reference(const std::string& reference) {
  return find_one<payment_row>(db_,
                               std::string{"SELECT "} + payment_columns
                                 + " FROM payments WHERE reference = :r",
                               reference, read_payment);
}

expected<std::optional<payment_row>>
payment_repository::find_by_order(const std::string& order_id) {
  return find_one<payment_row>(
    db_,
    std::string{"SELECT "} + payment_columns
      + " FROM payments WHERE order_id = :o ORDER BY created_at DESC, id",
    order_id, read_payment);
}

expected<std::optional<order_page>>
payment_repository::order_page_of(const std::string& order_id) {
  if (db_.kind() != backend::postgresql) {
    auto reader = order_repository{db_}.visibility(order_id);
    if (!reader)
      return reader.err();
    if (!*reader)
      return std::optional<order_page>{};
    return std::optional<order_page>{order_page{std::move(**reader), {}, {}}};
  }
  // The order and its events (20 columns), who may see it (9) and its
  // newest payment (19, NULL when none), from one snapshot.
  static const std::string text
    = "SELECT " + detail::order_view_columns() + ", "
      + detail::visibility_columns + ", lp.* FROM " + detail::visibility_joins
      + " LEFT JOIN LATERAL (SELECT " + payment_columns
      + " FROM payments WHERE order_id = o.id ORDER BY created_at DESC, id "
        "LIMIT 1) lp ON TRUE WHERE o.id = :id";
  constexpr size_t reader_at = 20, payment_at = 29;
  std::optional<order_page> out;
  auto st = db_.run([&](soci::session& sql) {
    for (auto& r : rows::query{sql, text, soci::use(order_id)}) {
      out = order_page{
        detail::read_visibility(r, reader_at), detail::read_order_view(r), {}};
      if (r.get_indicator(payment_at) == soci::i_ok)
        out->payment = read_payment_at(r, payment_at);
    }
  });
  if (st)
    return st;
  return out;
}

status payment_repository::record_check(const std::string& id,
                                        const std::string& gateway_status,
                                        const std::string& next_check_at) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    rows::exec(
      sql,
      "UPDATE payments SET gateway_status = :gs, checks = checks + 1, "
      "next_check_at = :n, check_claimed_until = NULL, updated_at = :u "
      "WHERE id = :id AND status = 'initialized'",
      soci::use(gateway_status), soci::use(next_check_at), soci::use(now_text),
      soci::use(id));
  });
}

expected<bool> payment_repository::settle(const std::string& id,
                                          const std::string& status_text,
                                          const std::string& gateway_status,
                                          const std::string& gateway_id,
                                          const std::string& settled_by,
                                          const std::string& evidence) {
  // A payment reconciliation gave up on may still be paid late (the
  // gateway's webhook proves it): it can still become succeeded or
  // mismatch. Nothing leaves succeeded or mismatch.
  const std::string from
    = status_text == "failed" ? "'initialized'" : "'initialized', 'failed'";
  auto now_text = to_iso(now());
  bool won = false;
  auto st = db_.write([&](soci::session& sql) {
    auto gid_ind = null_if_empty(gateway_id);
    const long long upd_rows
      = rows::exec(sql,
                   "UPDATE payments SET status = :s, gateway_status = "
                   ":gs, gateway_id = :gid, settled_by = :by, evidence "
                   "= :ev, checks = checks + 1, check_claimed_until = "
                   "NULL, settled_at = :t1, updated_at = :t2 WHERE id = "
                   ":id AND status IN ("
                     + from + ")",
                   soci::use(status_text), soci::use(gateway_status),
                   soci::use(gateway_id, gid_ind), soci::use(settled_by),
                   soci::use(evidence), soci::use(now_text),
                   soci::use(now_text), soci::use(id));
    won = upd_rows == 1;
  });
  if (st)
    return st;
  return won;
}

expected<std::vector<payment_row>> payment_repository::claim_due_checks(
  const std::string& now_text, const std::string& lease_until, size_t limit) {
  return claim_due<payment_row>(
    db_,
    std::string{"SELECT "} + payment_columns
      + " FROM payments WHERE status IN ('initialized', 'succeeded', "
        "'mismatch') AND "
        "next_check_at <= "
        ":now1 AND (check_claimed_until IS NULL OR check_claimed_until <= "
        ":now2) ORDER BY next_check_at, id LIMIT :lim",
    "UPDATE payments SET check_claimed_until = :until WHERE id = :id AND "
    "status IN ('initialized', 'succeeded', 'mismatch') AND "
    "(check_claimed_until IS NULL "
    "OR "
    "check_claimed_until <= :now)",
    now_text, lease_until, limit, read_payment,
    [](const payment_row& r) -> const std::string& { return r.id; });
}

status payment_repository::reschedule_check(const std::string& id,
                                            const std::string& next_check_at) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE payments SET next_check_at = :n, check_claimed_until = "
               "NULL WHERE id = :id",
               soci::use(next_check_at), soci::use(id));
  });
}

namespace {
constexpr const char* close_checks_sql
  = "UPDATE payments SET next_check_at = :n, check_claimed_until = NULL "
    "WHERE id = :id";
constexpr const char* processed_sql
  = "UPDATE inbox SET status = 'processed', last_error = NULL, processed_at "
    "= :t, claimed_until = NULL WHERE id = :e AND status = 'received'";
} // namespace

status payment_repository::close_checks(const std::string& id,
                                        const std::string& event_id) {
  const std::string never{no_more_checks};
  if (event_id.empty())
    return db_.write([&](soci::session& sql) {
      rows::exec(sql, close_checks_sql, soci::use(never), soci::use(id));
    });
  auto now_text = to_iso(now());
  if (db_.kind() == backend::postgresql)
    return db_.write([&](soci::session& sql) {
      rows::exec(sql,
                 std::string{"WITH i AS ("} + processed_sql + " RETURNING 1) "
                   + close_checks_sql,
                 soci::use(now_text), soci::use(event_id), soci::use(never),
                 soci::use(id));
    });
  return db_.transact([&](soci::session& sql) -> status {
    rows::exec(sql, processed_sql, soci::use(now_text), soci::use(event_id));
    rows::exec(sql, close_checks_sql, soci::use(never), soci::use(id));
    return {};
  });
}

// -- inbox

expected<bool> payment_repository::store_event(const inbox_row& row) {
  auto now_text = to_iso(now());
  inbox_row x = row;
  x.id = x.id.empty() ? new_uuid() : x.id;
  x.received_at = x.received_at.empty() ? now_text : x.received_at;
  x.next_attempt_at
    = x.next_attempt_at.empty() ? x.received_at : x.next_attempt_at;
  bool stored = false;
  auto st = db_.write([&](soci::session& sql) {
    int attempts = 0;
    auto err_ind = null_if_empty(x.last_error);
    auto done_ind = null_if_empty(x.processed_at);
    auto claim_ind = null_if_empty(x.claimed_until);
    const long long ins_rows = rows::exec(
      sql,
      "INSERT INTO inbox (id, gateway, event_key, event, "
      "reference, payload, status, attempts, "
      "next_attempt_at, last_error, received_at, "
      "processed_at, claimed_until) VALUES (:id, :g, :k, :e, :r, :p, :s, "
      ":a, :n, :le, :ra, :pa, :cu) ON CONFLICT (gateway, "
      "event_key) DO NOTHING",
      soci::use(x.id), soci::use(x.gateway), soci::use(x.event_key),
      soci::use(x.event), soci::use(x.reference), soci::use(x.payload),
      soci::use(x.status), soci::use(attempts), soci::use(x.next_attempt_at),
      soci::use(x.last_error, err_ind), soci::use(x.received_at),
      soci::use(x.processed_at, done_ind),
      soci::use(x.claimed_until, claim_ind));
    stored = ins_rows == 1;
  });
  if (st)
    return st;
  return stored;
}

status payment_repository::release_event(const std::string& id,
                                         const std::string& claimed_until) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE inbox SET claimed_until = NULL WHERE id = :i AND status "
               "= 'received' AND claimed_until = :c",
               soci::use(id), soci::use(claimed_until));
  });
}

expected<std::vector<inbox_row>> payment_repository::claim_due_events(
  const std::string& now_text, const std::string& lease_until, size_t limit) {
  return claim_due<inbox_row>(
    db_,
    std::string{"SELECT "} + inbox_columns
      + " FROM inbox WHERE status = 'received' AND next_attempt_at <= :now1 "
        "AND (claimed_until IS NULL OR claimed_until <= :now2) ORDER BY "
        "next_attempt_at, id LIMIT :lim",
    "UPDATE inbox SET claimed_until = :until WHERE id = :id AND status = "
    "'received' AND (claimed_until IS NULL OR claimed_until <= :now)",
    now_text, lease_until, limit, read_inbox,
    [](const inbox_row& r) -> const std::string& { return r.id; },
    std::string{"UPDATE inbox SET claimed_until = :until WHERE id IN (SELECT "
                "id FROM inbox WHERE status = 'received' AND next_attempt_at "
                "<= :now1 AND (claimed_until IS NULL OR claimed_until <= "
                ":now2) ORDER BY next_attempt_at, id LIMIT :lim FOR UPDATE "
                "SKIP LOCKED) RETURNING "}
      + inbox_columns);
}

status payment_repository::finish_event(const std::string& id,
                                        const std::string& status_text,
                                        const std::string& note) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    auto note_ind = null_if_empty(note);
    rows::exec(
      sql,
      "UPDATE inbox SET status = :s, last_error = :n, processed_at = :t, "
      "claimed_until = NULL WHERE id = :id AND status = 'received'",
      soci::use(status_text), soci::use(note, note_ind), soci::use(now_text),
      soci::use(id));
  });
}

status payment_repository::retry_event(const std::string& id,
                                       const std::string& error_text,
                                       const std::string& next_attempt_at) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE inbox SET attempts = attempts + 1, last_error = :e, "
               "next_attempt_at = :n, claimed_until = NULL WHERE id = :id AND "
               "status = 'received'",
               soci::use(error_text), soci::use(next_attempt_at),
               soci::use(id));
  });
}

expected<std::optional<inbox_row>>
payment_repository::find_event(const std::string& gateway,
                               const std::string& key) {
  std::optional<inbox_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + inbox_columns
                       + " FROM inbox WHERE gateway = :g AND event_key = :k",
                     soci::use(gateway), soci::use(key)};
    for (auto& r : rows) {
      out = read_inbox(r);
      break;
    }
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<inbox_row>>
payment_repository::events_with_reference(const std::string& reference) {
  std::vector<inbox_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + inbox_columns
                       + " FROM inbox WHERE reference = :r ORDER BY "
                         "received_at, id",
                     soci::use(reference)};
    for (auto& r : rows)
      out.push_back(read_inbox(r));
  });
  if (st)
    return st;
  return out;
}

// -- refunds

expected<refund_row> payment_repository::refund_for(const refund_row& row) {
  auto now_text = to_iso(now());
  refund_row x = row;
  x.id = x.id.empty() ? new_uuid() : x.id;
  x.created_at = x.created_at.empty() ? now_text : x.created_at;
  x.updated_at = x.created_at;
  std::optional<refund_row> out;
  auto st = db_.transact([&](soci::session& sql) -> status {
    long long amount = x.amount;
    rows::exec(
      sql,
      "INSERT INTO refunds (id, order_id, payment_id, idempotency_key, "
      "amount, currency, status, created_at, updated_at) VALUES (:id, "
      ":o, :p, :k, :a, :c, :s, :ca, :ua) ON CONFLICT (idempotency_key) "
      "DO NOTHING",
      soci::use(x.id), soci::use(x.order_id), soci::use(x.payment_id),
      soci::use(x.idempotency_key), soci::use(amount), soci::use(x.currency),
      soci::use(x.status), soci::use(x.created_at), soci::use(x.updated_at));
    rows::query rows{sql,
                     std::string{"SELECT "} + refund_columns
                       + " FROM refunds WHERE idempotency_key = :k",
                     soci::use(x.idempotency_key)};
    for (auto& r : rows) {
      out = read_refund(r);
      break;
    }
    return {};
  });
  if (st)
    return st;
  if (!out)
    return error{errc::internal, "refund row vanished"};
  return *out;
}

expected<bool> payment_repository::claim_refund(const std::string& id,
                                                const std::string& until) {
  bool won = false;
  auto now_text = to_iso(now());
  auto st = db_.write([&](soci::session& sql) {
    const long long upd_rows
      = rows::exec(sql,
                   "UPDATE refunds SET status = 'asking', asking_until "
                   "= :u, updated_at = :t WHERE id = :id AND status = "
                   "'requested'",
                   soci::use(until), soci::use(now_text), soci::use(id));
    won = upd_rows == 1;
  });
  if (st)
    return st;
  return won;
}

expected<bool> payment_repository::update_refund(
  const std::string& id, const std::string& status_text,
  const std::string& gateway_id, const std::string& last_error) {
  // Statuses only move forward: requested -> asking -> pending -> processed
  // or failed (and asking back to requested when the gateway was never
  // reached), so a late writer cannot undo what a webhook recorded. The
  // gateway's id, once known, stays: another id is another refund.
  std::string from;
  if (status_text == "requested")
    from = "'asking'";
  else if (status_text == "pending")
    from = "'requested', 'asking'";
  else if (status_text == "processed" || status_text == "failed")
    from = "'requested', 'asking', 'pending'";
  else
    return error{errc::internal, "no refund status " + status_text};
  auto now_text = to_iso(now());
  bool moved = false;
  auto st = db_.write([&](soci::session& sql) {
    auto gid_ind = null_if_empty(gateway_id);
    auto err_ind = null_if_empty(last_error);
    std::string processed = status_text == "processed" ? now_text : "";
    auto done_ind = null_if_empty(processed);
    const long long upd_rows
      = rows::exec(sql,
                   "UPDATE refunds SET status = :s, gateway_id = "
                   "COALESCE(gateway_id, :g), last_error = :e, "
                   "updated_at = :u, processed_at = COALESCE(:p, "
                   "processed_at) WHERE id = :id AND status IN ("
                     + from + ")",
                   soci::use(status_text), soci::use(gateway_id, gid_ind),
                   soci::use(last_error, err_ind), soci::use(now_text),
                   soci::use(processed, done_ind), soci::use(id));
    moved = upd_rows == 1;
  });
  if (st)
    return st;
  return moved;
}

expected<std::vector<refund_row>>
payment_repository::refunds_of(const std::string& payment_id) {
  return rows::find_all<refund_row>(
    db_,
    std::string{"SELECT "} + refund_columns
      + " FROM refunds WHERE payment_id = :p ORDER BY created_at, id",
    payment_id, read_refund);
}

} // namespace souk::persistence
