// The catalog service against a real database (--backend): validation,
// the product life cycle, visibility, pagination, search, version
// conflicts and the read cache.

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/licence_keys.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/persistence/products.hpp"
#include "souk/testing/support.hpp"

namespace sc = souk::catalog;
namespace sp = souk::persistence;
using namespace std::chrono_literals;
using souk::errc;

namespace {

struct fixture {
  souk::testing::scratch_database scratch;
  std::shared_ptr<sp::database> db = scratch.open(4);
  std::unique_ptr<souk::accounts::service> accounts;
  std::unique_ptr<sc::service> svc;
  sc::caller creator;
  sc::caller other;
  sc::caller customer;
  sc::caller op;

  explicit fixture(sc::options opts = {}) {
    auto m = sp::migrate(*db, sp::shipped_migrations(db->kind()));
    BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.err().detail));
    souk::accounts::policy p;
    p.cost = {1, 64 << 10};
    accounts = std::make_unique<souk::accounts::service>(db, p);
    svc = std::make_unique<sc::service>(db, opts);
    creator = user("creator");
    other = user("creator");
    customer = user("customer");
    op = user("operator");
  }

  ~fixture() { db->shutdown(); }

  sc::caller user(std::string_view role) {
    auto email = "u" + souk::random_hex(6) + "@example.com";
    auto u = role == souk::accounts::operator_role
               ? accounts->create_operator(email, "correct horse battery")
               : accounts->sign_up(email, "correct horse battery", role);
    BOOST_REQUIRE_MESSAGE(u, (u ? "" : u.err().detail));
    return sc::caller{u->id, role == souk::accounts::operator_role};
  }

  static sc::new_product book(std::string title = "A book") {
    sc::new_product in;
    in.title = std::move(title);
    in.description = "Three hundred pages.";
    in.price = sc::money{250000, "NGN"};
    return in;
  }

  sc::product make(std::string title = "A book") {
    auto p = svc->create(creator, book(std::move(title)));
    BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.err().detail));
    return *p;
  }

  // What file storage would write: a row in product_files.
  void add_file(const std::string& product_id,
                const std::string& name = "book.pdf") {
    auto st = db->run([&](soci::session& sql) {
      auto id = souk::new_uuid();
      auto key = souk::random_hex(16);
      long long size = 1234;
      std::string sha(64, 'a');
      std::string type = "application/pdf";
      auto at = souk::to_iso(souk::now());
      sql << "INSERT INTO product_files (id, product_id, name, storage_key, "
             "size, sha256, content_type, created_at, updated_at) VALUES "
             "(:id, :p, :n, :k, :s, :h, :c, :a, :u)",
        soci::use(id), soci::use(product_id), soci::use(name), soci::use(key),
        soci::use(size), soci::use(sha), soci::use(type), soci::use(at),
        soci::use(at);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
  }

  sc::product make_published(std::string title = "A book") {
    auto p = make(std::move(title));
    add_file(p.id);
    auto pub = svc->publish(creator, p.id);
    BOOST_REQUIRE_MESSAGE(pub, (pub ? "" : pub.err().detail));
    return *pub;
  }

  int count_products() {
    int n = -1;
    auto st = db->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM products", soci::into(n);
    });
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    return n;
  }

  // Every id of a listing, paging through with `limit`.
  std::vector<std::string> page_through(const sc::caller& who, sc::list_query q,
                                        int* pages) {
    std::vector<std::string> ids;
    *pages = 0;
    for (;;) {
      auto pg = svc->list(who, q);
      BOOST_REQUIRE_MESSAGE(pg, (pg ? "" : pg.err().detail));
      ++*pages;
      BOOST_TEST(pg->items.size() <= q.limit);
      for (auto& p : pg->items)
        ids.push_back(p.id);
      if (pg->next_cursor.empty())
        return ids;
      BOOST_REQUIRE(*pages < 100);
      q.cursor = pg->next_cursor;
    }
  }
};

