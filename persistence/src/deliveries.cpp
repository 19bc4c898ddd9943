#include "souk/persistence/deliveries.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"

#include "rows.hpp"

namespace souk::persistence {

namespace {

using rows::claim_due;
using rows::find_all;
using rows::find_one;
using rows::get_int;
using rows::null_if_empty;
using rows::opt_string;

// Qualified so that the joins can use them.
constexpr const char* grant_columns
  = "g.id, g.order_id, g.product_id, g.file_id, g.max_downloads, "
    "g.downloads, g.lifetime_ms, g.expires_at, g.revoked_at, "
    "g.revoked_reason, g.last_counted_at, g.last_client, g.last_download_at, "
    "g.created_at, g.updated_at";
constexpr size_t grant_column_count = 15;

grant_row read_grant(const soci::row& r) {
  grant_row g;
  g.id = r.get<std::string>(0);
  g.order_id = r.get<std::string>(1);
  g.product_id = r.get<std::string>(2);
  g.file_id = r.get<std::string>(3);
  g.max_downloads = get_int(r, 4);
  g.downloads = get_int(r, 5);
  g.lifetime_ms = get_int(r, 6);
  g.expires_at = r.get<std::string>(7);
  g.revoked_at = opt_string(r, 8);
  g.revoked_reason = opt_string(r, 9);
  g.last_counted_at = opt_string(r, 10);
  g.last_client = opt_string(r, 11);
  g.last_download_at = opt_string(r, 12);
  g.created_at = r.get<std::string>(13);
  g.updated_at = r.get<std::string>(14);
  return g;
}

const std::string view_columns
  = std::string{"SELECT "} + grant_columns
    + ", f.name, f.size, f.sha256, f.content_type, f.storage_key, "
      "o.buyer_email, o.buyer_id, o.state, (SELECT COUNT(*) FROM "
      "product_files pf WHERE pf.product_id = g.product_id), (SELECT "
      "p.title FROM products p WHERE p.id = g.product_id)";
const std::string view_from
  = " FROM download_grants g JOIN product_files f ON f.id = g.file_id JOIN "
    "orders o ON o.id = g.order_id ";
const std::string view_select = view_columns + view_from;

// How many times links were issued for a grant's order since :s (one issue
// of several files counts once).
constexpr const char* link_sets_count
  = "SELECT COUNT(DISTINCT l.created_at) FROM download_links l JOIN "
    "download_grants lg ON lg.id = l.grant_id WHERE lg.order_id = :o AND "
    "l.created_at >= :s";

// The grant's columns first, then the view's; then, read by `view_select`
// but not by a link's lookup, how many files the product has now and its
// title.
grant_view read_view(const soci::row& r, bool with_file_count = true) {
  grant_view v;
  v.grant = read_grant(r);
  auto i = grant_column_count;
  v.file_name = r.get<std::string>(i);
  v.file_size = get_int(r, i + 1);
  v.file_sha256 = r.get<std::string>(i + 2);
  v.content_type = r.get<std::string>(i + 3);
  v.storage_key = r.get<std::string>(i + 4);
  v.buyer_email = opt_string(r, i + 5);
  v.buyer_id = opt_string(r, i + 6);
  v.order_state = r.get<std::string>(i + 7);
  if (with_file_count) {
    v.product_files = get_int(r, i + 8);
    v.product_title = opt_string(r, i + 9);
  }
  return v;
}

constexpr const char* email_columns
  = "id, dedupe_key, order_id, template, recipient, message_id, subject, "
    "message, status, attempts, next_attempt_at, claimed_until, last_error, "
    "sent_at, created_at, updated_at";

email_row read_email(const soci::row& r) {
  email_row e;
  e.id = r.get<std::string>(0);
  e.dedupe_key = r.get<std::string>(1);
  e.order_id = opt_string(r, 2);
  e.template_name = r.get<std::string>(3);
  e.recipient = r.get<std::string>(4);
  e.message_id = r.get<std::string>(5);
  e.subject = r.get<std::string>(6);
  e.message = opt_string(r, 7);
  e.status = r.get<std::string>(8);
  e.attempts = get_int(r, 9);
  e.next_attempt_at = r.get<std::string>(10);
  e.claimed_until = opt_string(r, 11);
  e.last_error = opt_string(r, 12);
  e.sent_at = opt_string(r, 13);
  e.created_at = r.get<std::string>(14);
  e.updated_at = r.get<std::string>(15);
  return e;
}

// Inserts `e` inside the caller's transaction; false if its dedupe key is
// taken (nothing written).
bool insert_email(soci::session& sql, const email_row& e) {
  auto order_ind = null_if_empty(e.order_id);
  auto claim_ind = null_if_empty(e.claimed_until);
  const long long ins_rows = rows::exec(
    sql,
    "INSERT INTO email_outbox (id, dedupe_key, order_id, template, "
    "recipient, message_id, subject, message, status, attempts, "
    "next_attempt_at, claimed_until, created_at, updated_at) VALUES (:id, "
    ":k, :o, :t, :r, :m, :s, :msg, 'queued', 0, :n, :cu, :c, :u) ON CONFLICT "
    "(dedupe_key) DO NOTHING",
    soci::use(e.id), soci::use(e.dedupe_key), soci::use(e.order_id, order_ind),
    soci::use(e.template_name), soci::use(e.recipient), soci::use(e.message_id),
    soci::use(e.subject), soci::use(e.message), soci::use(e.next_attempt_at),
    soci::use(e.claimed_until, claim_ind), soci::use(e.created_at),
    soci::use(e.updated_at));
  return ins_rows == 1;
}

} // namespace

expected<size_t> delivery_repository::grant_files(const std::string& order_id,
                                                  const std::string& product_id,
                                                  int64_t max_downloads,
                                                  int64_t lifetime_ms,
                                                  const std::string& now) {
  auto expires
    = to_iso(*parse_iso(now) + std::chrono::milliseconds{lifetime_ms});
  // Usually every file has its grant: find that out with a read, and take
  // the write lock only when there is something to add.
  std::vector<std::string> files;
  auto looked = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     "SELECT f.id FROM product_files f WHERE f.product_id "
                     "= :p AND NOT EXISTS (SELECT 1 FROM download_grants "
                     "g WHERE g.order_id = :o AND g.file_id = f.id) ORDER "
                     "BY f.id",
                     soci::use(product_id, "p"), soci::use(order_id, "o")};
    for (auto& f : rows)
      files.push_back(f.get<std::string>(0));
  });
  if (looked)
    return looked;
  if (files.empty())
    return size_t{0};
  // One statement for up to `chunk` files (usually all: then without a
  // transaction around it). ON CONFLICT: a grant added meanwhile by another
  // request stays as it is.
  constexpr size_t chunk = 256; // 9 values each, far below either limit
  std::vector<std::string> ids;
  ids.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i)
    ids.push_back(new_uuid());
  long long max = max_downloads;
  long long life = lifetime_ms;
  size_t added = 0;
  auto insert = [&](soci::session& sql, size_t from, size_t to) {
    std::string text = "INSERT INTO download_grants (id, order_id, "
                       "product_id, file_id, max_downloads, downloads, "
                       "lifetime_ms, expires_at, created_at, updated_at) "
                       "VALUES ";
    for (size_t i = 0; i < to - from; ++i)
      text += fmt::format("{0}(:id{1}, :o{1}, :p{1}, :f{1}, :m{1}, 0, :l{1}, "
                          ":e{1}, :c{1}, :u{1})",
                          i == 0 ? "" : ", ", i);
    text += " ON CONFLICT (order_id, file_id) DO NOTHING";
    detail::statement_lease st{sql, text};
    for (size_t i = from; i < to; ++i) {
      st->exchange(soci::use(ids[i]));
      st->exchange(soci::use(order_id));
      st->exchange(soci::use(product_id));
      st->exchange(soci::use(files[i]));
      st->exchange(soci::use(max));
      st->exchange(soci::use(life));
      st->exchange(soci::use(expires));
      st->exchange(soci::use(now));
      st->exchange(soci::use(now));
    }
    st->define_and_bind();
    st.execute(true);
    added += static_cast<size_t>(st->get_affected_rows());
  };
  auto st
    = files.size() <= chunk
        ? db_.write([&](soci::session& sql) { insert(sql, 0, files.size()); })
        : db_.transact([&](soci::session& sql) -> status {
            for (size_t i = 0; i < files.size(); i += chunk)
              insert(sql, i, std::min(files.size(), i + chunk));
            return {};
          });
  if (st)
    return st;
  return added;
}

