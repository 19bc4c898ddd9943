#include "souk/persistence/orders.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::get_int;
using rows::null_if_empty;
using rows::opt_string;

std::string or_new_id(const std::string& id) {
  return id.empty() ? new_uuid() : id;
}

std::string or_time(const std::string& ts, const std::string& fallback) {
  return ts.empty() ? fallback : ts;
}

// Column readers over one row: a SQL result row (`columns`, from column
// `at` on) or a JSON array built by the database (`json_columns`, what the
// one-statement snapshot returns for its lists), so each row type has one
// reader for both.
struct columns {
  const soci::row& r;
  size_t at = 0;
  std::string text(size_t i) const { return r.get<std::string>(at + i); }
  std::string opt(size_t i) const { return opt_string(r, at + i); }
  int64_t integer(size_t i) const { return get_int(r, at + i); }
};

struct json_columns {
  const nlohmann::json& a;
  std::string text(size_t i) const { return a.at(i).get<std::string>(); }
  std::string opt(size_t i) const {
    return a.at(i).is_null() ? std::string{} : a.at(i).get<std::string>();
  }
  int64_t integer(size_t i) const { return a.at(i).get<int64_t>(); }
};

// A column holding JSON the database built (a list of rows, or one row),
// parsed; an empty array for NULL.
nlohmann::json json_list(const soci::row& r, size_t i) {
  auto t = opt_string(r, i);
  return t.empty() ? nlohmann::json::array() : nlohmann::json::parse(t);
}

constexpr const char* order_columns
  = "id, product_id, buyer_email, buyer_id, amount, currency, flow, "
    "flow_version, flow_hash, state, version, step_index, step_attempt, "
    "last_error, parked_from, state_entered_at, created_at, updated_at, kind";

order_row read_order(const soci::row& r) {
  order_row o;
  o.id = r.get<std::string>(0);
  o.product_id = opt_string(r, 1);
  o.buyer_email = opt_string(r, 2);
  o.buyer_id = opt_string(r, 3);
  o.amount = get_int(r, 4);
  o.currency = r.get<std::string>(5);
  o.flow = r.get<std::string>(6);
  o.flow_version = static_cast<int32_t>(get_int(r, 7));
  o.flow_hash = r.get<std::string>(8);
  o.state = r.get<std::string>(9);
  o.version = get_int(r, 10);
  o.step_index = static_cast<int32_t>(get_int(r, 11));
  o.step_attempt = static_cast<int32_t>(get_int(r, 12));
  o.last_error = opt_string(r, 13);
  o.parked_from = opt_string(r, 14);
  o.state_entered_at = r.get<std::string>(15);
  o.created_at = r.get<std::string>(16);
  o.updated_at = r.get<std::string>(17);
  o.kind = r.get<std::string>(18);
  return o;
}

// `columns` ("a, b, c"), each taken from the table alias `alias` ("o.a,
// o.b, o.c"), for joins with tables that have columns of the same names.
std::string prefixed(const char* columns, std::string_view alias) {
  std::string out{alias};
  for (const char* c = columns; *c != '\0'; ++c) {
    out += *c;
    if (*c == ' ')
      out += alias;
  }
  return out;
}

const std::string& order_columns_of_o() {
  static const std::string columns = prefixed(order_columns, "o.");
  return columns;
}

constexpr const char* event_columns
  = "id, order_id, seq, event, from_state, to_state, actor, detail, "
    "dedup_key, created_at";

// An event from its columns (event_columns).
template<class Columns>
event_row read_event(const Columns& c) {
  event_row e;
  e.id = c.text(0);
  e.order_id = c.text(1);
  e.seq = c.integer(2);
  e.event = c.text(3);
  e.from_state = c.opt(4);
  e.to_state = c.opt(5);
  e.actor = c.text(6);
  e.detail = c.text(7);
  e.dedup_key = c.opt(8);
  e.created_at = c.text(9);
  return e;
}

// An event whose columns (event_columns) start at `at`.
event_row read_event(const soci::row& r, size_t at) {
  return read_event(columns{r, at});
}

constexpr const char* timer_columns
  = "id, order_id, kind, event, due_at, status, claimed_by, claimed_until, "
    "created_at";

template<class Columns>
timer_row read_timer(const Columns& c) {
  timer_row t;
  t.id = c.text(0);
  t.order_id = c.text(1);
  t.kind = c.text(2);
  t.event = c.text(3);
  t.due_at = c.text(4);
  t.status = c.text(5);
  t.claimed_by = c.opt(6);
  t.claimed_until = c.opt(7);
  t.created_at = c.text(8);
  return t;
}

timer_row read_timer(const soci::row& r) {
  return read_timer(columns{r});
}

void insert_event(soci::session& sql, const event_row& e) {
  long long seq = e.seq;
  auto from_ind = null_if_empty(e.from_state);
  auto to_ind = null_if_empty(e.to_state);
  auto dedup_ind = null_if_empty(e.dedup_key);
  rows::exec(sql,
             "INSERT INTO order_events (id, order_id, seq, event, from_state, "
             "to_state, actor, detail, dedup_key, created_at) VALUES (:id, :o, "
             ":s, :e, :f, :t, :a, :d, :k, :c)",
             soci::use(e.id), soci::use(e.order_id), soci::use(seq),
             soci::use(e.event), soci::use(e.from_state, from_ind),
             soci::use(e.to_state, to_ind), soci::use(e.actor),
             soci::use(e.detail), soci::use(e.dedup_key, dedup_ind),
             soci::use(e.created_at));
}

// Appends `e` as the order's next event and returns its seq, in one
// statement. Callers hold the order's row lock (the UPDATE of its version,
// or SQLite's write lock), which serialises appends; UNIQUE (order_id, seq)
// catches any writer that bypassed it.
int64_t append_event(soci::session& sql, const event_row& e) {
  auto from_ind = null_if_empty(e.from_state);
  auto to_ind = null_if_empty(e.to_state);
  auto dedup_ind = null_if_empty(e.dedup_key);
  long long seq = 0;
  rows::read_one(
    sql,
    "INSERT INTO order_events (id, order_id, seq, event, from_state, "
    "to_state, actor, detail, dedup_key, created_at) SELECT :id, :o, "
    "COALESCE(MAX(seq), 0) + 1, :e, :f, :t, :a, :d, :k, :c FROM order_events "
    "WHERE order_id = :o2 RETURNING seq",
    soci::use(e.id), soci::use(e.order_id), soci::use(e.event),
    soci::use(e.from_state, from_ind), soci::use(e.to_state, to_ind),
    soci::use(e.actor), soci::use(e.detail), soci::use(e.dedup_key, dedup_ind),
    soci::use(e.created_at), soci::use(e.order_id), soci::into(seq));
  return seq;
}

