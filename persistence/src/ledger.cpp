#include "souk/persistence/ledger.hpp"

#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::get_int;

// What an account id says about the account.
struct account_key {
  std::string owner_kind;
  std::string owner_id;
  std::string currency;
  std::string kind;
};

std::optional<account_key> parse_account(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    auto colon = id.find(':', start);
    parts.push_back(id.substr(start, colon - start));
    if (colon == std::string::npos)
      break;
    start = colon + 1;
  }
  for (auto& p : parts)
    if (p.empty())
      return std::nullopt;
  if (parts.size() == 4 && parts[0] == "creator")
    return account_key{"creator", parts[1], parts[2], parts[3]};
  if (parts.size() == 3 && parts[0] == "platform")
    return account_key{"platform", "", parts[1], parts[2]};
  return std::nullopt;
}

// Only where money enters from outside (the gateway) and a creator's debt
// may an account go below zero.
bool may_go_negative(const account_key& k) {
  return (k.owner_kind == "platform" && k.kind == "gateway")
         || (k.owner_kind == "creator" && k.kind == "owed");
}

constexpr const char* entry_columns
  = "id, posting_id, idempotency_key, debit_account, credit_account, amount, "
    "currency, cause_kind, cause_id, memo, created_at";

entry_row read_entry(const soci::row& r) {
  entry_row e;
  e.id = r.get<std::string>(0);
  e.posting_id = r.get<std::string>(1);
  e.idempotency_key = r.get<std::string>(2);
  e.debit_account = r.get<std::string>(3);
  e.credit_account = r.get<std::string>(4);
  e.amount = get_int(r, 5);
  e.currency = r.get<std::string>(6);
  e.cause_kind = r.get<std::string>(7);
  e.cause_id = r.get<std::string>(8);
  e.memo = r.get<std::string>(9);
  e.created_at = r.get<std::string>(10);
  return e;
}

// An account's balance: its row's plus its stripes' (migration 0017), for
// the row of `ledger_accounts` named `table` (the table or its alias).
std::string whole_balance(std::string_view table) {
  return fmt::format("CAST({0}.balance + COALESCE((SELECT SUM(s.balance) "
                     "FROM ledger_stripes s WHERE s.account_id = {0}.id), 0) "
                     "AS BIGINT)",
                     table);
}

const std::string account_columns
  = "id, owner_kind, owner_id, currency, kind, may_go_negative, "
    + whole_balance("ledger_accounts");

// How many stripes an account's unguarded changes are spread over (the
// table's CHECK says the same).
constexpr uint32_t stripe_count = 16;

// The stripe of a posting: its key's FNV-1a hash. Concurrent postings of
// different keys mostly land on different stripes; a retry of one posting
// lands on the same (it writes nothing the second time anyway).
uint32_t stripe_of(const std::string& key) {
  uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return h % stripe_count;
}

// A change no rule guards: a credit to any account but a debt (`owed`),
// or a debit of an account that may go negative. It goes to a stripe;
// the others to the account's row, after its stripes are folded in.
bool unguarded(const account_key& k, int64_t d) {
  return d > 0 ? k.kind != "owed" : may_go_negative(k);
}

account_row read_account(const soci::row& r) {
  account_row a;
  a.id = r.get<std::string>(0);
  a.owner_kind = r.get<std::string>(1);
  a.owner_id = r.get<std::string>(2);
  a.currency = r.get<std::string>(3);
  a.kind = r.get<std::string>(4);
  a.may_go_negative = get_int(r, 5) != 0;
  a.balance = get_int(r, 6);
  return a;
}

std::vector<entry_row> read_posting(soci::session& sql,
                                    const std::string& key) {
  std::vector<entry_row> out;
  rows::query rows{sql,
                   std::string{"SELECT "} + entry_columns
                     + " FROM ledger_entries WHERE posting_id = :k ORDER "
                       "BY idempotency_key",
                   soci::use(key)};
  for (auto& r : rows)
    out.push_back(read_entry(r));
  return out;
}

