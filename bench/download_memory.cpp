// Buys a large file from a real soukd and downloads it through its link,
// printing soukd's resident memory (before, peak, growth) and the
// download's throughput next to curl reading the same file from disk. The
// target for issue 8 is a growth under 64 MiB for a 1 GiB file.
//
//   build/release/bench/bench_download_memory [SIZE] [--soukd PATH]
//
// SIZE defaults to 1GiB. soukd runs on the embedded default (built-in
// sandbox gateway, mail as files) in a temporary data directory; the
// purchase goes through its real API: upload, publish, checkout, pay on the
// hosted page, the receipt's link.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>
#include <sys/wait.h>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/units.hpp"
#include "souk/email/message.hpp"
#include "souk/persistence/database.hpp"

#include "rss.hpp"

extern char** environ;

namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

using souk::bench::rss_kib;

uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a{ioc, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

// One request (Connection: close); the whole response.
std::string request(uint16_t port, const std::string& method,
                    const std::string& target, const std::string& headers,
                    const std::string& body = {}) {
  net::io_context ioc;
  tcp::socket s{ioc};
  s.connect({net::ip::make_address("127.0.0.1"), port});
  auto head = method + " " + target + " HTTP/1.1\r\nHost: b\r\n" + headers
              + "Content-Length: " + std::to_string(body.size())
              + "\r\nConnection: close\r\n\r\n";
  net::write(s, net::buffer(head + body));
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);
  return out;
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string{} : response.substr(at + 4);
}

// Runs a shell command and returns its standard output.
std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

int fail(const std::string& what) {
  std::fprintf(stderr, "bench_download_memory: %s\n", what.c_str());
  return 1;
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
      != 0)
    return fail("cannot start " + soukd);
  struct stop_soukd {
    pid_t pid;
    std::filesystem::path dir;
    ~stop_soukd() {
      kill(pid, SIGTERM);
      int st = 0;
      waitpid(pid, &st, 0);
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } stopper{pid, dir};
  for (int i = 0; i < 200; ++i) {
    try {
      if (request(port, "GET", "/healthz", "").starts_with("HTTP/1.1 200"))
        break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // A creator and a draft product, straight into soukd's database.
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
           "updated_at) VALUES (:id, :c, 'Bench', '', 500000, 'NGN', "
           "'digital_download', 'draft', 1, :n, :n2)",
      soci::use(product), soci::use(creator), soci::use(now), soci::use(now);
  });
  auto auth = "Authorization: Bearer " + token + "\r\n";

  // The file: streamed up, as creators do.
  {
    net::io_context ioc;
    tcp::socket s{ioc};
    s.connect({net::ip::make_address("127.0.0.1"), port});
    auto head = "PUT /api/v1/products/" + product
                + "/files?name=big.bin HTTP/1.1\r\nHost: b\r\n" + auth
                + "Content-Length: " + std::to_string(size)
                + "\r\nConnection: close\r\n\r\n";
    net::write(s, net::buffer(head));
    std::string chunk(256 * 1024, 'z');
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
    if (status.find(" 201 ") == std::string::npos)
      return fail("upload failed: " + status);
  }
  auto published
    = request(port, "POST", "/api/v1/products/" + product + "/publish", auth);
  if (!published.starts_with("HTTP/1.1 200"))
    return fail("publish failed: " + published);

  // Bought through the built-in sandbox: checkout, then "pay" on its page.
  auto order = request(
    port, "POST", "/api/v1/orders",
    "Content-Type: application/json\r\nIdempotency-Key: " + souk::new_uuid()
      + "\r\n",
    json{{"product_id", product}, {"email", "buyer@example.com"}}.dump());
  auto doc = json::parse(body_of(order), nullptr, false);
  if (doc.is_discarded() || !doc.contains("payment"))
    return fail("checkout failed: " + order);
  std::string pay_url = doc["payment"]["authorization_url"];
  auto pay_path
    = pay_url.substr(pay_url.find('/', std::string{"http://"}.size()));
  request(port, "POST", pay_path,
          "Content-Type: application/x-www-form-urlencoded\r\n", "action=pay");

  // The receipt's link.
  std::string link;
  auto waited = std::chrono::steady_clock::now();
  while (link.empty() && seconds_since(waited) < 60) {
    std::error_code ec;
    for (auto& e :
         std::filesystem::directory_iterator{data_dir + "/mail", ec}) {
      std::ifstream in{e.path()};
      std::stringstream text;
      text << in.rdbuf();
      std::smatch m;
      auto decoded = souk::email::decode_quoted_printable(text.str());
      if (std::regex_search(
            decoded, m, std::regex{"http://[^\\s\"<>]+/d/[A-Za-z0-9_-]{43}"}))
        link = m[0];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (link.empty())
    return fail("no receipt with a link arrived");
  std::string key;
  db->run([&](soci::session& sql) {
    sql << "SELECT storage_key FROM product_files WHERE product_id = :p",
      soci::use(product), soci::into(key);
  });
  auto blob = data_dir + "/files/blobs/" + key;
  db->shutdown();

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
  auto curl_format = " -w '%{http_code} %{size_download} %{time_total}'";
  auto started = std::chrono::steady_clock::now();
  auto got = run("curl -s -o /dev/null" + std::string{curl_format} + " '" + link
                 + "'");
  auto souk_seconds = seconds_since(started);
  sampling = false;
  sampler.join();
  auto disk = run("curl -s -o /dev/null" + std::string{curl_format}
                  + " 'file://" + blob + "'");

  unsigned code = 0;
  unsigned long long bytes = 0;
  double curl_seconds = 0;
  std::sscanf(got.c_str(), "%u %llu %lf", &code, &bytes, &curl_seconds);
  unsigned disk_code = 0;
  unsigned long long disk_bytes = 0;
  double disk_seconds = 0;
  std::sscanf(disk.c_str(), "%u %llu %lf", &disk_code, &disk_bytes,
              &disk_seconds);
  auto mib = static_cast<double>(size) / (1 << 20);
  auto growth = peak - before;
  std::printf("download of %s through soukd: HTTP %u, %llu bytes in %.2f s "
              "(%.0f MiB/s)\n",
              souk::format_size(size).c_str(), code, bytes, souk_seconds,
              mib / souk_seconds);
  std::printf("curl reading the same file from disk: %llu bytes in %.2f s "
              "(%.0f MiB/s)\n",
              disk_bytes, disk_seconds,
              disk_seconds > 0 ? mib / disk_seconds : 0.0);
  std::printf("soukd resident memory: before %.1f MiB, peak %.1f MiB, "
              "growth %.1f MiB (target < 64 MiB: %s)\n",
              before / 1024.0, peak / 1024.0, growth / 1024.0,
              growth < 64 * 1024 ? "met" : "MISSED");
  return code == 200 && bytes == size && growth < 64 * 1024 ? 0 : 1;
}
