#include "souk/email/message.hpp"

#include <ctime>
#include <sodium.h>

#include <fmt/format.h>

namespace souk::email {

namespace {

bool ascii_printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

std::string base64(const std::string& s) {
  std::string out(
    sodium_base64_encoded_len(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1); // the terminating NUL
  return out;
}

// A header value: as is when plain ASCII, else an RFC 2047 encoded word.
std::string header_text(const std::string& s) {
  if (ascii_printable(s))
    return s;
  return "=?UTF-8?B?" + base64(s) + "?=";
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\r' || c == '\n')
      c = ' ';
  return s;
}

} // namespace

std::string quoted_printable(const std::string& text) {
  std::string out;
  size_t col = 0;
  auto put = [&](const std::string& piece) {
    if (col + piece.size() > 75) { // room for the soft break's '='
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r')
      continue;
    if (c == '\n') {
      // Trailing white space before a line break must be encoded.
      if (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
        char last = out.back();
        out.pop_back();
        --col;
        put(fmt::format("={:02X}", static_cast<unsigned char>(last)));
      }
      out += "\r\n";
      col = 0;
      continue;
    }
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t')
      put(std::string(1, static_cast<char>(c)));
    else
      put(fmt::format("={:02X}", c));
  }
  if (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
    char last = out.back();
    out.pop_back();
    out += fmt::format("={:02X}", static_cast<unsigned char>(last));
  }
  return out;
}

std::string decode_quoted_printable(const std::string& text) {
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\n') {
      i += 1;
      continue;
    }
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
      i += 2;
      continue;
    }
    if (i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
      continue;
    }
    out += '=';
  }
  return out;
}

std::string address_of(const std::string& mailbox) {
  auto open = mailbox.rfind('<');
  auto close = mailbox.rfind('>');
  if (open != std::string::npos && close != std::string::npos && close > open)
    return mailbox.substr(open + 1, close - open - 1);
  return mailbox;
}

std::string rfc5322_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string compose(const message_parts& p) {
  std::string out;
  auto header = [&](const char* name, const std::string& value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  };
  header("From", one_line(p.from));
  header("To", one_line(p.to));
  header("Subject", header_text(one_line(p.subject)));
  header("Date", p.date.empty() ? rfc5322_now() : one_line(p.date));
  header("Message-ID", "<" + one_line(p.message_id) + ">");
  header("MIME-Version", "1.0");
  auto part = [&](const char* type, const std::string& body) {
    out += fmt::format("Content-Type: {}; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                       type);
    out += quoted_printable(body);
    out += "\r\n";
  };
  if (p.html.empty()) {
    part("text/plain", p.text);
    return out;
  }
  auto boundary = "=_souk_" + base64(p.message_id).substr(0, 24);
  for (auto& c : boundary)
    if (c == '/' || c == '+')
      c = '_';
  header("Content-Type",
         "multipart/alternative; boundary=\"" + boundary + "\"");
  out += "\r\n";
  out += "--" + boundary + "\r\n";
  part("text/plain", p.text);
  out += "--" + boundary + "\r\n";
  part("text/html", p.html);
  out += "--" + boundary + "--\r\n";
  return out;
}

} // namespace souk::email
