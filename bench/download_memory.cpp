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

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/read.hpp>
#include <nlohmann/json.hpp>

#include "souk/core/ids.hpp"
#include "souk/core/units.hpp"
#include "souk/email/message.hpp"

#include "soukd.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

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
  souk::bench::file_bench_args args{argc, argv, SOUK_SOUKD};
  auto size = args.size;
  auto& soukd_path = args.soukd_path;
  souk::bench::soukd_process soukd{soukd_path, args.soukd_flags()};
  if (!soukd.started())
    return fail("cannot start " + soukd_path);
  auto port = soukd.port();
  auto data_dir = soukd.data_dir();
  // A creator and a draft product, straight into soukd's database.
  auto shop = souk::bench::seed_shop(soukd, 500000);
  auto& db = shop.db;
  auto& product = shop.product;
  auto auth = "Authorization: Bearer " + shop.token + "\r\n";

  // The file: streamed up, as creators do.
  auto uploaded = souk::bench::upload_file(port, shop.token, product, size);
  if (uploaded.find(" 201 ") == std::string::npos)
    return fail("upload failed: " + uploaded);
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

  souk::bench::rss_sampler rss{soukd.pid()};
  auto curl_format = " -w '%{http_code} %{size_download} %{time_total}'";
  auto started = std::chrono::steady_clock::now();
  auto got = run("curl -s -o /dev/null" + std::string{curl_format} + " '" + link
                 + "'");
  auto souk_seconds = seconds_since(started);
  rss.stop();
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
  auto before = rss.before_kib();
  auto peak = rss.peak_kib();
  auto growth = rss.growth_kib();
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
