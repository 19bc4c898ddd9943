#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/deliveries.hpp"
#include "souk/persistence/orders.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::email {
class templates;
} // namespace souk::email

/// Delivery: download grants and their links, the receipt and other emails
/// about an order. docs/delivery.md tells the whole story.
namespace souk::delivery {

struct options {
  /// A grant's lifetime and number of downloads when the flow step gives
  /// none (`delivery.grant_access` with `expires_in`, `max_downloads`).
  std::chrono::milliseconds expires_in{24ll * 3600'000};
  int64_t max_downloads = 5;
  /// A request from the client of the last counted download within this
  /// long of it is the same download (a double click, a retry)...
  std::chrono::milliseconds repeat_window{60'000};
  /// ...and a Range request resuming it (not starting at byte 0) within
  /// this long.
  std::chrono::milliseconds resume_window{6ll * 3600'000};
  /// Fresh links per order per hour (buyers asking, creators re-issuing).
  uint32_t links_per_hour = 5;
  /// souk's public URL with a trailing slash (links are `<url>d/<token>`).
  std::function<std::string()> public_url;
  /// The From header of emails, e.g. "souk <no-reply@example.com>".
  std::string from = "souk <souk@localhost>";
  /// Shown at the foot of emails.
  std::string shop_name = "souk";
  /// Log every link issued (the embedded default, whose mail is files: a
  /// new user can follow the link from the log).
  bool log_links = false;
  /// Called once an email's row is committed (to wake the sender), with the
  /// row. With `email_lease` above zero the row was queued already leased
  /// to this process for that long (`claimed_until`), to be handed to the
  /// sender in memory; the sender's usual claim takes it only once that
  /// lease has run out.
  std::function<void(const persistence::email_row&)> on_email_queued;
  std::chrono::milliseconds email_lease{0};
  /// A licence-key pool's creator is emailed once when a sale leaves this
  /// many keys or fewer, and once when it leaves none, per restock
  /// (template `licence_stock`). 0: only when it runs out.
  int64_t licence_keys_low = 5;
  /// Whether `order`'s flow gives licence keys (`licence.issue_key`): only
  /// then do its emails read them. Unset: always read.
  std::function<bool(const persistence::order_row&)> gives_keys;
};

/// A link just issued: the only time its token exists outside a hash.
struct issued_link {
  std::string grant_id;
  std::string file_id;
  std::string file_name;
  int64_t file_size = 0;
  std::string url;
  std::string expires_at;
  int64_t remaining = 0; ///< downloads left
};

/// Who asks for fresh links, and what they get.
struct fresh_request {
  /// Email the links to the buyer (else only return them).
  bool email = true;
  /// Set the download counts back to zero (creators and operators).
  bool reset_downloads = false;
  /// One request, one set of links: a repeated key writes nothing more.
  std::string key;
};

/// A download request that may go ahead.
struct download {
  persistence::grant_view grant;
  bool counted = false; ///< a new download (else the same one continuing)
};

/// The delivery and email actions of flows, and the download links.
/// Thread-safe; every call blocks (database).
class service {
public:
  service(std::shared_ptr<persistence::database> db,
          std::shared_ptr<const email::templates> templates, options opts);
  ~service();

  /// Runs `delivery.grant_access` (params `expires_in`, `max_downloads`),
  /// `delivery.revoke_access` (the order's grants and licence keys),
  /// `email.send` (param `template`) or `licence.issue_key` (param `pool`:
  /// `errc::sold_out` when the pool has no key left) for an order;
  /// idempotent on `key` (a licence key: on the order and pool). `order`, when
  /// given, is the order's row as its actor holds it (read from the database
  /// otherwise).
  status run_action(const std::string& action, const std::string& order_id,
                    const std::string& params, const std::string& key,
                    const persistence::order_row* order = nullptr);

  /// The grant a link's token leads to, counted as a download unless it is
  /// the same download as the last one (see `options`): `resume` is a Range
  /// request not starting at byte 0; `count` false only checks (HEAD).
  /// `answerable`, when given, is asked about the link's file before it is
  /// counted: a request it refuses (a Range beyond the file's end, answered
  /// 416) is only checked, so it takes none of the buyer's downloads.
  /// Errors: not_found (no such link), link_replaced, link_expired,
  /// link_used_up, link_revoked — each with a detail saying what to do.
  expected<download>
  open(const std::string& token, const std::string& client, bool resume,
       bool count = true,
       const std::function<bool(const persistence::grant_view&)>& answerable
       = {});

  /// The grants (with download counts) of `order`, a row the caller just
  /// read, adding grants for files the product gained since (new files
  /// reach past buyers).
  expected<std::vector<persistence::grant_view>>
  grants(const persistence::order_row& order);

  /// New links for every file of `order`, replacing the older ones and
  /// renewing expired grants; emailed to the buyer when asked. Errors:
  /// rate_limited (over `links_per_hour`), link_revoked (refunded),
  /// conflict (nothing to download yet).
  expected<std::vector<issued_link>>
  fresh_links(const persistence::order_row& order, const fresh_request& req);

  /// Sends the receipt of `order` again (fresh links in it). Rate-limited
  /// like `fresh_links`.
  status resend_receipt(const persistence::order_row& order,
                        const std::string& key);

  /// The flow actions this service runs.
  static const std::vector<std::string>& actions();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A licence-key pool's name (`licence.issue_key`'s `pool`): 1 to 64 of
/// a-z, 0-9, '_' and '-'; `errc::invalid_field` (field "pool") otherwise.
status check_pool_name(const std::string& pool);

/// Licence keys as a creator uploads them, ready to add: each trimmed of
/// surrounding white space, 1 to 512 bytes with no control characters, and
/// kept once (repeats dropped, the first one's place kept). At most
/// `max_licence_keys` at once. `errc::invalid_field` naming the first bad
/// one ("keys[3]") otherwise.
inline constexpr size_t max_licence_keys = 10'000;
expected<std::vector<std::string>>
clean_licence_keys(const std::vector<std::string>& raw);

/// A link's token hashed for storage (SHA-256, hex).
std::string token_hash(const std::string& token);

/// The client of a request as download counting knows it: a hash of its
/// address and user agent.
std::string client_key(const std::string& address,
                       const std::string& user_agent);

} // namespace souk::delivery
