// End-to-end: the real soukctl binary.

#include <filesystem>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/storage/blob_store.hpp"
#include "souk/testing/support.hpp"

namespace st = souk::testing;

BOOST_AUTO_TEST_SUITE(soukctl)

BOOST_AUTO_TEST_CASE(migrate_and_migrations_report_what_they_did) {
  st::scratch_database db;
  st::temp_dir dir;
  auto shipped = souk::persistence::shipped_migrations(
                   st::backend_name() == "postgresql"
                     ? souk::persistence::backend::postgresql
                     : souk::persistence::backend::sqlite)
                   .size();
  auto before = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrations", "--json"}, {},
    dir.path());
  BOOST_REQUIRE_MESSAGE(before.code == 0, before.err);
  auto doc = nlohmann::json::parse(before.out);
  BOOST_TEST(doc["current"] == 0);
  BOOST_TEST(doc["pending"].size() == shipped);

  auto run = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "migrate"},
                             {}, dir.path());
  BOOST_REQUIRE_MESSAGE(run.code == 0, run.err);
  BOOST_TEST(run.out.find("applied 0001_nodes") != std::string::npos);

  auto again = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrate", "--json"}, {},
    dir.path());
  BOOST_TEST(again.code == 0);
  BOOST_TEST(nlohmann::json::parse(again.out)["applied"].empty());

  auto table = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "migrations"}, {}, dir.path());
  BOOST_TEST(table.code == 0);
  BOOST_TEST(table.out.find("0001_nodes") != std::string::npos);
  BOOST_TEST(table.out.find("applied") != std::string::npos);
  BOOST_TEST(table.out.find("pending") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(admin_create_makes_the_first_operator) {
  st::scratch_database db;
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin",
                            "create", "--email", " Ops@Example.com", "--json"},
                           {}, dir.path());
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  auto doc = nlohmann::json::parse(r.out);
  BOOST_TEST(doc["role"] == "operator");
  BOOST_TEST(doc["email"] == "ops@example.com");
  auto generated = doc["password"].get<std::string>();
  BOOST_TEST(generated.size() >= 20u);
  // The generated password logs in, and the account is an operator.
  auto pool = db.open(1);
  souk::accounts::policy p; // the default cost, as soukd uses it
  souk::accounts::service svc{pool, p};
  auto in = svc.log_in("ops@example.com", generated, "test", "test");
  BOOST_REQUIRE_MESSAGE(in, (in ? "" : in.err().detail));
  BOOST_TEST(in->who.role == "operator");
  // Once only: the same email again is refused.
  auto again = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin",
                                "create", "--email", "ops@example.com"},
                               {}, dir.path());
  BOOST_TEST(again.code == 2);
  BOOST_TEST(again.err.find("exists") != std::string::npos);
  // An empty password on stdin is refused, naming the rule.
  auto empty
    = st::run_program({SOUK_SOUKCTL, "--database", db.url(), "admin", "create",
                       "--email", "two@example.com", "--password-stdin"},
                      {}, dir.path());
  BOOST_TEST(empty.code == 2);
  BOOST_TEST(empty.err.find("password") != std::string::npos);
  auto no_email = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "admin", "create"}, {}, dir.path());
  BOOST_TEST(no_email.code == 2);
  BOOST_TEST(no_email.err.find("--email") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ledger_check_passes_a_sound_ledger_and_names_problems) {
  st::scratch_database db;
  st::temp_dir dir;
  auto pool = db.open(2);
  auto m = souk::persistence::migrate(
    *pool, souk::persistence::shipped_migrations(pool->kind()));
  BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.err().detail));
  souk::persistence::ledger_repository ledger{*pool};
  auto pending = souk::persistence::creator_account("c1", "NGN", "pending");
  auto posted = ledger.post(
    {"sale:o1",
     "NGN",
     "sale",
     "o1",
     "a sale",
     {{souk::persistence::platform_account("NGN", "gateway"), pending, 500}},
     {}});
  BOOST_REQUIRE(posted);
  auto ok = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "check"}, {}, dir.path());
  BOOST_TEST(ok.code == 0, ok.out + ok.err);
  BOOST_TEST(ok.out.find("ledger ok: 2 accounts, 1 entries")
               != std::string::npos,
             ok.out);
  // Someone edits a balance by hand: named, exit 1.
  auto st = pool->run([&](soci::session& sql) {
    sql << "UPDATE ledger_accounts SET balance = 400 WHERE id = :id",
      soci::use(pending);
  });
  BOOST_REQUIRE(!st);
  auto bad = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "check", "--json"}, {},
    dir.path());
  BOOST_TEST(bad.code == 1);
  auto doc = nlohmann::json::parse(bad.out);
  BOOST_TEST(doc["ok"] == false);
  BOOST_TEST(doc["problems"].size() == 2u);
  BOOST_TEST(doc["problems"][1].get<std::string>().find(pending)
             != std::string::npos);
  pool->shutdown();
  auto usage = st::run_program(
    {SOUK_SOUKCTL, "--database", db.url(), "ledger", "fix"}, {}, dir.path());
  BOOST_TEST(usage.code == 2);
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2_with_a_message) {
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKCTL, "frobnicate"}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("unknown command 'frobnicate'") != std::string::npos);
  r = st::run_program({SOUK_SOUKCTL}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  r = st::run_program({SOUK_SOUKCTL, "--database", "mysql://x", "migrate"}, {},
                      dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("mysql://x") != std::string::npos);
}

