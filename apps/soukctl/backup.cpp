// `soukctl backup DIR`: a consistent copy of the database and the stored
// files, checked before it is called done. docs/operations.md, "Backups".

#include "backup.hpp"

#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>
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
                 fmt::format("cannot run {}: {} (it comes with Debian's "
                             "postgresql-client)",
                             argv[0], std::strerror(rc))};
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR)
      return error{errc::unavailable, "lost " + argv[0]};
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128;
}

std::string read_text(const fs::path& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> storage_keys(soci::session& sql) {
  std::vector<std::string> keys;
  soci::rowset<std::string> rows
    = (sql.prepare << "SELECT storage_key FROM product_files");
  for (auto& k : rows)
    keys.push_back(k);
  return keys;
}

// What the copy of the database says.
struct copied {
  std::vector<std::string> keys; ///< the stored files it names
  std::optional<bool> ledger_ok; ///< unset: not checked here
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
  (*copy)->shutdown(); // its WAL folded back in: one file
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
  return out;
}

// Copies the stored files; their count and bytes.
expected<std::pair<uint64_t, uint64_t>> copy_files(const fs::path& from,
                                                   const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec)
    return error{errc::unavailable, fmt::format("cannot create {}: {}",
                                                to.string(), ec.message())};
  uint64_t files = 0, bytes = 0;
  if (!fs::exists(from, ec))
    return std::pair{files, bytes};
  for (auto it = fs::recursive_directory_iterator{from, ec};
       !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
    auto target = to / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directories(target, ec);
    } else if (it->is_regular_file()) {
      fs::copy_file(it->path(), target, ec);
      if (!ec) {
        ++files;
        bytes += it->file_size();
      }
    }
  }
  if (ec)
    return error{errc::unavailable, fmt::format("cannot copy {}: {}",
                                                from.string(), ec.message())};
  return std::pair{files, bytes};
}

int fail(int code, const std::string& message) {
  std::cerr << "soukctl: " << message << '\n';
  return code;
}

} // namespace

int backup(const souk::config::settings& cfg, sp::database& db,
           const std::string& dir_text, bool json) {
  fs::path dir{dir_text};
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    return fail(2, fmt::format("{} is not empty: back up into a new directory",
                               dir.string()));
  fs::create_directories(dir, ec);
  if (ec)
    return fail(
      1, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  bool pg = db.kind() == sp::backend::postgresql;
  auto db_file = dir / (pg ? "souk.pgdump" : "souk.db");
  // The database first: every file it names is stored before it is named,
  // so the files copied after it include them (unless one is replaced in
  // between, which the check below finds).
  auto copy = pg ? copy_postgresql(db, cfg.effective_database_url(), db_file,
                                   dir / "pg_dump.log")
                 : copy_sqlite(db, db_file);
  if (!copy)
    return fail(1, "the database was not copied: " + copy.err().detail);
  auto files = copy_files(fs::path{cfg.data_dir} / "files" / "blobs",
                          dir / "files" / "blobs");
  if (!files)
    return fail(1, files.err().detail);
  auto store = souk::storage::make_local_store(dir / "files");
  std::vector<std::string> missing;
  for (auto& k : copy->keys)
    if (!store->exists(k))
      missing.push_back(k);
  if (!missing.empty())
    return fail(1, fmt::format("{} file(s) the copied database names are not "
                               "in the copy (the first: {}); was a file "
                               "replaced during the backup? Back up again "
                               "into a new directory",
                               missing.size(), missing.front()));
  nlohmann::json manifest{{"souk_version", SOUK_VERSION},
                          {"created_at", souk::to_iso(souk::now())},
                          {"database", pg ? "postgresql" : "sqlite"},
                          {"database_file", db_file.filename().string()},
                          {"schema_version", copy->schema},
                          {"files", files->first},
                          {"file_bytes", files->second},
                          {"files_named", copy->keys.size()},
                          {"ledger_ok", copy->ledger_ok
                                          ? nlohmann::json(*copy->ledger_ok)
                                          : nlohmann::json(nullptr)}};
  // Written last: a directory without it is not a finished backup.
  std::ofstream{dir / "MANIFEST.json"} << manifest.dump(2) << '\n';
  if (json) {
    std::cout << manifest.dump() << '\n';
  } else {
    std::cout << fmt::format(
      "backup in {}: the database ({}, schema version {}), {} stored file(s) "
      "({} bytes); every file the database names is there\n",
      dir.string(), db_file.filename().string(), copy->schema, files->first,
      files->second);
    if (copy->ledger_ok)
      std::cout << (*copy->ledger_ok ? "the copy's ledger balances\n"
                                     : "the copy's ledger does NOT balance\n");
    for (auto& p : copy->problems)
      std::cout << "problem: " << p << '\n';
  }
  // A ledger that does not balance is copied faithfully, and said.
  return copy->ledger_ok.value_or(true) ? 0 : 1;
}

} // namespace soukctl