std::vector<std::string> titles_of(const sc::page& pg) {
  std::vector<std::string> out;
  for (auto& p : pg.items)
    out.push_back(p.title);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(service)

BOOST_AUTO_TEST_CASE(creates_a_draft_with_defaults) {
  fixture f;
  auto in = fixture::book("  Padded title \t");
  in.min_price = sc::money{5000, "NGN"};
  auto p = f.svc->create(f.creator, in);
  BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.err().detail));
  BOOST_TEST(souk::is_uuid(p->id));
  BOOST_TEST(p->creator_id == f.creator.user_id);
  BOOST_TEST(p->title == "Padded title");
  BOOST_TEST(p->status == sc::draft);
  BOOST_TEST(p->flow == sc::default_flow);
  BOOST_TEST(p->version == 1);
  BOOST_TEST((p->price == sc::money{250000, "NGN"}));
  BOOST_TEST((p->min_price == sc::money{5000, "NGN"}));
  BOOST_TEST(p->published_at.empty());
  BOOST_TEST(p->files.empty());
  auto again = f.svc->get(f.creator, p->id);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->title == "Padded title");
  BOOST_TEST((again->min_price == sc::money{5000, "NGN"}));
  BOOST_TEST(again->created_at == p->created_at);
  // Titles count characters, not bytes.
  auto wide = fixture::book();
  wide.title.clear();
  for (int i = 0; i < 200; ++i)
    wide.title += "é";
  BOOST_TEST(f.svc->create(f.creator, wide).has_value());
}

BOOST_AUTO_TEST_CASE(bad_fields_are_named_and_create_nothing) {
  fixture f;
  struct bad {
    std::function<void(sc::new_product&)> edit;
    std::string field;
  };
  auto money = [](int64_t a, std::string c) {
    return std::optional<sc::money>{sc::money{a, std::move(c)}};
  };
  std::vector<bad> cases{
    {[](auto& in) { in.title = ""; }, "title"},
    {[](auto& in) { in.title = " \t\n "; }, "title"},
    {[](auto& in) { in.title = std::string(201, 'x'); }, "title"},
    {[](auto& in) { in.title = "line\nbreak"; }, "title"},
    {[](auto& in) { in.title = "bad \xff utf-8"; }, "title"},
    {[](auto& in) { in.description = std::string(10001, 'x'); }, "description"},
    {[](auto& in) { in.description = std::string("nul\0here", 8); },
     "description"},
    {[](auto& in) { in.price.reset(); }, "price"},
    {[&](auto& in) { in.price = money(-100, "NGN"); }, "price.amount"},
    {[&](auto& in) { in.price = money(0, "NGN"); }, "price.amount"},
    {[&](auto& in) { in.price = money(4999, "NGN"); }, "price.amount"},
    {[&](auto& in) { in.price = money(199, "USD"); }, "price.amount"},
    {[&](auto& in) { in.price = money(5000, "EUR"); }, "price.currency"},
    {[&](auto& in) { in.price = money(5000, ""); }, "price.currency"},
    {[&](auto& in) { in.min_price = money(300000, "NGN"); },
     "min_price.amount"},
    {[&](auto& in) { in.min_price = money(100, "NGN"); }, "min_price.amount"},
    {[&](auto& in) { in.min_price = money(-1, "NGN"); }, "min_price.amount"},
    {[&](auto& in) { in.min_price = money(500, "USD"); }, "min_price.currency"},
    {[&](auto& in) { in.min_price = money(5000, "XYZ"); },
     "min_price.currency"},
    {[](auto& in) { in.flow = "subscription"; }, "flow"},
    {[](auto& in) { in.flow = ""; }, "flow"},
  };
  for (auto& c : cases) {
    auto in = fixture::book();
    c.edit(in);
    auto p = f.svc->create(f.creator, in);
    BOOST_TEST_INFO("expected a refusal naming " << c.field);
    BOOST_REQUIRE(!p);
    BOOST_TEST(p.err().code == errc::invalid_field);
    BOOST_TEST(p.err().field == c.field);
    BOOST_TEST(!p.err().detail.empty());
  }
  BOOST_TEST(f.count_products() == 0);
  // The same rules hold for edits.
  auto p = f.make();
  sc::product_patch patch;
  patch.price = sc::money{4999, "NGN"};
  auto r = f.svc->update(f.creator, p.id, p.version, patch);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.err().field == "price.amount");
  patch = {};
  patch.flow = "nope";
  r = f.svc->update(f.creator, p.id, p.version, patch);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.err().field == "flow");
  BOOST_TEST(f.svc->get(f.creator, p.id)->version == 1); // nothing written
}