// The legs of `p` as `existing` wrote them (ordered by key "#NNNN")?
bool same_legs(const posting& p, const std::vector<entry_row>& existing) {
  if (existing.size() != p.legs.size())
    return false;
  for (size_t i = 0; i < existing.size(); ++i) {
    auto& e = existing[i];
    auto& l = p.legs[i];
    if (e.debit_account != l.from || e.credit_account != l.to
        || e.amount != l.amount || e.currency != p.currency)
      return false;
  }
  return true;
}

std::string leg_key(const std::string& key, size_t i) {
  return fmt::format("{}#{:04}", key, i);
}

// The account whose guard refused a posting's balance change (`delta`:
// each account's net change), read inside the refused transaction.
error refused_by_guard(soci::session& sql,
                       const std::map<std::string, int64_t>& delta,
                       const std::string& currency) {
  for (auto& [id, d] : delta) {
    std::optional<account_row> a;
    for (auto& r : rows::query{sql,
                               std::string{"SELECT "} + account_columns
                                 + " FROM ledger_accounts WHERE id = :id",
                               soci::use(id)})
      a = read_account(r);
    if (!a)
      return error{errc::internal, "ledger account " + id + " is missing"};
    if (d < 0 && !a->may_go_negative && a->balance + d < 0)
      return error{errc::conflict,
                   fmt::format("{} does not hold {} {}", id, -d, currency)};
    if (d > 0 && a->kind == "owed" && a->balance + d > 0)
      return error{errc::conflict,
                   fmt::format("{} owes less than {} {}", id, d, currency)};
  }
  return error{errc::conflict, "a ledger account changed during the posting; "
                               "try again"};
}

// Adds each account's change to its stripe `stripe` (the accounts exist),
// in account order.
void upsert_stripes(soci::session& sql,
                    const std::map<std::string, int64_t>& delta,
                    uint32_t stripe) {
  std::string text
    = "INSERT INTO ledger_stripes (account_id, stripe, balance) VALUES ";
  size_t i = 0;
  for (auto& d : delta) {
    (void)d;
    text += fmt::format("{0}(:id{1}, :s{1}, CAST(:d{1} AS BIGINT))",
                        i == 0 ? "" : ", ", i);
    ++i;
  }
  text += " ON CONFLICT (account_id, stripe) DO UPDATE SET balance = "
          "ledger_stripes.balance + excluded.balance";
  std::vector<long long> amounts;
  amounts.reserve(delta.size());
  int stripe_number = static_cast<int>(stripe);
  detail::statement_lease upsert{sql, text};
  for (auto& [id, d] : delta) {
    amounts.push_back(d);
    upsert->exchange(soci::use(id));
    upsert->exchange(soci::use(stripe_number));
    upsert->exchange(soci::use(amounts.back()));
  }
  upsert->define_and_bind();
  upsert.execute(true);
}

// Moves what account `id`'s stripes hold into its row, under the stripes'
// locks (held to commit): a concurrent unguarded change waits for them, or
// lands in a stripe made after, and is kept either way.
// True if it moved anything.
bool fold_stripes(soci::session& sql, const std::string& id, bool pg) {
  long long sum = 0;
  std::string read; // the stripes read, locked: only these are emptied
  for (auto& r : rows::query{sql,
                             std::string{"SELECT stripe, balance FROM "
                                         "ledger_stripes WHERE account_id = "
                                         ":id ORDER BY stripe"}
                               + (pg ? " FOR UPDATE" : ""),
                             soci::use(id)}) {
    auto b = get_int(r, 1);
    if (b == 0)
      continue;
    sum += b;
    read += fmt::format("{}{}", read.empty() ? "" : ", ", get_int(r, 0));
  }
  if (read.empty())
    return false;
  // Not "every stripe of the account": one made since the read (a sale
  // committed meanwhile) was not counted, and keeps its money.
  rows::exec(sql,
             "UPDATE ledger_stripes SET balance = 0 WHERE account_id = :id "
             "AND stripe IN ("
               + read + ")",
             soci::use(id));
  rows::exec(sql,
             "UPDATE ledger_accounts SET balance = balance + CAST(:s AS "
             "BIGINT) WHERE id = :id",
             soci::use(sum), soci::use(id));
  return true;
}

