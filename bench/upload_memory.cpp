// Streams one large upload into a real soukd and prints its resident memory:
// before, the peak during the upload, and the growth. The target for issue 4
// is a growth under 64 MiB for a 1 GiB file.
//
//   build/release/bench/bench_upload_memory [SIZE] [--soukd PATH]
//
// SIZE defaults to 1GiB. soukd runs on the embedded default in a temporary
// data directory, on a free loopback port.

#include <chrono>
#include <cstdio>
#include <string>

#include "souk/core/units.hpp"

#include "soukd.hpp"

int main(int argc, char** argv) {
  souk::bench::file_bench_args args{argc, argv, SOUK_SOUKD};
  auto size = args.size;
  souk::bench::soukd_process soukd{args.soukd_path, args.soukd_flags()};
  if (!soukd.started())
    return 1;
  auto port = soukd.port();
  // A creator and a product, straight into soukd's database.
  auto shop = souk::bench::seed_shop(soukd, 5000);
  auto& token = shop.token;
  auto& product = shop.product;

  souk::bench::rss_sampler rss{soukd.pid()};
  auto started = std::chrono::steady_clock::now();
  auto status = souk::bench::upload_file(port, token, product, size);
  auto seconds
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
        .count();
  rss.stop();
  shop.db->shutdown();

  auto before = rss.before_kib();
  auto peak = rss.peak_kib();
  auto growth = rss.growth_kib();
  std::printf("upload of %s: %s in %.1f s (%.0f MiB/s)\n",
              souk::format_size(size).c_str(), status.c_str(), seconds,
              static_cast<double>(size) / (1 << 20) / seconds);
  std::printf("soukd resident memory: before %.1f MiB, peak %.1f MiB, "
              "growth %.1f MiB (target < 64 MiB: %s)\n",
              before / 1024.0, peak / 1024.0, growth / 1024.0,
              growth < 64 * 1024 ? "met" : "MISSED");
  return status.find(" 201 ") != std::string::npos && growth < 64 * 1024 ? 0
                                                                         : 1;
}