expected<std::vector<grant_view>>
delivery_repository::grants_of(const std::string& order_id,
                               const std::string& link_sets_since) {
  if (link_sets_since.empty())
    return find_all<grant_view>(
      db_, view_select + "WHERE g.order_id = :o ORDER BY f.name, g.id",
      order_id, [](const soci::row& r) { return read_view(r); });
  // The count rides along as the last column (the same in every row).
  std::vector<grant_view> out;
  auto st = db_.run([&](soci::session& sql) {
    rows::query rows{sql,
                     view_columns + ", (" + link_sets_count + ")" + view_from
                       + "WHERE g.order_id = :g ORDER BY f.name, g.id",
                     soci::use(order_id, "o"), soci::use(link_sets_since, "s"),
                     soci::use(order_id, "g")};
    for (auto& r : rows) {
      out.push_back(read_view(r));
      out.back().link_sets = get_int(r, grant_column_count + 10);
    }
  });
  if (st)
    return st;
  return out;
}

expected<std::vector<grant_view>> delivery_repository::grants_of_product(
  const std::string& product_id, size_t limit, const std::string& before) {
  std::vector<grant_view> out;
  long long lim = static_cast<long long>(limit);
  auto st = db_.run([&](soci::session& sql) {
    std::string text = view_select + "WHERE g.product_id = :p";
    if (!before.empty())
      text += " AND g.id < :b";
    text += " ORDER BY g.id DESC LIMIT :lim";
    auto read = [&](rows::query&& rows) {
      for (auto& r : rows)
        out.push_back(read_view(r));
    };
    if (before.empty())
      read(rows::query{sql, text, soci::use(product_id, "p"),
                       soci::use(lim, "lim")});
    else
      read(rows::query{sql, text, soci::use(product_id, "p"),
                       soci::use(before, "b"), soci::use(lim, "lim")});
  });
  if (st)
    return st;
  return out;
}

