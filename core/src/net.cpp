#include "souk/core/net.hpp"

#include <algorithm>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "souk/core/text.hpp"

namespace souk {
namespace {

using boost::asio::ip::address;

// An address from text: plain, or an IPv6 one in brackets ("[::1]"), with
// IPv4-mapped IPv6 addresses made IPv4.
std::optional<address> parse_address(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string{text}, ec);
  if (ec)
    return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return address{
      boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6())};
  return a;
}

// An X-Forwarded-For entry: an address, or one with a port as some load
// balancers write it ("203.0.113.9:4711", "[2001:db8::1]:4711").
std::optional<address> forwarded_address(std::string_view entry) {
  if (auto a = parse_address(entry))
    return a;
  auto colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == entry.size()
      || entry.substr(colon + 1).find_first_not_of("0123456789")
           != std::string_view::npos)
    return std::nullopt;
  auto host = entry.substr(0, colon);
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  // Without brackets only IPv4 may carry a port ("::1:80" is an address).
  if (!bracketed && host.find(':') != std::string_view::npos)
    return std::nullopt;
  return parse_address(host);
}

// The bytes of `a` (IPv4 in the first four) and its width in bits.
std::pair<std::array<uint8_t, 16>, unsigned> bytes_of(const address& a) {
  std::array<uint8_t, 16> out{};
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
    return {out, 32};
  }
  auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), out.begin());
  return {out, 128};
}

// True when the first `prefix` bits of `a` and `b` are equal.
bool same_prefix(const std::array<uint8_t, 16>& a,
                 const std::array<uint8_t, 16>& b, unsigned prefix) {
  unsigned whole = prefix / 8;
  for (unsigned i = 0; i < whole; ++i)
    if (a[i] != b[i])
      return false;
  if (auto rest = prefix % 8) {
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((a[whole] & mask) != (b[whole] & mask))
      return false;
  }
  return true;
}

// The text of an address given by its bytes.
std::string text_of(const std::array<uint8_t, 16>& bytes, bool v4) {
  if (!v4)
    return boost::asio::ip::address_v6{bytes}.to_string();
  std::array<uint8_t, 4> b{};
  std::copy_n(bytes.begin(), 4, b.begin());
  return boost::asio::ip::address_v4{b}.to_string();
}

// The entries of a setting's list: separated by commas or spaces, empty
// ones skipped.
std::vector<std::string_view> list_entries(std::string_view text) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < text.size()) {
    auto end = text.find_first_of(", \t", at);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > at)
      out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

} // namespace

expected<ip_networks> ip_networks::parse(std::string_view text) {
  ip_networks out;
  for (auto entry : list_entries(text)) {
    auto slash = entry.find('/');
    auto addr = parse_address(entry.substr(0, slash));
    if (!addr)
      return error{errc::invalid_field,
                   fmt::format("'{}' is not an IP address or network (e.g. "
                               "10.0.0.0/8, 192.168.1.7, ::1)",
                               entry)};
    auto [bytes, width] = bytes_of(*addr);
    unsigned prefix = width;
    if (slash != std::string_view::npos) {
      auto digits = entry.substr(slash + 1);
      if (digits.empty() || digits.size() > 3
          || digits.find_first_not_of("0123456789") != std::string_view::npos
          || std::stoul(std::string{digits}) > width)
        return error{errc::invalid_field,
                     fmt::format("'{}': the prefix length after / must be a "
                                 "number from 0 to {}",
                                 entry, width)};
      prefix = static_cast<unsigned>(std::stoul(std::string{digits}));
    }
    network n;
    n.bytes = bytes;
    n.prefix = prefix;
    n.v4 = width == 32;
    std::array<uint8_t, 16> masked{};
    for (unsigned bit = 0; bit < prefix; ++bit)
      masked[bit / 8] |= bytes[bit / 8] & (0x80 >> (bit % 8));
    if (masked != bytes)
      return error{errc::invalid_field,
                   fmt::format("'{}' has bits set after its /{} prefix; did "
                               "you mean {}/{}?",
                               entry, prefix, text_of(masked, n.v4), prefix)};
    out.nets_.push_back(n);
  }
  return out;
}

bool ip_networks::contains(std::string_view text) const {
  if (nets_.empty())
    return false;
  auto a = parse_address(text);
  if (!a)
    return false;
  auto [bytes, width] = bytes_of(*a);
  for (auto& n : nets_)
    if (n.v4 == (width == 32) && same_prefix(n.bytes, bytes, n.prefix))
      return true;
  return false;
}

std::string ip_networks::str() const {
  std::string out;
  for (auto& n : nets_) {
    if (!out.empty())
      out += ", ";
    out += text_of(n.bytes, n.v4);
    out += "/" + std::to_string(n.prefix);
  }
  return out;
}