void insert_hold(soci::session& sql, const hold_row& h,
                 const std::string& now_text) {
  rows::exec(sql,
             "INSERT INTO wallet_holds (order_id, creator_id, currency, "
             "release_at, status, created_at) VALUES (:o, :c, :cur, :r, "
             "'held', :t) ON CONFLICT (order_id) DO NOTHING",
             soci::use(h.order_id), soci::use(h.creator_id),
             soci::use(h.currency), soci::use(h.release_at),
             soci::use(now_text));
}

// PostgreSQL: a posting with no per-cause limits and no guarded change (a
// sale) as ONE statement (data-modifying WITH clauses), so it costs one
// round trip and no BEGIN/COMMIT: the entries, every balance (in stripes)
// and the hold. When fewer balances moved than the posting touches (an
// account that does not exist yet), the divisor is 0 and PostgreSQL aborts
// the whole statement with division_by_zero (22012): the caller then runs
// the statement-by-statement path, which creates accounts. A replay stops
// on the entries' unique keys, as there.
rows::builder posting_at_once(const posting& p,
                              const std::map<std::string, int64_t>& delta,
                              const std::string& now_text) {
  // Every change here is unguarded (the caller checks): each goes to the
  // posting's stripe of its account, in account order (the order every
  // writer takes stripe locks in), if the account exists.
  rows::builder b;
  b.sql("WITH e AS (INSERT INTO ledger_entries (id, posting_id, "
        "idempotency_key, debit_account, credit_account, amount, currency, "
        "cause_kind, cause_id, memo, created_at) VALUES ");
  for (size_t i = 0; i < p.legs.size(); ++i) {
    auto& l = p.legs[i];
    b.sql(i == 0 ? "(" : ", (")
      .text(new_uuid())
      .sql(", ")
      .text(p.key)
      .sql(", ")
      .text(leg_key(p.key, i))
      .sql(", ")
      .text(l.from)
      .sql(", ")
      .text(l.to)
      .sql(", ")
      .integer(l.amount)
      .sql(", ")
      .text(p.currency)
      .sql(", ")
      .text(p.cause_kind)
      .sql(", ")
      .text(p.cause_id)
      .sql(", ")
      .text(p.memo)
      .sql(", ")
      .text(now_text)
      .sql(")");
  }
  b.sql("), b AS (INSERT INTO ledger_stripes (account_id, stripe, balance) "
        "SELECT a.id, ")
    .integer(stripe_of(p.key))
    .sql(", v.column2 FROM (VALUES ");
  bool first = true;
  for (auto& [id, d] : delta) {
    b.sql(first ? "(" : ", (")
      .text(id)
      .sql(", CAST(")
      .integer(d)
      .sql(" AS BIGINT))");
    first = false;
  }
  b.sql(") AS v JOIN ledger_accounts a ON a.id = v.column1 ORDER BY a.id ON "
        "CONFLICT (account_id, stripe) DO UPDATE SET balance = "
        "ledger_stripes.balance + excluded.balance RETURNING 1)");
  if (p.hold) {
    auto& h = *p.hold;
    b.sql(", h AS (INSERT INTO wallet_holds (order_id, creator_id, currency, "
          "release_at, status, created_at) VALUES (")
      .text(h.order_id)
      .sql(", ")
      .text(h.creator_id)
      .sql(", ")
      .text(h.currency)
      .sql(", ")
      .text(h.release_at)
      .sql(", 'held', ")
      .text(now_text)
      .sql(") ON CONFLICT (order_id) DO NOTHING)");
  }
  b.sql(fmt::format(" SELECT 1 / (CASE WHEN (SELECT COUNT(*) FROM b) = {} "
                    "THEN 1 ELSE 0 END)",
                    delta.size()));
  return b;
}

} // namespace

std::string creator_account(std::string_view user_id, std::string_view currency,
                            std::string_view kind) {
  return fmt::format("creator:{}:{}:{}", user_id, currency, kind);
}

std::string platform_account(std::string_view currency, std::string_view kind) {
  return fmt::format("platform:{}:{}", currency, kind);
}

