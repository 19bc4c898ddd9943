#include "souk/delivery/service.hpp"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/core/hash.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/log.hpp"
#include "souk/core/time.hpp"
#include "souk/core/units.hpp"
#include "souk/email/message.hpp"
#include "souk/email/templates.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/licence_keys.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/products.hpp"

namespace souk::delivery {

namespace {

using nlohmann::json;
using persistence::count_outcome;
using persistence::grant_view;

constexpr size_t token_bytes = 32; // 256 bits

// "2026-11-23 10:00" from an ISO timestamp, for people.
std::string readable_time(const std::string& iso) {
  if (iso.size() < 16)
    return iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 5);
}

std::string host_of(const std::string& url) {
  auto start = url.find("://");
  auto host = start == std::string::npos ? url : url.substr(start + 3);
  host = host.substr(0, host.find('/'));
  host = host.substr(0, host.rfind(':') == std::string::npos ? host.size()
                                                             : host.rfind(':'));
  if (host.empty() || host.front() == '[')
    return "souk.localhost";
  return host;
}

// An email rendered from `tpl` to `to`, queued at `at` under `dedupe_key`;
// its Message-ID names the shop's host (`base`, its public URL).
persistence::email_row
queued_email(const options& opts, const std::string& tpl, const std::string& to,
             const email::rendered& text, std::string dedupe_key,
             const std::string& base, const std::string& at) {
  persistence::email_row e;
  e.id = new_uuid();
  e.dedupe_key = std::move(dedupe_key);
  e.template_name = tpl;
  e.recipient = to;
  e.message_id = e.id + "@" + host_of(base);
  e.subject = text.subject;
  e.message = email::compose(
    {opts.from, to, text.subject, text.text, text.html, e.message_id, {}});
  e.next_attempt_at = at;
  e.created_at = at;
  e.updated_at = at;
  return e;
}

bool plausible_token(const std::string& token) {
  if (token.size() != 43)
    return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

expected<std::chrono::milliseconds>
duration_param(const json& params, const char* name,
               std::chrono::milliseconds d) {
  if (!params.contains(name))
    return d;
  auto& v = params[name];
  if (v.is_number_unsigned())
    return std::chrono::milliseconds{v.get<int64_t>()};
  if (v.is_string()) {
    auto parsed = parse_duration(v.get<std::string>());
    if (parsed && parsed->count() > 0)
      return *parsed;
  }
  return error{errc::invalid_field,
               fmt::format("{} must be a duration such as 24h", name), name};
}

expected<int64_t> count_param(const json& params, const char* name, int64_t d) {
  if (!params.contains(name))
    return d;
  auto& v = params[name];
  int64_t n = 0;
  if (v.is_number_integer())
    n = v.get<int64_t>();
  else if (v.is_string())
    n = std::atoll(v.get<std::string>().c_str());
  if (n < 1 || n > 10'000)
    return error{errc::invalid_field,
                 fmt::format("{} must be a whole number from 1 to 10000", name),
                 name};
  return n;
}

// A step's parameters (JSON text, empty for none) as an object.
expected<json> step_params(const std::string& params) {
  auto doc = json::parse(params.empty() ? "{}" : params, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return error{errc::invalid_field, "the step's parameters are not an "
                                      "object"};
  return doc;
}

} // namespace

status check_pool_name(const std::string& pool) {
  bool ok = !pool.empty() && pool.size() <= 64
            && std::all_of(pool.begin(), pool.end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '_' || c == '-';
               });
  if (!ok)
    return error{errc::invalid_field,
                 "pool must be 1 to 64 of a-z, 0-9, '_' and '-'", "pool"};
  return {};
}

expected<std::vector<std::string>>
clean_licence_keys(const std::vector<std::string>& raw) {
  if (raw.empty())
    return error{errc::invalid_field, "keys must list at least one key",
                 "keys"};
  if (raw.size() > max_licence_keys)
    return error{errc::invalid_field,
                 fmt::format("keys lists {} keys; send at most {} at once",
                             raw.size(), max_licence_keys),
                 "keys"};
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < raw.size(); ++i) {
    auto field = fmt::format("keys[{}]", i);
    // Spaces, tabs and line ends around a key are not part of it (a list
    // pasted from a file).
    std::string_view text = raw[i];
    auto blank
      = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && blank(text.front()))
      text.remove_prefix(1);
    while (!text.empty() && blank(text.back()))
      text.remove_suffix(1);
    std::string key{text};
    if (key.empty())
      return error{errc::invalid_field, field + " is empty", field};
    if (key.size() > 512)
      return error{errc::invalid_field, field + " is longer than 512 bytes",
                   field};
    for (unsigned char c : key)
      if (c < 0x20 || c == 0x7f)
        return error{errc::invalid_field,
                     field + " contains a control character", field};
    if (seen.insert(key).second)
      out.push_back(std::move(key));
  }
  return out;
}

