#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// One versioned schema change: `NNNN_name.sql` under
/// `persistence/migrations/<backend>/`, embedded into the binary at build time.
struct migration {
  int version = 0;
  std::string name;     ///< "0001_nodes"
  std::string sql;      ///< statements separated by `;`
  std::string checksum; ///< SHA-256 of `sql`, hex
};

/// The migrations shipped for `kind`, in version order.
const std::vector<migration>& shipped_migrations(backend kind);

/// Builds a migration from a file name ("0001_nodes.sql") and its content;
/// fails if the name does not start with a version number.
expected<migration> make_migration(std::string_view file_name,
                                   std::string_view sql);

/// Splits a migration into statements at `;` outside quotes, comments,
/// PostgreSQL dollar-quoted bodies and `CREATE TRIGGER ... END;` blocks.
std::vector<std::string> split_statements(std::string_view sql);

/// What a database has applied compared with what this binary ships.
struct migration_state {
  int current = 0;                  ///< highest applied version (0: none)
  int latest = 0;                   ///< highest shipped version
  std::vector<std::string> pending; ///< names not yet applied, in order
  std::vector<int> unknown; ///< applied versions this binary does not ship
};

/// Reads the `schema_migrations` table (absent means nothing applied).
/// Fails if an applied migration's checksum differs from the shipped one.
expected<migration_state> inspect(database& db,
                                  const std::vector<migration>& shipped);

/// Applies every pending migration, each in its own transaction, and records
/// it in `schema_migrations`. Safe when several processes call it at once:
/// PostgreSQL serialises them on an advisory lock, SQLite on its write lock,
/// and each re-checks what is applied before applying. Returns the names it
/// applied (empty if none were pending).
expected<std::vector<std::string>>
migrate(database& db, const std::vector<migration>& shipped);

} // namespace souk::persistence
