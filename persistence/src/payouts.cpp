#include "souk/persistence/payouts.hpp"

#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::claim_due;
using rows::find_one;
using rows::get_int;
using rows::null_if_empty;
using rows::opt_string;

constexpr const char* account_columns
  = "creator_id, currency, gateway, recipient_code, type, account_name, "
    "bank_code, account_last4, created_at, updated_at";

payout_account_row read_account(const soci::row& r) {
  payout_account_row a;
  a.creator_id = r.get<std::string>(0);
  a.currency = r.get<std::string>(1);
  a.gateway = r.get<std::string>(2);
  a.recipient_code = r.get<std::string>(3);
  a.type = r.get<std::string>(4);
  a.account_name = r.get<std::string>(5);
  a.bank_code = r.get<std::string>(6);
  a.account_last4 = r.get<std::string>(7);
  a.created_at = r.get<std::string>(8);
  a.updated_at = r.get<std::string>(9);
  return a;
}

// Qualified with `p.` so the list's join can use them too.
constexpr const char* payout_columns
  = "p.id, p.creator_id, p.amount, p.currency, p.gateway, p.recipient_code, "
    "p.reference, p.transfer_status, p.transfer_code, p.gateway_status, "
    "p.reason, p.checks, p.next_check_at, p.created_at, p.updated_at";
constexpr size_t payout_column_count = 15;

payout_row read_payout(const soci::row& r) {
  payout_row p;
  p.id = r.get<std::string>(0);
  p.creator_id = r.get<std::string>(1);
  p.amount = get_int(r, 2);
  p.currency = r.get<std::string>(3);
  p.gateway = r.get<std::string>(4);
  p.recipient_code = r.get<std::string>(5);
  p.reference = r.get<std::string>(6);
  p.transfer_status = r.get<std::string>(7);
  p.transfer_code = opt_string(r, 8);
  p.gateway_status = opt_string(r, 9);
  p.reason = opt_string(r, 10);
  p.checks = static_cast<int32_t>(get_int(r, 11));
  p.next_check_at = r.get<std::string>(12);
  p.created_at = r.get<std::string>(13);
  p.updated_at = r.get<std::string>(14);
  return p;
}

payout_view read_view(const soci::row& r) {
  payout_view v;
  v.payout = read_payout(r);
  v.state = r.get<std::string>(payout_column_count);
  v.last_error = opt_string(r, payout_column_count + 1);
  v.state_entered_at = r.get<std::string>(payout_column_count + 2);
  return v;
}

const std::string view_select
  = std::string{"SELECT "} + payout_columns
    + ", o.state, o.last_error, o.state_entered_at FROM payouts p JOIN "
      "orders o ON o.id = p.id ";

// The statuses a transfer may be in before `to`.
std::string predecessors(const std::string& to) {
  if (to == "pending")
    return "'unsent'";
  if (to == "success" || to == "failed")
    return "'unsent', 'pending'";
  if (to == "reversed")
    return "'unsent', 'pending', 'success'";
  return {};
}

} // namespace

status payout_repository::save_account(const payout_account_row& a) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "INSERT INTO payout_accounts (creator_id, currency, gateway, "
               "recipient_code, type, account_name, bank_code, account_last4, "
               "created_at, updated_at) VALUES (:c, :cur, :g, :r, :t, :n, :b, "
               ":l, :ca, :ua) ON CONFLICT (creator_id, currency) DO UPDATE SET "
               "gateway = excluded.gateway, recipient_code = "
               "excluded.recipient_code, type = excluded.type, account_name = "
               "excluded.account_name, bank_code = excluded.bank_code, "
               "account_last4 = excluded.account_last4, updated_at = "
               "excluded.updated_at",
               soci::use(a.creator_id), soci::use(a.currency),
               soci::use(a.gateway), soci::use(a.recipient_code),
               soci::use(a.type), soci::use(a.account_name),
               soci::use(a.bank_code), soci::use(a.account_last4),
               soci::use(now_text), soci::use(now_text));
  });
}