void cancel_pending_timers(soci::session& sql, const std::string& order_id) {
  rows::exec(sql,
             "UPDATE timers SET status = 'cancelled' WHERE order_id = :o AND "
             "status = 'pending'",
             soci::use(order_id));
}

void insert_timers(soci::session& sql, const std::string& order_id,
                   const std::vector<timer_row>& timers,
                   const std::string& now_text) {
  for (auto& timer : timers) {
    auto id = or_new_id(timer.id);
    auto created = or_time(timer.created_at, now_text);
    rows::exec(sql,
               "INSERT INTO timers (id, order_id, kind, event, due_at, status, "
               "created_at) VALUES (:id, :o, :k, :e, :d, 'pending', :c)",
               soci::use(id), soci::use(order_id), soci::use(timer.kind),
               soci::use(timer.event), soci::use(timer.due_at),
               soci::use(created));
  }
}

// A row enqueued already done: a step that ran and ended inside the
// transaction that enqueues it (transition::enqueue).
bool enqueued_done(const outbox_row& x) {
  return x.status == "done";
}

// A replayed transition re-enqueues the same keys: skip them rather than
// fail, so side effects are enqueued exactly once (DESIGN principle 3). A
// row enqueued done whose key exists is not skipped quietly: its step ran
// as if for the first time, so its key (returned) fails the transition, as
// updating a row that is not pending does.
std::string insert_outbox(soci::session& sql, const std::string& order_id,
                          const std::vector<outbox_row>& rows,
                          const std::string& now_text) {
  for (auto& x : rows) {
    auto id = or_new_id(x.id);
    auto created = or_time(x.created_at, now_text);
    const bool done = enqueued_done(x);
    const std::string status = done ? "done" : "pending";
    const int attempts = done ? x.attempts : 0;
    const std::string lease = done ? std::string{} : x.claimed_until;
    const std::string why = done ? x.last_error : std::string{};
    const std::string done_at = done ? or_time(x.done_at, now_text) : "";
    auto lease_ind = null_if_empty(lease);
    auto why_ind = null_if_empty(why);
    auto done_ind = null_if_empty(done_at);
    const long long written = rows::exec(
      sql,
      "INSERT INTO outbox (id, order_id, action, params, idempotency_key, "
      "status, attempts, last_error, claimed_until, created_at, done_at) "
      "VALUES (:id, :o, :a, :p, :k, :s, :n, :e, :l, :c, :d) ON CONFLICT "
      "(idempotency_key) DO NOTHING",
      soci::use(id), soci::use(order_id), soci::use(x.action),
      soci::use(x.params), soci::use(x.idempotency_key), soci::use(status),
      soci::use(attempts), soci::use(why, why_ind), soci::use(lease, lease_ind),
      soci::use(created), soci::use(done_at, done_ind));
    if (done && written == 0)
      return x.idempotency_key;
  }
  return {};
}

// PostgreSQL: the WITH clause e inserting event `e` for the order whose id
// the clause `from` returns, with the seq `seq` writes (SQL), returning it.
template<class Seq>
void event_clause(rows::builder& b, const event_row& e, std::string_view from,
                  Seq seq) {
  b.sql(", e AS (INSERT INTO order_events (id, order_id, seq, event, "
        "from_state, to_state, actor, detail, dedup_key, created_at) SELECT ")
    .text(e.id)
    .sql(fmt::format(", {}.id, ", from));
  seq(b);
  b.sql(", ")
    .text(e.event)
    .sql(", ")
    .text(e.from_state, true)
    .sql(", ")
    .text(e.to_state, true)
    .sql(", ")
    .text(e.actor)
    .sql(", ")
    .text(e.detail)
    .sql(", ")
    .text(e.dedup_key, true)
    .sql(", ")
    .text(e.created_at)
    .sql(fmt::format(" FROM {} RETURNING seq)", from));
}

// PostgreSQL: WITH clauses t0, t1, ... inserting `timers` for the order
// whose id the clause `from` returns, so nothing when it returns no row
// (the one-statement transition's version guard).
void timer_clauses(rows::builder& b, const std::vector<timer_row>& timers,
                   std::string_view from, const std::string& now_text) {
  for (size_t i = 0; i < timers.size(); ++i) {
    auto& timer = timers[i];
    b.sql(fmt::format(", t{} AS (INSERT INTO timers (id, order_id, kind, "
                      "event, due_at, status, created_at) SELECT ",
                      i))
      .text(or_new_id(timer.id))
      .sql(fmt::format(", {}.id, ", from))
      .text(timer.kind)
      .sql(", ")
      .text(timer.event)
      .sql(", ")
      .text(timer.due_at)
      .sql(", 'pending', ")
      .text(or_time(timer.created_at, now_text))
      .sql(fmt::format(" FROM {})", from));
  }
}

// PostgreSQL: WITH clauses n0, n1, ... enqueueing `rows` as `timer_clauses`
// arms timers. A replayed transition re-enqueues the same keys: skipped, as
// in insert_outbox.
void outbox_clauses(rows::builder& b, const std::vector<outbox_row>& rows,
                    std::string_view from, const std::string& now_text) {
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& x = rows[i];
    const bool done = enqueued_done(x);
    b.sql(fmt::format(", n{} AS (INSERT INTO outbox (id, order_id, action, "
                      "params, idempotency_key, status, attempts, "
                      "claimed_until, {}created_at{}) SELECT ",
                      i, done ? "last_error, " : "", done ? ", done_at" : ""))
      .text(or_new_id(x.id))
      .sql(fmt::format(", {}.id, ", from))
      .text(x.action)
      .sql(", ")
      .text(x.params)
      .sql(", ")
      .text(x.idempotency_key);
    if (done)
      b.sql(", 'done', ")
        .integer(x.attempts)
        .sql(", NULL, ")
        .text(x.last_error, true)
        .sql(", ");
    else
      b.sql(", 'pending', 0, ").text(x.claimed_until, true).sql(", ");
    b.text(or_time(x.created_at, now_text));
    if (done)
      b.sql(", ").text(or_time(x.done_at, now_text));
    b.sql(fmt::format(" FROM {} ON CONFLICT (idempotency_key) DO NOTHING{})",
                      from, done ? " RETURNING 1" : ""));
  }
}

