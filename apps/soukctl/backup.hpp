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

/// `soukctl restore DIR`: puts a finished backup (one with its manifest)
/// back, soukd stopped, into the empty database and data directory the
/// config names: the stored files first (their count and bytes checked
/// against the manifest), then the database whole or not at all (SQLite:
/// the file, through a temporary name; PostgreSQL: `pg_restore` in one
/// transaction). Then checks it as `backup` checked the copy. Exit code: 0
/// done; 1 failed (what it wrote is removed) or the restored database
/// fails the checks (it is kept: it is what the backup holds); 2 not a
/// finished backup, another kind of database, a newer schema, or a target
/// that is not empty.
int restore(const souk::config::settings& cfg, const std::string& dir,
            bool json);

} // namespace soukctl
