#include "souk/catalog/service.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/products.hpp"

namespace souk::catalog {

namespace {

using persistence::product_repository;
using persistence::product_row;

// The number of code points in `text`, or nullopt if it is not valid UTF-8
// (overlong forms and surrogates included): PostgreSQL refuses such text,
// and limits are in characters, not bytes.
std::optional<size_t> utf8_length(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++count) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= text.size())
      return std::nullopt;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80)
        return std::nullopt;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return std::nullopt;
    i += extra + 1;
  }
  return count;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
         || c == '\f';
}

std::string trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return std::string{text};
}

// C0 controls and DEL; `allow_breaks` lets tab, newline and CR through.
// PostgreSQL cannot store NUL in text at all.
bool has_control(std::string_view text, bool allow_breaks) {
  return std::any_of(text.begin(), text.end(), [=](char ch) {
    auto c = static_cast<unsigned char>(ch);
    if (allow_breaks && (c == '\t' || c == '\n' || c == '\r'))
      return false;
    return c < 0x20 || c == 0x7f;
  });
}

error invalid(std::string field, std::string detail) {
  return error{errc::invalid_field, std::move(detail), std::move(field)};
}

expected<std::string> check_title(std::string_view raw) {
  auto title = trim(raw);
  auto n = utf8_length(title);
  if (!n)
    return invalid("title", "title is not valid UTF-8");
  if (*n == 0 || *n > title_max)
    return invalid("title", fmt::format("title must be 1 to {} characters "
                                        "(after trimming spaces)",
                                        title_max));
  if (has_control(title, false))
    return invalid("title", "title must not contain control characters");
  return title;
}

status check_description(std::string_view text) {
  auto n = utf8_length(text);
  if (!n)
    return invalid("description", "description is not valid UTF-8");
  if (*n > description_max)
    return invalid("description",
                   fmt::format("description must be at most {} characters",
                               description_max));
  if (has_control(text, true))
    return invalid("description", "description must not contain control "
                                  "characters other than tab and newline");
  return {};
}

// What a product on `flow` needs to be on sale (a file, or a licence key
// when the flow gives keys: `keyed_flows`, or both: `file_and_key_flows`),
// or `conflict` saying what to add first.
expected<product_repository::requirement> deliverable(product_repository& repo,
                                                      const std::string& id,
                                                      const std::string& flow,
                                                      const options& opts) {
  auto keyed = opts.keyed_flows.find(flow);
  bool with_files = keyed == opts.keyed_flows.end()
                    || opts.file_and_key_flows.count(flow) > 0;
  if (with_files) {
    auto files = repo.count_files(id);
    if (!files)
      return files.err();
    if (*files == 0)
      return error{errc::conflict,
                   fmt::format("a product needs at least one file to be on "
                               "sale; upload a file first with PUT "
                               "/api/v1/products/{}/files?name=FILENAME",
                               id)};
    if (keyed == opts.keyed_flows.end())
      return product_repository::requires_file;
  }
  // Keys in every pool the flow takes from.
  for (auto& pool : keyed->second) {
    auto keys = repo.count_licence_keys(id, pool);
    if (!keys)
      return keys.err();
    if (*keys == 0)
      return error{errc::conflict,
                   fmt::format("a product on flow {} needs licence keys in "
                               "pool '{}' to be on sale; add some first with "
                               "POST /api/v1/products/{}/licence-keys",
                               flow, pool, id)};
  }
  return with_files ? product_repository::requires_file_and_licence_key
                    : product_repository::requires_licence_key;
}

// The licence-key pools products on `flow` need keys in (none for a flow
// that gives no keys).
std::vector<std::string>
pools_of(const std::map<std::string, std::vector<std::string>>& keyed_flows,
         const std::string& flow) {
  auto it = keyed_flows.find(flow);
  return it == keyed_flows.end() ? std::vector<std::string>{} : it->second;
}

status check_flow(const std::string& flow,
                  const std::vector<std::string>& known) {
  if (std::find(known.begin(), known.end(), flow) != known.end())
    return {};
  std::string names;
  for (auto& k : known)
    names += (names.empty() ? "" : ", ") + k;
  return invalid("flow",
                 fmt::format("unknown flow '{}'; known: {}", flow, names));
}

