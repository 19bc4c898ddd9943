#include <boost/test/unit_test.hpp>

#include "souk/core/net.hpp"

using souk::client_address;
using souk::ip_networks;
using souk::web_origins;

namespace {

ip_networks nets(std::string_view text) {
  auto n = ip_networks::parse(text);
  BOOST_REQUIRE_MESSAGE(n, (n ? std::string{} : n.err().detail));
  return *n;
}

std::string refusal(std::string_view text) {
  auto n = ip_networks::parse(text);
  BOOST_REQUIRE_MESSAGE(!n, std::string{text} + " was accepted");
  BOOST_TEST((n.err().code == souk::errc::invalid_field));
  return n.err().detail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ip_network_sets)

BOOST_AUTO_TEST_CASE(parses_addresses_and_networks_of_both_families) {
  auto n = nets("10.0.0.0/8, 192.168.1.7 ::1,fd00::/8");
  BOOST_TEST(n.str() == "10.0.0.0/8, 192.168.1.7/32, ::1/128, fd00::/8");
  BOOST_TEST(n.contains("10.200.3.4"));
  BOOST_TEST(!n.contains("11.0.0.1"));
  BOOST_TEST(n.contains("192.168.1.7"));
  BOOST_TEST(!n.contains("192.168.1.8"));
  BOOST_TEST(n.contains("::1"));
  BOOST_TEST(n.contains("fd12:3456::9"));
  BOOST_TEST(!n.contains("fe80::1"));
  // An IPv4-mapped IPv6 address is its IPv4 address.
  BOOST_TEST(n.contains("::ffff:10.1.1.1"));
  BOOST_TEST(!n.contains("not an address"));
  BOOST_TEST(!n.contains(""));
  BOOST_TEST(nets("").empty());
  BOOST_TEST(nets(" , ").empty());
  BOOST_TEST(nets("0.0.0.0/0").contains("8.8.8.8"));
  BOOST_TEST(!nets("0.0.0.0/0").contains("2001:db8::1"));
  BOOST_TEST(nets("10.0.0.0/9").contains("10.127.255.255"));
  BOOST_TEST(!nets("10.0.0.0/9").contains("10.128.0.0"));
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_network_naming_the_entry) {
  BOOST_TEST(refusal("10.0.0.0/8, proxy.local").find("'proxy.local'")
             != std::string::npos);
  BOOST_TEST(refusal("10.0.0.0/33").find("0 to 32") != std::string::npos);
  BOOST_TEST(refusal("::1/129").find("0 to 128") != std::string::npos);
  BOOST_TEST(refusal("10.0.0.0/").find("'10.0.0.0/'") != std::string::npos);
  BOOST_TEST(refusal("10.0.0.0/x8").find("'10.0.0.0/x8'") != std::string::npos);
  // Host bits under the prefix: most likely a typo, so say what was meant.
  BOOST_TEST(refusal("10.1.2.3/8").find("did you mean 10.0.0.0/8")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_client_is_the_first_untrusted_address_from_the_right) {
  auto proxies = nets("127.0.0.1, 10.0.0.0/8");
  // A request from the trusted proxy on this machine.
  auto via = [&](std::string_view forwarded_for) {
    return client_address(proxies, "127.0.0.1", forwarded_for);
  };
  // Not from a trusted proxy: the header is ignored.
  BOOST_TEST(client_address(proxies, "198.51.100.7", "203.0.113.9")
             == "198.51.100.7");
  BOOST_TEST(client_address(ip_networks{}, "127.0.0.1", "203.0.113.9")
             == "127.0.0.1");
  // From one: the header's last untrusted entry.
  BOOST_TEST(via("203.0.113.9") == "203.0.113.9");
  BOOST_TEST(via("6.6.6.6, 203.0.113.9") == "203.0.113.9");
  BOOST_TEST(via("6.6.6.6,203.0.113.9 , 10.0.0.5,10.9.9.9") == "203.0.113.9");
  // Every hop trusted: the leftmost.
  BOOST_TEST(via("10.0.0.5, 10.0.0.6") == "10.0.0.5");
  // No header, or nothing usable in it: the peer.
  BOOST_TEST(via("") == "127.0.0.1");
  BOOST_TEST(via("unknown") == "127.0.0.1");
  BOOST_TEST(via("203.0.113.9, garbage") == "127.0.0.1");
  BOOST_TEST(via("garbage, 10.0.0.5") == "10.0.0.5");
  // Entries with a port, as some load balancers write them.
  BOOST_TEST(via("203.0.113.9:4711") == "203.0.113.9");
  BOOST_TEST(via("[2001:db8::1]:4711") == "2001:db8::1");
  BOOST_TEST(via("203.0.113.9, 10.0.0.5:80") == "203.0.113.9");
  BOOST_TEST(via("203.0.113.9:x") == "127.0.0.1");
  BOOST_TEST(via("2001:db8::1:80")
             == "2001:db8::1:80"); // an address, not one with a port
  // IPv6, bracketed or not; IPv4-mapped peers and entries read as IPv4.
  BOOST_TEST(via("[2001:db8::1]") == "2001:db8::1");
  BOOST_TEST(client_address(proxies, "::ffff:127.0.0.1", "::ffff:203.0.113.9")
             == "203.0.113.9");
  BOOST_TEST(client_address(proxies, "::ffff:198.51.100.7", "1.2.3.4")
             == "198.51.100.7");
}

BOOST_AUTO_TEST_CASE(web_origins_are_exact_and_named_when_bad) {
  auto o = web_origins::parse(
    "https://Shop.Example.com, http://localhost:3000 https://shop.example.com");
  BOOST_REQUIRE_MESSAGE(o, (o ? "" : o.err().detail));
  BOOST_TEST(o->str() == "https://shop.example.com, http://localhost:3000");
  BOOST_TEST(o->allows("https://shop.example.com"));
  BOOST_TEST(o->allows("http://localhost:3000"));
  BOOST_TEST(!o->allows("http://shop.example.com"));       // another scheme
  BOOST_TEST(!o->allows("https://shop.example.com:8443")); // another port
  BOOST_TEST(!o->allows("https://evil.shop.example.com"));
  BOOST_TEST(!o->allows("null"));
  BOOST_TEST(!o->allows(""));
  BOOST_TEST(!o->any());

  // IPv6 as browsers write it (shortest form, in brackets).
  auto v6 = web_origins::parse("http://[0:0::1]:3000");
  BOOST_REQUIRE_MESSAGE(v6, (v6 ? "" : v6.err().detail));
  BOOST_TEST(v6->str() == "http://[::1]:3000");
  BOOST_TEST(v6->allows("http://[::1]:3000"));

  auto any = web_origins::parse(" * ");
  BOOST_REQUIRE(any);
  BOOST_TEST(any->any());
  BOOST_TEST(any->str() == "*");
  BOOST_TEST(any->allows("https://anything.example"));
  BOOST_TEST(web_origins::parse("")->empty());

  for (auto [bad, says] :
       {std::pair{"shop.example.com", "http:// or https://"},
        {"https://shop.example.com/", "trailing slash"},
        {"https://shop.example.com/path", "no path"},
        {"https://u@shop.example.com", "no path, query or user"},
        {"https://shop.example.com:443", "default port"},
        {"http://shop.example.com:80", "default port"},
        {"https://shop.example.com:0", "port"},
        {"https://shop.example.com:70000", "port"},
        {"ftp://shop.example.com", "http:// or https://"},
        {"https://", "no host"},
        {"http://[::1", "brackets"},
        {"http://::1", "IPv6 in brackets"},
        {"http://[nope]:80", "IPv6"},
        {"http://[::1]x", "only a port"},
        {"http://shop.example.:3000", "name or an address"},
        {"http://shop.example.com:", "port"},
        {"https://sh op", "origin"},
        {"*, https://shop.example.com", "stands alone"}}) {
    auto x = web_origins::parse(bad);
    BOOST_TEST_INFO(bad);
    BOOST_REQUIRE(!x);
    BOOST_TEST(x.err().detail.find(says) != std::string::npos, x.err().detail);
  }
}

BOOST_AUTO_TEST_CASE(forwarded_headers_give_their_for_addresses) {
  using souk::forwarded_for_of;
  BOOST_TEST(forwarded_for_of("for=192.0.2.60;proto=http;by=203.0.113.43")
             == "192.0.2.60");
  // Several elements (and lines joined by commas), in order; names in any
  // case; quoted values with IPv6 and a port; other parameters first.
  BOOST_TEST(forwarded_for_of("For=\"[2001:db8:cafe::17]:4711\", "
                              "proto=https;for=198.51.100.7 ,for=10.0.0.5")
             == "[2001:db8:cafe::17]:4711, 198.51.100.7, 10.0.0.5");
  // A quoted comma or semicolon does not split.
  BOOST_TEST(forwarded_for_of("by=\"a,b;c\";for=203.0.113.9") == "203.0.113.9");
  // No for, obfuscated or unknown: an entry that stops the walk.
  BOOST_TEST(forwarded_for_of("proto=https, for=_hidden, for=unknown")
             == "unknown, _hidden, unknown");
  BOOST_TEST(forwarded_for_of("") == "unknown");
  // A client's line with a quote left open, or a backslash at the end, is
  // believed in nothing; a quoted list in for= is no node.
  BOOST_TEST(forwarded_for_of("for=6.6.6.6, for=\"") == "unknown");
  BOOST_TEST(forwarded_for_of("x\", for=6.6.6.6") == "unknown");
  BOOST_TEST(forwarded_for_of("for=\"6.6.6.6\\") == "unknown");
  BOOST_TEST(forwarded_for_of("for=\"6.6.6.6, 10.0.0.1\"") == "unknown");
  BOOST_TEST(forwarded_for_of("for=\"a\\\"b\";by=x") == "unknown");
  ip_networks proxies = *ip_networks::parse("127.0.0.1, 10.0.0.0/8");
  auto via = [&](std::string_view forwarded) {
    return client_address(proxies, "127.0.0.1", forwarded_for_of(forwarded));
  };
  BOOST_TEST(via("for=6.6.6.6, for=203.0.113.9, for=10.0.0.5")
             == "203.0.113.9");
  BOOST_TEST(via("for=\"[2001:db8::1]:4711\"") == "2001:db8::1");
  BOOST_TEST(via("for=203.0.113.9, for=_hidden") == "127.0.0.1");
}

BOOST_AUTO_TEST_SUITE_END()