error conflict(const std::string& what) {
  return error{errc::conflict, what};
}

constexpr const char* outbox_columns
  = "id, order_id, action, params, idempotency_key, status, attempts, "
    "last_error, claimed_until, created_at, done_at";

template<class Columns>
outbox_row read_outbox(const Columns& c) {
  outbox_row x;
  x.id = c.text(0);
  x.order_id = c.text(1);
  x.action = c.text(2);
  x.params = c.text(3);
  x.idempotency_key = c.text(4);
  x.status = c.text(5);
  x.attempts = static_cast<int32_t>(c.integer(6));
  x.last_error = c.opt(7);
  x.claimed_until = c.opt(8);
  x.created_at = c.text(9);
  x.done_at = c.opt(10);
  return x;
}

outbox_row read_outbox(const soci::row& r) {
  return read_outbox(columns{r});
}

void read_snapshot(soci::session& sql, const std::string& id,
                   std::optional<order_snapshot>& out) {
  {
    rows::query rows{sql,
                     std::string{"SELECT "} + order_columns
                       + " FROM orders WHERE id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = order_snapshot{read_order(r), {}, {}, {}, {}};
  }
  if (!out)
    return;
  {
    rows::query rows{sql,
                     std::string{"SELECT "} + event_columns
                       + " FROM order_events WHERE order_id = :id ORDER BY "
                         "seq",
                     soci::use(id)};
    for (auto& r : rows)
      out->events.push_back(read_event(r, 0));
  }
  {
    rows::query rows{sql,
                     std::string{"SELECT "} + timer_columns
                       + " FROM timers WHERE order_id = :id AND status "
                         "= 'pending' ORDER BY due_at, id",
                     soci::use(id)};
    for (auto& r : rows)
      out->timers.push_back(read_timer(r));
  }
  {
    rows::query rows{sql,
                     std::string{"SELECT "} + outbox_columns
                       + " FROM outbox WHERE order_id = :id AND status = "
                         "'pending' ORDER BY created_at, id",
                     soci::use(id)};
    for (auto& r : rows)
      out->outbox.push_back(read_outbox(r));
  }
  {
    const std::string cancelled = std::string{cancelled_prefix} + "%";
    rows::query rows{sql,
                     std::string{"SELECT "} + outbox_columns
                       + " FROM outbox WHERE order_id = :id AND status = "
                         "'failed' AND (last_error IS NULL OR last_error "
                         "NOT LIKE :c) ORDER BY done_at DESC, created_at "
                         "DESC, id DESC LIMIT 1",
                     soci::use(id), soci::use(cancelled)};
    for (auto& r : rows)
      out->last_failed = read_outbox(r);
  }
}

// PostgreSQL: `read_snapshot` as ONE statement, which reads from one
// snapshot by itself, so it needs neither a transaction nor the five round
// trips: the order row, and each list as a JSON array of rows (arrays in
// the readers' column order) built by the database.
void read_snapshot_at_once(soci::session& sql, const std::string& id,
                           std::optional<order_snapshot>& out) {
  static const std::string text
    = "SELECT " + detail::order_view_columns()
      + ", (SELECT json_agg(json_build_array(" + timer_columns
      + ") ORDER BY due_at, id) FROM timers WHERE order_id = o.id AND "
        "status = 'pending')::text, (SELECT json_agg(json_build_array("
      + outbox_columns
      + ") ORDER BY created_at, id) FROM outbox WHERE order_id = o.id AND "
        "status = 'pending')::text, (SELECT json_build_array("
      + outbox_columns
      + ") FROM outbox WHERE order_id = o.id AND status = 'failed' AND "
        "(last_error IS NULL OR last_error NOT LIKE :c) ORDER BY done_at "
        "DESC, created_at DESC, id DESC LIMIT 1)::text FROM orders o WHERE "
        "o.id = :id";
  constexpr size_t lists_at = 20; // after order_view_columns' 20
  const std::string cancelled = std::string{cancelled_prefix} + "%";
  // Placeholders bind in the order they occur: :c before :id.
  for (auto& r : rows::query{sql, text, soci::use(cancelled), soci::use(id)}) {
    out = detail::read_order_view(r);
    for (auto& a : json_list(r, lists_at))
      out->timers.push_back(read_timer(json_columns{a}));
    for (auto& a : json_list(r, lists_at + 1))
      out->outbox.push_back(read_outbox(json_columns{a}));
    if (auto failed = json_list(r, lists_at + 2); !failed.empty())
      out->last_failed = read_outbox(json_columns{failed});
  }
}

} // namespace