error not_found(const std::string& id) {
  return error{errc::not_found, fmt::format("no product {}", id)};
}

error stale(int64_t current) {
  return error{errc::precondition_failed,
               fmt::format("the product changed since you read it (it is "
                           "now at version {}); read it again and reapply "
                           "your change with the new ETag",
                           current)};
}

bool visible_to(const caller& who, const product_row& row) {
  return row.status == published || who.is_operator
         || (!who.user_id.empty() && who.user_id == row.creator_id);
}

// Whether `who` may change `row`; the error to answer otherwise.
status check_owner(const caller& who, const std::optional<product_row>& row,
                   const std::string& id) {
  if (!row || !visible_to(who, *row))
    return not_found(id);
  if (who.user_id.empty() || who.user_id != row->creator_id)
    return error{errc::forbidden, "only the product's creator may change it"};
  return {};
}

product from_row(const product_row& row) {
  product p;
  p.id = row.id;
  p.creator_id = row.creator_id;
  p.title = row.title;
  p.description = row.description;
  p.price = money{row.price_amount, row.currency};
  if (row.min_amount)
    p.min_price = money{*row.min_amount, row.currency};
  p.flow = row.flow;
  p.status = row.status;
  p.version = row.version;
  p.created_at = row.created_at;
  p.updated_at = row.updated_at;
  p.published_at = row.published_at;
  p.archived_at = row.archived_at;
  return p;
}

product_file to_file(const persistence::product_file_info& f) {
  return product_file{f.id, f.name, f.size, f.sha256, f.content_type};
}

// base64url without padding: cursors travel in query strings.
constexpr std::string_view alphabet
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0)
    out += alphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    auto pos = alphabet.find(c);
    if (pos == std::string_view::npos)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be padding zeros: one text, one cursor.
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

// Versions the cursor format, so it can change without old cursors being
// misread.
constexpr std::string_view cursor_prefix = "p1:";

} // namespace

std::string encode_cursor(const std::string& last_id) {
  return base64url(std::string{cursor_prefix} + last_id);
}

expected<std::string> decode_cursor(std::string_view cursor) {
  auto text = cursor.size() <= 128 ? unbase64url(cursor) : std::nullopt;
  if (!text || !text->starts_with(cursor_prefix)
      || !is_uuid(std::string_view{*text}.substr(cursor_prefix.size())))
    return invalid("cursor", "cursor is not one this API returned; start "
                             "again without it");
  return text->substr(cursor_prefix.size());
}

// The cache holds what anonymous callers (and everyone who does not own the
// product) read: published products and public listing pages. A global
// generation, bumped by every change, keeps a read that raced a change from
// storing what it read before the change.
struct service::cache {
  using steady = std::chrono::steady_clock;

  template<class T>
  struct entry {
    T value;
    steady::time_point expires;
  };

  std::mutex mtx;
  uint64_t generation = 0;
  std::unordered_map<std::string, entry<product>> products;
  std::map<std::string, entry<page>> pages;
  size_t bytes = 0; ///< an estimate, never below the truth by much

  static size_t weight(const product& p) {
    return 512 + p.title.size() + p.description.size() + p.files.size() * 256;
  }

  static size_t weight(const page& pg) {
    size_t w = 256;
    for (auto& p : pg.items)
      w += weight(p);
    return w;
  }

  void clear() {
    ++generation;
    products.clear();
    pages.clear();
    bytes = 0;
  }

  // Stores `value` unless a change happened since `read_generation` (then
  // it may be stale already). Starting over when full is cruder than LRU,
  // but the TTL empties the cache every few seconds anyway.
  template<class Map, class T>
  void store(Map& map, const std::string& key, T value,
             uint64_t read_generation, const options& opts) {
    if (generation != read_generation)
      return;
    auto w = weight(value) + key.size();
    if (auto it = map.find(key); it != map.end()) {
      bytes -= std::min(bytes, weight(it->second.value) + key.size());
      map.erase(it);
    }
    if (bytes + w > opts.cache_max_bytes) {
      products.clear();
      pages.clear();
      bytes = 0;
      if (w > opts.cache_max_bytes)
        return;
    }
    bytes += w;
    map.emplace(key,
                entry<T>{std::move(value), steady::now() + opts.cache_ttl});
  }
};