BOOST_AUTO_TEST_CASE(a_product_may_name_any_flow_the_node_knows) {
  sc::options o;
  o.flows = {"digital_download", "licence_key"};
  fixture f{o};
  auto in = fixture::book();
  in.flow = "licence_key";
  auto p = f.svc->create(f.creator, in);
  BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.err().detail));
  BOOST_TEST(p->flow == "licence_key");
  in.flow = "ticket";
  auto r = f.svc->create(f.creator, in);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.err().field == "flow");
  BOOST_TEST(r.err().detail.find("known: digital_download, licence_key")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(
  a_product_giving_keys_is_published_with_keys_in_its_pools) {
  sc::options o;
  o.flows = {"digital_download", "two_keys"};
  o.keyed_flows = {{"two_keys", {"addon", "pro"}}};
  fixture f{o};
  auto in = fixture::book();
  in.flow = "two_keys";
  auto p = f.svc->create(f.creator, in);
  BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.err().detail));
  sp::licence_key_repository keys{*f.db};
  auto refused = [&](const std::string& pool) {
    auto r = f.svc->publish(f.creator, p->id);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::conflict);
    BOOST_TEST(r.err().detail.find("pool '" + pool + "'") != std::string::npos,
               r.err().detail);
  };
  refused("addon");
  // A file is no key; keys in another pool are none of these.
  f.add_file(p->id);
  BOOST_REQUIRE(keys.add(p->id, "default", {"K-0"}, "2026-01-01T00:00:00Z"));
  BOOST_REQUIRE(keys.add(p->id, "addon", {"A-1"}, "2026-01-01T00:00:00Z"));
  refused("pro");
  BOOST_REQUIRE(keys.add(p->id, "pro", {"P-1"}, "2026-01-01T00:00:00Z"));
  auto pub = f.svc->publish(f.creator, p->id);
  BOOST_REQUIRE_MESSAGE(pub, (pub ? "" : pub.err().detail));
  BOOST_TEST(pub->status == sc::published);
  // The write itself checks each pool (a key withdrawn between the check
  // and the write): a pool with no key stops it.
  sp::product_repository products{*f.db};
  auto row = products.find(p->id);
  BOOST_REQUIRE(row && *row);
  auto same = **row;
  same.version += 1;
  auto none = products.update(same, (*row)->version,
                              sp::product_repository::requires_licence_key,
                              {"pro", "missing"});
  BOOST_REQUIRE(none);
  BOOST_TEST(!*none);
  auto all = products.update(same, (*row)->version,
                             sp::product_repository::requires_licence_key,
                             {"addon", "pro"});
  BOOST_REQUIRE(all);
  BOOST_TEST(*all);
  // A flow that gives files too needs both, in the same statement: keys
  // and no file stop it.
  auto bare = f.svc->create(f.creator, in);
  BOOST_REQUIRE(bare);
  BOOST_REQUIRE(keys.add(bare->id, "addon", {"B-1"}, "2026-01-01T00:00:00Z"));
  auto bare_row = products.find(bare->id);
  BOOST_REQUIRE(bare_row && *bare_row);
  auto next = **bare_row;
  next.version += 1;
  auto both = products.update(
    next, (*bare_row)->version,
    sp::product_repository::requires_file_and_licence_key, {"addon"});
  BOOST_REQUIRE(both);
  BOOST_TEST(!*both);
  f.add_file(bare->id);
  both = products.update(next, (*bare_row)->version,
                         sp::product_repository::requires_file_and_licence_key,
                         {"addon"});
  BOOST_REQUIRE(both);
  BOOST_TEST(*both);
}

