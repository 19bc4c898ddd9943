#pragma once

#include <string>

#include "souk/config/settings.hpp"
#include "souk/persistence/database.hpp"

namespace soukctl {

/// `soukctl backup DIR`: copies the database (SQLite: `VACUUM INTO
/// DIR/souk.db`; PostgreSQL: `pg_dump` into `DIR/souk.pgdump`, in a snapshot
/// this process holds) and then `<data_dir>/files/blobs` into
/// `DIR/files/blobs`, checks that every file the copied database names is in
/// the copy (and, for SQLite, the copy's ledger), and writes
/// `DIR/MANIFEST.json` last. Exit code: 0 done, 1 failed (or the copy's
/// ledger does not balance), 2 `DIR` is not empty.
int backup(const souk::config::settings& cfg, souk::persistence::database& db,
           const std::string& dir, bool json);

} // namespace soukctl