std::string token_hash(const std::string& token) {
  return sha256_hex(token);
}

std::string client_key(const std::string& address,
                       const std::string& user_agent) {
  return sha256_hex(address + "\n" + user_agent).substr(0, 32);
}

namespace {

// Tells the creator of `product` when its pool `pool` is low
// (`licence_keys_low` keys or fewer) or empty, from what is committed:
// once each per restock, as the email's dedupe key names the pool's restock
// count (sales at once, or a step run again, queue one). Not about a
// buyer's order, so not on one: the buyer never sees it, and it does not
// count against the order's emails an hour.
status tell_stock(persistence::database& db, const email::templates& templates,
                  const options& opts, const std::string& product,
                  const std::string& pool) {
  static const std::string tpl = "licence_stock";
  if (!templates.has(tpl))
    return {};
  const int64_t low = std::max<int64_t>(opts.licence_keys_low, 0);
  auto level
    = persistence::licence_key_repository{db}.level(product, pool, low);
  if (!level)
    return level.err();
  if (level->left > low || level->creator_email.empty())
    return {};
  const bool gone = level->left == 0;
  auto base = opts.public_url ? opts.public_url() : std::string{"/"};
  json model{{"product_title", level->product_title},
             {"pool", pool},
             {"left", std::to_string(level->left)},
             {"sold_out", gone},
             {"one_left", level->left == 1},
             {"editor_url", base + "dashboard/products/" + product},
             {"shop_name", opts.shop_name}};
  auto text = templates.render(tpl, model);
  if (!text)
    return text.err();
  auto e = queued_email(opts, tpl, level->creator_email, *text,
                        fmt::format("licence-stock:{}:{}:{}:{}", product, pool,
                                    level->restock, gone ? "out" : "low"),
                        base, to_iso(now()));
  // Not leased nor handed to a sender: this runs as late as the node's
  // shutdown, and the senders' round finds it within email.poll.
  auto queued = persistence::delivery_repository{db}.enqueue_email(e);
  if (!queued)
    return queued.err();
  if (*queued)
    log::info("email {} (licence_stock) queued for the creator of {}: {} "
              "key(s) left in pool '{}'",
              e.message_id, product, level->left, pool);
  return {};
}

} // namespace

struct service::impl {
  std::shared_ptr<persistence::database> db;
  std::shared_ptr<const email::templates> templates;
  options opts;

  persistence::delivery_repository repo() {
    return persistence::delivery_repository{*db};
  }

  // The order: `known` when its actor passed it, else read.
  expected<persistence::order_row> order(const std::string& id,
                                         const persistence::order_row* known) {
    if (known != nullptr && known->id == id && known->kind == "order")
      return *known;
    auto found = persistence::order_repository{*db}.find(id);
    if (!found)
      return found.err();
    if (!*found || (*found)->kind != "order")
      return error{errc::not_found, "no order " + id};
    return std::move(**found);
  }

  expected<std::string> product_title(const std::string& product_id) {
    auto p = persistence::product_repository{*db}.find(product_id);
    if (!p)
      return p.err();
    return *p ? (*p)->title : std::string{"your purchase"};
  }