BOOST_AUTO_TEST_CASE(a_product_is_edited_published_and_archived) {
  fixture f;
  auto p = f.make();
  sc::product_patch patch;
  patch.title = "Second edition";
  patch.price = sc::money{1500, "USD"};
  patch.min_price = std::optional<sc::money>{sc::money{200, "USD"}};
  auto edited = f.svc->update(f.creator, p.id, p.version, patch);
  BOOST_REQUIRE_MESSAGE(edited, (edited ? "" : edited.err().detail));
  BOOST_TEST(edited->version == 2);
  BOOST_TEST(edited->title == "Second edition");
  BOOST_TEST(edited->description == p.description); // untouched
  BOOST_TEST((edited->min_price == sc::money{200, "USD"}));
  // A lower price must still cover the minimum...
  patch = {};
  patch.price = sc::money{199 + 1, "USD"};
  BOOST_TEST(f.svc->update(f.creator, p.id, 2, patch).has_value());
  patch.price = sc::money{5000, "NGN"};
  auto cross = f.svc->update(f.creator, p.id, 3, patch);
  BOOST_REQUIRE(!cross);
  BOOST_TEST(cross.err().field == "min_price.currency");
  // ...and null clears the minimum.
  patch.min_price = std::optional<sc::money>{};
  auto cleared = f.svc->update(f.creator, p.id, 3, patch);
  BOOST_REQUIRE(cleared);
  BOOST_TEST(!cleared->min_price);
  BOOST_TEST(cleared->version == 4);

  // No file, no publishing.
  auto refused = f.svc->publish(f.creator, p.id);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.err().code == errc::conflict);
  BOOST_TEST(refused.err().detail.find("upload a file first")
             != std::string::npos);
  BOOST_TEST(f.svc->get(f.creator, p.id)->status == sc::draft);

  f.add_file(p.id, "b.pdf");
  f.add_file(p.id, "a.epub");
  auto pub = f.svc->publish(f.creator, p.id);
  BOOST_REQUIRE_MESSAGE(pub, (pub ? "" : pub.err().detail));
  BOOST_TEST(pub->status == sc::published);
  BOOST_TEST(pub->version == 5);
  BOOST_TEST(!pub->published_at.empty());
  BOOST_REQUIRE(pub->files.size() == 2u);
  BOOST_TEST(pub->files[0].name == "a.epub");
  BOOST_TEST(pub->files[0].size == 1234);
  BOOST_TEST(pub->files[0].sha256 == std::string(64, 'a'));
  BOOST_TEST(pub->files[0].content_type == "application/pdf");
  // Publishing again changes nothing; a stale If-Match is still stale.
  auto twice = f.svc->publish(f.creator, p.id);
  BOOST_REQUIRE(twice);
  BOOST_TEST(twice->version == 5);
  BOOST_TEST(twice->published_at == pub->published_at);
  auto stale = f.svc->publish(f.creator, p.id, 4);
  BOOST_REQUIRE(!stale);
  BOOST_TEST(stale.err().code == errc::precondition_failed);

  // Published products can still be edited.
  patch = {};
  patch.description = "Now with an index.";
  auto live = f.svc->update(f.creator, p.id, 5, patch);
  BOOST_REQUIRE(live);
  BOOST_TEST(live->status == sc::published);
  BOOST_TEST(live->version == 6);

  auto arch = f.svc->archive(f.creator, p.id, 6);
  BOOST_REQUIRE(arch);
  BOOST_TEST(arch->status == sc::archived);
  BOOST_TEST(arch->version == 7);
  BOOST_TEST(!arch->archived_at.empty());
  BOOST_TEST(arch->published_at == pub->published_at);
  auto arch2 = f.svc->archive(f.creator, p.id);
  BOOST_REQUIRE(arch2);
  BOOST_TEST(arch2->version == 7);
  auto edit_archived = f.svc->update(f.creator, p.id, 7, patch);
  BOOST_REQUIRE(!edit_archived);
  BOOST_TEST(edit_archived.err().code == errc::conflict);
  auto republish = f.svc->publish(f.creator, p.id);
  BOOST_REQUIRE(!republish);
  BOOST_TEST(republish.err().code == errc::conflict);
  // A draft can be archived straight away.
  auto d = f.make("Never shipped");
  auto gone = f.svc->archive(f.creator, d.id);
  BOOST_REQUIRE(gone);
  BOOST_TEST(gone->status == sc::archived);
  BOOST_TEST(gone->published_at.empty());
}