namespace detail {

namespace {

// The rows `insert_new_order` writes: ids, version 1 and times filled in.
std::pair<order_row, event_row> new_order_rows(const order_row& order,
                                               const event_row& first_event) {
  auto now_text = to_iso(now());
  order_row o = order;
  o.id = or_new_id(o.id);
  o.version = 1;
  o.created_at = or_time(o.created_at, now_text);
  o.updated_at = or_time(o.updated_at, o.created_at);
  o.state_entered_at = or_time(o.state_entered_at, o.created_at);
  event_row e = first_event;
  e.id = or_new_id(e.id);
  e.order_id = o.id;
  e.seq = 1;
  e.from_state.clear();
  e.to_state = o.state;
  e.created_at = or_time(e.created_at, o.created_at);
  return {std::move(o), std::move(e)};
}

} // namespace

void insert_new_order(soci::session& sql, const order_row& order,
                      const event_row& first_event,
                      const std::vector<timer_row>& arm_timers,
                      const std::vector<outbox_row>& enqueue) {
  auto [o, e] = new_order_rows(order, first_event);
  long long amount = o.amount;
  int version = 1;
  auto product_ind = null_if_empty(o.product_id);
  auto email_ind = null_if_empty(o.buyer_email);
  auto buyer_ind = null_if_empty(o.buyer_id);
  auto error_ind = null_if_empty(o.last_error);
  rows::exec(
    sql,
    "INSERT INTO orders (id, kind, product_id, buyer_email, buyer_id, "
    "amount, currency, flow, flow_version, flow_hash, state, version, "
    "step_index, step_attempt, last_error, state_entered_at, "
    "created_at, updated_at) VALUES (:id, :k, :p, :be, :bi, :a, :cur, "
    ":f, :fv, :fh, :s, :v, :si, :sa, :le, :se, :c, :u)",
    soci::use(o.id), soci::use(o.kind), soci::use(o.product_id, product_ind),
    soci::use(o.buyer_email, email_ind), soci::use(o.buyer_id, buyer_ind),
    soci::use(amount), soci::use(o.currency), soci::use(o.flow),
    soci::use(o.flow_version), soci::use(o.flow_hash), soci::use(o.state),
    soci::use(version), soci::use(o.step_index), soci::use(o.step_attempt),
    soci::use(o.last_error, error_ind), soci::use(o.state_entered_at),
    soci::use(o.created_at), soci::use(o.updated_at));
  insert_event(sql, e);
  insert_timers(sql, o.id, arm_timers, o.created_at);
  // A new order's rows are all pending: none is refused.
  insert_outbox(sql, o.id, enqueue, o.created_at);
}

void new_order_clauses(rows::builder& b, const order_row& order,
                       const event_row& first_event,
                       const std::vector<timer_row>& arm_timers,
                       const std::vector<outbox_row>& enqueue) {
  auto [o, e] = new_order_rows(order, first_event);
  b.sql("WITH o AS (INSERT INTO orders (id, kind, product_id, buyer_email, "
        "buyer_id, amount, currency, flow, flow_version, flow_hash, state, "
        "version, step_index, step_attempt, last_error, state_entered_at, "
        "created_at, updated_at) VALUES (")
    .text(o.id)
    .sql(", ")
    .text(o.kind)
    .sql(", ")
    .text(o.product_id, true)
    .sql(", ")
    .text(o.buyer_email, true)
    .sql(", ")
    .text(o.buyer_id, true)
    .sql(", ")
    .integer(o.amount)
    .sql(", ")
    .text(o.currency)
    .sql(", ")
    .text(o.flow)
    .sql(", ")
    .integer(o.flow_version)
    .sql(", ")
    .text(o.flow_hash)
    .sql(", ")
    .text(o.state)
    .sql(", 1, ")
    .integer(o.step_index)
    .sql(", ")
    .integer(o.step_attempt)
    .sql(", ")
    .text(o.last_error, true)
    .sql(", ")
    .text(o.state_entered_at)
    .sql(", ")
    .text(o.created_at)
    .sql(", ")
    .text(o.updated_at)
    .sql(") RETURNING id)");
  event_clause(b, e, "o", [](rows::builder& x) { x.sql("1"); });
  timer_clauses(b, arm_timers, "o", o.created_at);
  outbox_clauses(b, enqueue, "o", o.created_at);
}

} // namespace detail

status order_repository::create(const order_row& order,
                                const event_row& first_event,
                                const std::vector<timer_row>& arm_timers,
                                const std::vector<outbox_row>& enqueue) {
  if (db_.kind() == backend::postgresql) {
    rows::builder b;
    detail::new_order_clauses(b, order, first_event, arm_timers, enqueue);
    b.sql(" SELECT 1");
    if (auto written = detail::write_at_once(db_, b, {}); !written)
      return written.err();
    return {};
  }
  return db_.transact([&](soci::session& sql) -> status {
    detail::insert_new_order(sql, order, first_event, arm_timers, enqueue);
    return {};
  });
}