service::service(std::shared_ptr<persistence::database> db, options opts)
  : db_(std::move(db)), opts_(opts), cache_(std::make_unique<cache>()) {}

service::~service() = default;

void service::clear_cache() {
  std::lock_guard guard{cache_->mtx};
  cache_->clear();
}

void service::forget(const std::string& id) {
  // Any change can move a product into, out of or within any public page,
  // so every page goes; products are independent of each other.
  std::lock_guard guard{cache_->mtx};
  ++cache_->generation;
  if (auto it = cache_->products.find(id); it != cache_->products.end()) {
    cache_->bytes
      -= std::min(cache_->bytes, cache::weight(it->second.value) + id.size());
    cache_->products.erase(it);
  }
  for (auto& [key, e] : cache_->pages)
    cache_->bytes
      -= std::min(cache_->bytes, cache::weight(e.value) + key.size());
  cache_->pages.clear();
}

expected<product> service::to_product(const product_row& row) {
  auto out = from_row(row);
  reads_.fetch_add(1, std::memory_order_relaxed);
  auto files = product_repository{*db_}.files_of({row.id});
  if (!files)
    return files.err();
  for (auto& f : *files)
    out.files.push_back(to_file(f));
  if (auto err = mark_sold_out({&out, 1}))
    return err;
  return out;
}

status service::mark_sold_out(std::span<product> items) {
  std::vector<std::pair<std::string, std::string>> wanted;
  for (auto& p : items) {
    p.sold_out = false; // a cached document's may be out of date
    for (auto& pool : pools_of(opts_.keyed_flows, p.flow))
      wanted.emplace_back(p.id, pool);
  }
  if (wanted.empty())
    return {};
  reads_.fetch_add(1, std::memory_order_relaxed);
  auto left = product_repository{*db_}.pools_with_keys_left(wanted);
  if (!left)
    return left.err();
  std::set<std::pair<std::string, std::string>> stocked(left->begin(),
                                                        left->end());
  for (auto& p : items)
    for (auto& pool : pools_of(opts_.keyed_flows, p.flow))
      if (stocked.count({p.id, pool}) == 0)
        p.sold_out = true;
  return {};
}

expected<product> service::create(const caller& who, const new_product& in) {
  if (who.user_id.empty())
    return error{errc::unauthorized, "sign in to create products"};
  auto title = check_title(in.title);
  if (!title)
    return title.err();
  if (auto err = check_description(in.description))
    return err;
  if (!in.price)
    return invalid("price", "price is required: {\"amount\": minor units, "
                            "\"currency\": \"NGN\" or \"USD\"}");
  if (auto err = check_price(*in.price, "price"))
    return err;
  if (in.min_price)
    if (auto err = check_min_price(*in.min_price, *in.price, "min_price"))
      return err;
  auto flow = in.flow.value_or(std::string{default_flow});
  if (auto err = check_flow(flow, opts_.flows))
    return err;
  product_row row;
  row.id = new_uuid();
  row.creator_id = who.user_id;
  row.title = *title;
  row.description = in.description;
  row.price_amount = in.price->amount;
  row.currency = in.price->currency;
  if (in.min_price)
    row.min_amount = in.min_price->amount;
  row.flow = flow;
  row.status = std::string{draft};
  row.version = 1;
  row.created_at = row.updated_at = to_iso(now());
  if (auto err = product_repository{*db_}.insert(row))
    return err;
  // A draft is in no public page and no cached product: nothing to clear.
  auto out = from_row(row);
  // No key yet: a flow that gives keys has none to give.
  out.sold_out = !pools_of(opts_.keyed_flows, out.flow).empty();
  return out;
}

expected<product> service::get(const caller& who, const std::string& id) {
  if (!is_uuid(id))
    return not_found(id);
  uint64_t generation = 0;
  std::optional<product> cached;
  {
    std::lock_guard guard{cache_->mtx};
    auto it = cache_->products.find(id);
    if (it != cache_->products.end()) {
      // The creator and operators read fresh: they edit with the ETag they
      // read, and a cached one from before another node's edit would only
      // earn them a 412.
      bool privileged
        = who.is_operator || who.user_id == it->second.value.creator_id;
      if (it->second.expires > cache::steady::now() && !privileged)
        cached = it->second.value;
    }
    generation = cache_->generation;
  }
  if (cached) {
    // Whether a key is left changes with every sale: read fresh.
    if (auto err = mark_sold_out({&*cached, 1}))
      return err;
    return std::move(*cached);
  }
  reads_.fetch_add(1, std::memory_order_relaxed);
  auto row = product_repository{*db_}.find(id);
  if (!row)
    return row.err();
  if (!*row || !visible_to(who, **row))
    return not_found(id);
  auto out = to_product(**row);
  if (!out || out->status != published)
    return out;
  std::lock_guard guard{cache_->mtx};
  cache_->store(cache_->products, id, *out, generation, opts_);
  return out;
}