BOOST_AUTO_TEST_CASE(drafts_and_archived_products_are_private) {
  fixture f;
  auto anon = sc::caller::anonymous();
  auto d = f.make("Draft");
  auto pub = f.make_published("Public");
  auto arch = f.make_published("Old");
  BOOST_REQUIRE(f.svc->archive(f.creator, arch.id));

  for (auto* id : {&d.id, &arch.id}) {
    for (auto* who : {&anon, &f.other, &f.customer}) {
      auto r = f.svc->get(*who, *id);
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.err().code == errc::not_found);
    }
    BOOST_TEST(f.svc->get(f.creator, *id).has_value());
    BOOST_TEST(f.svc->get(f.op, *id).has_value());
  }
  for (auto* who : {&anon, &f.other, &f.customer, &f.op, &f.creator})
    BOOST_TEST(f.svc->get(*who, pub.id).has_value());
  auto missing = f.svc->get(f.op, souk::new_uuid());
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.err().code == errc::not_found);
  BOOST_TEST(f.svc->get(f.op, "not-a-uuid").err().code == errc::not_found);

  // Only the creator changes a product: 404 to those who cannot see it,
  // 403 to those who can.
  sc::product_patch patch;
  patch.title = "Mine now";
  auto code = [&](const sc::caller& who, const sc::product& p) {
    auto r = f.svc->update(who, p.id, p.version, patch);
    return r ? errc::ok : r.err().code;
  };
  BOOST_TEST(code(f.other, d) == errc::not_found);
  BOOST_TEST(code(f.other, pub) == errc::forbidden);
  BOOST_TEST(code(f.op, d) == errc::forbidden);
  BOOST_TEST(code(anon, pub) == errc::forbidden);
  BOOST_TEST(f.svc->publish(f.other, d.id).err().code == errc::not_found);
  BOOST_TEST(f.svc->archive(f.other, pub.id).err().code == errc::forbidden);
  BOOST_TEST(f.svc->archive(f.op, pub.id).err().code == errc::forbidden);
  // Without a version: strangers still get 404/403, the owner 428.
  BOOST_TEST(f.svc->update(f.other, d.id, std::nullopt, patch).err().code
             == errc::not_found);
  BOOST_TEST(f.svc->update(f.creator, d.id, std::nullopt, patch).err().code
             == errc::precondition_required);

  // Public listings show only published products; `mine` shows all of the
  // caller's own.
  auto pub_page = f.svc->list(anon, {});
  BOOST_REQUIRE(pub_page);
  BOOST_REQUIRE(pub_page->items.size() == 1u);
  BOOST_TEST(pub_page->items[0].id == pub.id);
  sc::list_query mine;
  mine.mine = true;
  auto own = f.svc->list(f.creator, mine);
  BOOST_REQUIRE(own);
  BOOST_TEST(own->items.size() == 3u);
  BOOST_TEST(f.svc->list(f.other, mine)->items.empty());
  BOOST_TEST(f.svc->list(anon, mine).err().code == errc::unauthorized);
}

BOOST_AUTO_TEST_CASE(listings_page_through_every_product_once) {
  fixture f;
  std::vector<std::string> made;
  for (int i = 0; i < 25; ++i)
    made.push_back(f.make_published("Book " + std::to_string(i)).id);
  f.make("A draft"); // not public
  sc::list_query q;
  q.limit = 10;
  int pages = 0;
  auto seen = f.page_through(sc::caller::anonymous(), q, &pages);
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen.size() == 25u);
  BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()).size() == 25u);
  // Newest first, which for UUIDv7 ids is descending id order.
  std::reverse(made.begin(), made.end());
  BOOST_TEST(seen == made, boost::test_tools::per_element());
  // Stable: the same walk gives the same answer, and products added
  // meanwhile do not shift later pages.
  auto first = f.svc->list(sc::caller::anonymous(), q);
  BOOST_REQUIRE(first);
  f.make_published("Newest");
  auto q2 = q;
  q2.cursor = first->next_cursor;
  auto second = f.svc->list(sc::caller::anonymous(), q2);
  BOOST_REQUIRE(second);
  BOOST_TEST(second->items.front().id == made[10]);
  // The creator's own listing includes the draft.
  q.mine = true;
  auto own = f.page_through(f.creator, q, &pages);
  BOOST_TEST(own.size() == 27u);
  // An exact multiple of the page size ends without an empty page.
  q = {};
  q.limit = 13;
  f.page_through(sc::caller::anonymous(), q, &pages);
  BOOST_TEST(pages == 2); // 26 published
}

BOOST_AUTO_TEST_CASE(bad_limits_and_cursors_are_named) {
  fixture f;
  auto anon = sc::caller::anonymous();
  for (uint32_t limit : {0u, 101u, 100000u}) {
    sc::list_query q;
    q.limit = limit;
    auto r = f.svc->list(anon, q);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().field == "limit");
  }
  sc::list_query q;
  q.limit = 100;
  BOOST_TEST(f.svc->list(anon, q).has_value());
  for (std::string cursor : {"x", "!!!", "cDE6bm90LWEtdXVpZA"}) {
    q.cursor = cursor;
    auto r = f.svc->list(anon, q);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().field == "cursor");
  }
  q.cursor.clear();
  q.q = std::string(201, 'q');
  BOOST_TEST(f.svc->list(anon, q).err().field == "q");
}

