#include "processes.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <sys/wait.h>

#include "http_client.hpp"

extern char** environ;

namespace souk::load {

child::child(std::vector<std::string> argv, std::string log_path)
  : argv_(std::move(argv)), log_(std::move(log_path)) {}

child::~child() {
  if (pid_ > 0)
    stop(SIGTERM);
}

bool child::start() {
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::string_view{*e}.rfind("SOUK_", 0) != 0)
      env_text.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_text)
    env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : argv_)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv_[0].c_str(), &actions, nullptr, argv.data(),
                       env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "souk-load: cannot start %s\n", argv_[0].c_str());
    return false;
  }
  pid_ = pid;
  return true;
}

int child::stop(int sig) {
  if (pid_ <= 0)
    return 0;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return status;
}

bool child::alive() {
  if (pid_ <= 0)
    return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = 0;
    return false;
  }
  return true;
}

bool wait_ok(const std::string& url, std::chrono::milliseconds limit,
             const std::vector<std::string>& headers,
             const std::function<bool()>& alive) {
  http_client client;
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (alive && !alive())
      return false;
    if (client.request("GET", url, {}, headers, std::chrono::milliseconds{2000})
          .status
        == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return false;
}

uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a{
    ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmHWM:"))
      return std::stol(line.substr(6));
  return -1;
}

std::string run_command(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    if (status)
      *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  int rc = pclose(p);
  if (status)
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::string with_database(const std::string& url, const std::string& name) {
  auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + name;
}

pg_cluster::pg_cluster(std::string script) : script_(std::move(script)) {}

pg_cluster::~pg_cluster() {
  if (!dir_.empty())
    run_command("bash '" + script_ + "' stop '" + dir_ + "' >/dev/null 2>&1");
}

std::string pg_cluster::start() {
  char templ[] = "/tmp/souk-load-pg-XXXXXX";
  if (!mkdtemp(templ))
    return {};
  dir_ = templ;
  int status = 0;
  auto url = run_command("bash '" + script_ + "' start '" + dir_
                           + "' --durable 2>'" + dir_ + ".log'",
                         &status);
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r'))
    url.pop_back();
  if (status != 0 || url.empty()) {
    std::fprintf(stderr, "souk-load: PostgreSQL did not start:\n%s\n",
                 run_command("cat '" + dir_ + ".log'").c_str());
    return {};
  }
  std::filesystem::remove(dir_ + ".log");
  return url;
}

bool pg_cluster::restart(const std::string& mode) {
  int status = 0;
  run_command("bash '" + script_ + "' restart '" + dir_ + "' " + mode
                + " >/dev/null 2>&1",
              &status);
  return status == 0;
}

} // namespace souk::load