expected<std::optional<payout_account_row>>
payout_repository::account(const std::string& creator_id,
                           const std::string& currency) {
  std::optional<payout_account_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + account_columns
                       + " FROM payout_accounts WHERE creator_id = :c AND "
                         "currency = :cur",
                     soci::use(creator_id), soci::use(currency)};
    for (auto& r : rows)
      out = read_account(r);
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<payout_account_row>>
payout_repository::accounts_of(const std::string& creator_id) {
  return rows::find_all<payout_account_row>(
    db_,
    std::string{"SELECT "} + account_columns
      + " FROM payout_accounts WHERE creator_id = :c ORDER BY currency",
    creator_id, read_account);
}

status payout_repository::create(const payout_rows& rows) {
  auto now_text = to_iso(now());
  auto p = rows.payout;
  p.id = rows.instance.id;
  p.created_at = p.created_at.empty() ? now_text : p.created_at;
  p.updated_at = p.created_at;
  if (p.next_check_at.empty())
    p.next_check_at = p.created_at;
  return db_.transact([&](soci::session& sql) -> status {
    detail::insert_new_order(sql, rows.instance, rows.first_event, rows.timers,
                             rows.outbox);
    long long amount = p.amount;
    int checks = 0;
    rows::exec(
      sql,
      "INSERT INTO payouts (id, creator_id, amount, currency, gateway, "
      "recipient_code, reference, transfer_status, checks, "
      "next_check_at, created_at, updated_at) VALUES (:id, :c, :a, "
      ":cur, :g, :r, :ref, 'unsent', :n, :nc, :ca, :ua)",
      soci::use(p.id), soci::use(p.creator_id), soci::use(amount),
      soci::use(p.currency), soci::use(p.gateway), soci::use(p.recipient_code),
      soci::use(p.reference), soci::use(checks), soci::use(p.next_check_at),
      soci::use(p.created_at), soci::use(p.updated_at));
    return detail::finish_key(sql, rows.answer);
  });
}

expected<std::optional<payout_row>>
payout_repository::find(const std::string& id) {
  return find_one<payout_row>(db_,
                              std::string{"SELECT "} + payout_columns
                                + " FROM payouts p WHERE p.id = :id",
                              id, read_payout);
}

expected<std::optional<payout_row>>
payout_repository::find_by_reference(const std::string& reference) {
  return find_one<payout_row>(db_,
                              std::string{"SELECT "} + payout_columns
                                + " FROM payouts p WHERE p.reference = :r",
                              reference, read_payout);
}

expected<std::optional<payout_view>>
payout_repository::view(const std::string& id) {
  return find_one<payout_view>(db_, view_select + "WHERE p.id = :id", id,
                               read_view);
}

expected<std::vector<payout_view>>
payout_repository::list(const std::string& creator_id, size_t limit,
                        const std::string& before) {
  std::vector<payout_view> out;
  long long lim = static_cast<long long>(limit);
  auto st = db_.run([&](soci::session& sql) {
    // Ids are UUIDv7: their order is the order of creation.
    auto text = view_select + "WHERE p.creator_id = :c"
                + (before.empty() ? "" : " AND p.id < :b")
                + " ORDER BY p.id DESC LIMIT :lim";
    auto collect = [&](rows::query& rows) {
      for (auto& r : rows)
        out.push_back(read_view(r));
    };
    if (before.empty()) {
      rows::query rows{sql, text, soci::use(creator_id, "c"),
                       soci::use(lim, "lim")};
      collect(rows);
    } else {
      rows::query rows{sql, text, soci::use(creator_id, "c"),
                       soci::use(before, "b"), soci::use(lim, "lim")};
      collect(rows);
    }
  });
  if (st)
    return st;
  return out;
}

