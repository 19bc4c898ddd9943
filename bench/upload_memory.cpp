// Streams one large upload into a real soukd and prints its resident memory:
// before, the peak during the upload, and the growth. The target for issue 4
// is a growth under 64 MiB for a 1 GiB file.
//
//   build/release/bench/bench_upload_memory [SIZE] [--soukd PATH]
//
// SIZE defaults to 1GiB. soukd runs on the embedded default in a temporary
// data directory, on a free loopback port.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <soci/soci.h>
#include <sys/wait.h>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/units.hpp"
#include "souk/persistence/database.hpp"

#include "rss.hpp"

extern char** environ;

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using souk::bench::rss_kib;

uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a{ioc, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

// Sends one request and returns the status line and headers.
std::string request(uint16_t port, const std::string& head,
                    const std::string& body = {}) {
  net::io_context ioc;
  tcp::socket s{ioc};
  s.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(s, net::buffer(head + body));
  net::streambuf buf;
  net::read_until(s, buf, "\r\n\r\n");
  return {net::buffers_begin(buf.data()), net::buffers_end(buf.data())};
}

} // namespace

int main(int argc, char** argv) {
  uint64_t size = 1ull << 30;
  std::string soukd = SOUK_SOUKD;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--soukd" && i + 1 < argc)
      soukd = argv[++i];
    else
      size = souk::parse_size(arg).value();
  }
  auto dir = std::filesystem::temp_directory_path()
             / ("souk-bench-" + souk::random_hex(4));
  std::filesystem::create_directories(dir);
  auto port = free_port();
  auto listen = "127.0.0.1:" + std::to_string(port);
  std::string data_dir = (dir / "var").string();
  std::vector<std::string> args{soukd,
                                "--listen",
                                listen,
                                "--data-dir",
                                data_dir,
                                "--log-level",
                                "warn",
                                "--set",
                                "storage.max_upload=" + souk::format_size(size),
                                "--set",
                                "http.read_timeout=5m"};
  std::vector<char*> argv_c;
  for (auto& a : args)
    argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, soukd.c_str(), nullptr, nullptr, argv_c.data(), environ)
      != 0) {
    std::fprintf(stderr, "cannot start %s\n", soukd.c_str());
    return 1;
  }
  for (int i = 0; i < 200; ++i) {
    try {
      if (request(port, "GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: "
                        "close\r\n\r\n")
            .starts_with("HTTP/1.1 200"))
        break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // A creator and a product, straight into soukd's database.
  souk::persistence::database::options opts;
  opts.url = "sqlite://" + data_dir + "/souk.db";
  opts.pool_size = 1;
  auto db = souk::persistence::database::open(opts).value();
  souk::accounts::service accounts{db, souk::accounts::policy{}};
  std::string password = "benchmark password 1";
  accounts.sign_up("bench@example.com", password, "creator").value();
  auto token
    = accounts.log_in("bench@example.com", password, "b", "b").value().token;
  auto creator = accounts.authenticate(token).value().who.id;
  auto product = souk::new_uuid();
  db->run([&](soci::session& sql) {
    std::string now = "2026-01-01T00:00:00.000Z";
    sql << "INSERT INTO products (id, creator_id, title, description, "
           "price_amount, currency, flow, status, version, created_at, "
           "updated_at) VALUES (:id, :c, 'Bench', '', 5000, 'NGN', "
           "'digital_download', 'draft', 1, :n, :n2)",
      soci::use(product), soci::use(creator), soci::use(now), soci::use(now);
  });

  auto before = rss_kib(pid);
  std::atomic<long> peak{before};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      auto now = rss_kib(pid);
      if (now > peak)
        peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto started = std::chrono::steady_clock::now();
  std::string status;
  {
    net::io_context ioc;
    tcp::socket s{ioc};
    s.connect({net::ip::make_address("127.0.0.1"), port});
    auto head = "PUT /api/v1/products/" + product
                + "/files?name=big.bin HTTP/1.1\r\nHost: b\r\nAuthorization: "
                  "Bearer "
                + token + "\r\nContent-Length: " + std::to_string(size)
                + "\r\nConnection: close\r\n\r\n";
    net::write(s, net::buffer(head));
    std::string chunk(256 * 1024, 'z');
    for (uint64_t sent = 0; sent < size;) {
      auto n = std::min<uint64_t>(chunk.size(), size - sent);
      net::write(s, net::buffer(chunk.data(), n));
      sent += n;
    }
    net::streambuf buf;
    net::read_until(s, buf, "\r\n");
    status = {net::buffers_begin(buf.data()), net::buffers_end(buf.data())};
    status = status.substr(0, status.find("\r\n"));
  }
  auto seconds
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
        .count();
  sampling = false;
  sampler.join();
  kill(pid, SIGTERM);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  db->shutdown();
  std::filesystem::remove_all(dir);

  auto growth = peak - before;
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