BOOST_AUTO_TEST_CASE(search_is_case_insensitive_and_literal) {
  fixture f;
  for (auto title : {"100% Pure", "100 pure", "snake_case", "snakeXcase",
                     "Back\\slash", "Cooking in Lagos"})
    f.make_published(title);
  auto search = [&](std::string q) {
    sc::list_query query;
    query.q = std::move(q);
    auto pg = f.svc->list(sc::caller::anonymous(), query);
    BOOST_REQUIRE_MESSAGE(pg, (pg ? "" : pg.err().detail));
    return titles_of(*pg);
  };
  using v = std::vector<std::string>;
  BOOST_TEST(search("%") == v{"100% Pure"}, boost::test_tools::per_element());
  BOOST_TEST(search("_") == v{"snake_case"}, boost::test_tools::per_element());
  BOOST_TEST(search("E_C") == v{"snake_case"},
             boost::test_tools::per_element());
  BOOST_TEST(search("\\") == v{"Back\\slash"},
             boost::test_tools::per_element());
  BOOST_TEST(search("PURE") == (v{"100 pure", "100% Pure"}),
             boost::test_tools::per_element());
  BOOST_TEST(search("  lagos ") == v{"Cooking in Lagos"},
             boost::test_tools::per_element());
  BOOST_TEST(search("nothing like it").empty());
  BOOST_TEST(search("").size() == 6u);
  // Search and paging together.
  sc::list_query q;
  q.q = "a";
  q.limit = 1;
  int pages = 0;
  auto ids = f.page_through(sc::caller::anonymous(), q, &pages);
  BOOST_TEST(ids.size() == 4u); // snake_case, snakeXcase, Back\slash, Lagos
}

BOOST_AUTO_TEST_CASE(stale_versions_are_refused) {
  fixture f;
  auto p = f.make();
  sc::product_patch patch;
  patch.title = "First";
  BOOST_REQUIRE(f.svc->update(f.creator, p.id, 1, patch));
  patch.title = "Lost update";
  auto r = f.svc->update(f.creator, p.id, 1, patch);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.err().code == errc::precondition_failed);
  BOOST_TEST(f.svc->get(f.creator, p.id)->title == "First");
  BOOST_TEST(f.svc->update(f.creator, p.id, 99, patch).err().code
             == errc::precondition_failed);
}

BOOST_AUTO_TEST_CASE(racing_edits_have_exactly_one_winner) {
  fixture f;
  auto p = f.make();
  for (int round = 0; round < 10; ++round) {
    auto current = f.svc->get(f.creator, p.id);
    BOOST_REQUIRE(current);
    std::atomic<int> ready{0};
    std::atomic<int> won{0};
    std::atomic<int> stale{0};
    std::atomic<int> other{0};
    auto edit = [&](std::string title) {
      sc::product_patch patch;
      patch.title = std::move(title);
      ++ready;
      while (ready.load() < 2)
        std::this_thread::yield();
      auto r = f.svc->update(f.creator, p.id, current->version, patch);
      if (r)
        ++won;
      else if (r.err().code == errc::precondition_failed)
        ++stale;
      else
        ++other;
    };
    std::thread a{edit, "from a"};
    std::thread b{edit, "from b"};
    a.join();
    b.join();
    BOOST_TEST(won.load() == 1);
    BOOST_TEST(stale.load() == 1);
    BOOST_TEST(other.load() == 0);
    BOOST_TEST(f.svc->get(f.creator, p.id)->version == current->version + 1);
  }
}

