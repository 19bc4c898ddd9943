// How long a login's password check takes at souk's Argon2id cost.
//
//   build/release/bench/bench_password_hash [OPS [MEMORY]] [--runs N]
//
// Defaults to the config defaults (auth.password_hash_ops,
// auth.password_hash_memory). Prints min / median / max of hash and verify,
// and the same with two checks at once (soukd's default hash_threads).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "souk/accounts/credentials.hpp"
#include "souk/config/settings.hpp"
#include "souk/core/units.hpp"

namespace {

using ms = std::chrono::duration<double, std::milli>;

template<class F>
std::vector<double> time_runs(int runs, F f) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    out.push_back(ms(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void print(const char* what, const std::vector<double>& t) {
  std::printf("%-28s min %7.1f ms   median %7.1f ms   max %7.1f ms\n", what,
              t.front(), t[t.size() / 2], t.back());
}

} // namespace

int main(int argc, char** argv) {
  souk::config::auth_settings defaults;
  souk::accounts::hash_cost cost{defaults.password_hash_ops,
                                 defaults.password_hash_memory};
  int runs = 10;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else
      positional.push_back(arg);
  }
  if (!positional.empty())
    cost.ops = souk::parse_uint(positional[0]).value();
  if (positional.size() > 1)
    cost.memory = souk::parse_size(positional[1]).value();
  std::printf("Argon2id ops=%llu memory=%s, %d runs, %u hardware threads\n",
              static_cast<unsigned long long>(cost.ops),
              souk::format_size(cost.memory).c_str(), runs,
              std::thread::hardware_concurrency());
  std::string password = "correct horse battery staple";
  std::string hash;
  print("hash (sign-up)", time_runs(runs, [&] {
          hash = souk::accounts::hash_password(password, cost).value();
        }));
  print("verify (login)", time_runs(runs, [&] {
          (void)souk::accounts::verify_password(hash, password);
        }));
  print("2 verifies at once (each)", time_runs(runs, [&] {
          std::thread other(
            [&] { (void)souk::accounts::verify_password(hash, password); });
          (void)souk::accounts::verify_password(hash, password);
          other.join();
        }));
  return 0;
}
