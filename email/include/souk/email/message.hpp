#pragma once

#include <string>

/// Emails as bytes on the wire: composing an RFC 5322 message (MIME,
/// multipart/alternative) from rendered parts.
namespace souk::email {

/// The parts of one message. Text is UTF-8.
struct message_parts {
  std::string from;       ///< "Name <addr@host>" or "addr@host"
  std::string to;         ///< one address
  std::string subject;    ///< one line
  std::string text;       ///< the text/plain part
  std::string html;       ///< the text/html part; empty: text only
  std::string message_id; ///< without angle brackets, e.g. "id@host"
  std::string date;       ///< RFC 5322 date; empty: now
};

/// The whole message with CRLF line ends: headers (non-ASCII subject as an
/// RFC 2047 encoded word), then the parts in quoted-printable. The same
/// parts always give the same bytes (the boundary derives from the
/// Message-ID), so a message sent again is the same message.
std::string compose(const message_parts& parts);

/// `text` in quoted-printable (RFC 2045): lines of at most 76 characters,
/// CRLF line ends.
std::string quoted_printable(const std::string& text);

/// The inverse of `quoted_printable` (tests and tools read messages back).
std::string decode_quoted_printable(const std::string& text);

/// The address part of "Name <addr@host>" (or the whole text).
std::string address_of(const std::string& mailbox);

/// The current time as an RFC 5322 date, e.g. "Sun, 22 Nov 2026 10:00:00
/// +0000".
std::string rfc5322_now();

} // namespace souk::email
