#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// A row of `products`. Money is minor units plus `currency`.
struct product_row {
  std::string id; ///< UUIDv7: sorts by creation
  std::string creator_id;
  std::string title;
  std::string description;
  int64_t price_amount = 0;
  std::string currency;              ///< NGN | USD
  std::optional<int64_t> min_amount; ///< pay what you want; same currency
  std::string flow;
  std::string status; ///< draft | published | archived
  int64_t version = 1;
  std::string created_at;
  std::string updated_at;
  std::string published_at; ///< empty while never published
  std::string archived_at;  ///< empty while not archived
};

/// What the catalog shows of a row of `product_files` (never the storage
/// key).
struct product_file_info {
  std::string id;
  std::string product_id;
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::string content_type;
};

/// Which products `product_repository::list` returns, newest (highest id)
/// first.
struct product_filter {
  /// Non-empty: only this creator's products.
  std::string creator_id;
  /// Non-empty: only products in this status.
  std::string status;
  /// Non-empty: only titles containing this text, case-insensitively
  /// (ASCII letters on SQLite, whose lower() knows no others). Taken
  /// literally: `%` and `_` match themselves.
  std::string title_contains;
  /// Non-empty: only ids below this one (the cursor of the previous page).
  std::string before_id;
  /// At most this many rows. REQUIRES: > 0.
  uint32_t limit = 20;
};

/// The `products` table, and reads of `product_files` for the catalog
/// (writes to `product_files` belong to file storage). Blocking: call from
/// database or worker threads. Timestamps are ISO-8601 UTC text.
class product_repository {
public:
  explicit product_repository(database& db) : db_(db) {}

  status insert(const product_row& row);

  expected<std::optional<product_row>> find(const std::string& id);

  /// The products `filter` selects, ordered by id descending.
  expected<std::vector<product_row>> list(const product_filter& filter);

  /// Writes every mutable column of `row` (title through archived_at,
  /// version included) where the id matches and the stored version is
  /// `expected_version`, in one statement; false if no row matched (a
  /// concurrent writer got there first, or the row is gone). This is what
  /// keeps concurrent edits from silently overwriting each other. With
  /// `require` other than `requires_nothing`, the product must also have at
  /// least one file, or a licence key in each of `pools` (any pool when
  /// empty), or both, checked in the same statement so one removed
  /// meanwhile cannot slip through.
  enum requirement {
    requires_nothing,
    requires_file,
    requires_licence_key,
    requires_file_and_licence_key
  };
  expected<bool> update(const product_row& row, int64_t expected_version,
                        requirement require = requires_nothing,
                        const std::vector<std::string>& pools = {});

  /// The files of each product in `product_ids`, in one query (no query per
  /// product), ordered by product, then name.
  expected<std::vector<product_file_info>>
  files_of(const std::vector<std::string>& product_ids);

  /// Which of the (product id, pool) pairs in `wanted` have a licence key
  /// left to give, in one query (an index probe per pair).
  expected<std::vector<std::pair<std::string, std::string>>>
  pools_with_keys_left(
    const std::vector<std::pair<std::string, std::string>>& wanted);

  /// How many files `product_id` has.
  expected<int64_t> count_files(const std::string& product_id);

  /// How many licence keys `product_id` has in `pool`, issued or not.
  expected<int64_t> count_licence_keys(const std::string& product_id,
                                       const std::string& pool);

  /// `text` with `\`, `%` and `_` escaped for `LIKE ... ESCAPE '\'`.
  static std::string escape_like(std::string_view text);

private:
  database& db_;
};

} // namespace souk::persistence