expected<web_origins> web_origins::parse(std::string_view text) {
  web_origins out;
  auto entries = list_entries(text);
  for (auto& entry : entries) {
    if (entry == "*") {
      if (entries.size() > 1)
        return error{errc::invalid_field,
                     "'*' (any origin) stands alone, not with other origins"};
      out.any_ = true;
      return out;
    }
    auto bad = [&](std::string_view why) {
      return error{errc::invalid_field,
                   fmt::format("'{}' is not a web origin ({}); write it as "
                               "https://shop.example.com or "
                               "http://localhost:3000",
                               entry, why)};
    };
    auto lower = ascii_lower(entry);
    size_t host_at = 0;
    bool https = false;
    if (lower.starts_with("https://")) {
      host_at = 8;
      https = true;
    } else if (lower.starts_with("http://")) {
      host_at = 7;
    } else {
      return bad("it must start with http:// or https://");
    }
    auto rest = std::string_view{lower}.substr(host_at);
    if (rest.empty())
      return bad("no host");
    if (rest.find_first_of("/?#@") != std::string_view::npos)
      return bad("an origin has no path, query or user: leave out everything "
                 "after the host and port, the trailing slash too");
    // The host: a name, an IPv4 address, or an IPv6 address in brackets
    // (written as browsers write it); then an optional port.
    std::string_view host, port;
    std::string canonical_host;
    if (rest.front() == '[') {
      auto close = rest.find(']');
      if (close == std::string_view::npos)
        return bad("an IPv6 address goes in brackets: http://[::1]:3000");
      host = rest.substr(0, close + 1);
      boost::system::error_code ec;
      auto v6 = boost::asio::ip::make_address_v6(
        std::string{rest.substr(1, close - 1)}, ec);
      if (ec)
        return bad("not an IPv6 address between the brackets");
      canonical_host = "[" + v6.to_string() + "]";
      auto after = rest.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':')
          return bad("only a port may follow the host");
        port = after.substr(1);
        if (port.empty())
          return bad("the port must be a number from 1 to 65535");
      }
    } else {
      auto colon = rest.find(':');
      host = rest.substr(0, colon);
      if (colon != std::string_view::npos) {
        port = rest.substr(colon + 1);
        if (port.empty())
          return bad("the port must be a number from 1 to 65535");
      }
      if (host.empty()
          || host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-")
               != std::string_view::npos
          || host.front() == '.' || host.back() == '.')
        return bad("the host must be a name or an address (IPv6 in "
                   "brackets)");
      canonical_host = std::string{host};
    }
    if (!port.empty()) {
      if (port.size() > 5
          || port.find_first_not_of("0123456789") != std::string_view::npos
          || port.front() == '0' || std::stoul(std::string{port}) > 65535)
        return bad("the port must be a number from 1 to 65535");
      if ((https && port == "443") || (!https && port == "80"))
        return bad("browsers leave out the default port: drop ':"
                   + std::string{port} + "'");
    }
    lower = std::string{https ? "https://" : "http://"} + canonical_host
            + (port.empty() ? "" : ":" + std::string{port});
    if (std::find(out.list_.begin(), out.list_.end(), lower) == out.list_.end())
      out.list_.push_back(std::move(lower));
  }
  return out;
}

bool web_origins::allows(std::string_view origin) const {
  if (any_)
    return !origin.empty();
  return std::find(list_.begin(), list_.end(), origin) != list_.end();
}

std::string web_origins::str() const {
  if (any_)
    return "*";
  std::string out;
  for (auto& o : list_)
    out += (out.empty() ? "" : ", ") + o;
  return out;
}

std::string client_address(const ip_networks& trusted, std::string_view peer,
                           std::string_view forwarded_for) {
  auto canonical = [](std::string_view text) {
    auto a = parse_address(text);
    return a ? a->to_string() : std::string{text};
  };
  if (forwarded_for.empty() || !trusted.contains(peer))
    return canonical(peer);
  std::string client = canonical(peer);
  auto rest = forwarded_for;
  while (!rest.empty()) {
    auto comma = rest.rfind(',');
    auto entry = trim_ows(
      comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{}
                                           : rest.substr(0, comma);
    auto a = forwarded_address(entry);
    if (!a)
      break;
    client = a->to_string();
    if (!trusted.contains(client))
      break;
  }
  return client;
}

std::string forwarded_for_of(std::string_view forwarded) {
  // A quote left open (or a backslash at the end) makes the whole line
  // unreadable: where the client's text ends and a proxy's begins cannot
  // be told, so nothing in it is believed.
  {
    bool quoted = false;
    for (size_t i = 0; i < forwarded.size(); ++i) {
      if (quoted && forwarded[i] == '\\') {
        if (++i == forwarded.size())
          return "unknown";
      } else if (forwarded[i] == '"') {
        quoted = !quoted;
      }
    }
    if (quoted)
      return "unknown";
  }
  // Elements split on commas, their pairs on semicolons, outside quoted
  // strings.
  std::string out;
  std::string node = "unknown";
  auto finish_element = [&] {
    out += (out.empty() ? "" : ", ") + node;
    node = "unknown";
  };
  auto take_pair = [&](std::string_view pair) {
    pair = trim_ows(pair);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos)
      return;
    auto name = trim_ows(pair.substr(0, eq));
    if (ascii_lower(name) != "for")
      return;
    std::string value;
    auto raw = trim_ows(pair.substr(eq + 1));
    if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
      for (size_t i = 1; i + 1 < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 2 < raw.size())
          ++i;
        value += raw[i];
      }
    } else {
      value = std::string{raw};
    }
    // One node, one entry: anything that would read as a list is no node.
    if (value.empty() || value.find_first_of(", \t\"") != std::string::npos)
      value = "unknown";
    node = value;
  };
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= forwarded.size(); ++i) {
    char c = i < forwarded.size() ? forwarded[i] : ',';
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"') {
      quoted = true;
      continue;
    }
    if (c == ';' || c == ',') {
      take_pair(forwarded.substr(start, i - start));
      start = i + 1;
      if (c == ',')
        finish_element();
    }
  }
  return out;
}

} // namespace souk