expected<posted>
ledger_repository::post(const posting& p,
                        const std::vector<std::string>& per_cause) {
  if (p.key.empty() || p.currency.empty() || p.legs.empty())
    return error{errc::invalid_field,
                 "a posting needs a key, a currency and at least one leg"};
  if (p.legs.size() > 9999)
    return error{errc::invalid_field, "too many legs in one posting"};
  std::map<std::string, account_key> accounts;
  for (auto& l : p.legs) {
    if (l.amount <= 0)
      return error{
        errc::invalid_field,
        fmt::format("a leg moves a positive amount, not {}", l.amount)};
    if (l.from == l.to)
      return error{errc::invalid_field, "a leg moves money between two "
                                        "different accounts, not "
                                          + l.from};
    for (auto* id : {&l.from, &l.to}) {
      auto k = parse_account(*id);
      if (!k)
        return error{errc::invalid_field, "no such account name: " + *id};
      if (k->currency != p.currency)
        return error{errc::invalid_field,
                     fmt::format("account {} is not in {}", *id, p.currency)};
      accounts.emplace(*id, *k);
    }
  }
  auto now_text = to_iso(now());
  posted result = posted::done;
  // Each account's net change (most postings touch an account once).
  std::map<std::string, int64_t> delta;
  for (auto& l : p.legs) {
    delta[l.from] -= l.amount;
    delta[l.to] += l.amount;
  }
  std::erase_if(delta, [](auto& d) { return d.second == 0; });
  const bool all_unguarded
    = std::all_of(delta.begin(), delta.end(), [&](auto& d) {
        return unguarded(accounts.at(d.first), d.second);
      });
  status st;
  if (db_.kind() == backend::postgresql && per_cause.empty() && !delta.empty()
      && all_unguarded) {
    auto b = posting_at_once(p, delta, now_text);
    auto written = detail::write_at_once(db_, b, "refused");
    if (written)
      return posted::done;
    if (written.err().code != errc::conflict)
      st = written.err(); // a replay's unique keys are handled below
    // conflict: nothing written; see posting_at_once
  }
  if (!st)
    st = db_.transact([&](soci::session& sql) -> status {
      if (!per_cause.empty()) {
        // Made before: what the cause has now no longer counts.
        auto existing = read_posting(sql, p.key);
        if (!existing.empty()) {
          if (!same_legs(p, existing))
            return error{errc::invalid_field,
                         "posting " + p.key + " exists with other legs"};
          result = posted::already;
          return {};
        }
        // The lock first (held to commit), then what the cause has.
        rows::exec(
          sql,
          "INSERT INTO ledger_cause_locks (cause_id, touched_at) VALUES "
          "(:c, :t) ON CONFLICT (cause_id) DO UPDATE SET touched_at = "
          "excluded.touched_at",
          soci::use(p.cause_id), soci::use(now_text));
        for (auto& account : per_cause) {
          int64_t taking = 0;
          for (auto& l : p.legs)
            if (l.from == account)
              taking += l.amount;
          if (taking == 0)
            continue;
          long long has = 0;
          rows::exec(
            sql,
            "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account = :a1 THEN "
            "amount ELSE 0 - amount END), 0) AS BIGINT) FROM "
            "ledger_entries WHERE cause_id = :c AND (credit_account = :a2 "
            "OR debit_account = :a3)",
            soci::use(account), soci::use(p.cause_id), soci::use(account),
            soci::use(account), soci::into(has));
          if (has < taking)
            return error{errc::conflict,
                         fmt::format("{} holds {} {} of {}, not {}", account,
                                     has, p.currency, p.cause_id, taking)};
        }
      }
      {
        // Every account of the posting in one statement (they usually exist:
        // one round trip instead of one per account), in id order.
        std::string text
          = "INSERT INTO ledger_accounts (id, owner_kind, "
            "owner_id, currency, kind, may_go_negative, balance, "
            "created_at) VALUES ";
        std::vector<int> negative;
        negative.reserve(accounts.size());
        for (size_t i = 0; i < accounts.size(); ++i)
          text
            += fmt::format("{0}(:id{1}, :ok{1}, :oi{1}, :c{1}, :k{1}, :n{1}, "
                           "0, :t{1})",
                           i == 0 ? "" : ", ", i);
        // No conflict target: the account's id and its (owner, currency,
        // kind) are both unique, and PostgreSQL waits out a racing insert
        // only on the indexes it is told of; on the other it would fail
        // the posting of two first sales of a new account at once.
        text += " ON CONFLICT DO NOTHING";
        detail::statement_lease insert{sql, text};
        for (auto& [id, k] : accounts) {
          negative.push_back(may_go_negative(k) ? 1 : 0);
          insert->exchange(soci::use(id));
          insert->exchange(soci::use(k.owner_kind));
          insert->exchange(soci::use(k.owner_id));
          insert->exchange(soci::use(k.currency));
          insert->exchange(soci::use(k.kind));
          insert->exchange(soci::use(negative.back()));
          insert->exchange(soci::use(now_text));
        }
        insert->define_and_bind();
        insert.execute(true);
      }
      {
        // The entries next, in one statement: a posting made before (a
        // retry) stops here on its unique leg keys before any balance moves,
        // the transaction rolls back, and what is there is reported below.
        std::string text = "INSERT INTO ledger_entries (id, posting_id, "
                           "idempotency_key, debit_account, credit_account, "
                           "amount, currency, cause_kind, cause_id, memo, "
                           "created_at) VALUES ";
        for (size_t i = 0; i < p.legs.size(); ++i)
          text += fmt::format("{0}(:id{1}, :p{1}, :k{1}, :d{1}, :c{1}, :a{1}, "
                              ":cur{1}, :ck{1}, :ci{1}, :m{1}, :t{1})",
                              i == 0 ? "" : ", ", i);
        std::vector<std::string> ids, keys;
        std::vector<long long> amounts;
        ids.reserve(p.legs.size());
        keys.reserve(p.legs.size());
        amounts.reserve(p.legs.size());
        detail::statement_lease insert{sql, text};
        for (size_t i = 0; i < p.legs.size(); ++i) {
          auto& l = p.legs[i];
          ids.push_back(new_uuid());
          keys.push_back(leg_key(p.key, i));
          amounts.push_back(l.amount);
          insert->exchange(soci::use(ids.back()));
          insert->exchange(soci::use(p.key));
          insert->exchange(soci::use(keys.back()));
          insert->exchange(soci::use(l.from));
          insert->exchange(soci::use(l.to));
          insert->exchange(soci::use(amounts.back()));
          insert->exchange(soci::use(p.currency));
          insert->exchange(soci::use(p.cause_kind));
          insert->exchange(soci::use(p.cause_id));
          insert->exchange(soci::use(p.memo));
          insert->exchange(soci::use(now_text));
        }
        insert->define_and_bind();
        insert.execute(true);
      }
      if (all_unguarded && !delta.empty()) {
        // Every balance in one statement, each to the posting's stripe of
        // its account, in account order.
        upsert_stripes(sql, delta, stripe_of(p.key));
      } else {
        // One account at a time in account order, so that stripe locks are
        // taken in the same order as everywhere else.
        const bool pg = db_.kind() == backend::postgresql;
        for (auto& [id, d] : delta) {
          if (unguarded(accounts.at(id), d)) {
            upsert_stripes(sql, {{id, d}}, stripe_of(p.key));
            continue;
          }
          fold_stripes(sql, id, pg);
          // The guards are the rules, checked on the row itself, which now
          // holds the whole balance (PostgreSQL re-checks them after
          // waiting for a concurrent writer's lock): a protected account is
          // debited only if it holds the amount; a debt (`owed`) is only
          // ever repaid, never overpaid.
          auto guarded = [&] {
            long long amount = d;
            detail::statement_lease update{
              sql, "UPDATE ledger_accounts SET balance = balance + CAST(:d "
                   "AS BIGINT) WHERE id = :id AND (CAST(:d2 AS BIGINT) >= 0 "
                   "OR may_go_negative = 1 OR balance + CAST(:d3 AS BIGINT) "
                   ">= 0) AND (CAST(:d4 AS BIGINT) <= 0 OR kind <> 'owed' OR "
                   "balance + CAST(:d5 AS BIGINT) <= 0)"};
            update->exchange(soci::use(amount));
            update->exchange(soci::use(id));
            update->exchange(soci::use(amount));
            update->exchange(soci::use(amount));
            update->exchange(soci::use(amount));
            update->exchange(soci::use(amount));
            update->define_and_bind();
            update.execute(true);
            return update->get_affected_rows() == 1;
          };
          // Refused: a sale committed since the fold read the stripes may
          // have made a stripe of its own; fold that in and ask once more.
          if (!guarded() && !(fold_stripes(sql, id, pg) && guarded()))
            return refused_by_guard(sql, {{id, d}}, p.currency);
        }
      }
      if (p.hold)
        insert_hold(sql, *p.hold, now_text);
      return {};
    });
  if (st.code == errc::database) {
    // Made before (or by a concurrent post of the same key, which won the
    // race on the unique keys): ours rolled back whole; report what is
    // there now.
    auto there = posting_entries(p.key);
    if (there && !there->empty()) {
      if (!same_legs(p, *there))
        return error{errc::invalid_field,
                     "posting " + p.key + " exists with other legs"};
      if (p.hold)
        if (auto err = add_hold(*p.hold))
          return err;
      return posted::already;
    }
  }
  if (st)
    return st;
  return result;
}

