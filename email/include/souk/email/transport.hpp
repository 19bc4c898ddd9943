#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "souk/core/error.hpp"

namespace souk::email {

/// One message to hand over.
struct outgoing {
  std::string id;         ///< the outbox row (names the file of `files`)
  std::string from;       ///< envelope sender address
  std::string to;         ///< envelope recipient address
  std::string message_id; ///< as in the message's header, without <>
  std::string bytes;      ///< the whole message, CRLF line ends
};

/// Where messages go. Implementations are thread-safe and blocking: call
/// from a worker thread, never from CAF's or the HTTP loop's.
class transport {
public:
  virtual ~transport() = default;

  /// Hands `m` over. Errors: `errc::unavailable` or `errc::timeout` (try
  /// again later), `errc::invalid_field` (the server refused this message
  /// for good, e.g. 550 no such mailbox).
  virtual status send(const outgoing& m) = 0;

  /// For logs, e.g. "smtp://mail.example.com:587" or "files in var/mail".
  virtual std::string describe() const = 0;
};

/// Writes each message to `dir/<id>.eml` (a temporary file, fsync, rename),
/// so sending one again replaces it with the same bytes.
std::unique_ptr<transport> make_file_transport(std::filesystem::path dir);

/// SMTP through libcurl.
struct smtp_options {
  /// smtp://host:port (STARTTLS per `tls`) or smtps://host:port (TLS from
  /// the start).
  std::string url = "smtp://127.0.0.1:25";
  std::string username; ///< empty: no AUTH
  std::string password;
  /// For smtp://: "starttls" (required: refuse to send in the clear),
  /// "opportunistic" (use it when offered) or "off".
  std::string tls = "starttls";
  /// Check the server's certificate (turn off only for tests).
  bool verify_peer = true;
  std::chrono::milliseconds timeout{30'000};
};

std::unique_ptr<transport> make_smtp_transport(smtp_options opts);

} // namespace souk::email