// `sold_out` changes with every sale, outside the service: a cached
// document or listing page still says it as it is now, for one probe of
// the keys left; a page with no product giving keys reads nothing more.
BOOST_AUTO_TEST_CASE(sold_out_is_fresh_in_cached_documents_and_pages) {
  sc::options o;
  o.flows = {"digital_download", "licence_key"};
  o.keyed_flows = {{"licence_key", {"default"}}};
  o.cache_ttl = std::chrono::hours{1};
  fixture f{o};
  auto anon = sc::caller::anonymous();
  auto download = f.make_published("Download");
  auto in = fixture::book("Keyed");
  in.flow = "licence_key";
  auto p = f.svc->create(f.creator, in);
  BOOST_REQUIRE(p);
  BOOST_TEST(p->sold_out); // no key yet
  sp::licence_key_repository keys{*f.db};
  BOOST_REQUIRE(keys.add(p->id, "default", {"K-1"}, "2026-01-01T00:00:00Z"));
  auto pub = f.svc->publish(f.creator, p->id);
  BOOST_REQUIRE(pub);
  BOOST_TEST(!pub->sold_out);
  auto listed = [&](const std::string& id) {
    auto page = f.svc->list(anon, {});
    BOOST_REQUIRE(page);
    for (auto& item : page->items)
      if (item.id == id)
        return item.sold_out;
    BOOST_FAIL("not listed: " + id);
    return false;
  };
  // Cached from here on.
  BOOST_TEST(!f.svc->get(anon, p->id)->sold_out);
  BOOST_TEST(!listed(p->id));
  BOOST_TEST(!f.svc->get(anon, download.id)->sold_out);
  auto before = f.svc->database_reads();
  BOOST_TEST(!f.svc->get(anon, download.id)->sold_out);
  BOOST_TEST(f.svc->database_reads() == before); // nothing to probe

  // The last key goes (withdrawn here; a sale is the same to the catalog).
  auto left = keys.list(p->id, "default", sp::licence_key_filter::left, "", 10);
  BOOST_REQUIRE(left && left->size() == 1u);
  BOOST_REQUIRE(!keys.withdraw(p->id, left->front().id));
  BOOST_TEST(f.svc->get(anon, p->id)->sold_out);
  BOOST_TEST(listed(p->id));
  BOOST_TEST(!listed(download.id));
  // Served from the cache: one probe for the product, one per page.
  BOOST_TEST(f.svc->database_reads() == before + 3);
  // Many pairs at once (a long page of products with several pools) go in
  // parts, within SQLite's limits.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 450; ++i)
    many.emplace_back(souk::new_uuid(), "default");
  BOOST_REQUIRE(
    keys.add(download.id, "extra", {"X-1"}, "2026-01-01T00:00:00Z"));
  many.emplace_back(download.id, "extra");
  auto found = sp::product_repository{*f.db}.pools_with_keys_left(many);
  BOOST_REQUIRE_MESSAGE(found, (found ? "" : found.err().detail));
  BOOST_TEST(found->size() == 1u);
  // Keys again: on sale again, at once.
  BOOST_REQUIRE(keys.add(p->id, "default", {"K-2"}, "2026-01-01T00:00:00Z"));
  BOOST_TEST(!f.svc->get(anon, p->id)->sold_out);
  BOOST_TEST(!listed(p->id));
}

// A flow that gives a file and a key (`file_and_key_flows`): its product
// is published with both, whichever it lacks is named, and the guarded
// write checks both.
BOOST_AUTO_TEST_CASE(a_product_giving_a_file_and_a_key_is_published_with_both) {
  sc::options o;
  o.flows = {"digital_download", "both"};
  o.keyed_flows = {{"both", {"default"}}};
  o.file_and_key_flows = {"both"};
  fixture f{o};
  sp::licence_key_repository keys{*f.db};
  auto make = [&] {
    auto in = fixture::book();
    in.flow = "both";
    auto p = f.svc->create(f.creator, in);
    BOOST_REQUIRE(p);
    return *p;
  };
  // A file and no key.
  auto filed = make();
  f.add_file(filed.id);
  auto no_key = f.svc->publish(f.creator, filed.id);
  BOOST_REQUIRE(!no_key);
  BOOST_TEST(no_key.err().code == errc::conflict);
  BOOST_TEST(no_key.err().detail.find("licence keys") != std::string::npos,
             no_key.err().detail);
  // A key and no file.
  auto keyed = make();
  BOOST_REQUIRE(keys.add(keyed.id, "default", {"K-1"}, "2026-01-01T00:00:00Z"));
  auto no_file = f.svc->publish(f.creator, keyed.id);
  BOOST_REQUIRE(!no_file);
  BOOST_TEST(no_file.err().detail.find("file") != std::string::npos,
             no_file.err().detail);
  // The guarded write: a file and no key is stopped too.
  sp::product_repository products{*f.db};
  auto row = products.find(filed.id);
  BOOST_REQUIRE(row && *row);
  auto next = **row;
  next.version += 1;
  auto write = products.update(
    next, (*row)->version,
    sp::product_repository::requires_file_and_licence_key, {"default"});
  BOOST_REQUIRE(write);
  BOOST_TEST(!*write);
  // Both: on sale.
  BOOST_REQUIRE(keys.add(filed.id, "default", {"K-2"}, "2026-01-01T00:00:00Z"));
  auto both = f.svc->publish(f.creator, filed.id);
  BOOST_REQUIRE_MESSAGE(both, (both ? "" : both.err().detail));
  BOOST_TEST(both->status == sc::published);
}

