// `soukctl backup DIR`: a consistent copy of the database and the stored
// files, checked before it is called done; `soukctl restore DIR`: such a
// copy put back into an empty database and data directory, checked the
// same way. docs/operations.md, "Backups".

#include "backup.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <spawn.h>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "souk/core/time.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/storage/blob_store.hpp"

extern char** environ;

namespace soukctl {

namespace {

namespace fs = std::filesystem;
namespace sp = souk::persistence;
using souk::errc;
using souk::error;
using souk::expected;
using souk::status;

// Runs `argv` with `env` added to this process's environment, its standard
// error into `log`; its exit status, or an error if it could not start.
expected<int> run(const std::vector<std::string>& argv,
                  const std::vector<std::pair<std::string, std::string>>& env,
                  const fs::path& log) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var{*e};
    bool replaced = false;
    for (auto& [k, v] : env)
      replaced = replaced || var.starts_with(k + "=");
    if (!replaced)
      env_text.emplace_back(var);
  }
  for (auto& [k, v] : env)
    env_text.push_back(k + "=" + v);
  std::vector<char*> args, envp;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : env_text)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  int rc
    = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return error{errc::unavailable,
                 fmt::format("cannot run {} (it comes with Debian's "
                             "postgresql-client), or write {}: {}",
                             argv[0], log.string(), std::strerror(rc))};
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR)
      return error{errc::unavailable, "lost " + argv[0]};
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128;
}

// Makes what was written to `path` (a file or a directory) durable.
status sync(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    auto err = errno;
    if (fd >= 0)
      ::close(fd);
    return error{
      errc::unavailable,
      fmt::format("cannot sync {}: {}", path.string(), std::strerror(err))};
  }
  ::close(fd);
  return {};
}

std::string read_text(const fs::path& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The stored files a database names, with their sizes.
std::vector<std::pair<std::string, uint64_t>> storage_keys(soci::session& sql) {
  std::vector<std::pair<std::string, uint64_t>> keys;
  soci::rowset<soci::row> rows
    = (sql.prepare << "SELECT storage_key, size FROM product_files");
  for (auto& r : rows) {
    auto size = r.get_properties(1).get_data_type() == soci::dt_long_long
                  ? r.get<long long>(1)
                  : static_cast<long long>(r.get<int>(1));
    keys.emplace_back(r.get<std::string>(0), static_cast<uint64_t>(size));
  }
  return keys;
}

// What the copy of the database says.
struct copied {
  /// The stored files it names, with their sizes.
  std::vector<std::pair<std::string, uint64_t>> keys;
  bool ledger_ok = false; ///< the copy's ledger balances
  std::vector<std::string> problems;
  int schema = 0;
};

// SQLite: VACUUM INTO writes a transactionally consistent copy while
// soukd runs; the copy is then opened and read.
expected<copied> copy_sqlite(sp::database& db, const fs::path& file) {
  auto st = db.run([&](soci::session& sql) {
    std::string path = file.string();
    sql << "VACUUM INTO :p", soci::use(path);
  });
  if (st)
    return st;
  sp::database::options o;
  o.url = "sqlite://" + fs::absolute(file).string();
  o.pool_size = 1;
  auto copy = sp::database::open(o);
  if (!copy)
    return copy.err();
  copied out;
  st = (*copy)->run([&](soci::session& sql) { out.keys = storage_keys(sql); });
  if (st)
    return st;
  auto ledger = sp::ledger_repository{**copy}.check();
  if (!ledger)
    return ledger.err();
  out.ledger_ok = ledger->problems.empty();
  out.problems = ledger->problems;
  auto schema
    = sp::inspect(**copy, sp::shipped_migrations(sp::backend::sqlite));
  if (!schema)
    return schema.err();
  out.schema = schema->current;
  // Closed here: its last connection folds its WAL back in (one file).
  (*copy)->shutdown();
  copy->reset();
  if (auto err = sync(file))
    return err;
  return out;
}

// PostgreSQL: pg_dump inside a snapshot this process exports and holds, so
// the files it names are read from exactly what was dumped.
expected<copied> copy_postgresql(sp::database& db, const std::string& url,
                                 const fs::path& file, const fs::path& log) {
  auto env = sp::pg_environment(url);
  if (!env)
    return env.err();
  copied out;
  auto st = db.transact([&](soci::session& sql) -> status {
    sql << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    // pg_dump may take a while; this session only waits for it.
    sql << "SET LOCAL idle_in_transaction_session_timeout = 0";
    std::string snapshot;
    sql << "SELECT pg_export_snapshot()", soci::into(snapshot);
    auto code = run({"pg_dump", "--format=custom", "--file=" + file.string(),
                     "--snapshot=" + snapshot},
                    *env, log);
    if (!code)
      return code.err();
    if (*code != 0)
      return error{
        errc::unavailable,
        fmt::format("pg_dump failed (exit {}): {}", *code, read_text(log))};
    out.keys = storage_keys(sql);
    // The ledger as dumped: this thread's reads join the snapshot.
    auto ledger = sp::ledger_repository{db}.check();
    if (!ledger)
      return ledger.err();
    out.ledger_ok = ledger->problems.empty();
    out.problems = ledger->problems;
    int version = 0;
    soci::indicator ind = soci::i_null;
    sql << "SELECT MAX(version) FROM schema_migrations",
      soci::into(version, ind);
    out.schema = ind == soci::i_ok ? version : 0;
    return {};
  });
  if (st)
    return st;
  fs::remove(log);
  if (auto err = sync(file))
    return err;
  return out;
}

// Copies the stored files, each made durable; their count and bytes.
expected<std::pair<uint64_t, uint64_t>> copy_files(const fs::path& from,
                                                   const fs::path& to) {
  auto failed = [](const fs::path& p, const std::error_code& ec) {
    return error{errc::unavailable,
                 fmt::format("cannot copy {}: {}", p.string(), ec.message())};
  };
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec)
    return failed(to, ec);
  uint64_t files = 0, bytes = 0;
  if (!fs::exists(from, ec))
    return std::pair{files, bytes};
  std::vector<fs::path> dirs{to};
  fs::recursive_directory_iterator it{from, ec}, end;
  if (ec)
    return failed(from, ec);
  for (; it != end; it.increment(ec)) {
    if (ec)
      return failed(from, ec);
    std::error_code step;
    auto target = to / it->path().lexically_relative(from);
    if (it->is_directory(step)) {
      fs::create_directories(target, step);
      dirs.push_back(target);
    } else if (it->is_regular_file(step)) {
      fs::copy_file(it->path(), target, step);
      // copy_file keeps the store's mode (0640): the owner's alone here.
      if (!step)
        fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write,
                        fs::perm_options::replace, step);
      if (!step) {
        auto size = fs::file_size(target, step);
        if (!step) {
          if (auto err = sync(target))
            return err;
          ++files;
          bytes += size;
        }
      }
    }
    if (step)
      return failed(it->path(), step);
  }
  if (ec)
    return failed(from, ec);
  for (auto& d : dirs)
    if (auto err = sync(d))
      return err;
  return std::pair{files, bytes};
}