expected<product> service::update(const caller& who, const std::string& id,
                                  std::optional<int64_t> if_version,
                                  const product_patch& patch) {
  if (!is_uuid(id))
    return not_found(id);
  product_repository repo{*db_};
  reads_.fetch_add(1, std::memory_order_relaxed);
  auto found = repo.find(id);
  if (!found)
    return found.err();
  if (auto err = check_owner(who, *found, id))
    return err;
  auto row = **found;
  if (!if_version)
    return error{errc::precondition_required,
                 "send If-Match with the product's ETag (from GET "
                 "/api/v1/products/{id}) so that concurrent edits cannot "
                 "overwrite each other"};
  if (row.status == archived)
    return error{errc::conflict, "archived products cannot be edited"};
  if (row.version != *if_version)
    return stale(row.version);
  if (patch.title) {
    auto title = check_title(*patch.title);
    if (!title)
      return title.err();
    row.title = *title;
  }
  if (patch.description) {
    if (auto err = check_description(*patch.description))
      return err;
    row.description = *patch.description;
  }
  money price{row.price_amount, row.currency};
  if (patch.price) {
    if (auto err = check_price(*patch.price, "price"))
      return err;
    price = *patch.price;
  }
  std::optional<money> min;
  if (row.min_amount)
    min = money{*row.min_amount, row.currency};
  if (patch.min_price)
    min = *patch.min_price;
  // Checked against the new price even when only the price changed: a
  // minimum above the price (or in another currency) would be refused at
  // checkout instead.
  if (min)
    if (auto err = check_min_price(*min, price, "min_price"))
      return err;
  auto require = persistence::product_repository::requires_nothing;
  if (patch.flow) {
    if (auto err = check_flow(*patch.flow, opts_.flows))
      return err;
    // A product on sale moves only to a flow it can deliver on (what it
    // needs: `deliverable`).
    if (row.status == published && *patch.flow != row.flow) {
      reads_.fetch_add(1, std::memory_order_relaxed);
      auto needs = deliverable(repo, id, *patch.flow, opts_);
      if (!needs) {
        auto err = needs.err();
        if (err.code == errc::conflict)
          err.field = "flow"; // the move is what is refused
        return err;
      }
      require = *needs;
    }
    row.flow = *patch.flow;
  }
  row.price_amount = price.amount;
  row.currency = price.currency;
  row.min_amount = min ? std::optional<int64_t>{min->amount} : std::nullopt;
  row.version = *if_version + 1;
  row.updated_at = to_iso(now());
  auto done = repo.update(row, *if_version, require,
                          pools_of(opts_.keyed_flows, row.flow));
  if (!done)
    return done.err();
  if (!*done) {
    reads_.fetch_add(1, std::memory_order_relaxed);
    auto now_row = repo.find(id);
    if (!now_row)
      return now_row.err();
    if (!*now_row)
      return not_found(id);
    return stale((*now_row)->version);
  }
  forget(id);
  return to_product(row);
}

expected<product> service::publish(const caller& who, const std::string& id,
                                   std::optional<int64_t> if_version) {
  return change_status(who, id, if_version, transition::publish);
}

expected<product> service::archive(const caller& who, const std::string& id,
                                   std::optional<int64_t> if_version) {
  return change_status(who, id, if_version, transition::archive);
}

