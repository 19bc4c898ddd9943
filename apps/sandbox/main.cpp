// souk-sandbox: the sandbox gateway on its own. See `souk-sandbox --help`.

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <pthread.h>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <variant>

#include <fmt/format.h>

#include "souk/core/log.hpp"
#include "souk/core/units.hpp"
#include "souk/http/router.hpp"
#include "souk/http/server.hpp"
#include "souk/sandbox/gateway.hpp"

namespace {

constexpr const char* usage
  = "usage: souk-sandbox [options]\n"
    "\n"
    "Runs the sandbox gateway: Paystack's API, a hosted checkout page and\n"
    "signed webhooks, all local and in memory (docs/sandbox.md).\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT       where to listen (default 127.0.0.1:9090;\n"
    "                           port 0 picks a free one)\n"
    "  --public-url URL         how browsers reach it (default http://LISTEN)\n"
    "  --secret-key KEY         the API key and webhook signing key (default\n"
    "                           $SOUK_SANDBOX_SECRET_KEY, else\n"
    "                           sk_test_souk_sandbox)\n"
    "  --webhook-url URL        where to POST signed events (default: none)\n"
    "  --copies N               deliver each webhook N times (default 1)\n"
    "  --delay DURATION         wait before each webhook's first attempt\n"
    "  --drop                   never send webhooks\n"
    "  --reorder                hold webhooks for a window, send newest first\n"
    "  --reorder-window D       that window (default 300ms)\n"
    "  --verify-errors N        first N verify calls per reference answer 500\n"
    "  --amount-delta N         verify and webhooks report amount + N\n"
    "  --retry-first D          gap between the first 4 retries (default 1s)\n"
    "  --retry-later D          gap between later retries (default 20s)\n"
    "  --retry-for D            stop retrying this long after the first\n"
    "                           attempt (default 24m)\n"
    "  --refund-delay D         pending -> processed (default 200ms)\n"
    "  --transfer-delay D       pending -> outcome (default 200ms)\n"
    "  --transfer-outcome S     success (default), failed or reversed\n"
    "  --keep-attempts N        delivery attempts kept for /_sandbox/stats\n"
    "                           (default 10000)\n"
    "  --log-level LEVEL        trace, debug, info (default), warn, error\n"
    "  --no-access-log          do not log each request\n"
    "  --help                   this text\n"
    "\n"
    "Durations: 500ms, 2s, 5m, 1h30m.\n";

struct settings {
  std::string listen = "127.0.0.1:9090";
  souk::sandbox::options opts;
  std::string outcome = "success";
  souk::log::level level = souk::log::level::info;
  bool access_log = true;
};

struct usage_error {
  std::string message;
};

std::optional<int64_t> parse_int(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative)
    text.remove_prefix(1);
  auto n = souk::parse_uint(text);
  if (!n || *n > static_cast<uint64_t>(INT64_MAX))
    return std::nullopt;
  return negative ? -static_cast<int64_t>(*n) : static_cast<int64_t>(*n);
}

