#include "souk/testing/support.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <spawn.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <soci/soci.h>
#include <sys/wait.h>

#include "souk/core/ids.hpp"
#include "souk/persistence/database.hpp"

extern char** environ;

namespace souk::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// -- temp_dir
// ------------------------------------------------------------------

temp_dir::temp_dir() {
  auto base = std::filesystem::temp_directory_path();
  path_ = base / ("souk-test-" + random_hex(8));
  std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// -- databases
// -----------------------------------------------------------------

std::string backend_name() {
  auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i < suite.argc; ++i) {
    std::string_view arg{suite.argv[i]};
    if (arg.starts_with("--backend="))
      return std::string{arg.substr(10)};
  }
  return "sqlite";
}

std::optional<std::string> postgres_url() {
  if (auto url = std::getenv("SOUK_TEST_DATABASE_URL"); url && *url)
    return std::string{url};
  return std::nullopt;
}

namespace {

// Runs one statement outside any transaction (CREATE/DROP DATABASE need
// that), through souk's own pool so URLs are handled as in production.
void admin(const std::string& url, const std::string& statement) {
  persistence::database::options opts;
  opts.url = url;
  opts.pool_size = 1;
  auto db = persistence::database::open(opts);
  if (!db)
    throw std::runtime_error("cannot reach " + url + ": " + db.err().detail);
  auto st = (*db)->run([&](soci::session& sql) { sql << statement; });
  if (st)
    throw std::runtime_error(statement + ": " + st.detail);
}

} // namespace

scratch_database::scratch_database() {
  if (backend_name() != "postgresql") {
    dir_ = std::make_unique<temp_dir>();
    url_ = "sqlite://" + (dir_->path() / "souk.db").string();
    return;
  }
  auto server = postgres_url();
  if (!server) {
    std::cerr << "SKIP: SOUK_TEST_DATABASE_URL is not set; the test command "
                 "(scripts/test) starts a PostgreSQL server and sets it\n";
    std::_Exit(77);
  }
  admin_url_ = *server;
  name_ = "souk_t_" + random_hex(6);
  admin(admin_url_, "CREATE DATABASE " + name_);
  // Replace the database part of the URL (after the last '/').
  auto slash = admin_url_.rfind('/');
  auto query = admin_url_.find('?', slash);
  url_ = admin_url_.substr(0, slash + 1) + name_
         + (query == std::string::npos ? "" : admin_url_.substr(query));
}

scratch_database::~scratch_database() {
  if (name_.empty())
    return;
  try {
    admin(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "could not drop " << name_ << ": " << e.what() << '\n';
  }
}

std::shared_ptr<persistence::database>
scratch_database::open(uint32_t pool_size) const {
  persistence::database::options opts;
  opts.url = url_;
  opts.pool_size = pool_size;
  auto db = persistence::database::open(opts);
  if (!db)
    throw std::runtime_error("cannot open " + url_ + ": " + db.err().detail);
  return *db;
}

// -- raw HTTP
// ------------------------------------------------------------------

struct raw_client::impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  std::string pending;
};

raw_client::raw_client(uint16_t port, const std::string& source)
  : impl_(std::make_unique<impl>()) {
  if (!source.empty()) {
    impl_->socket.open(tcp::v4());
    impl_->socket.bind(tcp::endpoint{net::ip::make_address(source), 0});
  }
  impl_->socket.connect(
    tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
}

raw_client::~raw_client() = default;

void raw_client::send(const std::string& bytes) {
  net::write(impl_->socket, net::buffer(bytes));
}

namespace {

// Reads whatever arrives within `deadline` (or until `done(buffer)`), using
// a non-blocking socket and poll-style waits.
bool read_until(tcp::socket& s, std::string& buf,
                std::chrono::steady_clock::time_point deadline,
                const std::function<bool(const std::string&)>& done,
                bool* closed) {
  s.non_blocking(true);
  char chunk[8192];
  while (!done(buf)) {
    boost::system::error_code ec;
    auto n = s.read_some(net::buffer(chunk), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    if (ec) {
      if (closed)
        *closed = true;
      return done(buf);
    }
    buf.append(chunk, n);
  }
  return true;
}

// Length of the first complete response in `buf`, or 0.
size_t complete_response(const std::string& buf) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos)
    return 0;
  auto head = buf.substr(0, end);
  size_t length = 0;
  std::istringstream lines{head};
  std::string line;
  while (std::getline(lines, line)) {
    std::string lower = line;
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.starts_with("content-length:"))
      length = std::stoul(lower.substr(15));
  }
  auto total = end + 4 + length;
  // A response to HEAD carries Content-Length without a body; callers of
  // HEAD read with `closed_within` instead.
  return buf.size() >= total ? total : 0;
}

} // namespace