expected<product> service::change_status(const caller& who,
                                         const std::string& id,
                                         std::optional<int64_t> if_version,
                                         transition to) {
  if (!is_uuid(id))
    return not_found(id);
  product_repository repo{*db_};
  // Without If-Match the caller asked for the transition whatever else
  // changed, so a lost race is retried on the new state; a few tries are
  // plenty, as each loss means someone else's write went through.
  for (int attempt = 0; attempt < 5; ++attempt) {
    reads_.fetch_add(1, std::memory_order_relaxed);
    auto found = repo.find(id);
    if (!found)
      return found.err();
    if (auto err = check_owner(who, *found, id))
      return err;
    auto row = **found;
    if (if_version && row.version != *if_version)
      return stale(row.version);
    auto old_version = row.version;
    auto at = to_iso(now());
    auto require = persistence::product_repository::requires_nothing;
    if (to == transition::publish) {
      if (row.status == published)
        return to_product(row);
      if (row.status == archived)
        return error{errc::conflict,
                     "archived products cannot be published again"};
      reads_.fetch_add(1, std::memory_order_relaxed);
      auto needs = deliverable(repo, id, row.flow, opts_);
      if (!needs)
        return needs.err();
      require = *needs;
      row.status = std::string{published};
      row.published_at = at;
    } else {
      if (row.status == archived)
        return to_product(row);
      row.status = std::string{archived};
      row.archived_at = at;
    }
    row.version = old_version + 1;
    row.updated_at = at;
    auto done = repo.update(row, old_version, require,
                            pools_of(opts_.keyed_flows, row.flow));
    if (!done)
      return done.err();
    if (*done) {
      forget(id);
      return to_product(row);
    }
  }
  return error{errc::conflict,
               "the product kept changing while this ran; try again"};
}

expected<page> service::list(const caller& who, const list_query& query) {
  if (query.limit < 1 || query.limit > max_page)
    return invalid("limit", fmt::format("limit must be 1 to {}", max_page));
  auto q = trim(query.q);
  auto q_length = utf8_length(q);
  if (!q_length || *q_length > title_max || has_control(q, false))
    return invalid(
      "q", fmt::format("q must be text of at most {} characters", title_max));
  persistence::product_filter filter;
  if (!query.cursor.empty()) {
    auto last = decode_cursor(query.cursor);
    if (!last)
      return last.err();
    filter.before_id = *last;
  }
  filter.title_contains = q;
  // One more than asked: whether it comes back says if there is a next page.
  filter.limit = query.limit + 1;
  std::string key;
  uint64_t generation = 0;
  if (query.mine) {
    if (who.user_id.empty())
      return error{errc::unauthorized, "sign in to list your own products"};
    filter.creator_id = who.user_id;
  } else {
    filter.status = std::string{published};
    // '\n' cannot occur in any part (controls are refused; the cursor is
    // base64url), so the key is unambiguous.
    key = fmt::format("{}\n{}\n{}", q, query.limit, query.cursor);
    std::optional<page> cached;
    {
      std::lock_guard guard{cache_->mtx};
      auto it = cache_->pages.find(key);
      if (it != cache_->pages.end()
          && it->second.expires > cache::steady::now())
        cached = it->second.value;
      generation = cache_->generation;
    }
    if (cached) {
      // Whether a key is left changes with every sale: read fresh.
      if (auto err = mark_sold_out(cached->items))
        return err;
      return *cached;
    }
  }
  product_repository repo{*db_};
  reads_.fetch_add(1, std::memory_order_relaxed);
  auto rows = repo.list(filter);
  if (!rows)
    return rows.err();
  page out;
  bool more = rows->size() > query.limit;
  if (more)
    rows->resize(query.limit);
  std::vector<std::string> ids;
  for (auto& r : *rows)
    ids.push_back(r.id);
  // All the page's files in one query, not one per product.
  if (!ids.empty())
    reads_.fetch_add(1, std::memory_order_relaxed);
  auto files = repo.files_of(ids);
  if (!files)
    return files.err();
  std::unordered_map<std::string, std::vector<product_file>> by_product;
  for (auto& f : *files)
    by_product[f.product_id].push_back(to_file(f));
  for (auto& r : *rows) {
    auto p = from_row(r);
    if (auto it = by_product.find(r.id); it != by_product.end())
      p.files = std::move(it->second);
    out.items.push_back(std::move(p));
  }
  if (auto err = mark_sold_out(out.items))
    return err;
  if (more)
    out.next_cursor = encode_cursor(out.items.back().id);
  if (!query.mine) {
    std::lock_guard guard{cache_->mtx};
    cache_->store(cache_->pages, key, out, generation, opts_);
  }
  return out;
}

} // namespace souk::catalog
