#pragma once

// A real SMTP server (tests/email/smtp_server.py, aiosmtpd) on loopback,
// as a child process, and what it received.

#include <filesystem>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "souk/testing/support.hpp"

namespace souk::testing {

class smtp_server {
public:
  /// `args`: extra options of smtp_server.py (--refuse N, --tls, --user U,
  /// --password P).
  explicit smtp_server(std::vector<std::string> args = {}) {
    std::vector<std::string> argv{"/usr/bin/python3", SOUK_SMTP_SERVER, "--dir",
                                  (dir_.path() / "mail").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    proc_ = std::make_unique<child_process>(argv, std::vector<std::string>{},
                                            dir_.path());
    BOOST_REQUIRE_MESSAGE(
      proc_->wait_for_output("listening on", std::chrono::seconds(20)),
      "the SMTP server did not start: " + proc_->err());
    auto out = proc_->out();
    port_ = static_cast<uint16_t>(
      std::stoi(out.substr(out.find("listening on ") + 13)));
  }

  uint16_t port() const { return port_; }
  std::string url() const {
    return "smtp://127.0.0.1:" + std::to_string(port_);
  }

  /// The messages received, in order.
  std::vector<std::string> messages() const {
    return read_files(dir_.path() / "mail", ".eml");
  }
  /// Their envelopes ("from ...", "to ...", "tls yes|no", "auth yes|no",
  /// "peer PORT": the client's port, the same for one connection).
  std::vector<std::string> envelopes() const {
    return read_files(dir_.path() / "mail", ".env");
  }

private:
  temp_dir dir_;
  std::unique_ptr<child_process> proc_;
  uint16_t port_ = 0;
};

} // namespace souk::testing
