#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "souk/catalog/money.hpp"
#include "souk/core/error.hpp"

namespace souk::persistence {
class database;
struct product_row;
} // namespace souk::persistence

namespace souk::catalog {

/// A product's life: created as a draft, published once it has a file,
/// archived for good (archived products are neither listed nor editable).
inline constexpr std::string_view draft = "draft";
inline constexpr std::string_view published = "published";
inline constexpr std::string_view archived = "archived";

/// The flow template new products run on unless they name another.
inline constexpr std::string_view default_flow = "digital_download";

/// Limits on what a creator writes.
inline constexpr size_t title_max = 200;         ///< characters, after trimming
inline constexpr size_t description_max = 10000; ///< characters
/// Listing page sizes.
inline constexpr uint32_t default_page = 20;
inline constexpr uint32_t max_page = 100;

/// A downloadable file of a product, as the catalog shows it.
struct product_file {
  std::string id;
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::string content_type;
};

/// A product as the API shows it. Empty timestamps stand for null.
struct product {
  std::string id;
  std::string creator_id;
  std::string title;
  std::string description;
  money price;
  std::optional<money> min_price; ///< pay what you want: at least this
  std::string flow;
  std::string status;  ///< draft | published | archived
  int64_t version = 1; ///< goes up with every change; the ETag
  std::string created_at;
  std::string updated_at;
  std::string published_at;
  std::string archived_at;
  std::vector<product_file> files;
  /// The product's flow gives licence keys and a pool it takes them from
  /// has none left: checkout would answer `sold_out`. Never cached: read
  /// with every product and listing page, cached or not.
  bool sold_out = false;
};

/// Who is asking. The HTTP layer builds it from `accounts::principal`.
struct caller {
  std::string user_id;      ///< empty: anonymous
  bool is_operator = false; ///< operators may read every product

  static caller anonymous() { return {}; }
};

/// What `create` takes. Missing fields are refused (`price`) or take their
/// default (`description`: empty, `flow`: `default_flow`).
struct new_product {
  std::string title;
  std::string description;
  std::optional<money> price;
  std::optional<money> min_price;
  std::optional<std::string> flow;
};

/// What `update` changes: fields left empty stay as they are.
struct product_patch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<money> price;
  /// Set to nullopt inside: clear the minimum (fixed price again).
  std::optional<std::optional<money>> min_price;
  std::optional<std::string> flow;
};

/// A listing request. `q`, `limit` and `cursor` as the client sent them.
struct list_query {
  /// true: the caller's own products in every status; false: published
  /// products of everyone.
  bool mine = false;
  /// Case-insensitive substring of the title, taken literally; empty: all.
  std::string q;
  uint32_t limit = default_page; ///< REQUIRES: 1..max_page (else refused)
  std::string cursor; ///< `next_cursor` of the previous page, or empty
};

/// One page of a listing; `next_cursor` is empty on the last page.
struct page {
  std::vector<product> items;
  std::string next_cursor;
};

/// Knobs, with their defaults.
struct options {
  /// How long a cached public product or listing page is served. Edits
  /// through this process clear the cache at once; edits on other nodes
  /// show up within this time.
  std::chrono::milliseconds cache_ttl{5000};
  /// Roughly how many bytes of product documents the cache holds at most
  /// (a page counts every product on it); when full it starts over, so a
  /// stream of distinct queries cannot grow memory without bound.
  size_t cache_max_bytes = 64u << 20;
  /// The flow templates a product may name; soukd passes the names of its
  /// flow library (shipped templates plus `flows.directory`).
  std::vector<std::string> flows{std::string{default_flow}};
  /// Those of `flows` that give buyers licence keys (`licence.issue_key`),
  /// with the pools they take keys from: their products are published with
  /// keys in each of those pools, where other products need a file.
  std::map<std::string, std::vector<std::string>> keyed_flows;
  /// Those of `keyed_flows` that also give files (`delivery.grant_access`):
  /// their products need a file as well as the keys.
  std::set<std::string> file_and_key_flows;
};