  // The order's grants, with grants added for files its product gained
  // since the first ones (on the same terms).
  // With `links_since`, each carries the count of link sets issued since.
  expected<std::vector<grant_view>>
  grants(const persistence::order_row& o, const std::string& links_since = {}) {
    auto r = repo();
    auto list = r.grants_of(o.id, links_since);
    if (!list || list->empty())
      return list;
    // Read with the grants; a grant's file is one of its product's.
    if (static_cast<int64_t>(list->size()) >= list->front().product_files)
      return list;
    auto& first = list->front().grant;
    auto added = r.grant_files(o.id, o.product_id, first.max_downloads,
                               first.lifetime_ms, to_iso(now()));
    if (!added)
      return added.err();
    if (*added == 0)
      return list;
    return r.grants_of(o.id, links_since);
  }

  // Issues links for `grants` (those not revoked; none at all is fine)
  // and, when `tpl` is set, queues that email carrying them, all in one
  // transaction. A `key` used before writes nothing and returns no links.
  expected<std::vector<issued_link>>
  issue(const persistence::order_row& o, const std::vector<grant_view>& grants,
        const std::string& tpl, const std::string& key, bool renew, bool reset,
        bool keep_current = false) {
    std::vector<issued_link> out;
    persistence::link_issue issue;
    auto t = now();
    issue.now = to_iso(t);
    issue.renew = renew;
    issue.reset_downloads = reset;
    issue.keep_current = keep_current;
    std::vector<grant_view> active;
    for (auto& g : grants)
      if (g.grant.revoked_at.empty())
        active.push_back(g);
    if (active.empty() && !grants.empty())
      return error{errc::link_revoked,
                   "access to this order's downloads was revoked ("
                     + grants.front().grant.revoked_reason + ")"};
    auto base = opts.public_url ? opts.public_url() : std::string{"/"};
    auto files = json::array();
    int64_t max_downloads = 0;
    std::string expires_at;
    for (auto& g : active) {
      auto token = random_token(token_bytes);
      issued_link l;
      l.grant_id = g.grant.id;
      l.file_id = g.grant.file_id;
      l.file_name = g.file_name;
      l.file_size = g.file_size;
      l.url = base + "d/" + token;
      l.expires_at = g.grant.expires_at;
      if (renew) {
        auto renewed
          = to_iso(t + std::chrono::milliseconds{g.grant.lifetime_ms});
        l.expires_at = std::max(l.expires_at, renewed);
      }
      l.remaining = reset ? g.grant.max_downloads
                          : g.grant.max_downloads - g.grant.downloads;
      issue.links.emplace_back(g.grant.id, token_hash(token));
      files.push_back(
        {{"name", l.file_name},
         {"size", format_size(static_cast<uint64_t>(l.file_size))},
         {"url", l.url},
         {"remaining", std::to_string(l.remaining)}});
      max_downloads = std::max(max_downloads, g.grant.max_downloads);
      expires_at = expires_at.empty() ? l.expires_at
                                      : std::min(expires_at, l.expires_at);
      out.push_back(std::move(l));
    }
    if (!tpl.empty()) {
      // Read with the grants; a separate read only without any.
      auto title = !active.empty() && !active.front().product_title.empty()
                     ? expected<std::string>{active.front().product_title}
                     : product_title(o.product_id);
      if (!title)
        return title.err();
      int64_t fewest = out.empty() ? 0 : out.front().remaining;
      for (auto& l : out)
        fewest = std::min(fewest, l.remaining);
      json model{
        {"order_id", o.id},
        {"product_title", *title},
        {"amount", format_money(o.amount, o.currency)},
        {"buyer_email", o.buyer_email},
        {"shop_name", opts.shop_name},
        {"files", files},
        {"has_files", !out.empty()},
        {"many_files", out.size() > 1},
        {"max_downloads", std::to_string(max_downloads)},
        {"expires_at", readable_time(expires_at)},
        {"remaining_note",
         fewest == 1 ? std::string{"each has one download left."}
                     : fmt::format("each has {} downloads left.", fewest)},
      };
      // Licence keys are read only for a template that shows them, of an
      // order whose flow may have given some.
      if (templates->mentions(tpl, "licence_keys")
          && (!opts.gives_keys || opts.gives_keys(o))) {
        auto keys = persistence::licence_key_repository{*db}.of_order(o.id);
        if (!keys)
          return keys.err();
        auto list = json::array();
        for (auto& k : *keys)
          if (k.revoked_at.empty())
            list.push_back({{"pool", k.pool}, {"key", k.secret}});
        model["has_licence_keys"] = !list.empty();
        model["many_licence_keys"] = list.size() > 1;
        model["licence_keys"] = std::move(list);
      }
      auto text = templates->render(tpl, model);
      if (!text)
        return text.err();
      auto e
        = queued_email(opts, tpl, o.buyer_email, *text, key, base, issue.now);
      e.order_id = o.id;
      if (opts.email_lease.count() > 0)
        e.claimed_until = to_iso(now() + opts.email_lease);
      issue.email = std::move(e);
    }
    if (issue.links.empty() && !issue.email)
      return out;
    auto written = repo().issue_links(issue);
    if (!written)
      return written.err();
    if (!*written)
      return std::vector<issued_link>{}; // this key's links went out before
    // Said (and the sender woken) once the rows are committed: inside a
    // flow step's transaction that is later, or never if it rolls back.
    db->after_commit([order_id = o.id, buyer = o.buyer_email, tpl,
                      email = std::move(issue.email),
                      links = opts.log_links ? out : std::vector<issued_link>{},
                      queued = opts.on_email_queued] {
      log::logger lg{{{"order_id", order_id}}};
      if (email) {
        lg.info("email {} ({}) queued for {}", email->message_id, tpl, buyer);
        if (queued)
          queued(*email);
      }
      for (auto& l : links)
        lg.info("download link for {} ({} left, until {}): {}", l.file_name,
                l.remaining, l.expires_at, l.url);
    });
    return out;
  }