int fail(int code, const std::string& message) {
  std::cerr << "soukctl: " << message << '\n';
  return code;
}

// The stored files `keys` that `store` lacks or holds at another size.
std::vector<std::string>
missing_files(const std::vector<std::pair<std::string, uint64_t>>& keys,
              const fs::path& files_dir) {
  auto store = souk::storage::make_local_store(files_dir);
  std::vector<std::string> missing;
  for (auto& [k, size] : keys) {
    auto reader = store->open(k);
    if (!reader || (*reader)->size() != size)
      missing.push_back(k);
  }
  return missing;
}

// True when `dir` does not exist or holds nothing; an error if unreadable.
expected<bool> absent_or_empty(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return !ec ? expected<bool>{true}
               : expected<bool>{error{errc::unavailable,
                                      fmt::format("cannot read {}: {}",
                                                  dir.string(), ec.message())}};
  bool empty = fs::is_empty(dir, ec);
  if (ec)
    return error{errc::unavailable,
                 fmt::format("cannot read {}: {}", dir.string(), ec.message())};
  return empty;
}

} // namespace

int backup(const souk::config::settings& cfg, sp::database& db,
           const std::string& dir_text, bool json) {
  // Everything written is the operator's alone: password hashes, buyers'
  // emails and licence keys are in it (pg_dump inherits this too).
  ::umask(077);
  fs::path dir{dir_text};
  auto blobs = fs::path{cfg.data_dir} / "files" / "blobs";
  std::error_code ec;
  auto inside = fs::weakly_canonical(dir, ec).lexically_relative(
    fs::weakly_canonical(blobs, ec));
  if (!ec && !inside.empty() && *inside.begin() != "..")
    return fail(2, fmt::format("{} is inside {}, which it would copy",
                               dir.string(), blobs.string()));
  ec.clear();
  if (fs::exists(dir, ec)) {
    bool empty = fs::is_empty(dir, ec);
    if (ec)
      return fail(
        1, fmt::format("cannot read {}: {}", dir.string(), ec.message()));
    if (!empty)
      return fail(2, fmt::format("{} is not empty: back up into a new "
                                 "directory",
                                 dir.string()));
  }
  fs::create_directories(dir, ec);
  if (!ec)
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec)
    return fail(
      1, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  // A backup that fails leaves nothing behind (what it copied is as
  // sensitive as a finished one).
  auto give_up = [&](const std::string& message) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    return fail(1, message);
  };
  bool pg = db.kind() == sp::backend::postgresql;
  auto db_file = dir / (pg ? "souk.pgdump" : "souk.db");
  // The database first: every file it names is stored before it is named,
  // so the files copied after it include them (unless one is replaced in
  // between, which the check below finds).
  auto copy = pg ? copy_postgresql(db, cfg.effective_database_url(), db_file,
                                   dir / "pg_dump.log")
                 : copy_sqlite(db, db_file);
  if (!copy)
    return give_up("the database was not copied: " + copy.err().detail);
  auto files = copy_files(blobs, dir / "files" / "blobs");
  if (!files)
    return give_up(files.err().detail);
  auto missing = missing_files(copy->keys, dir / "files");
  if (!missing.empty())
    return give_up(fmt::format(
      "{} file(s) the copied database names are missing from the copy or "
      "of another size (the first: {}); was a file replaced during the "
      "backup? Back up again",
      missing.size(), missing.front()));
  nlohmann::json manifest{{"souk_version", SOUK_VERSION},
                          {"created_at", souk::to_iso(souk::now())},
                          {"database", pg ? "postgresql" : "sqlite"},
                          {"database_file", db_file.filename().string()},
                          {"schema_version", copy->schema},
                          {"files", files->first},
                          {"file_bytes", files->second},
                          {"files_named", copy->keys.size()},
                          {"ledger_ok", copy->ledger_ok}};
  // Written last, whole or not at all: a directory without it is not a
  // finished backup.
  auto tmp = dir / "MANIFEST.json.tmp";
  {
    std::ofstream out{tmp};
    out << manifest.dump(2) << '\n';
    out.close();
    if (!out)
      return give_up("cannot write " + tmp.string());
  }
  if (auto err = sync(tmp))
    return give_up(err.detail);
  fs::rename(tmp, dir / "MANIFEST.json", ec);
  if (ec)
    return give_up("cannot write " + (dir / "MANIFEST.json").string() + ": "
                   + ec.message());
  if (auto err = sync(dir))
    return give_up(err.detail);
  if (json) {
    std::cout << manifest.dump() << '\n';
  } else {
    std::cout << fmt::format(
      "backup in {}: the database ({}, schema version {}), {} stored file(s) "
      "({} bytes); every file the database names is there\n",
      dir.string(), db_file.filename().string(), copy->schema, files->first,
      files->second);
    std::cout << (copy->ledger_ok ? "the copy's ledger balances\n"
                                  : "the copy's ledger does NOT balance\n");
    for (auto& p : copy->problems)
      std::cout << "problem: " << p << '\n';
  }
  // A ledger that does not balance is copied faithfully, and said.
  return copy->ledger_ok ? 0 : 1;
}

