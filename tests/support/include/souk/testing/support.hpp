#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace souk::persistence {
class database;
} // namespace souk::persistence

/// Helpers shared by souk's test executables.
namespace souk::testing {

/// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// The backend a DB-backed test runs against: the value of `--backend=` after
/// `--` on the test's command line (CTest passes it), default sqlite.
std::string backend_name();

/// The PostgreSQL server the test command started
/// (`SOUK_TEST_DATABASE_URL`), or nullopt.
std::optional<std::string> postgres_url();

/// A new, empty database for one test on the selected backend: a SQLite file
/// in a temp dir, or a freshly created PostgreSQL database that is dropped
/// afterwards. A PostgreSQL test without a server exits with code 77, which
/// CTest reports as skipped.
class scratch_database {
public:
  scratch_database();
  ~scratch_database();
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  /// The URL to open.
  const std::string& url() const { return url_; }

  /// Opens a pool on it.
  std::shared_ptr<persistence::database> open(uint32_t pool_size = 4) const;

private:
  std::unique_ptr<temp_dir> dir_;
  std::string url_;
  std::string admin_url_;
  std::string name_;
};

/// A plain TCP connection to 127.0.0.1:port for speaking raw HTTP, including
/// the malformed kind. Blocking, with a deadline per call.
class raw_client {
public:
  /// `source`: a loopback address to connect from (e.g. "127.0.0.7"), so a
  /// test can play several clients; empty means the default.
  explicit raw_client(uint16_t port, const std::string& source = {});
  ~raw_client();

  void send(const std::string& bytes);

  /// Reads one complete HTTP response (headers plus Content-Length body).
  /// Returns nullopt if the connection closed or the deadline passed first.
  std::optional<std::string> read_response(std::chrono::milliseconds deadline
                                           = std::chrono::seconds(5));

  /// Everything received until the server closes or `deadline` passes.
  std::string read_all(std::chrono::milliseconds deadline);

  /// True if the server closed the connection within `deadline` (reads
  /// and discards anything that arrives first).
  bool closed_within(std::chrono::milliseconds deadline);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A parsed response, for assertions.
struct http_reply {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers; ///< lowercase
  std::string body;
  std::optional<std::string> header(const std::string& name) const;
};

/// Parses what `raw_client::read_response` returned.
http_reply parse_reply(const std::string& raw);

/// One request on a fresh connection (`Connection: close`), answered
/// within `deadline`.
http_reply
http_request(uint16_t port, const std::string& method,
             const std::string& target, const std::string& body = {},
             std::vector<std::pair<std::string, std::string>> headers = {},
             const std::string& source = {},
             std::chrono::milliseconds deadline = std::chrono::seconds(5));

/// A port nobody listens on right now.
uint16_t free_port();

/// A child process with stdout and stderr captured into files.
class child_process {
public:
  /// Starts `argv[0]` with `argv` and the current environment plus `env`
  /// (NAME=VALUE entries), in `cwd`.
  child_process(std::vector<std::string> argv, std::vector<std::string> env,
                const std::filesystem::path& cwd);
  ~child_process(); ///< kills it if still running

  /// Waits until stdout contains `text`; false on exit or timeout.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout);

  /// Sends `sig`.
  void signal(int sig);

  /// Waits for exit; the exit code (128+signal if killed), or nullopt on
  /// timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  std::string out() const;
  std::string err() const;
  int pid() const { return pid_; }

private:
  int pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_;
  std::filesystem::path err_;
};

/// Runs a program to completion; returns {exit code, stdout, stderr}.
struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};
run_result
run_program(std::vector<std::string> argv, std::vector<std::string> env = {},
            const std::filesystem::path& cwd = ".",
            std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A PostgreSQL client program (`pg_restore`): Debian's wrapper in
/// /usr/bin (the newest client installed, as soukctl's `pg_dump` from
/// PATH), else PostgreSQL 15's own.
std::string postgresql_program(const std::string& name);

/// The contents of the files in `dir` whose names end in `extension`
/// (e.g. ".eml"), by file name; hidden files (a writer's temporaries) are
/// left out. A missing directory has none.
std::vector<std::string> read_files(const std::filesystem::path& dir,
                                    const std::string& extension);

/// Checks `cond()` every `step` until it holds or `limit` passes; the
/// last look is after the limit. For what other threads or processes do
/// in real time.
template<class F>
bool eventually(F cond,
                std::chrono::milliseconds limit = std::chrono::seconds{5},
                std::chrono::milliseconds step
                = std::chrono::milliseconds{20}) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond())
      return true;
    std::this_thread::sleep_for(step);
  }
  return cond();
}

} // namespace souk::testing