expected<size_t> delivery_repository::revoke(const std::string& order_id,
                                             const std::string& reason,
                                             const std::string& now) {
  size_t n = 0;
  auto st = db_.write([&](soci::session& sql) {
    const long long upd_rows = rows::exec(
      sql,
      "UPDATE download_grants SET revoked_at = :n, "
      "revoked_reason = :r, updated_at = :u WHERE order_id "
      "= :o AND revoked_at IS NULL",
      soci::use(now), soci::use(reason), soci::use(now), soci::use(order_id));
    n = static_cast<size_t>(upd_rows);
  });
  if (st)
    return st;
  return n;
}

namespace {

// PostgreSQL: `issue_links` as ONE statement (one round trip, no
// BEGIN/COMMIT): the email unless its dedupe key is taken, and only then
// each link, each inserted only if its grant stands; then, for each link
// that went in, the grant's current links marked replaced, its expiry
// pushed to now + its lifetime, its count reset, as asked. Selects 1 when
// written, 0 when the email was there already. A grant that does not stand
// divides by zero (22012), so nothing is written and the caller takes the
// statement-by-statement path, which says why.
rows::builder links_at_once(const link_issue& issue) {
  rows::builder b;
  bool first = true;
  auto clause = [&](const std::string& name) -> rows::builder& {
    b.sql(first ? "WITH " : ", ").sql(name).sql(" AS (");
    first = false;
    return b;
  };
  std::string gate, emailed = "1";
  if (issue.email) {
    auto& e = *issue.email;
    clause("m")
      .sql("INSERT INTO email_outbox (id, dedupe_key, order_id, template, "
           "recipient, message_id, subject, message, status, attempts, "
           "next_attempt_at, claimed_until, created_at, updated_at) VALUES "
           "(")
      .text(e.id)
      .sql(", ")
      .text(e.dedupe_key)
      .sql(", ")
      .text(e.order_id, true)
      .sql(", ")
      .text(e.template_name)
      .sql(", ")
      .text(e.recipient)
      .sql(", ")
      .text(e.message_id)
      .sql(", ")
      .text(e.subject)
      .sql(", ")
      .text(e.message)
      .sql(", 'queued', 0, ")
      .text(e.next_attempt_at)
      .sql(", ")
      .text(e.claimed_until, true)
      .sql(", ")
      .text(e.created_at)
      .sql(", ")
      .text(e.updated_at)
      .sql(") ON CONFLICT (dedupe_key) DO NOTHING RETURNING 1)");
    gate = " AND EXISTS (SELECT 1 FROM m)";
    emailed = "(SELECT COUNT(*) FROM m)";
  }
  // now + the grant's lifetime, as to_iso writes it.
  auto renewed = [&] {
    b.sql("to_char((CAST(")
      .text(issue.now)
      .sql(" AS TIMESTAMPTZ) + lifetime_ms * INTERVAL '1 millisecond') AT "
           "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
  };
  for (size_t i = 0; i < issue.links.size(); ++i) {
    auto& [grant_id, hash] = issue.links[i];
    auto went_in = fmt::format(" AND EXISTS (SELECT 1 FROM l{})", i);
    clause(fmt::format("l{}", i))
      .sql("INSERT INTO download_links (token_hash, grant_id, created_at) "
           "SELECT ")
      .text(hash)
      .sql(", id, ")
      .text(issue.now)
      .sql(" FROM download_grants WHERE id = ")
      .text(grant_id)
      .sql(" AND revoked_at IS NULL")
      .sql(gate)
      .sql(" RETURNING 1)");
    if (!issue.keep_current)
      // One snapshot: the link inserted beside it is not among these.
      clause(fmt::format("r{}", i))
        .sql("UPDATE download_links SET replaced_at = ")
        .text(issue.now)
        .sql(" WHERE grant_id = ")
        .text(grant_id)
        .sql(" AND replaced_at IS NULL")
        .sql(went_in)
        .sql(")");
    if (issue.reset_downloads) {
      clause(fmt::format("g{}", i))
        .sql("UPDATE download_grants SET downloads = 0, last_counted_at = "
             "NULL, last_client = NULL, updated_at = ")
        .text(issue.now);
      if (issue.renew) {
        b.sql(", expires_at = GREATEST(expires_at, ");
        renewed();
        b.sql(")");
      }
      b.sql(" WHERE id = ").text(grant_id).sql(went_in).sql(")");
    } else if (issue.renew) {
      clause(fmt::format("g{}", i))
        .sql("UPDATE download_grants SET expires_at = ");
      renewed();
      b.sql(", updated_at = ")
        .text(issue.now)
        .sql(" WHERE id = ")
        .text(grant_id)
        .sql(" AND expires_at < ");
      renewed();
      b.sql(went_in).sql(")");
    }
  }
  b.sql(" SELECT ").sql(emailed);
  for (size_t i = 0; i < issue.links.size(); ++i)
    b.sql(fmt::format(" * (1 / ((SELECT COUNT(*) FROM l{}) + 1 - {}))", i,
                      emailed));
  return b;
}

} // namespace

expected<bool> delivery_repository::issue_links(const link_issue& issue) {
  if (db_.kind() == backend::postgresql
      && (issue.email || !issue.links.empty())) {
    auto b = links_at_once(issue);
    auto written = detail::write_at_once(db_, b, "refused");
    if (written)
      return *written == 1;
    if (written.err().code != errc::conflict)
      return written.err();
    // a grant does not stand: the path below says which
  }
  bool written = false;
  auto st = db_.transact([&](soci::session& sql) -> status {
    if (issue.email && !insert_email(sql, *issue.email))
      return {}; // asked before: that email (and its links) stand
    for (auto& [grant_id, hash] : issue.links) {
      if (!issue.renew && issue.keep_current && !issue.reset_downloads) {
        // Only a new link (an email's): one statement, which also checks
        // that the grant stands.
        if (rows::exec(sql,
                       "INSERT INTO download_links (token_hash, grant_id, "
                       "created_at) SELECT :h, id, :n FROM download_grants "
                       "WHERE id = :g AND revoked_at IS NULL",
                       soci::use(hash), soci::use(issue.now),
                       soci::use(grant_id))
            == 1)
          continue;
      }
      std::string revoked;
      soci::indicator ind = soci::i_null;
      long long life = 0;
      std::string expires;
      const bool found = rows::read_one(
        sql,
        "SELECT revoked_at, lifetime_ms, expires_at FROM download_grants "
        "WHERE id = :g",
        soci::use(grant_id), soci::into(revoked, ind), soci::into(life),
        soci::into(expires));
      if (!found)
        return error{errc::not_found, "no download grant " + grant_id};
      if (ind == soci::i_ok)
        return error{errc::link_revoked,
                     "access to this download was revoked on " + revoked};
      if (!issue.keep_current)
        rows::exec(
          sql,
          "UPDATE download_links SET replaced_at = :n WHERE grant_id = "
          ":g AND replaced_at IS NULL",
          soci::use(issue.now), soci::use(grant_id));
      rows::exec(
        sql,
        "INSERT INTO download_links (token_hash, grant_id, created_at) "
        "VALUES (:h, :g, :n)",
        soci::use(hash), soci::use(grant_id), soci::use(issue.now));
      if (issue.renew) {
        auto renewed
          = to_iso(*parse_iso(issue.now) + std::chrono::milliseconds{life});
        if (renewed > expires)
          rows::exec(
            sql,
            "UPDATE download_grants SET expires_at = :e, updated_at = :n "
            "WHERE id = :g",
            soci::use(renewed), soci::use(issue.now), soci::use(grant_id));
      }
      if (issue.reset_downloads)
        rows::exec(
          sql,
          "UPDATE download_grants SET downloads = 0, last_counted_at = "
          "NULL, last_client = NULL, updated_at = :n WHERE id = :g",
          soci::use(issue.now), soci::use(grant_id));
    }
    written = true;
    return {};
  });
  if (st)
    return st;
  return written;
}

expected<int64_t>
delivery_repository::link_sets_since(const std::string& order_id,
                                     const std::string& since) {
  long long n = 0;
  auto st = db_.run([&](soci::session& sql) {
    rows::exec(sql, link_sets_count, soci::use(order_id), soci::use(since),
               soci::into(n));
  });
  if (st)
    return st;
  return static_cast<int64_t>(n);
}

expected<int64_t> delivery_repository::emails_since(const std::string& order_id,
                                                    const std::string& since) {
  long long n = 0;
  auto st = db_.run([&](soci::session& sql) {
    rows::exec(sql,
               "SELECT COUNT(*) FROM email_outbox WHERE order_id = :o AND "
               "created_at >= :s",
               soci::use(order_id), soci::use(since), soci::into(n));
  });
  if (st)
    return st;
  return static_cast<int64_t>(n);
}

expected<std::optional<link_view>>
delivery_repository::find_link(const std::string& token_hash) {
  return find_one<link_view>(
    db_,
    "SELECT " + std::string{grant_columns}
      + ", f.name, f.size, f.sha256, f.content_type, f.storage_key, "
        "o.buyer_email, o.buyer_id, o.state, l.token_hash, l.replaced_at FROM "
        "download_links l JOIN download_grants g ON g.id = l.grant_id JOIN "
        "product_files f ON f.id = g.file_id JOIN orders o ON o.id = "
        "g.order_id WHERE l.token_hash = :h",
    token_hash, [](const soci::row& r) {
      link_view l;
      l.grant = read_view(r, false);
      l.token_hash = r.get<std::string>(grant_column_count + 8);
      l.replaced_at = opt_string(r, grant_column_count + 9);
      return l;
    });
}

expected<count_outcome> delivery_repository::count_download(
  const std::string& grant_id, const std::string& client,
  const std::string& now, const std::string& same_since) {
  // One guarded UPDATE decides: concurrent requests are serialised on the
  // row (PostgreSQL re-checks the WHERE after waiting; SQLite has one
  // writer), so the count never passes the maximum and of two requests
  // racing from one client, the second finds the first's mark and is the
  // same download.
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool won = false;
    auto st = db_.write([&](soci::session& sql) {
      const long long upd_rows = rows::exec(
        sql,
        "UPDATE download_grants SET downloads = downloads + 1, "
        "last_counted_at = :n1, last_client = :c1, last_download_at = "
        ":n2, updated_at = :n3 WHERE id = :g AND revoked_at IS NULL "
        "AND expires_at > :n4 AND downloads < max_downloads AND NOT "
        "(COALESCE(last_client, '') = :c2 AND "
        "COALESCE(last_counted_at, '') >= :s)",
        soci::use(now, "n1"), soci::use(client, "c1"), soci::use(now, "n2"),
        soci::use(now, "n3"), soci::use(grant_id, "g"), soci::use(now, "n4"),
        soci::use(client, "c2"), soci::use(same_since, "s"));
      won = upd_rows == 1;
    });
    if (st)
      return st;
    if (won)
      return count_outcome::counted;
    auto row
      = find_one<grant_row>(db_,
                            "SELECT " + std::string{grant_columns}
                              + " FROM download_grants g WHERE g.id = :g",
                            grant_id, read_grant);
    if (!row)
      return row.err();
    if (!*row)
      return error{errc::not_found, "no download grant " + grant_id};
    auto& g = **row;
    if (!g.revoked_at.empty())
      return count_outcome::revoked;
    if (g.expires_at <= now)
      return count_outcome::expired;
    if (g.last_client == client && g.last_counted_at >= same_since) {
      auto st2 = db_.write([&](soci::session& sql) {
        rows::exec(
          sql, "UPDATE download_grants SET last_download_at = :n WHERE id = :g",
          soci::use(now), soci::use(grant_id));
      });
      if (st2)
        return st2;
      return count_outcome::same;
    }
    if (g.downloads >= g.max_downloads)
      return count_outcome::used_up;
    // The row changed between the UPDATE and the read: decide again.
  }
  return error{errc::conflict, "the download count kept changing; try again"};
}