  // The start of the hour `rate_check` counts link sets over.
  static std::string rate_window() {
    return to_iso(now() - std::chrono::hours{1});
  }

  // Refuses more than `links_per_hour` link sets an hour; `grants` read
  // with the count (since `rate_window()`) saves reading it again. An
  // order with nothing to download (a licence key) counts its emails.
  status rate_check(const std::string& order_id,
                    const std::vector<grant_view>& grants) {
    auto n = grants.empty() ? repo().emails_since(order_id, rate_window())
             : grants.front().link_sets >= 0
               ? expected<int64_t>{grants.front().link_sets}
               : repo().link_sets_since(order_id, rate_window());
    if (!n)
      return n.err();
    if (*n >= static_cast<int64_t>(opts.links_per_hour)) {
      error e{errc::rate_limited,
              fmt::format("links for this order were sent {} times in the "
                          "last hour; try again later",
                          *n)};
      e.retry_after = std::chrono::seconds{600};
      return e;
    }
    return {};
  }

  status grant(const std::string& order_id, const std::string& params,
               const persistence::order_row* known) {
    auto parsed = step_params(params);
    if (!parsed)
      return parsed.err();
    auto& doc = *parsed;
    auto life = duration_param(doc, "expires_in", opts.expires_in);
    if (!life)
      return life.err();
    auto max = count_param(doc, "max_downloads", opts.max_downloads);
    if (!max)
      return max.err();
    auto o = order(order_id, known);
    if (!o)
      return o.err();
    auto added = repo().grant_files(order_id, o->product_id, *max,
                                    life->count(), to_iso(now()));
    if (!added)
      return added.err();
    if (*added == 0) {
      // Nothing new: granted before (the step run again), or the product
      // has no file to give, which must not pass for a delivery.
      auto had = repo().grants_of(order_id);
      if (!had)
        return had.err();
      if (had->empty())
        return error{errc::conflict,
                     fmt::format("product {} has no file to give: upload one, "
                                 "then retry the order",
                                 o->product_id)};
    }
    log::logger{{{"order_id", order_id}}}.info(
      "download access granted: {} file(s), {} download(s) each for {}", *added,
      *max, format_duration(*life));
    return {};
  }