expected<std::optional<account_row>>
ledger_repository::account(const std::string& id) {
  std::optional<account_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + account_columns
                       + " FROM ledger_accounts WHERE id = :id",
                     soci::use(id)};
    for (auto& r : rows)
      out = read_account(r);
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<account_row>>
ledger_repository::accounts_of(const std::string& owner_id) {
  std::vector<account_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + account_columns
                       + " FROM ledger_accounts WHERE owner_kind = "
                         "'creator' AND owner_id = :o ORDER BY currency, "
                         "kind",
                     soci::use(owner_id)};
    for (auto& r : rows)
      out.push_back(read_account(r));
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<entry_row>>
ledger_repository::entries_of(const std::vector<std::string>& account_ids,
                              size_t limit, const std::string& before) {
  std::vector<entry_row> out;
  if (account_ids.empty())
    return out;
  std::string in;
  for (size_t i = 0; i < account_ids.size(); ++i)
    in += fmt::format("{}'{}'", i ? ", " : "", [&] {
      // Account ids are ours (creator:<uuid>:<CUR>:<kind>); quote anyway.
      std::string q;
      for (auto c : account_ids[i])
        q += c == '\'' ? std::string{"''"} : std::string(1, c);
      return q;
    }());
  auto st = db_.run([&](soci::session& sql) {
    long long lim = static_cast<long long>(limit);
    std::string cursor_time, cursor_id = before;
    if (!before.empty()) {
      soci::indicator ind = soci::i_null;
      rows::exec(sql, "SELECT created_at FROM ledger_entries WHERE id = :id",
                 soci::use(before), soci::into(cursor_time, ind));
      if (ind != soci::i_ok)
        return;
    }
    auto query = std::string{"SELECT "} + entry_columns
                 + " FROM ledger_entries WHERE (debit_account IN (" + in
                 + ") OR credit_account IN (" + in + "))";
    if (!before.empty())
      query += " AND (created_at < :t1 OR (created_at = :t2 AND id < :id))";
    query += " ORDER BY created_at DESC, id DESC LIMIT :lim";
    if (before.empty()) {
      rows::query rows{sql, query, soci::use(lim)};
      for (auto& r : rows)
        out.push_back(read_entry(r));
    } else {
      rows::query rows{sql,
                       query,
                       soci::use(cursor_time),
                       soci::use(cursor_time),
                       soci::use(cursor_id),
                       soci::use(lim)};
      for (auto& r : rows)
        out.push_back(read_entry(r));
    }
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<entry_row>>
ledger_repository::posting_entries(const std::string& key) {
  std::vector<entry_row> out;
  auto st = db_.run([&](soci::session& sql) { out = read_posting(sql, key); });
  if (st)
    return st;
  return out;
}

expected<int64_t> ledger_repository::net_of(const std::string& account,
                                            const std::string& cause_id,
                                            const std::string& cause_kind) {
  long long credits = 0, debits = 0;
  auto st = db_.run([&](soci::session& sql) {
    auto kind = cause_kind.empty() ? std::string{"%"} : cause_kind;
    rows::exec(
      sql,
      "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account = :a1 THEN "
      "amount ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN "
      "debit_account = :a2 THEN amount ELSE 0 END), 0) AS BIGINT) FROM "
      "ledger_entries WHERE cause_id = :c AND cause_kind LIKE :k AND "
      "(credit_account = :a3 OR debit_account = :a4)",
      soci::use(account), soci::use(account), soci::use(cause_id),
      soci::use(kind), soci::use(account), soci::use(account),
      soci::into(credits), soci::into(debits));
  });
  if (st)
    return st;
  return static_cast<int64_t>(credits - debits);
}

expected<std::vector<sales_day_row>>
ledger_repository::sales_by_day(const std::string& creator_id, day_point from,
                                day_point to) {
  using namespace std::chrono;
  // Every leg of a posting shares its created_at, so the range picks whole
  // postings; the day is the first ten characters of created_at.
  auto first = to_iso(timestamp{from});
  auto last = to_iso(timestamp{to + days{1}} - milliseconds{1});
  std::vector<sales_day_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{
      sql,
      "SELECT e.currency, SUBSTR(e.created_at, 1, 10), "
      "COUNT(DISTINCT CASE WHEN e.cause_kind = 'sale' THEN "
      "e.posting_id END), "
      "CAST(COALESCE(SUM(CASE WHEN e.cause_kind = 'sale' AND "
      "cr.owner_kind = 'creator' AND cr.owner_id = :c1 THEN e.amount "
      "END), 0) AS BIGINT), "
      "CAST(COALESCE(SUM(CASE WHEN e.cause_kind = 'sale' AND "
      "cr.owner_kind = 'platform' AND cr.kind = 'fees' THEN e.amount "
      "END), 0) AS BIGINT), "
      "CAST(COALESCE(SUM(CASE WHEN e.cause_kind = 'refund' AND "
      "dr.owner_kind = 'creator' AND dr.owner_id = :c2 THEN e.amount "
      "END), 0) AS BIGINT) "
      "FROM ledger_entries e "
      "JOIN ledger_accounts cr ON cr.id = e.credit_account "
      "JOIN ledger_accounts dr ON dr.id = e.debit_account "
      "WHERE e.posting_id IN (SELECT m.posting_id FROM ledger_entries "
      "m WHERE m.cause_kind IN ('sale', 'refund') AND m.created_at >= "
      ":first AND m.created_at <= :last AND (m.credit_account IN "
      "(SELECT id FROM ledger_accounts WHERE owner_kind = 'creator' "
      "AND owner_id = :c3) OR m.debit_account IN (SELECT id FROM "
      "ledger_accounts WHERE owner_kind = 'creator' AND owner_id = "
      ":c4))) "
      "GROUP BY e.currency, SUBSTR(e.created_at, 1, 10) "
      "ORDER BY 1, 2",
      soci::use(creator_id, "c1"),
      soci::use(creator_id, "c2"),
      soci::use(first, "first"),
      soci::use(last, "last"),
      soci::use(creator_id, "c3"),
      soci::use(creator_id, "c4")};
    for (auto& r : rows)
      out.push_back(sales_day_row{r.get<std::string>(1), r.get<std::string>(0),
                                  get_int(r, 2), get_int(r, 3), get_int(r, 4),
                                  get_int(r, 5)});
  });
  if (st)
    return st;
  return out;
}

status ledger_repository::add_hold(const hold_row& h) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) { insert_hold(sql, h, now_text); });
}