/// The product catalog: creating, editing, publishing, archiving, reading
/// and listing products, with a short-lived in-process cache of what the
/// public reads.
///
/// Every call may block on the database: run it on database or worker
/// threads, never on the HTTP event loop or a CAF scheduler thread.
/// Thread-safe.
///
/// Visibility: published products are visible to everyone; drafts and
/// archived products only to their creator and operators. A product the
/// caller may not see is `errc::not_found`, exactly like one that does not
/// exist. Changes are the creator's alone: others who can see the product
/// get `errc::forbidden`.
///
/// Concurrency: every change is conditional on the version it was computed
/// from, so two concurrent changes never silently overwrite each other; the
/// loser of a race on a caller-supplied version gets
/// `errc::precondition_failed`.
class service {
public:
  explicit service(std::shared_ptr<persistence::database> db,
                   options opts = {});
  ~service();

  /// Creates a draft owned by `who`. REQUIRES: `who` is a signed-in
  /// creator. `errc::invalid_field` names the first bad field
  /// ("title", "price.amount", "min_price.currency", "flow", ...).
  expected<product> create(const caller& who, const new_product& in);

  /// The product `id` if `who` may see it; `errc::not_found` otherwise.
  /// Public reads are served from the cache while fresh.
  expected<product> get(const caller& who, const std::string& id);

  /// Edits `id`, which must be `who`'s and at version `if_version` (the
  /// ETag the caller read). Checked in this order: `errc::not_found` /
  /// `errc::forbidden` (see above), `errc::precondition_required` without
  /// `if_version`, `errc::conflict` if the product is archived,
  /// `errc::precondition_failed` if the version is not current,
  /// `errc::invalid_field` naming a bad field. Visibility comes before the
  /// version checks, so strangers get 404/403 whatever If-Match they send.
  expected<product> update(const caller& who, const std::string& id,
                           std::optional<int64_t> if_version,
                           const product_patch& patch);

  /// Publishes `who`'s draft `id`. `errc::conflict` if it has no file yet
  /// or is archived; publishing a published product changes nothing. With
  /// `if_version`, also `errc::precondition_failed` unless it is current.
  expected<product> publish(const caller& who, const std::string& id,
                            std::optional<int64_t> if_version = {});

  /// Archives `who`'s product `id` in any status; archiving an archived
  /// product changes nothing. `if_version` as for `publish`.
  expected<product> archive(const caller& who, const std::string& id,
                            std::optional<int64_t> if_version = {});

  /// A page of products, newest first. Public listings are served from the
  /// cache while fresh. `errc::invalid_field` names "limit", "cursor" or
  /// "q"; `mine` needs a signed-in caller (`errc::unauthorized`).
  expected<page> list(const caller& who, const list_query& query);

  /// Database reads this service has issued (for tests and metrics: a cache
  /// hit issues none).
  uint64_t database_reads() const noexcept {
    return reads_.load(std::memory_order_relaxed);
  }

  /// Drops what the cache holds on product `id`, and every listing page:
  /// for changes made outside this service that show in product documents,
  /// such as a file stored through this node
  /// (`http::services::on_product_changed`).
  void forget(const std::string& id);

  /// Drops every cached entry.
  void clear_cache();

  const options& settings() const noexcept { return opts_; }

private:
  struct cache;
  enum class transition { publish, archive };

  expected<product> load(const std::string& id);
  expected<product> to_product(const persistence::product_row& row);
  /// Sets `sold_out` on those of `items` whose flow gives licence keys
  /// (one query for them all, none when no flow gives keys). Cached
  /// documents get it afresh on each read.
  status mark_sold_out(std::span<product> items);
  expected<product> change_status(const caller& who, const std::string& id,
                                  std::optional<int64_t> if_version,
                                  transition to);

  std::shared_ptr<persistence::database> db_;
  options opts_;
  std::unique_ptr<cache> cache_;
  std::atomic<uint64_t> reads_{0};
};

/// The opaque cursor that continues a listing after product `last_id`.
std::string encode_cursor(const std::string& last_id);

/// The product id inside a cursor; `errc::invalid_field` naming "cursor" if
/// it is not one `encode_cursor` made.
expected<std::string> decode_cursor(std::string_view cursor);

} // namespace souk::catalog