  status issue_key(const std::string& order_id, const std::string& params,
                   const persistence::order_row* known) {
    auto parsed = step_params(params);
    if (!parsed)
      return parsed.err();
    auto& doc = *parsed;
    std::string pool = "default";
    if (doc.contains("pool")) {
      if (!doc["pool"].is_string())
        return error{errc::invalid_field, "pool must be a pool's name", "pool"};
      pool = doc["pool"].get<std::string>();
    }
    if (auto err = check_pool_name(pool))
      return err;
    auto o = order(order_id, known);
    if (!o)
      return o.err();
    auto key = persistence::licence_key_repository{*db}.issue(
      order_id, o->product_id, pool, to_iso(now()));
    if (!key)
      return key.err();
    if (!*key) {
      // The pool is empty as committed: its creator may not have heard
      // (the notice of the sale that emptied it lost to a stop).
      db->post(stock_look(o->product_id, pool));
      return error{errc::sold_out,
                   fmt::format("product {} has no licence key left in pool "
                               "'{}': add keys (POST /api/v1/products/{}/"
                               "licence-keys), then retry the order",
                               o->product_id, pool, o->product_id),
                   "pool"};
    }
    log::logger{{{"order_id", order_id}}}.info(
      "licence key {} issued from pool '{}'", (*key)->id, pool);
    // Once the sale has committed, on a database thread: a count inside
    // the sale's own transaction would take keys other sales are taking
    // now for keys left, and the last of several sales at once would never
    // see the pool empty.
    db->after_commit(
      [db = db, look = stock_look(o->product_id, pool)] { db->post(look); });
    return {};
  }

  // A look at `pool` of `product` for its creator (tell_stock), to run on
  // a database thread.
  std::function<void()> stock_look(const std::string& product,
                                   const std::string& pool) const {
    return [db = db, templates = templates, opts = opts, product, pool] {
      if (auto err = tell_stock(*db, *templates, opts, product, pool))
        log::warn("licence stock of {} (pool '{}') not told: {}", product, pool,
                  err.detail);
    };
  }
};

service::service(std::shared_ptr<persistence::database> db,
                 std::shared_ptr<const email::templates> templates,
                 options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->db = std::move(db);
  impl_->templates = std::move(templates);
  impl_->opts = std::move(opts);
}

service::~service() = default;

const std::vector<std::string>& service::actions() {
  static const std::vector<std::string> names{
    "delivery.grant_access", "delivery.revoke_access", "email.send",
    "licence.issue_key"};
  return names;
}

status service::run_action(const std::string& action,
                           const std::string& order_id,
                           const std::string& params, const std::string& key,
                           const persistence::order_row* order) {
  auto& d = *impl_;
  if (action == "delivery.grant_access")
    return d.grant(order_id, params, order);
  if (action == "licence.issue_key")
    return d.issue_key(order_id, params, order);
  if (action == "delivery.revoke_access") {
    // Grants and licence keys go together: both are what the order gave.
    auto at = to_iso(now());
    auto n = d.repo().revoke(order_id, "refunded", at);
    if (!n)
      return n.err();
    auto keys = persistence::licence_key_repository{*d.db}.revoke_order(
      order_id, "refunded", at);
    if (!keys)
      return keys.err();
    if (*n > 0 || *keys > 0)
      log::logger{{{"order_id", order_id}}}.info(
        "access revoked ({} grant(s), {} licence key(s))", *n, *keys);
    return {};
  }
  if (action == "email.send") {
    auto doc = json::parse(params.empty() ? "{}" : params, nullptr, false);
    if (doc.is_discarded() || !doc.contains("template")
        || !doc["template"].is_string())
      return error{errc::invalid_field, "email.send needs a template",
                   "template"};
    auto tpl = doc["template"].get<std::string>();
    if (!d.templates->has(tpl))
      return error{errc::invalid_field, "no email template " + tpl, "template"};
    auto o = d.order(order_id, order);
    if (!o)
      return o.err();
    // The receipt carries the download links; other templates the order.
    std::vector<grant_view> grants;
    if (tpl == "receipt") {
      auto list = d.grants(*o);
      if (!list)
        return list.err();
      grants = std::move(*list);
    }
    // The flow's own email adds its links: the buyer may have asked for
    // links on the order page the moment it said delivered.
    auto sent = d.issue(*o, grants, tpl, key, false, false, true);
    if (!sent)
      return sent.err();
    return {};
  }
  return error{errc::invalid_field, "delivery does not run " + action};
}

