#pragma once

// Resident memory of a process, for the benchmarks that report memory.

#include <fstream>
#include <string>

#include <sys/types.h>

namespace souk::bench {

/// VmRSS of process `pid` in KiB, or -1 if it cannot be read.
inline long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:"))
      return std::stol(line.substr(6));
  return -1;
}

} // namespace souk::bench