namespace {

// Runs `reads` in one read-only snapshot (PostgreSQL: repeatable read), so
// rows read one after another are from the same commit; inside a
// transaction already (`nested`), in that one.
template<class F>
void in_one_snapshot(soci::session& sql, bool pg, bool nested, F reads) {
  if (nested)
    return reads();
  sql << (pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN");
  try {
    reads();
  } catch (...) {
    try {
      sql << "ROLLBACK";
    } catch (...) {
      // the connection is gone; the server rolls back on its own
    }
    throw;
  }
  sql << "COMMIT";
}

} // namespace

expected<std::optional<order_snapshot>>
order_repository::load(const std::string& id) {
  std::optional<order_snapshot> out;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.run([&](soci::session& sql) {
    // The order row, its timers and its outbox from the same commit.
    if (pg)
      read_snapshot_at_once(sql, id, out);
    else
      in_one_snapshot(sql, pg, db_.in_transaction(),
                      [&] { read_snapshot(sql, id, out); });
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<order_snapshot>>
order_repository::load_view(const std::string& id) {
  // The order and its events in one statement, so from one commit without
  // a transaction around two reads.
  static const std::string text
    = "SELECT " + order_columns_of_o() + ", " + prefixed(event_columns, "e.")
      + " FROM orders o LEFT JOIN order_events e ON e.order_id = o.id WHERE "
        "o.id = :id ORDER BY e.seq";
  constexpr size_t event_at = 19; // order_columns has 19
  std::optional<order_snapshot> out;
  auto st = db_.run([&](soci::session& sql) {
    for (auto& r : rows::query{sql, text, soci::use(id)}) {
      if (!out)
        out = order_snapshot{read_order(r), {}, {}, {}, {}};
      if (r.get_indicator(event_at) == soci::i_ok)
        out->events.push_back(read_event(r, event_at));
    }
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<order_row>>
order_repository::find(const std::string& id) {
  std::optional<order_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + order_columns
                       + " FROM orders WHERE id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = read_order(r);
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<std::pair<order_row, std::string>>>
order_repository::find_with_creator(const std::string& id) {
  static const std::string text
    = "SELECT " + order_columns_of_o()
      + ", p.creator_id FROM orders o LEFT JOIN products p ON p.id = "
        "o.product_id WHERE o.id = :id";
  constexpr size_t creator_at = 19; // order_columns has 19
  std::optional<std::pair<order_row, std::string>> out;
  auto st = db_.run([&](soci::session& sql) {
    for (auto& r : rows::query{sql, text, soci::use(id)})
      out.emplace(read_order(r), opt_string(r, creator_at));
  });
  if (st)
    return st;
  return out;
}

namespace {

// A transition as ONE PostgreSQL statement (data-modifying WITH clauses), so
// it costs one round trip and no BEGIN/COMMIT: the order row's UPDATE under
// the version guard, its event, and — each only if that UPDATE matched —
// the timers it cancels or arms, the outbox rows it settles and the ones it
// enqueues. All parts see one snapshot, so a cancel never touches the
// timers armed beside it. For transitions that fire or cancel single
// timers, reopen an outbox row or do not know the state they leave, `apply`
// runs its statements one by one instead.
bool fits_one_statement(const transition& t) {
  return !t.from_state.empty() && t.fire_timer.empty()
         && t.cancel_timers.empty() && t.reopen_outbox.empty();
}

rows::builder one_statement(const transition& t, const event_row& e,
                            const std::string& now_text) {
  rows::builder b;
  b.sql("WITH u AS (UPDATE orders SET state = ")
    .text(t.state)
    .sql(", version = version + 1, step_index = ")
    .integer(t.step_index)
    .sql(", step_attempt = ")
    .integer(t.step_attempt)
    .sql(", last_error = ")
    .text(t.last_error, true)
    .sql(", parked_from = ")
    .text(t.parked_from, true)
    .sql(", state_entered_at = CASE WHEN state = ")
    .text(t.state)
    .sql(" THEN state_entered_at ELSE ")
    .text(now_text)
    .sql(" END, updated_at = ")
    .text(now_text)
    .sql(" WHERE id = ")
    .text(t.order_id)
    .sql(" AND version = ")
    .integer(t.expected_version)
    .sql(" RETURNING id)");
  event_clause(b, e, "u", [&](rows::builder& x) {
    x.sql("(SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE "
          "order_id = ")
      .text(t.order_id)
      .sql(")");
  });
  if (t.cancel_all_timers)
    b.sql(", c AS (UPDATE timers SET status = 'cancelled' WHERE order_id = ")
      .text(t.order_id)
      .sql(" AND status = 'pending' AND EXISTS (SELECT 1 FROM u))");
  for (size_t i = 0; i < t.update_outbox.size(); ++i) {
    auto& x = t.update_outbox[i];
    b.sql(fmt::format(", x{} AS (UPDATE outbox SET status = ", i))
      .text(x.status)
      .sql(", attempts = attempts + ")
      .integer(x.count_attempt ? 1 : 0)
      .sql(", last_error = COALESCE(")
      .text(x.last_error, true)
      .sql(", last_error), claimed_until = ")
      .text(x.claimed_until, true)
      .sql(", done_at = ")
      .text(x.status == "pending" ? std::string{} : now_text, true)
      .sql(" WHERE id = ")
      .text(x.id)
      .sql(" AND order_id = ")
      .text(t.order_id)
      .sql(" AND status = 'pending' AND EXISTS (SELECT 1 FROM u) RETURNING "
           "1)");
  }
  timer_clauses(b, t.arm_timers, "u", now_text);
  outbox_clauses(b, t.enqueue, "u", now_text);
  // The event's seq (0: the version guard refused). An outbox row that
  // was not pending must undo the whole statement: when the order row was
  // updated but that row was not, the divisor is 0 and PostgreSQL aborts
  // the statement with division_by_zero (22012); otherwise each factor is
  // 1 (or -1 when the guard refused, and the seq is 0 anyway).
  // A row enqueued done whose key exists fails it the same way.
  b.sql(" SELECT COALESCE((SELECT seq FROM e), 0)");
  for (size_t i = 0; i < t.update_outbox.size(); ++i)
    b.sql(fmt::format(" * (1 / ((SELECT COUNT(*) FROM u) + (SELECT COUNT(*) "
                      "FROM x{}) - 1))",
                      i));
  for (size_t i = 0; i < t.enqueue.size(); ++i)
    if (enqueued_done(t.enqueue[i]))
      b.sql(fmt::format(" * (1 / ((SELECT COUNT(*) FROM u) + (SELECT "
                        "COUNT(*) FROM n{}) - 1))",
                        i));
  return b;
}

} // namespace

expected<transition_result> order_repository::apply(const transition& t) {
  transition_result result;
  const bool pg = db_.kind() == backend::postgresql;
  if (pg && fits_one_statement(t)) {
    auto now_text = to_iso(now());
    event_row e = t.event;
    e.id = or_new_id(e.id);
    e.order_id = t.order_id;
    e.from_state = t.from_state;
    e.to_state = t.state;
    e.created_at = or_time(e.created_at, now_text);
    auto b = one_statement(t, e, now_text);
    auto seq = detail::write_at_once(
      db_, b, "an outbox row of order " + t.order_id + " is not pending");
    if (!seq)
      return seq.err();
    if (*seq == 0)
      return error{errc::conflict, "order " + t.order_id + " is not at version "
                                     + std::to_string(t.expected_version)};
    result.version = t.expected_version + 1;
    result.event_seq = *seq;
    return result;
  }
  auto st = db_.transact([&](soci::session& sql) -> status {
    auto now_text = to_iso(now());
    // The state this transition leaves, for the event: the caller's, or
    // read under the row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    // excludes other writers).
    std::string old_state = t.from_state;
    if (old_state.empty()) {
      soci::indicator ind = soci::i_null;
      rows::read_one(sql,
                     std::string{"SELECT state FROM orders WHERE id = :id"}
                       + (pg ? " FOR UPDATE" : ""),
                     soci::use(t.order_id), soci::into(old_state, ind));
      if (ind != soci::i_ok)
        return error{errc::conflict, "order " + t.order_id
                                       + " is not at version "
                                       + std::to_string(t.expected_version)};
    }
    long long expected_version = t.expected_version;
    auto error_ind = null_if_empty(t.last_error);
    auto parked_ind = null_if_empty(t.parked_from);
    // The version guard is the contract: a caller who decided on an older
    // version changes nothing.
    const long long upd_rows = rows::exec(
      sql,
      "UPDATE orders SET state = :s, version = version + 1, step_index = "
      ":si, step_attempt = :sa, last_error = :le, parked_from = :pf, "
      "state_entered_at = CASE WHEN state = :s2 THEN state_entered_at ELSE "
      ":se END, updated_at = :u WHERE id = :id AND version = :v",
      soci::use(t.state), soci::use(t.step_index), soci::use(t.step_attempt),
      soci::use(t.last_error, error_ind), soci::use(t.parked_from, parked_ind),
      soci::use(t.state), soci::use(now_text), soci::use(now_text),
      soci::use(t.order_id), soci::use(expected_version));
    if (upd_rows == 0)
      return error{errc::conflict, "order " + t.order_id + " is not at version "
                                     + std::to_string(t.expected_version)};
    result.version = t.expected_version + 1;

    event_row e = t.event;
    e.id = or_new_id(e.id);
    e.order_id = t.order_id;
    e.from_state = old_state;
    e.to_state = t.state;
    e.created_at = or_time(e.created_at, now_text);
    result.event_seq = append_event(sql, e);

    // Fire first: a timer this transition fires must still be pending, or
    // another incarnation already acted on it.
    if (!t.fire_timer.empty()) {
      const long long fire_rows
        = rows::exec(sql,
                     "UPDATE timers SET status = 'fired' WHERE id = :id "
                     "AND order_id = :o AND status = 'pending'",
                     soci::use(t.fire_timer), soci::use(t.order_id));
      if (fire_rows == 0)
        return conflict("timer " + t.fire_timer + " is not pending");
    }
    // Cancel before arming, so a transition can replace its timers.
    if (t.cancel_all_timers) {
      cancel_pending_timers(sql, t.order_id);
    } else {
      for (auto& id : t.cancel_timers)
        rows::exec(sql,
                   "UPDATE timers SET status = 'cancelled' WHERE id = :id AND "
                   "order_id = :o AND status = 'pending'",
                   soci::use(id), soci::use(t.order_id));
    }
    insert_timers(sql, t.order_id, t.arm_timers, now_text);
    for (auto& u : t.update_outbox) {
      int attempt = u.count_attempt ? 1 : 0;
      auto why_ind = null_if_empty(u.last_error);
      auto lease_ind = null_if_empty(u.claimed_until);
      soci::indicator done_ind
        = u.status == "pending" ? soci::i_null : soci::i_ok;
      const long long upd_outbox_rows = rows::exec(
        sql,
        "UPDATE outbox SET status = :s, attempts = "
        "attempts + :n, last_error = COALESCE(:e, "
        "last_error), claimed_until = :l, done_at = :d "
        "WHERE id = :id AND order_id = :o AND status = "
        "'pending'",
        soci::use(u.status), soci::use(attempt),
        soci::use(u.last_error, why_ind), soci::use(u.claimed_until, lease_ind),
        soci::use(now_text, done_ind), soci::use(u.id), soci::use(t.order_id));
      if (upd_outbox_rows == 0)
        return conflict("outbox row " + u.id + " is not pending");
    }
    if (!t.reopen_outbox.empty()) {
      auto lease_ind = null_if_empty(t.reopen_until);
      const long long reopen_rows
        = rows::exec(sql,
                     "UPDATE outbox SET status = 'pending', "
                     "claimed_until = :l, done_at = NULL WHERE id = :id "
                     "AND order_id = :o AND status = 'failed'",
                     soci::use(t.reopen_until, lease_ind),
                     soci::use(t.reopen_outbox), soci::use(t.order_id));
      if (reopen_rows == 0)
        return conflict("outbox row " + t.reopen_outbox + " is not failed");
    }
    if (auto key = insert_outbox(sql, t.order_id, t.enqueue, now_text);
        !key.empty())
      return conflict("outbox row " + key + " exists already");
    return {};
  });
  if (st)
    return st;
  return result;
}

expected<std::vector<timer_row>> order_repository::claim_due_timers(
  const std::string& node_id, const std::string& now_text,
  std::chrono::milliseconds lease, size_t limit) {
  auto now_ts = parse_iso(now_text);
  if (!now_ts)
    return now_ts.err();
  auto until = to_iso(*now_ts + lease);
  long long lim = static_cast<long long>(limit);
  std::vector<timer_row> out;
  status st;
  if (db_.kind() == backend::postgresql) {
    // One statement: the subselect locks the due rows it picks and skips
    // rows another node's claim holds locked, so concurrent claimers split
    // the due timers between them instead of waiting or doubling up.
    // Placeholders are numbered by occurrence, hence :now1 and :now2.
    st = db_.write([&](soci::session& sql) {
      rows::query rows{sql,
                       std::string{"UPDATE timers SET claimed_by = :n, "
                                   "claimed_until = :u WHERE id IN (SELECT "
                                   "id FROM timers WHERE status = "
                                   "'pending' AND due_at <= :now1 AND "
                                   "(claimed_until IS NULL OR "
                                   "claimed_until <= :now2) ORDER BY "
                                   "due_at, id LIMIT :lim FOR UPDATE SKIP "
                                   "LOCKED) RETURNING "}
                         + timer_columns,
                       soci::use(node_id),
                       soci::use(until),
                       soci::use(now_text),
                       soci::use(now_text),
                       soci::use(lim)};
      for (auto& r : rows)
        out.push_back(read_timer(r));
    });
  } else {
    // BEGIN IMMEDIATE holds the write lock from the SELECT on, so no other
    // claimer can pick the same rows in between.
    st = db_.transact([&](soci::session& sql) -> status {
      {
        rows::query rows{sql,
                         std::string{"SELECT "} + timer_columns
                           + " FROM timers WHERE status = 'pending' AND "
                             "due_at <= :now1 AND (claimed_until IS NULL "
                             "OR claimed_until <= :now2) ORDER BY due_at, "
                             "id LIMIT :lim",
                         soci::use(now_text), soci::use(now_text),
                         soci::use(lim)};
        for (auto& r : rows)
          out.push_back(read_timer(r));
      }
      for (auto& t : out) {
        rows::exec(
          sql,
          "UPDATE timers SET claimed_by = :n, claimed_until = :u WHERE "
          "id = :id",
          soci::use(node_id), soci::use(until), soci::use(t.id));
        t.claimed_by = node_id;
        t.claimed_until = until;
      }
      return {};
    });
  }
  if (st)
    return st;
  // RETURNING gives no order: sort as the SQLite path does.
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.due_at, x.id) < std::tie(y.due_at, y.id);
  });
  return out;
}

status order_repository::mark_timer_fired(const std::string& timer_id) {
  long long upd_rows = 0;
  if (auto err = db_.write([&](soci::session& sql) {
        upd_rows = rows::exec(sql,
                              "UPDATE timers SET status = 'fired' WHERE id = "
                              ":id AND status = 'pending'",
                              soci::use(timer_id));
      }))
    return err;
  if (upd_rows == 0)
    return error{errc::not_found, "no pending timer " + timer_id};
  return {};
}

status order_repository::lease_outbox(const std::string& order_id,
                                      const std::string& id,
                                      const std::string& until,
                                      const std::string& expired_by) {
  return db_.transact([&](soci::session& sql) -> status {
    std::string lease;
    soci::indicator lease_ind = soci::i_null;
    bool found = false;
    {
      rows::query rows{sql,
                       "SELECT claimed_until FROM outbox WHERE id = :id "
                       "AND order_id = :o AND status = 'pending'",
                       soci::use(id), soci::use(order_id)};
      for (auto& r : rows) {
        found = true;
        lease_ind = r.get_indicator(0);
        if (lease_ind == soci::i_ok)
          lease = r.get<std::string>(0);
      }
    }
    if (!found)
      return error{errc::not_found, "no pending outbox row " + id};
    if (!expired_by.empty() && lease_ind == soci::i_ok && lease > expired_by)
      return error{errc::conflict,
                   "outbox row " + id + " is leased until " + lease};
    rows::exec(sql, "UPDATE outbox SET claimed_until = :l WHERE id = :id",
               soci::use(until), soci::use(id));
    return {};
  });
}

status order_repository::park(const std::string& order_id,
                              const std::string& reason,
                              const std::string& actor, bool* parked_now) {
  const bool pg = db_.kind() == backend::postgresql;
  bool changed = false;
  auto st = db_.transact([&](soci::session& sql) -> status {
    auto now_text = to_iso(now());
    std::string state;
    long long version = 0;
    soci::indicator ind = soci::i_null;
    rows::exec(sql,
               std::string{"SELECT state, version FROM orders WHERE id = :id"}
                 + (pg ? " FOR UPDATE" : ""),
               soci::use(order_id), soci::into(state, ind),
               soci::into(version));
    if (ind != soci::i_ok)
      return error{errc::not_found, "no order " + order_id};
    const std::string parked{parked_state};
    if (state == parked)
      return {};
    rows::exec(
      sql,
      "UPDATE orders SET state = :s, version = version + 1, last_error "
      "= :le, parked_from = :pf, state_entered_at = :se, updated_at = "
      ":u WHERE id = :id",
      soci::use(parked), soci::use(reason), soci::use(state),
      soci::use(now_text), soci::use(now_text), soci::use(order_id));
    event_row e;
    e.id = new_uuid();
    e.order_id = order_id;
    e.event = "order.parked";
    e.from_state = state;
    e.to_state = parked;
    e.actor = actor;
    e.detail = reason;
    e.created_at = now_text;
    append_event(sql, e);
    cancel_pending_timers(sql, order_id);
    const std::string why = "parked: " + reason;
    rows::exec(
      sql,
      "UPDATE outbox SET status = 'failed', last_error = :e, done_at = "
      ":d WHERE order_id = :o AND status = 'pending'",
      soci::use(why), soci::use(now_text), soci::use(order_id));
    changed = true;
    return {};
  });
  if (parked_now != nullptr)
    *parked_now = !st && changed;
  return st;
}

expected<std::vector<std::string>> order_repository::orders_needing_resume(
  const std::string& now_text, size_t limit, const std::string& after) {
  std::vector<std::string> out;
  long long lim = static_cast<long long>(limit);
  const std::string parked{parked_state};
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT DISTINCT x.order_id FROM outbox x JOIN orders "
                     "o ON o.id = x.order_id WHERE x.status = 'pending' "
                     "AND (x.claimed_until IS NULL OR x.claimed_until <= "
                     ":now) AND o.state <> :parked AND x.order_id > "
                     ":after ORDER BY 1 LIMIT :lim",
                     soci::use(now_text),
                     soci::use(parked),
                     soci::use(after),
                     soci::use(lim)};
    for (auto& r : rows)
      out.push_back(r.get<std::string>(0));
  });
  if (st)
    return st;
  return out;
}

expected<std::optional<order_history>>
order_repository::history(const std::string& id) {
  std::optional<order_history> out;
  const bool pg = db_.kind() == backend::postgresql;
  auto st = db_.run([&](soci::session& sql) {
    in_one_snapshot(sql, pg, db_.in_transaction(), [&] {
      std::optional<order_snapshot> snap;
      read_snapshot(sql, id, snap);
      if (!snap)
        return;
      out = order_history{
        std::move(snap->order), std::move(snap->events), {}, {}};
      rows::query timers{sql,
                         std::string{"SELECT "} + timer_columns
                           + " FROM timers WHERE order_id = :id ORDER BY "
                             "due_at, id",
                         soci::use(id)};
      for (auto& r : timers)
        out->timers.push_back(read_timer(r));
      rows::query outbox{sql,
                         std::string{"SELECT "} + outbox_columns
                           + " FROM outbox WHERE order_id = :id ORDER BY "
                             "created_at, id",
                         soci::use(id)};
      for (auto& r : outbox)
        out->outbox.push_back(read_outbox(r));
    });
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<state_count>> order_repository::count_by_state() {
  std::vector<state_count> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT kind, flow, flow_version, state, COUNT(*) FROM "
                     "orders GROUP BY kind, flow, flow_version, state "
                     "ORDER BY kind, flow, flow_version, state"};
    for (auto& r : rows)
      out.push_back(state_count{r.get<std::string>(0), r.get<std::string>(1),
                                static_cast<int32_t>(get_int(r, 2)),
                                r.get<std::string>(3), get_int(r, 4)});
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<order_row>>
order_repository::list(const order_filter& f, const std::string& after,
                       size_t limit) {
  // State names are [a-z0-9_]+ (the flow loader's rule), so they are safe
  // to write into the statement; anything else is refused.
  std::string excluded;
  for (auto& x : f.exclude_states) {
    if (x.empty()
        || x.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_")
             != std::string::npos)
      return error{errc::invalid_field, "bad state name '" + x + "'", "state"};
    excluded += (excluded.empty() ? "'" : ", '") + x + "'";
  }
  // An empty filter matches all (the casts tell PostgreSQL the type).
  auto sql_text
    = std::string{"SELECT "} + order_columns
      + " FROM orders WHERE (CAST(:k1 AS TEXT) = '' OR kind = :k2) AND "
        "(CAST(:f1 AS TEXT) = '' OR flow = :f2) AND (CAST(:s1 AS TEXT) = '' "
        "OR state = :s2) AND id > :after"
      + (excluded.empty() ? "" : " AND state NOT IN (" + excluded + ")")
      + " ORDER BY id LIMIT :lim";
  std::vector<order_row> out;
  long long lim = static_cast<long long>(limit);
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     sql_text,
                     soci::use(f.kind),
                     soci::use(f.kind),
                     soci::use(f.flow),
                     soci::use(f.flow),
                     soci::use(f.state),
                     soci::use(f.state),
                     soci::use(after),
                     soci::use(lim)};
    for (auto& r : rows)
      out.push_back(read_order(r));
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<order_summary>>
order_repository::list_for(const order_scope& scope,
                           const std::string& after_created,
                           const std::string& after_id, size_t limit) {
  // Only the filters given, each combination its own statement, so the
  // planner fits an index to it: one statement with "(:x = '' OR col = :x)"
  // for every filter read every order once its plan was generic. Pages
  // continue after (created_at, id) as a row comparison, which an index on
  // those columns serves as a bound.
  const long long lim = static_cast<long long>(limit);
  auto filters = [&](rows::builder& b) {
    b.sql("o.kind = 'order'");
    if (!scope.buyer_id.empty())
      b.sql(" AND o.buyer_id = ").text(scope.buyer_id);
    if (!scope.product_id.empty())
      b.sql(" AND o.product_id = ").text(scope.product_id);
    if (!scope.state.empty())
      b.sql(" AND o.state = ").text(scope.state);
    if (!scope.buyer_email.empty())
      b.sql(" AND o.buyer_email = ").text(scope.buyer_email);
    if (!after_created.empty())
      b.sql(" AND (o.created_at, o.id) < (")
        .text(after_created)
        .sql(", ")
        .text(after_id)
        .sql(")");
  };
  const std::string& columns = order_columns_of_o();
  rows::builder b;
  b.sql("SELECT " + columns
        + ", p.title FROM orders o JOIN products p ON p.id = o.product_id "
          "WHERE ");
  filters(b);
  // Filled by a trigger for every order (migration 0020), with an index.
  if (!scope.creator_id.empty())
    b.sql(" AND o.creator_id = ").text(scope.creator_id);
  b.sql(" ORDER BY o.created_at DESC, o.id DESC LIMIT ").integer(lim);
  std::vector<order_summary> out;
  auto read = [&](soci::session& sql) {
    rows::query rows{sql, b};
    for (auto& r : rows)
      out.push_back(order_summary{read_order(r), r.get<std::string>(19)});
  };
  // On PostgreSQL, planned for the values at hand, not once for all: a
  // generic plan walks every order newest first looking for a product or a
  // buyer that sold little (a page took longer as the table grew).
  auto st
    = db_.kind() == backend::postgresql
        ? db_.transact([&](soci::session& sql) -> status {
            rows::exec(sql, "SET LOCAL plan_cache_mode = force_custom_plan");
            read(sql);
            return {};
          })
        : db_.run(read);
  if (st)
    return st;
  return out;
}

namespace detail {

const char* const visibility_columns
  = "o.kind, o.buyer_id, p.creator_id, a.token_hash, o.version, (SELECT "
    "COUNT(*) FROM payments x WHERE x.order_id = o.id), (SELECT "
    "MAX(x.updated_at) FROM payments x WHERE x.order_id = o.id), (SELECT "
    "COUNT(*) FROM refunds r WHERE r.order_id = o.id), (SELECT "
    "MAX(r.updated_at) FROM refunds r WHERE r.order_id = o.id)";

const char* const visibility_joins
  = "orders o LEFT JOIN products p ON p.id = o.product_id LEFT JOIN "
    "order_access a ON a.order_id = o.id";

order_visibility read_visibility(const soci::row& r, size_t at) {
  order_visibility v;
  v.kind = r.get<std::string>(at);
  v.buyer_id = opt_string(r, at + 1);
  v.creator_id = opt_string(r, at + 2);
  v.token_hash = opt_string(r, at + 3);
  v.payments = get_int(r, at + 5);
  v.refunds = get_int(r, at + 7);
  v.tag = fmt::format("{}.{}.{}.{}.{}", get_int(r, at + 4), v.payments,
                      opt_string(r, at + 6), v.refunds, opt_string(r, at + 8));
  return v;
}

const std::string& order_view_columns() {
  static const std::string text
    = order_columns_of_o() + ", (SELECT json_agg(json_build_array("
      + event_columns
      + ") ORDER BY seq) FROM order_events WHERE order_id = o.id)::text";
  return text;
}

order_snapshot read_order_view(const soci::row& r) {
  order_snapshot out{read_order(r), {}, {}, {}, {}};
  constexpr size_t events_at = 19; // order_columns has 19
  for (auto& a : json_list(r, events_at))
    out.events.push_back(read_event(json_columns{a}));
  return out;
}

} // namespace detail

expected<std::optional<order_visibility>>
order_repository::visibility(const std::string& id) {
  std::optional<order_visibility> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + detail::visibility_columns
                       + " FROM " + detail::visibility_joins
                       + " WHERE o.id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = detail::read_visibility(r, 0);
  });
  if (st)
    return st;
  return out;
}

status order_repository::set_access_hash(const std::string& id,
                                         const std::string& hash) {
  return db_.transact([&](soci::session& sql) -> status {
    rows::exec(sql, "DELETE FROM order_access WHERE order_id = :o",
               soci::use(id));
    rows::exec(
      sql, "INSERT INTO order_access (order_id, token_hash) VALUES (:o, :h)",
      soci::use(id), soci::use(hash));
    return {};
  });
}

expected<backlog> order_repository::backlog_at(timestamp now) {
  backlog out;
  auto now_text = to_iso(now);
  auto age = [&](const std::string& since) {
    auto t = parse_iso(since);
    return t ? std::max(0.0, std::chrono::duration<double>(now - *t).count())
             : 0.0;
  };
  auto st = db_.run([&](soci::session& sql) {
    std::string oldest;
    soci::indicator ind = soci::i_null;
    long long n = 0;
    rows::exec(sql, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
               soci::into(n));
    out.outbox_pending = n;
    rows::exec(
      sql,
      "SELECT MIN(created_at) FROM outbox WHERE status = 'pending' AND "
      "(claimed_until IS NULL OR claimed_until < :now)",
      soci::use(now_text), soci::into(oldest, ind));
    if (ind == soci::i_ok)
      out.outbox_unclaimed_seconds = age(oldest);
    rows::exec(sql, "SELECT COUNT(*) FROM timers WHERE status = 'pending'",
               soci::into(n));
    out.timers_pending = n;
    ind = soci::i_null;
    rows::exec(sql,
               "SELECT MIN(due_at) FROM timers WHERE status = 'pending' AND "
               "due_at <= :now",
               soci::use(now_text), soci::into(oldest, ind));
    if (ind == soci::i_ok)
      out.timers_overdue_seconds = age(oldest);
    ind = soci::i_null;
    rows::exec(
      sql,
      "SELECT COUNT(*), MIN(created_at) FROM email_outbox WHERE status "
      "= 'queued'",
      soci::into(n), soci::into(oldest, ind));
    out.emails_queued = n;
    if (ind == soci::i_ok)
      out.emails_oldest_seconds = age(oldest);
    ind = soci::i_null;
    rows::exec(sql,
               "SELECT COUNT(*), MIN(received_at) FROM inbox WHERE status = "
               "'received'",
               soci::into(n), soci::into(oldest, ind));
    out.inbox_received = n;
    if (ind == soci::i_ok)
      out.inbox_oldest_seconds = age(oldest);
  });
  if (st)
    return st;
  return out;
}

} // namespace souk::persistence