expected<bool> delivery_repository::enqueue_email(const email_row& email) {
  bool added = false;
  auto st
    = db_.write([&](soci::session& sql) { added = insert_email(sql, email); });
  if (st)
    return st;
  return added;
}

status delivery_repository::release_email(const std::string& id,
                                          const std::string& claimed_until) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE email_outbox SET claimed_until = NULL WHERE id = :i AND "
               "status = 'queued' AND claimed_until = :c",
               soci::use(id), soci::use(claimed_until));
  });
}

expected<std::vector<email_row>>
delivery_repository::emails_of(const std::string& order_id) {
  auto out = find_all<email_row>(
    db_,
    "SELECT " + std::string{email_columns}
      + " FROM email_outbox WHERE order_id = :o ORDER BY id",
    order_id, read_email);
  if (out)
    for (auto& e : *out)
      e.message.clear();
  return out;
}

expected<std::optional<email_row>>
delivery_repository::find_email(const std::string& id) {
  return find_one<email_row>(db_,
                             "SELECT " + std::string{email_columns}
                               + " FROM email_outbox WHERE id = :i",
                             id, read_email);
}

expected<std::vector<email_row>> delivery_repository::claim_emails(
  const std::string& now, const std::string& lease_until, size_t limit) {
  return claim_due<email_row>(
    db_,
    "SELECT " + std::string{email_columns}
      + " FROM email_outbox WHERE status = 'queued' AND next_attempt_at <= "
        ":now1 AND (claimed_until IS NULL OR claimed_until <= :now2) ORDER BY "
        "next_attempt_at LIMIT :lim",
    "UPDATE email_outbox SET claimed_until = :until WHERE id = :id AND "
    "status = 'queued' AND (claimed_until IS NULL OR claimed_until <= :now)",
    now, lease_until, limit, read_email,
    [](const email_row& e) -> const std::string& { return e.id; },
    "UPDATE email_outbox SET claimed_until = :until WHERE id IN (SELECT id "
    "FROM email_outbox WHERE status = 'queued' AND next_attempt_at <= :now1 "
    "AND (claimed_until IS NULL OR claimed_until <= :now2) ORDER BY "
    "next_attempt_at LIMIT :lim FOR UPDATE SKIP LOCKED) RETURNING "
      + std::string{email_columns});
}

