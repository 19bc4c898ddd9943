#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

struct product_file_row {
  std::string id; ///< stable across replacement: grants point at it
  std::string product_id;
  std::string name; ///< sanitised display name
  std::string storage_key;
  int64_t size = 0;
  std::string sha256;
  std::string content_type;
  std::string created_at;
  std::string updated_at;
};

/// Writes to `product_files`. Blocking: call from database or worker
/// threads.
class product_file_repository {
public:
  explicit product_file_repository(database& db) : db_(db) {}

  /// A product's creator and status, if the product exists.
  struct owner {
    std::string creator_id;
    std::string status;
  };
  expected<std::optional<owner>> product_owner(const std::string& product_id);

  /// Stores `row` as the file `row.name` of `row.product_id`: a new row, or
  /// (same name) the existing row with its id kept and its bytes, size,
  /// hash and type replaced, so links to it serve the new file. Returns the
  /// row as stored and the storage key it replaced ("" if none), which the
  /// caller removes from storage after this commits. Bumps the product's
  /// version.
  expected<std::pair<product_file_row, std::string>>
  put(const product_file_row& row);

  /// Deletes the file `file_id` of `product_id` and returns its storage key,
  /// for the caller to remove from storage after this commits; bumps the
  /// product's version. `not_found` if the product has no such file;
  /// `conflict` if a buyer was granted it (their downloads need it: replace
  /// it under the same name instead), if it is a published product's last
  /// file, or if the product is archived. A grant being written meanwhile
  /// waits for this, fails on its foreign key and is retried without the
  /// file; an order paid but not granted yet gets the product's files as
  /// they are when its grant runs.
  expected<std::string> remove(const std::string& product_id,
                               const std::string& file_id);

  /// Every storage key a file names (housekeeping keeps their blobs and
  /// removes the rest).
  expected<std::unordered_set<std::string>> storage_keys();

private:
  database& db_;
};

} // namespace souk::persistence
