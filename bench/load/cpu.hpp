#pragma once

// Where a run's CPU time went, from /proc: each process the bench drives,
// PostgreSQL's server processes, the bench itself (the buyers) and the
// whole machine. Read before and after a phase; the difference per
// completed order is what the run prints.

#include <string>

#include <sys/types.h>

namespace souk::load {

/// CPU seconds (user + system) of one process so far; with `children`, also
/// those of its children that have exited and been waited for. 0 if it is
/// gone.
double process_cpu_seconds(pid_t pid, bool children = false);

/// CPU seconds of a PostgreSQL server whose data directory is `data_dir`:
/// the postmaster with its reaped children, plus every live child
/// (backends, WAL writer, checkpointer...). 0 if it does not run.
double postgres_cpu_seconds(const std::string& data_dir);

/// CPU seconds the whole machine spent busy and in all (every core), since
/// boot.
struct machine_cpu {
  double busy = 0;
  double total = 0;
};
machine_cpu machine_cpu_seconds();

/// One reading of everything a load run accounts for.
struct cpu_reading {
  double soukd = 0, postgres = 0, sandbox = 0, self = 0;
  machine_cpu machine;
};

/// What the phase between `before` and `after` cost per completed order,
/// one line: "soukd 3.1 ms, PostgreSQL ...; the machine 97 % busy".
/// `postgres` false: PostgreSQL is not accounted for (an outside server, or
/// SQLite inside soukd).
std::string cpu_per_order(const cpu_reading& before, const cpu_reading& after,
                          size_t orders, bool postgres);

} // namespace souk::load