expected<download> service::open(
  const std::string& token, const std::string& client, bool resume, bool count,
  const std::function<bool(const persistence::grant_view&)>& answerable) {
  auto& d = *impl_;
  error unknown{errc::not_found,
                "this download link is not known: check that it was copied "
                "whole, or ask for a fresh link from your order"};
  if (!plausible_token(token))
    return unknown;
  auto link = d.repo().find_link(token_hash(token));
  if (!link)
    return link.err();
  if (!*link)
    return unknown;
  auto& l = **link;
  auto& g = l.grant.grant;
  if (!l.replaced_at.empty())
    return error{errc::link_replaced,
                 "a newer link for this file was sent on "
                   + readable_time(l.replaced_at)
                   + " UTC and this one no longer works: use the newest "
                     "email, or ask for a fresh link from your order"};
  auto t = now();
  auto since
    = to_iso(t - (resume ? d.opts.resume_window : d.opts.repeat_window));
  count_outcome outcome;
  if (count && answerable && !answerable(l.grant))
    count = false;
  if (count) {
    auto counted = d.repo().count_download(g.id, client, to_iso(t), since);
    if (!counted)
      return counted.err();
    outcome = *counted;
  } else if (!g.revoked_at.empty()) {
    outcome = count_outcome::revoked;
  } else if (g.expires_at <= to_iso(t)) {
    outcome = count_outcome::expired;
  } else if (g.last_client == client && g.last_counted_at >= since) {
    outcome = count_outcome::same;
  } else if (g.downloads >= g.max_downloads) {
    outcome = count_outcome::used_up;
  } else {
    outcome = count_outcome::counted;
  }
  switch (outcome) {
  case count_outcome::counted:
  case count_outcome::same:
    break;
  case count_outcome::expired:
    return error{errc::link_expired,
                 "this link expired on " + readable_time(g.expires_at)
                   + " UTC: ask for a fresh link from your order (it renews "
                     "the expiry)"};
  case count_outcome::used_up:
    return error{errc::link_used_up,
                 fmt::format("this link has been used for all {} of its "
                             "downloads: ask the creator of the product to "
                             "re-issue it",
                             g.max_downloads)};
  case count_outcome::revoked:
    return error{errc::link_revoked,
                 "access to this download was taken back on "
                   + readable_time(g.revoked_at) + " UTC (the order was "
                   + (g.revoked_reason.empty() ? std::string{"refunded"}
                                               : g.revoked_reason)
                   + ")"};
  }
  download out;
  out.grant = std::move(l.grant);
  out.counted = outcome == count_outcome::counted && count;
  if (out.counted)
    ++out.grant.grant.downloads;
  return out;
}

expected<std::vector<grant_view>>
service::grants(const persistence::order_row& order) {
  return impl_->grants(order);
}

expected<std::vector<issued_link>>
service::fresh_links(const persistence::order_row& order,
                     const fresh_request& req) {
  auto& d = *impl_;
  auto list = d.grants(order, impl::rate_window());
  if (!list)
    return list.err();
  if (list->empty())
    return error{errc::conflict,
                 "this order has nothing to download yet (it is " + order.state
                   + ")"};
  if (auto err = d.rate_check(order.id, *list))
    return err;
  return d.issue(order, *list, req.email ? "download_links" : "",
                 req.key.empty() ? new_uuid() : req.key, true,
                 req.reset_downloads);
}

status service::resend_receipt(const persistence::order_row& order,
                               const std::string& key) {
  auto& d = *impl_;
  auto list = d.grants(order, impl::rate_window());
  if (!list)
    return list.err();
  if (list->empty() && order.state != "delivered")
    return error{errc::conflict, "this order has no receipt to send (it is "
                                   + order.state + ")"};
  if (auto err = d.rate_check(order.id, *list))
    return err;
  auto sent = d.issue(order, *list, "receipt", key.empty() ? new_uuid() : key,
                      true, false);
  if (!sent)
    return sent.err();
  return {};
}

} // namespace souk::delivery
