#include "replay.hpp"

#include <chrono>
#include <regex>
#include <vector>

#include <fmt/format.h>
#include <soci/soci.h>

#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"

#include "processes.hpp"

namespace souk::load {

namespace {

// For a shell's single quotes.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

} // namespace

replay_result replay_order_sql(persistence::database& db,
                               const std::string& url,
                               const std::filesystem::path& script,
                               const std::filesystem::path& work,
                               uint32_t clients, uint32_t run_seconds) {
  replay_result out;
  std::string product, creator, file, currency;
  auto st = db.run([&](soci::session& sql) {
    sql << "SELECT p.id, p.creator_id, MIN(f.id), MIN(p.currency) FROM "
           "products p JOIN product_files f ON f.product_id = p.id GROUP BY "
           "p.id, p.creator_id ORDER BY p.id LIMIT 1",
      soci::into(product), soci::into(creator), soci::into(file),
      soci::into(currency);
  });
  if (st || product.empty()) {
    out.error = st ? st.detail : "no product with a file to sell";
    return out;
  }
  // The script prices the order in NGN, as bench_load's shop does.
  if (currency != "NGN") {
    out.error = "the shop's product is priced in " + currency + ", not NGN";
    return out;
  }
  auto now = souk::now();
  using std::chrono::days, std::chrono::hours, std::chrono::minutes,
    std::chrono::seconds;
  std::vector<std::pair<std::string, std::string>> vars{
    {"product", product},
    {"creator", creator},
    {"file", file},
    {"creator_pending",
     persistence::creator_account(creator, currency, "pending")},
    {"platform_fees", persistence::platform_account(currency, "fees")},
    {"platform_gateway", persistence::platform_account(currency, "gateway")},
    {"scope", "orders:guest"},
    {"now", to_iso(now)},
    {"minute_ago", to_iso(now - minutes{1})},
    {"hour_ago", to_iso(now - hours{1})},
    {"in_80s", to_iso(now + seconds{80})},
    {"in_90s", to_iso(now + seconds{90})},
    {"in_10m", to_iso(now + minutes{10})},
    {"in_30m", to_iso(now + minutes{30})},
    {"in_1d", to_iso(now + days{1})},
    {"in_7d", to_iso(now + days{7})},
    {"never", "9999-12-31T00:00:00.000Z"},
  };
  std::string defines;
  for (auto& [name, value] : vars)
    defines += " -D " + quoted(name + "=" + value);
  auto log = work / (script.stem().string() + "-replay.log");
  int status = 0;
  auto text = run_command(
    fmt::format("/usr/lib/postgresql/15/bin/pgbench -n -M prepared -f {} -c {} "
                "-j {} -T {}{} {} > {} 2>&1; cat {}",
                quoted(script.string()), clients, std::min(clients, 2u),
                run_seconds, defines, quoted(url), quoted(log.string()),
                quoted(log.string())),
    &status);
  std::smatch m;
  bool failed
    = text.find("aborted") != std::string::npos
      || (std::regex_search(
            text, m, std::regex{R"(number of failed transactions: ([0-9]+))"})
          && m[1] != "0");
  if (!failed
      && std::regex_search(text, m,
                           std::regex{R"(tps = ([0-9.]+) \(without)"})) {
    out.orders_per_second = std::stod(m[1]);
    return out;
  }
  out.error = "pgbench replaying " + script.filename().string() + " failed ("
              + log.string() + "):\n" + text;
  return out;
}

} // namespace souk::load
