#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// One row of `download_grants`: a buyer's right to one file of an order.
/// Optional columns are empty strings for NULL.
struct grant_row {
  std::string id;
  std::string order_id;
  std::string product_id;
  std::string file_id;
  int64_t max_downloads = 0;
  int64_t downloads = 0;
  int64_t lifetime_ms = 0; ///< a fresh link renews the expiry by this much
  std::string expires_at;
  std::string revoked_at;
  std::string revoked_reason;
  std::string last_counted_at;
  std::string last_client;
  std::string last_download_at;
  std::string created_at;
  std::string updated_at;
};

/// A grant with its file and order, as the download route and the
/// listings need them.
struct grant_view {
  grant_row grant;
  std::string file_name;
  int64_t file_size = 0;
  std::string file_sha256;
  std::string content_type;
  std::string storage_key;
  std::string buyer_email;
  std::string buyer_id;
  std::string order_state;
  /// How many files the grant's product has now: when an order has as
  /// many grants, every file has one. Set in lists of grants (`grants_of`,
  /// `grants_of_product`), 0 in a link's view.
  int64_t product_files = 0;
  /// The product's title now; set where `product_files` is.
  std::string product_title;
  /// `link_sets_since` for the grant's order, when `grants_of` was asked
  /// for it; else -1.
  int64_t link_sets = -1;
};

/// What a link's token hash leads to.
struct link_view {
  std::string token_hash;
  std::string replaced_at; ///< empty while it is the grant's current link
  grant_view grant;
};

/// One row of `email_outbox`.
struct email_row {
  std::string id;
  std::string dedupe_key; ///< one message per key, whoever asks twice
  std::string order_id;   ///< empty: not about an order
  std::string template_name;
  std::string recipient;
  std::string message_id; ///< without angle brackets
  std::string subject;
  std::string message; ///< the whole RFC 5322 message; empty once sent
  std::string status = "queued"; ///< queued, sent or failed
  int64_t attempts = 0;
  std::string next_attempt_at;
  std::string claimed_until;
  std::string last_error;
  std::string sent_at;
  std::string created_at;
  std::string updated_at;
};

/// New links for grants, and the email carrying them, written together.
struct link_issue {
  /// (grant id, SHA-256 hex of its new token) for each link.
  std::vector<std::pair<std::string, std::string>> links;
  /// Push each grant's expiry to at least now + its lifetime.
  bool renew = false;
  /// Set the grants' download counts back to zero (creators, operators).
  bool reset_downloads = false;
  /// Leave the grants' current links working instead of marking them
  /// replaced: the flow's receipt, queued just after the order became
  /// delivered, must not break links the buyer already asked for.
  bool keep_current = false;
  /// Written in the same transaction; if a row with its dedupe key exists
  /// already, nothing at all is written.
  std::optional<email_row> email;
  std::string now;
};

/// How one download request was counted.
enum class count_outcome {
  counted, ///< a new download: the count went up by one
  same,    ///< the same download as the last counted one (a resume or a
           ///< repeated click from the same client): not counted again
  expired,
  used_up,
  revoked,
};

/// Download grants, their links and the email outbox. Thread-safe; every
/// call blocks on the database.
class delivery_repository {
public:
  explicit delivery_repository(database& db) : db_(db) {}

  /// Grants `order_id` every file of `product_id` it has no grant for yet,
  /// each with `max_downloads` and an expiry of `now` + `lifetime_ms`;
  /// existing grants are left as they are (so a repeated step changes
  /// nothing). Returns how many were added.
  expected<size_t> grant_files(const std::string& order_id,
                               const std::string& product_id,
                               int64_t max_downloads, int64_t lifetime_ms,
                               const std::string& now);

  /// The order's grants with their files, by file name. With
  /// `link_sets_since`, each carries `link_sets_since`'s count too (in the
  /// same read).
  expected<std::vector<grant_view>> grants_of(const std::string& order_id,
                                              const std::string& link_sets_since
                                              = {});

  /// A product's grants (every buyer), newest order first: `limit` of them
  /// after the cursor `before` (a grant id; empty: the newest).
  expected<std::vector<grant_view>>
  grants_of_product(const std::string& product_id, size_t limit,
                    const std::string& before = {});

  /// Takes access back from every grant of the order not revoked yet.
  /// Returns how many grants it revoked.
  expected<size_t> revoke(const std::string& order_id,
                          const std::string& reason, const std::string& now);

  /// Writes `issue` in one transaction: each link, the older links of its
  /// grant marked replaced, the renewal or reset, the email. Fails with
  /// `link_revoked` (nothing written) if a grant was revoked. Returns false
  /// (nothing written) if the email's dedupe key was used already.
  expected<bool> issue_links(const link_issue& issue);

  /// How many times links were issued for the order's grants since
  /// `since` (one issue of several files counts once).
  expected<int64_t> link_sets_since(const std::string& order_id,
                                    const std::string& since);

  /// How many emails were queued for the order since `since`.
  expected<int64_t> emails_since(const std::string& order_id,
                                 const std::string& since);

  /// The link with this token hash, if any.
  expected<std::optional<link_view>> find_link(const std::string& token_hash);

  /// Counts a download of `grant_id` by `client` at `now`, atomically:
  /// concurrent requests never take the count past the grant's maximum. A
  /// request from the client of the last counted download is the same
  /// download (not counted again) if that was at or after `same_since`.
  expected<count_outcome> count_download(const std::string& grant_id,
                                         const std::string& client,
                                         const std::string& now,
                                         const std::string& same_since);

  /// Queues an email unless one with its dedupe key exists (false then).
  expected<bool> enqueue_email(const email_row& email);

  /// Gives up this process's lease on a queued email (it held it until
  /// `claimed_until`), so any sender may claim it at once.
  status release_email(const std::string& id, const std::string& claimed_until);

  /// The emails about an order, oldest first (messages not included).
  expected<std::vector<email_row>> emails_of(const std::string& order_id);

  expected<std::optional<email_row>> find_email(const std::string& id);

  /// Claims up to `limit` queued emails due by `now` that nobody is
  /// sending, until `lease_until`.
  expected<std::vector<email_row>> claim_emails(const std::string& now,
                                                const std::string& lease_until,
                                                size_t limit);

  /// The email went out: status sent, its message cleared (it holds links).
  status email_sent(const std::string& id, const std::string& now);

  /// The email did not go out: try again at `next_attempt_at`, or give up
  /// (`failed`) when `give_up`.
  status email_failed(const std::string& id, const std::string& error,
                      const std::string& next_attempt_at, bool give_up,
                      const std::string& now);

private:
  database& db_;
};

} // namespace souk::persistence