namespace {

constexpr const char* hold_columns
  = "order_id, creator_id, currency, release_at, status";

hold_row read_hold(const soci::row& r) {
  return hold_row{r.get<std::string>(0), r.get<std::string>(1),
                  r.get<std::string>(2), r.get<std::string>(3),
                  r.get<std::string>(4)};
}

} // namespace

expected<std::vector<hold_row>> ledger_repository::claim_due_holds(
  const std::string& now_text, const std::string& lease_until, size_t limit) {
  return rows::claim_due<hold_row>(
    db_,
    std::string{"SELECT "} + hold_columns
      + " FROM wallet_holds WHERE status = 'held' AND release_at <= :now1 "
        "AND (claimed_until IS NULL OR claimed_until <= :now2) ORDER BY "
        "release_at, order_id LIMIT :lim",
    "UPDATE wallet_holds SET claimed_until = :until WHERE order_id = :id AND "
    "status = 'held' AND (claimed_until IS NULL OR claimed_until <= :now)",
    now_text, lease_until, limit, read_hold,
    [](const hold_row& h) -> const std::string& { return h.order_id; });
}

status ledger_repository::finish_hold(const std::string& order_id) {
  auto now_text = to_iso(now());
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE wallet_holds SET status = 'released', released_at = :t, "
               "claimed_until = NULL WHERE order_id = :o",
               soci::use(now_text), soci::use(order_id));
  });
}

