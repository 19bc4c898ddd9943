#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

struct licence_key_row {
  std::string id;
  std::string product_id;
  std::string pool;
  std::string secret; ///< the key itself, as the creator uploaded it
  std::string added_at;
  std::string order_id;  ///< "" while the key is left to issue
  std::string issued_at; ///< "" while the key is left to issue
  std::string revoked_at;
  std::string revoked_reason;
};

/// How many keys of one pool are left, issued and revoked.
struct licence_pool_stock {
  std::string pool;
  int64_t left = 0;
  int64_t issued = 0; ///< revoked ones included
  int64_t revoked = 0;
};

/// What `add` did: new keys, and keys the pool already held (uploading the
/// same list again adds nothing).
struct licence_keys_added {
  int64_t added = 0;
  int64_t already_present = 0;
};

/// How low a pool runs, for telling its creator (`level`).
struct licence_pool_level {
  int64_t left = 0; ///< keys left, counted up to the cap asked (cap + 1: more)
  /// The newest key the pool was given (ids sort by upload): it changes
  /// with each restock and never goes back while that upload has a key,
  /// telling one running-low from the next.
  std::string restock;
  std::string creator_email; ///< empty if the product is gone
  std::string product_title;
};

/// Which keys `list` returns.
enum class licence_key_filter { all, left, issued, revoked };

/// The `licence_keys` table. Blocking: call from database or worker threads.
class licence_key_repository {
public:
  explicit licence_key_repository(database& db) : db_(db) {}

  /// Adds `secrets` (already checked, each once) to `pool` of `product_id`,
  /// all in one transaction; keys the pool holds already are skipped.
  expected<licence_keys_added> add(const std::string& product_id,
                                   const std::string& pool,
                                   const std::vector<std::string>& secrets,
                                   const std::string& now_text);

  /// The key of `pool` the order holds, or else the pool's oldest key left,
  /// now issued to the order; none when the pool has no key left. Issuing
  /// twice for one order and pool returns the same key. Two orders never
  /// get one key (on PostgreSQL a key being issued is skipped, not waited
  /// for).
  expected<std::optional<licence_key_row>> issue(const std::string& order_id,
                                                 const std::string& product_id,
                                                 const std::string& pool,
                                                 const std::string& now_text);

  /// How many keys `pool` of `product_id` has left, counted up to `cap`
  /// (a bounded probe of the keys-left index), the pool's restock mark and
  /// whom and what to tell, in one snapshot.
  expected<licence_pool_level> level(const std::string& product_id,
                                     const std::string& pool, int64_t cap);

  /// The keys issued to an order, oldest first.
  expected<std::vector<licence_key_row>> of_order(const std::string& order_id);

  /// Revokes the order's keys not revoked yet; returns how many.
  expected<int64_t> revoke_order(const std::string& order_id,
                                 const std::string& reason,
                                 const std::string& now_text);

  /// Keys left, issued and revoked per pool of a product, by pool name.
  expected<std::vector<licence_pool_stock>>
  stock(const std::string& product_id);

  /// A page of a product's keys (in one pool when `pool` is not empty), in
  /// the order they were added, after the key `after_id` ("" from the
  /// start).
  expected<std::vector<licence_key_row>>
  list(const std::string& product_id, const std::string& pool,
       licence_key_filter filter, const std::string& after_id, uint32_t limit);

  /// Deletes the key `key_id` of `product_id` if it was never issued:
  /// `not_found` if the product has no such key, `conflict` if it was
  /// issued (the buyer holds it).
  status withdraw(const std::string& product_id, const std::string& key_id);

private:
  database& db_;
};

} // namespace souk::persistence
