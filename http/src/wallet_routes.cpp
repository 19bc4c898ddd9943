// The creator's wallet: balances per currency and the statement (every
// ledger entry touching the creator's accounts, newest first). Read-only:
// the wallet's rules post entries (docs/wallet.md). Creators only; each sees
// their own.

#include <map>

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/core/units.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

constexpr uint32_t max_statement_page = 200;

// The kinds of a creator's accounts, as the API names them.
const std::vector<std::string>& creator_kinds() {
  static const std::vector<std::string> kinds{"pending", "available",
                                              "in_transit", "paid_out", "owed"};
  return kinds;
}

// "creator:<id>:<CUR>:<kind>" → kind (the part after the last ':').
std::string kind_of(const std::string& account) {
  return account.substr(account.rfind(':') + 1);
}

bool is_own(const std::string& account, const std::string& user_id) {
  return account.starts_with("creator:" + user_id + ":");
}

} // namespace

void add_wallet_routes(router& r, std::shared_ptr<const services> svc) {
  const auto creators = access::only({std::string{accounts::creator}});

  r.add("GET", "/api/v1/wallet",
        guard(svc, creators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                persistence::ledger_repository ledger{*svc->db};
                auto accounts = ledger.accounts_of(who->who.id);
                if (!accounts)
                  return reply(problem(accounts.err(), req.request_id));
                std::map<std::string, json> by_currency;
                for (auto& a : *accounts) {
                  auto& doc = by_currency[a.currency];
                  if (doc.is_null()) {
                    doc = json{{"currency", a.currency}};
                    for (auto& k : creator_kinds())
                      doc[k] = 0;
                  }
                  doc[a.kind] = a.balance;
                }
                auto items = json::array();
                for (auto& [currency, doc] : by_currency)
                  items.push_back(doc);
                reply(json_response(200, {{"items", items}}));
              }));

  r.add(
    "GET", "/api/v1/wallet/entries",
    guard(svc, creators,
          [svc](const request& req, const principal* who, reply_fn reply) {
            auto asked = page_limit(req, 50, max_statement_page);
            if (!asked)
              return reply(problem(asked.err(), req.request_id));
            uint32_t limit = *asked;
            std::string cursor{req.query_param("cursor").value_or("")};
            persistence::ledger_repository ledger{*svc->db};
            auto accounts = ledger.accounts_of(who->who.id);
            if (!accounts)
              return reply(problem(accounts.err(), req.request_id));
            std::vector<std::string> ids;
            for (auto& a : *accounts)
              ids.push_back(a.id);
            // One more than asked tells whether there is a next page.
            auto page = ledger.entries_of(ids, limit + 1, cursor);
            if (!page)
              return reply(problem(page.err(), req.request_id));
            auto items = json::array();
            std::string next;
            for (size_t i = 0; i < page->size(); ++i) {
              auto& e = (*page)[i];
              if (i == limit) {
                next = (*page)[i - 1].id;
                break;
              }
              bool out = is_own(e.debit_account, who->who.id);
              bool in = is_own(e.credit_account, who->who.id);
              items.push_back(
                {{"id", e.id},
                 {"at", e.created_at},
                 {"amount", {{"amount", e.amount}, {"currency", e.currency}}},
                 {"from", out ? json(kind_of(e.debit_account)) : json(nullptr)},
                 {"to", in ? json(kind_of(e.credit_account)) : json(nullptr)},
                 {"cause", {{"kind", e.cause_kind}, {"id", e.cause_id}}},
                 {"memo", e.memo}});
            }
            reply(json_response(
              200,
              {{"items", items},
               {"next_cursor", next.empty() ? json(nullptr) : json(next)}}));
          }));
}

} // namespace souk::http