// A backup of a database in use: the database, then the stored files,
// checked against each other; restored by `soukctl restore` into an empty
// database and data directory, it holds the same product, the same bytes
// and the same ledger. A directory with something in it is refused;
// a file the database names that the store has lost fails the backup, which
// then has no manifest.
BOOST_AUTO_TEST_CASE(backup_copies_the_database_and_files_and_checks_them) {
  namespace fs = std::filesystem;
  st::scratch_database db;
  st::temp_dir dir;
  auto data = dir.path() / "data";
  auto pool = db.open(2);
  auto m = souk::persistence::migrate(
    *pool, souk::persistence::shipped_migrations(pool->kind()));
  BOOST_REQUIRE_MESSAGE(m, (m ? "" : m.err().detail));
  souk::accounts::policy p;
  p.cost = {1, 64 << 10};
  auto creator = souk::accounts::service{pool, p}.sign_up(
    "maker@example.com", "correct horse battery", "creator");
  BOOST_REQUIRE(creator);
  auto store = souk::storage::make_local_store(data / "files");
  auto writer = store->create();
  BOOST_REQUIRE(writer);
  BOOST_REQUIRE(!(*writer)->write("the book's bytes"));
  auto blob = (*writer)->commit();
  BOOST_REQUIRE(blob);
  std::string product = souk::new_uuid(), file = souk::new_uuid();
  auto st = pool->run([&](soci::session& sql) {
    std::string at = "2026-11-24T00:00:00Z";
    sql << "INSERT INTO products (id, creator_id, title, description, "
           "price_amount, currency, flow, status, version, created_at, "
           "updated_at) VALUES (:id, :c, 'A book', '', 250000, 'NGN', "
           "'digital_download', 'draft', 1, :a, :u)",
      soci::use(product), soci::use(creator->id), soci::use(at), soci::use(at);
    sql << "INSERT INTO product_files (id, product_id, name, storage_key, "
           "size, sha256, content_type, created_at, updated_at) VALUES "
           "(:id, :p, 'book.pdf', :k, :s, :h, 'application/pdf', :a, :u)",
      soci::use(file), soci::use(product), soci::use(blob->key),
      soci::use(static_cast<long long>(blob->size)), soci::use(blob->sha256),
      soci::use(at), soci::use(at);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  souk::persistence::ledger_repository ledger{*pool};
  BOOST_REQUIRE(ledger.post(
    {"sale:o1",
     "NGN",
     "sale",
     "o1",
     "a sale",
     {{souk::persistence::platform_account("NGN", "gateway"),
       souk::persistence::creator_account("c1", "NGN", "pending"), 500}},
     {}}));

  auto backup = [&](const fs::path& out) {
    return st::run_program({SOUK_SOUKCTL, "--database", db.url(), "--data-dir",
                            data.string(), "backup", out.string(), "--json"},
                           {}, dir.path());
  };
  auto out = dir.path() / "backup";
  auto done = backup(out);
  BOOST_REQUIRE_MESSAGE(done.code == 0, done.out + done.err);
  auto manifest = nlohmann::json::parse(done.out);
  bool pg = st::backend_name() == "postgresql";
  BOOST_TEST(manifest["database"] == (pg ? "postgresql" : "sqlite"));
  BOOST_TEST(manifest["files"] == 1);
  BOOST_TEST(manifest["files_named"] == 1);
  BOOST_TEST(manifest["schema_version"]
             == souk::persistence::shipped_migrations(pool->kind()).size());
  BOOST_TEST(fs::exists(out / "MANIFEST.json"));
  BOOST_TEST(manifest["ledger_ok"] == true);
  // The operator's alone: it holds password hashes and licence keys.
  for (auto& entry : fs::recursive_directory_iterator{out}) {
    auto perms = entry.status().permissions();
    bool private_to_owner
      = (perms & (fs::perms::group_all | fs::perms::others_all))
        == fs::perms::none;
    BOOST_TEST(private_to_owner, entry.path().string());
  }

  // Restored by soukctl restore into an empty database and data directory.
  st::scratch_database restored_pg;
  auto target = dir.path() / "restored";
  std::string restored_url
    = pg ? restored_pg.url() : "sqlite://" + (target / "souk.db").string();
  // `soukctl restore FROM` into the database `url` and data directory
  // `data_dir`; `restore` into the first target, answering in JSON.
  auto restore_into = [&](const std::string& url, const fs::path& data_dir,
                          const fs::path& from, bool json = false) {
    std::vector<std::string> args{SOUK_SOUKCTL, "--database",      url,
                                  "--data-dir", data_dir.string(), "restore",
                                  from.string()};
    if (json)
      args.push_back("--json");
    return st::run_program(args, {}, dir.path());
  };
  auto restore = [&](const fs::path& from) {
    return restore_into(restored_url, target, from, true);
  };
  auto put_back = restore(out);
  BOOST_REQUIRE_MESSAGE(put_back.code == 0, put_back.out + put_back.err);
  auto said = nlohmann::json::parse(put_back.out);
  BOOST_TEST(said["files"] == 1);
  BOOST_TEST(said["files_named"] == 1);
  BOOST_TEST(said["files_missing"] == 0);
  BOOST_TEST(said["ledger_ok"] == true);
  souk::persistence::database::options o;
  o.url = restored_url;
  o.pool_size = 1;
  auto restored = souk::persistence::database::open(o);
  BOOST_REQUIRE(restored);
  std::string key;
  st = (*restored)->run([&](soci::session& sql) {
    sql << "SELECT storage_key FROM product_files WHERE product_id = :p",
      soci::use(product), soci::into(key);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_TEST(key == blob->key);
  auto report = souk::persistence::ledger_repository{**restored}.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->entries == 1);
  BOOST_TEST(report->problems.empty());
  (*restored)->shutdown();
  auto reader = souk::storage::make_local_store(target / "files")->open(key);
  BOOST_REQUIRE(reader);
  std::string bytes((*reader)->size(), '\0');
  auto got = (*reader)->read_at(0, bytes.data(), bytes.size());
  BOOST_REQUIRE(got);
  BOOST_TEST(bytes == "the book's bytes");
  // Never over what is there: into the files it restored (the database
  // elsewhere, empty) or into the database it restored (a new data
  // directory), a second restore is refused and changes nothing.
  st::scratch_database fresh_pg;
  auto fresh = dir.path() / "fresh";
  auto fresh_url
    = pg ? fresh_pg.url() : "sqlite://" + (fresh / "souk.db").string();
  auto over_files = restore_into(fresh_url, target, out);
  BOOST_TEST(over_files.code == 2);
  BOOST_TEST(over_files.err.find("is not empty") != std::string::npos,
             over_files.err);
  BOOST_TEST(!fs::exists(fresh / "souk.db"));
  auto over_database = restore_into(restored_url, fresh, out);
  BOOST_TEST(over_database.code == 2);
  BOOST_TEST(over_database.err.find(pg ? "database the config names is not "
                                         "empty"
                                       : "souk.db exists")
               != std::string::npos,
             over_database.err);
  BOOST_TEST(!fs::exists(fresh / "files"));
  BOOST_TEST(fs::exists(target / "files" / "blobs" / blob->key));
  if (!pg) {
    // Nor beside an old database's write-ahead log, which SQLite would
    // replay into the restored file.
    fs::create_directories(fresh);
    std::ofstream{fresh / "souk.db-wal"} << "old";
    auto beside_wal = restore_into(fresh_url, fresh, out);
    BOOST_TEST(beside_wal.code == 2);
    BOOST_TEST(beside_wal.err.find("souk.db-wal exists") != std::string::npos,
               beside_wal.err);
    BOOST_TEST(!fs::exists(fresh / "souk.db"));
    fs::remove(fresh / "souk.db-wal");
  }
  // A manifest that is not what backup writes is refused before anything
  // is written.
  auto odd = dir.path() / "odd";
  fs::copy(out, odd, fs::copy_options::recursive);
  nlohmann::json odd_manifest;
  std::ifstream{odd / "MANIFEST.json"} >> odd_manifest;
  odd_manifest["files"] = "one";
  std::ofstream{odd / "MANIFEST.json", std::ios::trunc} << odd_manifest.dump();
  auto odd_restore = restore_into(fresh_url, fresh, odd);
  BOOST_TEST(odd_restore.code == 2);
  BOOST_TEST(odd_restore.err.find("not a finished souk backup")
               != std::string::npos,
             odd_restore.err);
  BOOST_TEST(!fs::exists(fresh / "files"));
  BOOST_TEST(!fs::exists(fresh / "souk.db"));
  // Only a finished backup: a directory without its manifest is refused.
  fs::create_directories(dir.path() / "unfinished");
  auto unfinished = restore(dir.path() / "unfinished");
  BOOST_TEST(unfinished.code == 2);
  BOOST_TEST(unfinished.err.find("MANIFEST.json") != std::string::npos,
             unfinished.err);
  // A backup whose files are not what its manifest lists puts nothing back.
  auto cut = dir.path() / "cut";
  fs::copy(out, cut, fs::copy_options::recursive);
  fs::resize_file(cut / "files" / "blobs" / blob->key, 3);
  st::scratch_database other_pg;
  auto elsewhere = dir.path() / "elsewhere";
  auto bad = restore_into(pg ? other_pg.url()
                             : "sqlite://" + (elsewhere / "souk.db").string(),
                          elsewhere, cut);
  BOOST_TEST(bad.code == 1);
  BOOST_TEST(bad.err.find("manifest") != std::string::npos, bad.err);
  BOOST_TEST(!fs::exists(elsewhere / "files" / "blobs"));
  BOOST_TEST(!fs::exists(elsewhere / "souk.db"));

  // Not over another backup.
  auto again = backup(out);
  BOOST_TEST(again.code == 2);
  BOOST_TEST(again.err.find("not empty") != std::string::npos, again.err);
  // A file cut short, then one lost: the backup fails, naming it, and
  // leaves nothing behind.
  fs::resize_file(data / "files" / "blobs" / blob->key, 4);
  auto short_file = backup(dir.path() / "second");
  BOOST_TEST(short_file.code == 1);
  BOOST_TEST(short_file.err.find(blob->key) != std::string::npos,
             short_file.err);
  BOOST_TEST(!fs::exists(dir.path() / "second"));
  BOOST_REQUIRE(!store->remove(blob->key));
  auto lost = backup(dir.path() / "third");
  BOOST_TEST(lost.code == 1);
  BOOST_TEST(lost.err.find(blob->key) != std::string::npos, lost.err);
  BOOST_TEST(!fs::exists(dir.path() / "third"));
  // Not into the files it copies.
  auto into = backup(data / "files" / "blobs" / "backup");
  BOOST_TEST(into.code == 2);
  BOOST_TEST(into.err.find("inside") != std::string::npos, into.err);
  pool->shutdown();
}

BOOST_AUTO_TEST_SUITE_END()