expected<bool>
payout_repository::record_transfer(const std::string& id, const std::string& to,
                                   const std::string& transfer_code,
                                   const std::string& gateway_status,
                                   const std::string& reason) {
  auto from = predecessors(to);
  if (from.empty())
    return error{errc::internal, "no transfer status " + to};
  auto now_text = to_iso(now());
  int guarded = to == "failed" ? 1 : 0;
  bool moved = false;
  auto st = db_.write([&](soci::session& sql) {
    const long long upd_rows = rows::exec(
      sql,
      "UPDATE payouts SET transfer_status = :to, "
      "transfer_code = COALESCE(NULLIF(:tc, ''), "
      "transfer_code), gateway_status = "
      "COALESCE(NULLIF(:gs, ''), gateway_status), reason = "
      "COALESCE(NULLIF(:r, ''), reason), updated_at = :u "
      "WHERE id = :id AND transfer_status IN ("
        + from
        + ") AND (:f = 0 OR sending_until IS NULL OR "
          "sending_until <= :now)",
      soci::use(to), soci::use(transfer_code), soci::use(gateway_status),
      soci::use(reason), soci::use(now_text), soci::use(id), soci::use(guarded),
      soci::use(now_text));
    moved = upd_rows == 1;
  });
  if (st)
    return st;
  return moved;
}

expected<bool> payout_repository::claim_send(const std::string& id,
                                             const std::string& now_text,
                                             const std::string& until) {
  bool won = false;
  auto st = db_.write([&](soci::session& sql) {
    const long long upd_rows
      = rows::exec(sql,
                   "UPDATE payouts SET sending_until = :u WHERE id = :id "
                   "AND transfer_status = 'unsent' AND (sending_until IS "
                   "NULL OR sending_until <= :now)",
                   soci::use(until), soci::use(id), soci::use(now_text));
    won = upd_rows == 1;
  });
  if (st)
    return st;
  return won;
}

status payout_repository::set_reason(const std::string& id,
                                     const std::string& reason) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE payouts SET reason = :r, updated_at = :u WHERE id = :id "
               "AND reason IS NULL",
               soci::use(reason), soci::use(now_text), soci::use(id));
  });
}

status payout_repository::release_send(const std::string& id) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql, "UPDATE payouts SET sending_until = NULL WHERE id = :id",
               soci::use(id));
  });
}

status payout_repository::reschedule(const std::string& id,
                                     const std::string& next_check_at,
                                     const std::string& gateway_status) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    rows::exec(
      sql,
      "UPDATE payouts SET checks = checks + 1, next_check_at = :n, "
      "claimed_until = NULL, gateway_status = COALESCE(NULLIF(:gs, ''), "
      "gateway_status), updated_at = :u WHERE id = :id",
      soci::use(next_check_at), soci::use(gateway_status), soci::use(now_text),
      soci::use(id));
  });
}

status payout_repository::close_checks(const std::string& id) {
  const std::string never{payment_repository::no_more_checks};
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE payouts SET next_check_at = :n, claimed_until = NULL "
               "WHERE id = :id",
               soci::use(never), soci::use(id));
  });
}

expected<std::vector<payout_row>>
payout_repository::claim_due(const std::string& now_text,
                             const std::string& lease_until, size_t limit) {
  return rows::claim_due<payout_row>(
    db_,
    std::string{"SELECT "} + payout_columns
      + " FROM payouts p WHERE p.next_check_at <= :now1 AND "
        "(p.claimed_until IS NULL OR p.claimed_until <= :now2) ORDER BY "
        "p.next_check_at, p.id LIMIT :lim",
    "UPDATE payouts SET claimed_until = :until WHERE id = :id AND "
    "(claimed_until IS NULL OR claimed_until <= :now)",
    now_text, lease_until, limit, read_payout,
    [](const payout_row& r) -> const std::string& { return r.id; });
}

} // namespace souk::persistence