expected<std::optional<hold_row>>
ledger_repository::hold_of(const std::string& order_id) {
  std::optional<hold_row> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     std::string{"SELECT "} + hold_columns
                       + " FROM wallet_holds WHERE order_id = :o",
                     soci::use(order_id)};
    for (auto& r : rows)
      out = read_hold(r);
  });
  if (st)
    return st;
  return out;
}

expected<ledger_report> ledger_repository::check() {
  ledger_report out;
  auto st = db_.run([&](soci::session& sql) {
    long long n = 0;
    rows::exec(sql, "SELECT COUNT(*) FROM ledger_accounts", soci::into(n));
    out.accounts = static_cast<size_t>(n);
    rows::exec(sql, "SELECT COUNT(*) FROM ledger_entries", soci::into(n));
    out.entries = static_cast<size_t>(n);
    {
      rows::query rows{sql, "SELECT a.currency, CAST(SUM(" + whole_balance("a")
                              + ") AS BIGINT) FROM ledger_accounts a GROUP BY "
                                "a.currency ORDER BY a.currency"};
      for (auto& r : rows)
        if (auto sum = get_int(r, 1); sum != 0)
          out.problems.push_back(
            fmt::format("{}: balances sum to {}, not 0 (money appeared or "
                        "vanished)",
                        r.get<std::string>(0), sum));
    }
    {
      rows::query rows{
        sql,
        "SELECT a.id, " + whole_balance("a")
          + ", a.may_go_negative, "
            "CAST(COALESCE((SELECT SUM(amount) FROM ledger_entries WHERE "
            "credit_account = a.id), 0) - COALESCE((SELECT SUM(amount) "
            "FROM ledger_entries WHERE debit_account = a.id), 0) AS BIGINT) "
            "FROM ledger_accounts a ORDER BY a.id"};
      for (auto& r : rows) {
        auto id = r.get<std::string>(0);
        auto balance = get_int(r, 1);
        auto derived = get_int(r, 3);
        if (balance != derived)
          out.problems.push_back(
            fmt::format("{}: balance {} but its entries add up to {}", id,
                        balance, derived));
        if (get_int(r, 2) == 0 && balance < 0)
          out.problems.push_back(
            fmt::format("{}: protected account is negative ({})", id, balance));
        if (id.ends_with(":owed") && balance > 0)
          out.problems.push_back(
            fmt::format("{}: a debt repaid beyond zero ({})", id, balance));
      }
    }
    {
      // What the rows' CHECK relies on: a protected account's stripes hold
      // only credits, a debt's only debits.
      rows::query rows{
        sql, "SELECT s.account_id, s.stripe, s.balance FROM ledger_stripes s "
             "JOIN ledger_accounts a ON a.id = s.account_id WHERE "
             "(a.may_go_negative = 0 AND s.balance < 0) OR (a.kind = 'owed' "
             "AND s.balance > 0) ORDER BY s.account_id, s.stripe"};
      for (auto& r : rows)
        out.problems.push_back(
          fmt::format("{}: stripe {} holds {}, against the account's rule",
                      r.get<std::string>(0), get_int(r, 1), get_int(r, 2)));
    }
    {
      rows::query rows{sql, "SELECT e.id, e.currency, a.currency, b.currency "
                            "FROM ledger_entries e JOIN ledger_accounts a ON "
                            "a.id = e.debit_account JOIN ledger_accounts b ON "
                            "b.id = e.credit_account WHERE a.currency <> "
                            "e.currency OR b.currency <> e.currency"};
      for (auto& r : rows)
        out.problems.push_back(
          fmt::format("entry {} in {} moves between accounts in {} and {}",
                      r.get<std::string>(0), r.get<std::string>(1),
                      r.get<std::string>(2), r.get<std::string>(3)));
    }
  });
  if (st)
    return st;
  return out;
}

} // namespace souk::persistence