BOOST_AUTO_TEST_CASE(public_reads_are_cached_until_an_edit) {
  fixture f;
  auto anon = sc::caller::anonymous();
  auto p = f.make_published("Cached");
  BOOST_REQUIRE(f.svc->get(anon, p.id));
  BOOST_REQUIRE(f.svc->list(anon, {}));
  auto before = f.svc->database_reads();
  for (int i = 0; i < 5; ++i) {
    auto again = f.svc->get(anon, p.id);
    BOOST_REQUIRE(again);
    BOOST_TEST(again->title == "Cached");
    BOOST_TEST(f.svc->get(f.other, p.id).has_value()); // not the owner
    BOOST_TEST(f.svc->list(anon, {})->items.size() == 1u);
  }
  BOOST_TEST(f.svc->database_reads() == before);
  // The owner reads fresh (they edit with what they read).
  BOOST_REQUIRE(f.svc->get(f.creator, p.id));
  BOOST_TEST(f.svc->database_reads() > before);

  sc::product_patch patch;
  patch.title = "Edited";
  BOOST_REQUIRE(f.svc->update(f.creator, p.id, p.version, patch));
  before = f.svc->database_reads();
  BOOST_TEST(f.svc->get(anon, p.id)->title == "Edited");
  BOOST_TEST(f.svc->list(anon, {})->items.at(0).title == "Edited");
  BOOST_TEST(f.svc->database_reads() > before);
  // A file stored outside the service shows once the cache forgets it.
  f.add_file(p.id, "bonus.zip");
  BOOST_TEST(f.svc->get(anon, p.id)->files.size() == 1u);
  f.svc->forget(p.id);
  BOOST_TEST(f.svc->get(anon, p.id)->files.size() == 2u);
  BOOST_TEST(f.svc->list(anon, {})->items.at(0).files.size() == 2u);
  // Archiving takes it out of public reads at once.
  BOOST_REQUIRE(f.svc->archive(f.creator, p.id));
  BOOST_TEST(f.svc->get(anon, p.id).err().code == errc::not_found);
  BOOST_TEST(f.svc->list(anon, {})->items.empty());
}

BOOST_AUTO_TEST_CASE(other_nodes_edits_show_up_after_the_ttl) {
  sc::options opts;
  opts.cache_ttl = 200ms;
  fixture f{opts};
  auto anon = sc::caller::anonymous();
  auto p = f.make_published("Before");
  BOOST_REQUIRE(f.svc->get(anon, p.id));
  // Another node: its own service (and cache) on the same database.
  sc::service node2{f.db, opts};
  sc::product_patch patch;
  patch.title = "After";
  BOOST_REQUIRE(node2.update(f.creator, p.id, p.version, patch));
  BOOST_TEST(f.svc->get(anon, p.id)->title == "Before"); // still cached
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(f.svc->get(anon, p.id)->title == "After");
}

BOOST_AUTO_TEST_CASE(a_listing_costs_two_queries_whatever_its_size) {
  fixture f;
  for (int i = 0; i < 12; ++i) {
    auto p = f.make_published("Book " + std::to_string(i));
    f.add_file(p.id, "extra.zip");
  }
  f.svc->clear_cache();
  auto before = f.svc->database_reads();
  sc::list_query q;
  q.limit = 10;
  auto pg = f.svc->list(sc::caller::anonymous(), q);
  BOOST_REQUIRE(pg);
  BOOST_TEST(pg->items.size() == 10u);
  for (auto& p : pg->items)
    BOOST_TEST(p.files.size() == 2u);
  BOOST_TEST(f.svc->database_reads() - before == 2u);
}

BOOST_AUTO_TEST_CASE(the_cache_stays_within_its_byte_budget) {
  sc::options opts;
  opts.cache_max_bytes = 1500; // about two small products
  fixture f{opts};
  auto anon = sc::caller::anonymous();
  auto a = f.make_published("A");
  auto b = f.make_published("B");
  auto c = f.make_published("C");
  for (auto* p : {&a, &b, &c})
    BOOST_REQUIRE(f.svc->get(anon, p->id)); // C overflows: starts over
  auto before = f.svc->database_reads();
  BOOST_REQUIRE(f.svc->get(anon, c.id));
  BOOST_TEST(f.svc->database_reads() == before); // C stayed
  BOOST_REQUIRE(f.svc->get(anon, a.id));
  BOOST_TEST(f.svc->database_reads() > before); // A was dropped
  // A page bigger than the whole budget is simply not cached.
  BOOST_REQUIRE(f.svc->list(anon, {}));
  before = f.svc->database_reads();
  BOOST_REQUIRE(f.svc->list(anon, {}));
  BOOST_TEST(f.svc->database_reads() > before);
}

BOOST_AUTO_TEST_SUITE_END()