// Parses argv into `out`; returns "help" for --help, an error naming the
// flag for anything wrong.
std::variant<settings, usage_error, bool> parse(int argc, char** argv) {
  settings out;
  if (auto* key = std::getenv("SOUK_SANDBOX_SECRET_KEY"); key && *key)
    out.opts.secret_key = key;
  using ms = std::chrono::milliseconds;
  auto duration = [](ms& into) {
    return [&into](const std::string& flag,
                   const std::string& v) -> std::optional<std::string> {
      auto d = souk::parse_duration(v);
      if (!d)
        return fmt::format("{}: {}", flag, d.err().detail);
      into = *d;
      return std::nullopt;
    };
  };
  auto text = [](std::string& into) {
    return [&into](const std::string& flag,
                   const std::string& v) -> std::optional<std::string> {
      if (v.empty())
        return flag + " needs a value";
      into = v;
      return std::nullopt;
    };
  };
  auto url = [](std::string& into) {
    return [&into](const std::string& flag,
                   const std::string& v) -> std::optional<std::string> {
      if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
        return flag + " must be an http:// or https:// URL, got '" + v + "'";
      into = v;
      while (!into.empty() && into.back() == '/')
        into.pop_back();
      return std::nullopt;
    };
  };
  auto& b = out.opts.misbehave;
  using value_fn = std::function<std::optional<std::string>(
    const std::string&, const std::string&)>;
  std::map<std::string, value_fn> with_value{
    {"--listen",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto colon = v.rfind(':');
       bool ok = colon != std::string::npos && colon > 0;
       if (ok) {
         auto port = souk::parse_uint(v.substr(colon + 1));
         ok = port && *port <= 65535;
       }
       if (!ok)
         return flag + " must be HOST:PORT, got '" + v + "'";
       out.listen = v;
       return std::nullopt;
     }},
    {"--public-url", url(out.opts.public_url)},
    {"--secret-key", text(out.opts.secret_key)},
    {"--webhook-url", url(out.opts.webhook_url)},
    {"--delay", duration(b.delay)},
    {"--reorder-window", duration(b.reorder_window)},
    {"--retry-first", duration(out.opts.retry_first)},
    {"--retry-later", duration(out.opts.retry_later)},
    {"--retry-for", duration(out.opts.retry_for)},
    {"--refund-delay", duration(out.opts.refund_delay)},
    {"--transfer-delay", duration(out.opts.transfer_delay)},
    {"--copies",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto n = souk::parse_uint(v);
       if (!n || *n < 1 || *n > 100)
         return flag + " must be a whole number from 1 to 100, got '" + v + "'";
       b.copies = static_cast<uint32_t>(*n);
       return std::nullopt;
     }},
    {"--verify-errors",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto n = souk::parse_uint(v);
       if (!n || *n > 1000)
         return flag + " must be a whole number from 0 to 1000, got '" + v
                + "'";
       b.verify_errors = static_cast<uint32_t>(*n);
       return std::nullopt;
     }},
    {"--amount-delta",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto n = parse_int(v);
       if (!n)
         return flag + " must be a whole number (may be negative), got '" + v
                + "'";
       b.amount_delta = *n;
       return std::nullopt;
     }},
    {"--keep-attempts",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto n = souk::parse_uint(v);
       if (!n || *n < 1 || *n > 100'000'000)
         return flag + " must be a whole number from 1 to 100000000, got '"
                + v + "'";
       out.opts.attempts_kept = static_cast<size_t>(*n);
       return std::nullopt;
     }},
    {"--transfer-outcome",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       if (v != "success" && v != "failed" && v != "reversed")
         return flag + " must be success, failed or reversed, got '" + v + "'";
       out.outcome = v;
       return std::nullopt;
     }},
    {"--log-level",
     [&](const std::string& flag,
         const std::string& v) -> std::optional<std::string> {
       auto lvl = souk::log::parse_level(v);
       if (!lvl)
         return flag + ": " + lvl.err().detail;
       out.level = *lvl;
       return std::nullopt;
     }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h")
      return true;
    if (arg == "--drop") {
      b.drop = true;
      continue;
    }
    if (arg == "--reorder") {
      b.reorder = true;
      continue;
    }
    if (arg == "--no-access-log") {
      out.access_log = false;
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    auto it = with_value.find(arg);
    if (it == with_value.end())
      return usage_error{fmt::format("unknown option '{}' (see --help)", arg)};
    if (!inline_value) {
      if (i + 1 >= argc)
        return usage_error{arg + " needs a value"};
      value = argv[++i];
    }
    if (auto problem = it->second(arg, value))
      return usage_error{*problem};
  }
  return out;
}

// "HOST:PORT" with the port the server actually bound.
std::string bound_address(const std::string& listen, uint16_t port) {
  auto colon = listen.rfind(':');
  auto host = colon == std::string::npos ? listen : listen.substr(0, colon);
  return fmt::format("{}:{}", host, port);
}

} // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and the main thread alone receives them in sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto parsed = parse(argc, argv);
  if (std::holds_alternative<bool>(parsed)) {
    std::cout << usage;
    return 0;
  }
  if (auto* bad = std::get_if<usage_error>(&parsed)) {
    std::cerr << "souk-sandbox: " << bad->message << '\n';
    return 2;
  }
  auto& cfg = std::get<settings>(parsed);
  souk::log::setup(cfg.level, souk::log::format::text);

  souk::sandbox::gateway gw{cfg.opts};
  if (auto err = gw.set_transfer_outcome(cfg.outcome)) {
    std::cerr << "souk-sandbox: " << err.detail << '\n';
    return 2;
  }
  souk::http::router routes;
  gw.add_routes(routes, "");
  souk::http::server_options server_opts;
  server_opts.listen = cfg.listen;
  server_opts.access_log = cfg.access_log;
  souk::http::server server{server_opts, routes};
  if (auto err = server.start()) {
    souk::log::critical("cannot start: {}", err.detail);
    return 1;
  }
  auto address = bound_address(cfg.listen, server.port());
  if (cfg.opts.public_url.empty())
    gw.set_public_url("http://" + address);
  std::cout << "sandbox gateway listening on http://" << address << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  souk::log::info("received {}, shutting down",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.shutdown(std::chrono::seconds(2));
  gw.stop();
  return 0;
}