std::optional<std::string>
raw_client::read_response(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  auto& buf = impl_->pending;
  read_until(
    impl_->socket, buf, until,
    [](const std::string& b) { return complete_response(b) > 0; }, nullptr);
  auto n = complete_response(buf);
  if (n == 0)
    return std::nullopt;
  auto out = buf.substr(0, n);
  buf.erase(0, n);
  return out;
}

std::string raw_client::read_all(std::chrono::milliseconds deadline) {
  auto out = std::move(impl_->pending);
  impl_->pending.clear();
  read_until(
    impl_->socket, out, std::chrono::steady_clock::now() + deadline,
    [](const std::string&) { return false; }, nullptr);
  return out;
}

bool raw_client::closed_within(std::chrono::milliseconds deadline) {
  bool closed = false;
  std::string sink;
  read_until(
    impl_->socket, sink, std::chrono::steady_clock::now() + deadline,
    [](const std::string&) { return false; }, &closed);
  return closed;
}

std::optional<std::string> http_reply::header(const std::string& name) const {
  for (auto& [k, v] : headers)
    if (k == name)
      return v;
  return std::nullopt;
}

http_reply parse_reply(const std::string& raw) {
  http_reply out;
  auto end = raw.find("\r\n\r\n");
  std::istringstream lines{raw.substr(0, end)};
  std::string line;
  std::getline(lines, line);
  auto sp = line.find(' ');
  out.status = static_cast<unsigned>(std::stoul(line.substr(sp + 1, 3)));
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = line.substr(0, colon);
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    out.headers.emplace_back(name, value);
  }
  out.body = raw.substr(end + 4);
  return out;
}

http_reply
http_request(uint16_t port, const std::string& method,
             const std::string& target, const std::string& body,
             std::vector<std::pair<std::string, std::string>> headers,
             const std::string& source, std::chrono::milliseconds deadline) {
  raw_client c{port, source};
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n"
                    + "Connection: close\r\n";
  for (auto& [k, v] : headers)
    req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  c.send(req);
  auto raw = c.read_response(deadline);
  if (!raw)
    throw std::runtime_error("no response to " + method + " " + target);
  return parse_reply(*raw);
}

uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a{ioc, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

// -- processes
// -----------------------------------------------------------------

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

child_process::child_process(std::vector<std::string> argv,
                             std::vector<std::string> env,
                             const std::filesystem::path& cwd) {
  auto base
    = std::filesystem::temp_directory_path() / ("souk-child-" + random_hex(6));
  out_ = base.string() + ".out";
  err_ = base.string() + ".err";
  std::vector<std::string> envs;
  for (auto p = environ; *p; ++p)
    envs.emplace_back(*p);
  for (auto& e : env) {
    auto name = e.substr(0, e.find('=') + 1);
    std::erase_if(envs, [&](auto& x) { return x.starts_with(name); });
    envs.push_back(e);
  }
  std::vector<char*> cargv, cenv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs)
    cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  // Start with all signals unblocked, whatever the test runner blocks.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  auto rc
    = posix_spawn(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0]);
}

child_process::~child_process() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  std::error_code ec;
  std::filesystem::remove(out_, ec);
  std::filesystem::remove(err_, ec);
}

bool child_process::wait_for_output(const std::string& text,
                                    std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (out().find(text) != std::string::npos)
      return true;
    int st = 0;
    if (!status_ && waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return out().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void child_process::signal(int sig) {
  if (!status_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    auto r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= until)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string child_process::out() const {
  return slurp(out_);
}

std::string child_process::err() const {
  return slurp(err_);
}

std::string postgresql_program(const std::string& name) {
  auto wrapper = "/usr/bin/" + name;
  return std::filesystem::exists(wrapper)
           ? wrapper
           : "/usr/lib/postgresql/15/bin/" + name;
}

run_result run_program(std::vector<std::string> argv,
                       std::vector<std::string> env,
                       const std::filesystem::path& cwd,
                       std::chrono::milliseconds timeout) {
  child_process p{std::move(argv), std::move(env), cwd};
  auto code = p.wait(timeout);
  return {code.value_or(-1), p.out(), p.err()};
}

std::vector<std::string> read_files(const std::filesystem::path& dir,
                                    const std::string& extension) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator{dir, ec})
    if (e.path().extension() == extension
        && !e.path().filename().string().starts_with("."))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (auto& f : files) {
    std::ifstream in{f, std::ios::binary};
    std::stringstream buf;
    buf << in.rdbuf();
    out.push_back(buf.str());
  }
  return out;
}

} // namespace souk::testing
