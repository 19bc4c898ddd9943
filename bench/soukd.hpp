#pragma once

// A real soukd for the benchmarks that measure it from outside: started on
// the embedded default in a temporary data directory on a free port, with a
// creator and a draft product seeded straight into its database, and its
// resident memory sampled while something runs.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <thread>
#include <vector>

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

namespace souk::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;

inline uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a{ioc, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

/// Sends `head` (and `body`) on a fresh connection; returns the status line
/// and headers of the answer.
inline std::string request_head(uint16_t port, const std::string& head,
                                const std::string& body = {}) {
  net::io_context ioc;
  tcp::socket s{ioc};
  s.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(s, net::buffer(head + body));
  net::streambuf buf;
  net::read_until(s, buf, "\r\n\r\n");
  return {net::buffers_begin(buf.data()), net::buffers_end(buf.data())};
}

/// A running soukd, stopped (SIGTERM) and its directory removed on
/// destruction.
class soukd_process {
public:
  /// Starts `binary` with `--listen`, `--data-dir`, `--log-level warn` and
  /// `extra` arguments, and waits (up to 10 s) until /healthz answers.
  soukd_process(const std::string& binary, std::vector<std::string> extra)
    : dir_(std::filesystem::temp_directory_path()
           / ("souk-bench-" + random_hex(4))),
      port_(free_port()) {
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args{
      binary,       "--listen", "127.0.0.1:" + std::to_string(port_),
      "--data-dir", data_dir(), "--log-level",
      "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(),
                    environ)
        != 0) {
      std::fprintf(stderr, "cannot start %s\n", binary.c_str());
      pid_ = 0;
      return;
    }
    for (int i = 0; i < 200; ++i) {
      try {
        if (request_head(port_, "GET /healthz HTTP/1.1\r\nHost: b\r\n"
                                "Connection: close\r\n\r\n")
              .starts_with("HTTP/1.1 200"))
          return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  ~soukd_process() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  soukd_process(const soukd_process&) = delete;
  soukd_process& operator=(const soukd_process&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  std::string data_dir() const { return (dir_ / "var").string(); }

private:
  std::filesystem::path dir_;
  uint16_t port_;
  pid_t pid_ = 0;
};

/// The command line both file benchmarks take: `[SIZE] [--soukd PATH]`
/// (SIZE like "1GiB", default 1 GiB).
struct file_bench_args {
  uint64_t size = 1ull << 30;
  std::string soukd_path;

  file_bench_args(int argc, char** argv, std::string default_soukd)
    : soukd_path(std::move(default_soukd)) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--soukd" && i + 1 < argc)
        soukd_path = argv[++i];
      else
        size = parse_size(arg).value();
    }
  }

  /// soukd's flags for a body of `size`: uploads that large, and a read
  /// timeout long enough to stream it.
  std::vector<std::string> soukd_flags() const {
    return {"--set", "storage.max_upload=" + format_size(size), "--set",
            "http.read_timeout=5m"};
  }
};

/// A creator (signed in) and a draft product on `digital_download`, written
/// straight into a running soukd's SQLite database.
struct seeded_shop {
  std::shared_ptr<persistence::database> db;
  std::string token; ///< the creator's session
  std::string product;
};

inline seeded_shop seed_shop(const soukd_process& soukd, int64_t price) {
  persistence::database::options opts;
  opts.url = "sqlite://" + soukd.data_dir() + "/souk.db";
  opts.pool_size = 1;
  seeded_shop out;
  out.db = persistence::database::open(opts).value();
  accounts::service accounts{out.db, accounts::policy{}};
  std::string password = "benchmark password 1";
  accounts.sign_up("bench@example.com", password, "creator").value();
  out.token
    = accounts.log_in("bench@example.com", password, "b", "b").value().token;
  auto creator = accounts.authenticate(out.token).value().who.id;
  out.product = new_uuid();
  long long amount = price;
  out.db->run([&](soci::session& sql) {
    std::string now = "2026-01-01T00:00:00.000Z";
    sql << "INSERT INTO products (id, creator_id, title, description, "
           "price_amount, currency, flow, status, version, created_at, "
           "updated_at) VALUES (:id, :c, 'Bench', '', :a, 'NGN', "
           "'digital_download', 'draft', 1, :n, :n2)",
      soci::use(out.product), soci::use(creator), soci::use(amount),
      soci::use(now), soci::use(now);
  });
  return out;
}

/// Streams a file of `size` bytes (a repeating a–z pattern) into
/// `PUT /api/v1/products/{product}/files?name=big.bin` as the creator
/// holding `token`; returns the answer's status line.
inline std::string upload_file(uint16_t port, const std::string& token,
                               const std::string& product, uint64_t size) {
  net::io_context ioc;
  tcp::socket s{ioc};
  s.connect({net::ip::make_address("127.0.0.1"), port});
  auto head = "PUT /api/v1/products/" + product
              + "/files?name=big.bin HTTP/1.1\r\nHost: b\r\nAuthorization: "
                "Bearer "
              + token + "\r\nContent-Length: " + std::to_string(size)
              + "\r\nConnection: close\r\n\r\n";
  net::write(s, net::buffer(head));
  std::string chunk(256 * 1024, '\0');
  for (size_t i = 0; i < chunk.size(); ++i)
    chunk[i] = static_cast<char>('a' + i % 26);
  for (uint64_t sent = 0; sent < size;) {
    auto n = std::min<uint64_t>(chunk.size(), size - sent);
    net::write(s, net::buffer(chunk.data(), n));
    sent += n;
  }
  net::streambuf buf;
  net::read_until(s, buf, "\r\n");
  std::string status{net::buffers_begin(buf.data()),
                     net::buffers_end(buf.data())};
  return status.substr(0, status.find("\r\n"));
}

/// Samples the resident memory of `pid` every 10 ms from construction until
/// `stop`.
class rss_sampler {
public:
  explicit rss_sampler(pid_t pid)
    : pid_(pid), before_(rss_kib(pid)), peak_(before_), thread_([this] {
        while (sampling_) {
          auto now = rss_kib(pid_);
          if (now > peak_)
            peak_ = now;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }) {}

  ~rss_sampler() { stop(); }

  void stop() {
    sampling_ = false;
    if (thread_.joinable())
      thread_.join();
  }

  long before_kib() const { return before_; }
  long peak_kib() const { return peak_; }
  long growth_kib() const { return peak_ - before_; }

private:
  pid_t pid_;
  long before_;
  std::atomic<long> peak_;
  std::atomic<bool> sampling_{true};
  std::thread thread_;
};

} // namespace souk::bench
