#pragma once

// IP networks, and the client's address behind trusted reverse proxies.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"

namespace souk {

/// A set of IP networks, e.g. the reverse proxies whose `X-Forwarded-For`
/// souk believes. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) counts as
/// its IPv4 address.
class ip_networks {
public:
  /// Parses "10.0.0.0/8, 127.0.0.1 ::1" (entries separated by commas or
  /// spaces; an address alone is the network of that one address). The
  /// error names the bad entry; host bits set under the prefix
  /// ("10.0.0.1/8") are refused as a likely typo.
  static expected<ip_networks> parse(std::string_view text);

  bool empty() const noexcept { return nets_.empty(); }

  /// True when `address` (text, IPv4 or IPv6) lies in one of the networks;
  /// false for text that is not an address.
  bool contains(std::string_view address) const;

  /// The networks in canonical form, comma-separated ("10.0.0.0/8, ::1/128").
  std::string str() const;

private:
  struct network {
    std::array<uint8_t, 16> bytes{}; // IPv4 in the first 4
    unsigned prefix = 0;
    bool v4 = false;
  };
  std::vector<network> nets_;
};

/// Web origins (`scheme://host[:port]`, as browsers send them in `Origin`)
/// allowed to call an API from their pages (CORS), or any origin.
class web_origins {
public:
  /// Parses "https://shop.example.com, http://localhost:3000" (entries
  /// separated by commas or spaces), or "*" alone for any origin. Each entry
  /// is an http or https origin: no path, query, user or trailing slash, and
  /// no default port (browsers leave it out, so it would never match);
  /// scheme and host are compared in lowercase. The error names the bad
  /// entry.
  static expected<web_origins> parse(std::string_view text);

  bool empty() const noexcept { return !any_ && list_.empty(); }
  bool any() const noexcept { return any_; }

  /// True when a request's `Origin` header value is allowed.
  bool allows(std::string_view origin) const;

  /// "*", or the origins in canonical form, comma-separated.
  std::string str() const;

private:
  bool any_ = false;
  std::vector<std::string> list_;
};

/// The address of the client behind a request that came from `peer` with
/// the `X-Forwarded-For` list `forwarded_for` (several header lines joined
/// by commas). The header is believed only from a trusted peer, and only as
/// far as it is written by trusted proxies: read from the right, each
/// address a trusted proxy added is skipped, and the first untrusted one is
/// the client (earlier entries may be the client's own inventions). When
/// every entry is trusted, the leftmost is the client; an entry that is not
/// an address (with or without a port: "203.0.113.9:4711", "[::1]:80")
/// stops the walk at the last one that was. The answer is in canonical form
/// (an IPv4-mapped address as IPv4), without a port.
std::string client_address(const ip_networks& trusted, std::string_view peer,
                           std::string_view forwarded_for);

/// The `for=` addresses of one line of an RFC 7239 `Forwarded` header, as
/// an `X-Forwarded-For` list for `client_address`: one entry per forwarded
/// element, in order, each the `for` parameter's value unquoted
/// ("[2001:db8::1]:4711" stays so). An element without one, or with an
/// obfuscated, "unknown" or list-like node, gives "unknown", which stops
/// `client_address`'s walk there, as any entry that is not an address does.
/// A line with a quote left open is "unknown" as a whole. Convert each line
/// on its own and join the results: a client's broken line must not
/// swallow the proxy's line after it.
std::string forwarded_for_of(std::string_view forwarded);

} // namespace souk