status delivery_repository::email_sent(const std::string& id,
                                       const std::string& now) {
  return db_.write([&](soci::session& sql) {
    rows::exec(sql,
               "UPDATE email_outbox SET status = 'sent', message = NULL, "
               "attempts = attempts + 1, sent_at = :s, claimed_until = NULL, "
               "last_error = NULL, updated_at = :u WHERE id = :i AND status = "
               "'queued'",
               soci::use(now), soci::use(now), soci::use(id));
  });
}

status delivery_repository::email_failed(const std::string& id,
                                         const std::string& error_text,
                                         const std::string& next_attempt_at,
                                         bool give_up, const std::string& now) {
  std::string status_text = give_up ? "failed" : "queued";
  // A message given up on is cleared too: it holds download links.
  std::string text = std::string{"UPDATE email_outbox SET status = :st, "
                                 "attempts = attempts + 1, "}
                     + (give_up ? "message = NULL, " : "")
                     + "next_attempt_at = :n, claimed_until = NULL, "
                       "last_error = :e, updated_at = :u WHERE id = :i AND "
                       "status = 'queued'";
  return db_.write([&](soci::session& sql) {
    rows::exec(sql, text, soci::use(status_text), soci::use(next_attempt_at),
               soci::use(error_text), soci::use(now), soci::use(id));
  });
}

} // namespace souk::persistence