int restore(const souk::config::settings& cfg, const std::string& dir_text,
            bool json) {
  ::umask(077);
  fs::path dir{dir_text};
  auto url = cfg.effective_database_url();
  auto kind = sp::backend_of(url);
  if (!kind)
    return fail(2, kind.err().detail);
  const bool pg = *kind == sp::backend::postgresql;

  // Only a finished backup (its manifest is written last), read whole
  // before anything is written.
  auto manifest
    = nlohmann::json::parse(read_text(dir / "MANIFEST.json"), nullptr, false);
  auto text_field = [&](const char* name) -> const nlohmann::json* {
    auto it = manifest.is_object() ? manifest.find(name) : manifest.end();
    return manifest.is_object() && it != manifest.end() && it->is_string()
             ? &*it
             : nullptr;
  };
  auto count_field = [&](const char* name) -> const nlohmann::json* {
    auto it = manifest.is_object() ? manifest.find(name) : manifest.end();
    return manifest.is_object() && it != manifest.end()
               && it->is_number_unsigned()
             ? &*it
             : nullptr;
  };
  if (!manifest.is_object() || !text_field("database")
      || !text_field("database_file") || !count_field("schema_version")
      || !count_field("files") || !count_field("file_bytes"))
    return fail(2, fmt::format("{} is not a finished souk backup: no "
                               "MANIFEST.json with database, database_file, "
                               "schema_version, files and file_bytes",
                               dir.string()));
  const auto from_kind = text_field("database")->get<std::string>();
  const auto schema = count_field("schema_version")->get<uint64_t>();
  const auto want_files = count_field("files")->get<uint64_t>();
  const auto want_bytes = count_field("file_bytes")->get<uint64_t>();
  if (from_kind != (pg ? "postgresql" : "sqlite"))
    return fail(2, fmt::format("the backup holds a {} database and the "
                               "config names a {} one; restore into the kind "
                               "it was taken from",
                               from_kind, pg ? "PostgreSQL" : "SQLite"));
  const auto& shipped = sp::shipped_migrations(*kind);
  const uint64_t newest = shipped.empty() ? 0 : shipped.back().version;
  if (schema > newest)
    return fail(2, fmt::format("the backup's schema version {} is newer than "
                               "this souk's ({}): restore it with the souk "
                               "that made it, or a newer one",
                               schema, newest));
  // The one file backup writes for this kind, nothing else.
  const std::string file_name = pg ? "souk.pgdump" : "souk.db";
  auto db_file = dir / file_name;
  std::error_code ec;
  if (text_field("database_file")->get<std::string>() != file_name
      || !fs::is_regular_file(db_file, ec))
    return fail(2, fmt::format("the backup has no {} its manifest names",
                               db_file.string()));

  // Into nothing: the data directory's files and the database are empty.
  auto blobs = fs::path{cfg.data_dir} / "files" / "blobs";
  auto blobs_empty = absent_or_empty(blobs);
  if (!blobs_empty)
    return fail(1, blobs_empty.err().detail);
  if (!*blobs_empty)
    return fail(2, fmt::format("{} is not empty: restore into a new data "
                               "directory (move the old one aside)",
                               blobs.string()));
  fs::path sqlite_file;
  if (pg) {
    sp::database::options o;
    o.url = url;
    o.pool_size = 1;
    auto target = sp::database::open(o);
    if (!target)
      return fail(1, target.err().detail);
    long long relations = -1;
    auto st = (*target)->run([&](soci::session& sql) {
      sql << "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
             "c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
             "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND "
             "n.nspname NOT LIKE 'pg_temp%' AND c.relkind IN ('r', 'p', 'v', "
             "'m', 'S', 'f')",
        soci::into(relations);
    });
    (*target)->shutdown();
    if (st)
      return fail(1, st.detail);
    if (relations != 0)
      return fail(2, "the database the config names is not empty: restore "
                     "into a new, empty database");
  } else {
    sqlite_file = url.substr(std::string_view{"sqlite://"}.size());
    if (sqlite_file.empty())
      return fail(2, "the sqlite:// URL names no file");
    // A journal or WAL left beside it would be replayed into the restored
    // file: nothing of an old database may be there.
    for (auto suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::path p{sqlite_file.string() + suffix};
      if (fs::exists(p, ec) || ec)
        return fail(2, fmt::format("{} exists: restore into a new database "
                                   "file (move the old one, with its -wal "
                                   "and -shm, aside)",
                                   p.string()));
    }
  }

  // The files first, into a directory of their own renamed into place
  // (rename(2) replaces only an empty directory); then the database,
  // whole or not at all. Whatever this wrote goes again if anything fails.
  const bool blobs_existed = fs::exists(blobs, ec);
  auto staging = blobs.parent_path() / "blobs.restoring";
  auto db_staging = fs::path{sqlite_file.string() + ".restoring"};
  bool files_placed = false, db_placed = false, made_staging = false,
       made_db_staging = false;
  auto give_up = [&](const std::string& message) {
    std::error_code ignored;
    if (made_staging)
      fs::remove_all(staging, ignored);
    if (files_placed) {
      // It was empty or absent, and rename replaced only an empty one.
      fs::remove_all(blobs, ignored);
      if (blobs_existed)
        fs::create_directory(blobs, ignored);
    }
    if (made_db_staging)
      fs::remove(db_staging, ignored);
    if (db_placed)
      fs::remove(sqlite_file, ignored);
    return fail(1, message);
  };
  if (fs::exists(staging, ec))
    return fail(2, fmt::format("{} exists (a restore that was stopped?): "
                               "remove it and restore again",
                               staging.string()));
  made_staging = true;
  auto files = copy_files(dir / "files" / "blobs", staging);
  if (!files)
    return give_up(files.err().detail);
  if (files->first != want_files || files->second != want_bytes)
    return give_up(fmt::format(
      "the backup's files are not what its manifest says: {} file(s) of {} "
      "bytes, where it lists {} of {}",
      files->first, files->second, want_files, want_bytes));
  fs::rename(staging, blobs, ec);
  if (ec)
    return give_up(fmt::format("cannot move {} to {}: {}", staging.string(),
                               blobs.string(), ec.message()));
  made_staging = false;
  files_placed = true;
  if (auto err = sync(blobs.parent_path()))
    return give_up(err.detail);

  if (pg) {
    auto env = sp::pg_environment(url);
    if (!env)
      return give_up(env.err().detail);
    std::string name;
    for (auto& [k, v] : *env)
      if (k == "PGDATABASE")
        name = v;
    auto log = blobs.parent_path() / "pg_restore.restoring.log";
    auto code = run({"pg_restore", "--no-owner", "--no-privileges",
                     "--single-transaction", "--exit-on-error",
                     "--dbname=" + name, db_file.string()},
                    *env, log);
    if (!code)
      return give_up(code.err().detail);
    auto said = read_text(log);
    fs::remove(log, ec);
    if (*code != 0)
      return give_up(
        fmt::format("pg_restore failed (exit {}): {}", *code, said));
  } else {
    auto parent = sqlite_file.parent_path().empty() ? fs::path{"."}
                                                    : sqlite_file.parent_path();
    fs::create_directories(parent, ec);
    if (ec)
      return give_up(
        fmt::format("cannot create {}: {}", parent.string(), ec.message()));
    if (fs::exists(db_staging, ec))
      return give_up(fmt::format("{} exists (a restore that was stopped?): "
                                 "remove it and restore again",
                                 db_staging.string()));
    made_db_staging = true;
    fs::copy_file(db_file, db_staging, ec);
    if (ec)
      return give_up(fmt::format("cannot copy {} to {}: {}", db_file.string(),
                                 db_staging.string(), ec.message()));
    if (auto err = sync(db_staging))
      return give_up(err.detail);
    // link(2) never replaces: a file that appeared meanwhile is kept.
    if (::link(db_staging.c_str(), sqlite_file.c_str()) != 0)
      return give_up(fmt::format("cannot put {} in place: {}",
                                 sqlite_file.string(), std::strerror(errno)));
    db_placed = true;
    fs::remove(db_staging, ec);
    made_db_staging = false;
    if (auto err = sync(parent))
      return give_up(err.detail);
  }

  // Checked as the backup was: every file the restored database names is
  // there, and its ledger balances. A restore that fails these is kept:
  // it is what the backup holds, and said.
  sp::database::options o;
  o.url = url;
  o.pool_size = 1;
  auto restored = sp::database::open(o);
  if (!restored)
    return fail(1, "restored, but cannot open it: " + restored.err().detail);
  std::vector<std::pair<std::string, uint64_t>> keys;
  auto st
    = (*restored)->run([&](soci::session& sql) { keys = storage_keys(sql); });
  auto ledger = sp::ledger_repository{**restored}.check();
  (*restored)->shutdown();
  if (st)
    return fail(1, "restored, but cannot read it: " + st.detail);
  if (!ledger)
    return fail(1, "restored, but its ledger cannot be read: "
                     + ledger.err().detail);
  auto missing = missing_files(keys, fs::path{cfg.data_dir} / "files");
  const bool ok = missing.empty() && ledger->problems.empty();
  if (json) {
    std::cout << nlohmann::json{{"restored_from", dir.string()},
                                {"database", pg ? "postgresql" : "sqlite"},
                                {"schema_version", schema},
                                {"files", files->first},
                                {"file_bytes", files->second},
                                {"files_named", keys.size()},
                                {"files_missing", missing.size()},
                                {"ledger_ok", ledger->problems.empty()}}
                   .dump()
              << '\n';
  } else {
    std::cout << fmt::format(
      "restored from {}: the database (schema version {}; soukd applies "
      "newer migrations when it starts), {} stored file(s) ({} bytes)\n",
      dir.string(), schema, files->first, files->second);
    if (!missing.empty())
      std::cout << fmt::format("{} file(s) the database names are missing "
                               "(the first: {})\n",
                               missing.size(), missing.front());
    std::cout << (ledger->problems.empty() ? "the ledger balances\n"
                                           : "the ledger does NOT balance\n");
    for (auto& p : ledger->problems)
      std::cout << "problem: " << p << '\n';
  }
  return ok ? 0 : 1;
}

} // namespace soukctl
