#include "checks.hpp"

#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/persistence/database.hpp"

#include "http_client.hpp"

namespace souk::load {

namespace {

using json = nlohmann::json;

// The states an order rests in for good (delivered waits only for a refund
// nobody asks for here; needs_attention for a person).
const std::set<std::string> resting{"delivered", "failed", "cancelled",
                                    "refunded", "needs_attention"};

// A number from any column type the backends answer COUNT with.
long long number(const soci::row& row, std::size_t i) {
  if (row.get_indicator(i) == soci::i_null)
    return 0;
  switch (row.get_properties(i).get_data_type()) {
  case soci::dt_integer:
    return row.get<int>(i);
  case soci::dt_long_long:
    return row.get<long long>(i);
  case soci::dt_unsigned_long_long:
    return static_cast<long long>(row.get<unsigned long long>(i));
  case soci::dt_double:
    return static_cast<long long>(row.get<double>(i));
  default:
    return std::stoll(row.get<std::string>(i));
  }
}

// Query failures are loud: a check that silently reads nothing passes.
void must(const souk::status& st, const std::string& q) {
  if (st)
    throw std::runtime_error("check query failed: " + st.detail + " (" + q
                             + ")");
}

long long count(persistence::database& db, const std::string& q) {
  long long n = -1;
  must(db.run([&](soci::session& sql) {
    soci::row row;
    sql << q, soci::into(row);
    n = number(row, 0);
  }),
       q);
  return n;
}

// Rows of (key, number) from a two-column GROUP BY query.
std::map<std::string, long long> per_key(persistence::database& db,
                                         const std::string& q) {
  std::map<std::string, long long> out;
  must(db.run([&](soci::session& sql) {
    soci::rowset<soci::row> rows = (sql.prepare << q);
    for (auto& row : rows)
      out[row.get<std::string>(0)] = number(row, 1);
  }),
       q);
  return out;
}

std::map<std::string, std::string> per_key_text(persistence::database& db,
                                                const std::string& q) {
  std::map<std::string, std::string> out;
  must(db.run([&](soci::session& sql) {
    soci::rowset<soci::row> rows = (sql.prepare << q);
    for (auto& row : rows)
      out[row.get<std::string>(0)]
        = row.get_indicator(1) == soci::i_null ? "" : row.get<std::string>(1);
  }),
       q);
  return out;
}

} // namespace

bool drain(persistence::database& db, const options& o, std::string& left) {
  auto until = std::chrono::steady_clock::now() + o.drain_limit;
  while (true) {
    long long moving = -1, inbox = -1, mail = -1, unsent = -1;
    try {
      moving = count(db, "SELECT COUNT(*) FROM orders WHERE state NOT IN "
                         "('delivered', 'failed', 'cancelled', 'refunded', "
                         "'needs_attention')");
      inbox = count(db, "SELECT COUNT(*) FROM inbox WHERE status = 'received'");
      mail = count(db,
                   "SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'");
      // A delivered order's receipt step may not have queued its email yet.
      unsent = count(db, "SELECT COUNT(*) FROM orders o WHERE o.state = "
                         "'delivered' AND NOT EXISTS (SELECT 1 FROM "
                         "email_outbox e WHERE e.order_id = o.id AND "
                         "e.template = 'receipt' AND e.status = 'sent')");
    } catch (const std::exception& e) {
      // The database may still be coming back from a restart.
      left = e.what();
      if (std::chrono::steady_clock::now() >= until)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds{500});
      continue;
    }
    if (moving == 0 && inbox == 0 && mail == 0 && unsent == 0)
      return true;
    left = fmt::format("{} orders still moving, {} webhooks unprocessed, {} "
                       "emails queued, {} delivered orders without a sent "
                       "receipt",
                       moving, inbox, mail, unsent);
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

check_report check_all(persistence::database& db, const options& o,
                       const std::vector<order_record>& records,
                       const std::string& database_url,
                       const std::string& sandbox_url,
                       const std::string& sandbox_key, size_t files_per_order) {
  check_report out;
  auto fail
    = [&](std::string what) { out.failures.push_back(std::move(what)); };
  // Long lists are cut: the first few say enough.
  std::map<std::string, int> shown;
  auto fail_order = [&](const std::string& kind, const std::string& id,
                        const std::string& detail) {
    if (++shown[kind] <= 5)
      fail(fmt::format("{}: order {} {}", kind, id, detail));
    else if (shown[kind] == 6)
      fail(kind + ": (more not shown)");
  };

  auto states = per_key_text(db, "SELECT id, state FROM orders");
  auto reasons = per_key_text(db, "SELECT id, last_error FROM orders WHERE "
                                  "state = 'needs_attention'");
  auto payment = per_key_text(db, "SELECT order_id, status FROM payments");
  auto reference = per_key_text(db, "SELECT reference, order_id FROM payments");
  auto credits = per_key(db, "SELECT cause_id, COUNT(DISTINCT posting_id) FROM "
                             "ledger_entries WHERE cause_kind = 'sale' GROUP "
                             "BY cause_id");
  auto grants = per_key(db, "SELECT order_id, COUNT(*) FROM download_grants "
                            "GROUP BY order_id");
  auto receipts = per_key(db, "SELECT order_id, COUNT(*) FROM email_outbox "
                              "WHERE template = 'receipt' GROUP BY order_id");
  // Moves into delivered (its own steps finishing stay in it).
  auto deliveries = per_key(db, "SELECT order_id, COUNT(*) FROM order_events "
                                "WHERE to_state = 'delivered' AND from_state "
                                "<> 'delivered' GROUP BY order_id");

  // What the buyers were told and did.
  std::map<std::string, const order_record*> by_id;
  for (auto& r : records)
    if (r.checked_out)
      by_id[r.order_id] = &r;
  size_t parked = 0, paid = 0, unpaid = 0, parked_paid = 0;
  for (auto& [id, state] : states) {
    bool is_paid = payment[id] == "succeeded";
    (is_paid ? paid : unpaid)++;
    if (!resting.count(state))
      fail_order("not finished", id, "is " + state);
    if (state == "needs_attention") {
      ++parked;
      if (reasons[id].empty())
        fail_order("parked without a reason", id, "");
      else if (shown["parked"]++ < 5)
        out.notes.push_back(
          fmt::format("parked: order {}: {}", id, reasons[id]));
    }
    auto buyer = by_id.find(id);
    if (buyer == by_id.end()) {
      // Checkout committed but its answer never reached the buyer, and no
      // retry asked again: it must simply run out unpaid.
      if (is_paid)
        fail_order("paid order no buyer knows", id, "");
    } else if (buyer->second->paid != is_paid) {
      fail_order("payment disagrees with the buyer", id,
                 fmt::format("buyer paid: {}, payment {}", buyer->second->paid,
                             payment[id]));
    }
    if (is_paid) {
      if (state != "delivered" && state != "needs_attention")
        fail_order("paid but not delivered", id, "is " + state);
      if (state == "delivered") {
        if (credits[id] != 1)
          fail_order("credited not exactly once", id,
                     fmt::format("{} sale postings", credits[id]));
        if (grants[id] != static_cast<long long>(files_per_order))
          fail_order(
            "granted not exactly once", id,
            fmt::format("{} grants for {} files", grants[id], files_per_order));
        if (receipts[id] != 1)
          fail_order("receipt not exactly once", id,
                     fmt::format("{} receipts", receipts[id]));
        if (deliveries[id] != 1)
          fail_order(
            "delivered not exactly once", id,
            fmt::format("{} transitions to delivered", deliveries[id]));
      }
      if (state == "needs_attention") {
        ++parked_paid;
        if (credits[id] > 1 || deliveries[id] > 1 || receipts[id] > 1)
          fail_order("parked order done twice", id,
                     fmt::format("{} sale postings, {} deliveries, {} "
                                 "receipts",
                                 credits[id], deliveries[id], receipts[id]));
      }
    } else if (credits[id] || grants[id] || receipts[id] || deliveries[id]) {
      fail_order("something went to an unpaid order", id,
                 fmt::format("{} credits, {} grants, {} receipts, {} "
                             "deliveries, state {}",
                             credits[id], grants[id], receipts[id],
                             deliveries[id], state));
    }
  }
  for (auto& r : records) {
    if (r.checked_out && !states.count(r.order_id))
      fail_order("order the buyer got is not in the database", r.order_id, "");
    // A paid order parked for a person (e.g. the payment was confirmed
    // after its window closed) is not delivered until someone acts.
    auto st = states.find(r.order_id);
    bool parked_order = st != states.end() && st->second == "needs_attention";
    if (r.plan == order_record::intent::pay && !r.downloaded && !parked_order)
      fail_order("buyer did not get the files",
                 r.order_id.empty() ? "-" : r.order_id, r.gave_up);
  }
  out.notes.push_back(fmt::format("{} orders in the database: {} paid, {} "
                                  "unpaid, {} parked ({} of them paid, for "
                                  "an operator to fulfil or refund)",
                                  states.size(), paid, unpaid, parked,
                                  parked_paid));

  // The ledger proves itself.
  int status = 0;
  auto ledger = run_command("'" + o.soukctl + "' ledger check --database '"
                              + database_url + "' 2>&1",
                            &status);
  while (!ledger.empty() && ledger.back() == '\n')
    ledger.pop_back();
  if (status != 0)
    fail("soukctl ledger check failed: " + ledger);
  else
    out.notes.push_back(ledger);

  // Every webhook the gateway saw answered 2xx is in the inbox.
  http_client client;
  auto stats = client.request("GET", sandbox_url + "/_sandbox/stats", {},
                              {"Authorization: Bearer " + sandbox_key});
  auto whole = json::parse(stats.body, nullptr, false);
  if (stats.status != 200 || whole.is_discarded() || !whole.contains("data")) {
    fail(fmt::format("cannot read the sandbox's log: {} {}", stats.status,
                     stats.error));
    return out;
  }
  const auto& doc = whole["data"];
  auto inbox = per_key_text(db, "SELECT reference, MIN(status) FROM inbox "
                                "WHERE event = 'charge.success' GROUP BY "
                                "reference");
  std::set<std::string> acknowledged;
  uint64_t attempts = 0, failed_attempts = 0;
  for (auto& a : doc["attempts"]) {
    ++attempts;
    long code = a.value("status", 0L);
    if (code < 200 || code >= 300) {
      ++failed_attempts;
      continue;
    }
    if (a.value("event", "") == "charge.success")
      acknowledged.insert(a.value("reference", ""));
  }
  for (auto& ref : acknowledged) {
    auto row = inbox.find(ref);
    if (row == inbox.end())
      fail_order("webhook lost", reference[ref],
                 "(" + ref + " answered 2xx, not in the inbox)");
    else if (row->second == "ignored" && reference.count(ref))
      fail_order("webhook set aside", reference[ref], ref);
  }
  if (doc.value("webhooks_given_up", 0) > 0)
    fail(fmt::format("the sandbox gave up on {} webhooks",
                     doc.value("webhooks_given_up", 0)));
  out.notes.push_back(fmt::format(
    "webhooks: {} attempts ({} failed or unanswered), {} references "
    "acknowledged, all in the inbox: {}; {} verify calls ({} failed on "
    "purpose), {} copies dropped on purpose",
    attempts, failed_attempts, acknowledged.size(),
    shown["webhook lost"] == 0 ? "yes" : "no", doc.value("verify_calls", 0),
    doc.value("verify_errors", 0), doc.value("webhooks_dropped", 0)));
  return out;
}

} // namespace souk::load
