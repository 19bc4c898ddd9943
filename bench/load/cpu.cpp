#include "cpu.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

namespace souk::load {

namespace {

double ticks() {
  static const double per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  return per_second;
}

// The fields of /proc/PID/stat after the command name (which may hold
// spaces and parentheses): [0] is field 3 (state), [1] the parent's pid,
// [11] and [12] utime and stime, [13] and [14] those of waited-for
// children.
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream rest{text.substr(close + 1)};
  std::vector<std::string> out;
  for (std::string f; rest >> f;)
    out.push_back(f);
  return out;
}

double field_sum(const std::vector<std::string>& f, size_t from, size_t to) {
  double sum = 0;
  for (auto i = from; i <= to && i < f.size(); ++i)
    sum += std::stod(f[i]);
  return sum / ticks();
}

} // namespace

double process_cpu_seconds(pid_t pid, bool children) {
  if (pid <= 0)
    return 0;
  auto f = stat_fields(pid);
  if (f.size() < 15)
    return 0;
  return field_sum(f, 11, children ? 14 : 12);
}

double postgres_cpu_seconds(const std::string& data_dir) {
  std::ifstream in{data_dir + "/postmaster.pid"};
  pid_t postmaster = 0;
  if (!(in >> postmaster) || postmaster <= 0)
    return 0;
  double sum = process_cpu_seconds(postmaster, true);
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.empty()
        || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto f = stat_fields(static_cast<pid_t>(std::stol(name)));
    if (f.size() >= 15 && f[1] == std::to_string(postmaster))
      sum += field_sum(f, 11, 12);
  }
  return sum;
}

machine_cpu machine_cpu_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  in >> cpu; // "cpu": every core together
  // user nice system idle iowait irq softirq steal (guest is in user)
  double v[8] = {};
  for (auto& x : v)
    in >> x;
  machine_cpu m;
  m.total = (v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]) / ticks();
  m.busy = m.total - (v[3] + v[4]) / ticks();
  return m;
}

std::string cpu_per_order(const cpu_reading& before, const cpu_reading& after,
                          size_t orders, bool postgres) {
  if (orders == 0)
    return "no completed orders";
  auto per = [&](double a, double b) {
    return (b - a) * 1000.0 / static_cast<double>(orders);
  };
  double soukd = per(before.soukd, after.soukd);
  double pg = postgres ? per(before.postgres, after.postgres) : 0;
  double sandbox = per(before.sandbox, after.sandbox);
  double self = per(before.self, after.self);
  double busy = per(before.machine.busy, after.machine.busy);
  double total = after.machine.total - before.machine.total;
  double other = busy - soukd - pg - sandbox - self;
  auto text = fmt::format("soukd {:.2f} ms", soukd);
  if (postgres)
    text += fmt::format(", PostgreSQL {:.2f} ms", pg);
  text += fmt::format(
    ", sandbox gateway {:.2f} ms, buyers (bench_load) "
    "{:.2f} ms, the rest of the machine {:.2f} ms; {:.2f} "
    "ms in all, the machine {:.0f} % busy",
    sandbox, self, other, busy,
    total > 0 ? 100.0 * (after.machine.busy - before.machine.busy) / total
              : 0.0);
  return text;
}

} // namespace souk::load
