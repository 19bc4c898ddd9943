#include "souk/config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "souk/core/net.hpp"
#include "souk/core/text.hpp"
#include "souk/core/units.hpp"
#include "souk/core/url.hpp"

extern char** environ;

namespace souk::config {

namespace {

// -- one table of keys
// ---------------------------------------------------------

/// A known key: how to set it from text and how to show it.
struct field {
  std::string key;
  std::string help;
  std::function<status(settings&, const std::string&)> assign;
  std::function<std::string(const settings&)> show;
};

std::string env_name(std::string_view key) {
  std::string out = "SOUK_";
  for (auto c : key)
    out += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

// Parsers turn text into a value or an error message (without location).

expected<uint64_t> parse_size_value(const std::string& text) {
  return parse_size(text);
}

expected<uint32_t> parse_count(const std::string& text) {
  auto n = parse_uint(text);
  if (!n)
    return n.err();
  if (*n == 0 || *n > 1'000'000)
    return error{
      errc::invalid_field,
      fmt::format("expected a number from 1 to 1000000, got '{}'", text)};
  return static_cast<uint32_t>(*n);
}

// A whole number from `lo` to `hi`; `lo_text` is how the error names `lo`.
expected<uint32_t> whole_number_in(const std::string& text, uint64_t lo,
                                   uint64_t hi, std::string_view lo_text) {
  auto n = parse_uint(text);
  if (!n || *n < lo || *n > hi)
    return error{errc::invalid_field,
                 fmt::format("expected a number from {} to {}, got '{}'",
                             lo_text, hi, text)};
  return static_cast<uint32_t>(*n);
}

// A count that may be 0 (meaning none or off), up to a million.
expected<uint32_t> parse_count_or_zero(const std::string& text) {
  return whole_number_in(text, 0, 1'000'000, "0");
}

expected<uint32_t> parse_cache_size(const std::string& text) {
  return whole_number_in(text, 0, 100'000, "0 (none)");
}

expected<uint32_t> parse_senders(const std::string& text) {
  return whole_number_in(text, 1, 64, "1");
}

expected<uint64_t> parse_hash_memory(const std::string& text) {
  auto n = parse_size(text);
  if (!n)
    return n.err();
  if (*n < (8u << 10) || *n > (4ull << 30))
    return error{
      errc::invalid_field,
      fmt::format("expected a size from 8KiB to 4GiB, got '{}'", text)};
  return *n;
}

expected<milliseconds> parse_duration_value(const std::string& text) {
  return parse_duration(text);
}

// A PostgreSQL session timeout: the server takes at most INT_MAX ms (about
// 24 days); a day is far beyond any lock wait or idle transaction souk
// means to allow, and says so here rather than at the first connection.
expected<milliseconds> parse_session_timeout(const std::string& text) {
  auto d = parse_duration(text);
  if (d && *d > std::chrono::hours{24})
    return error{errc::invalid_field,
                 fmt::format("must be at most 24h (0: none), got '{}'", text)};
  return d;
}

// How long rows are kept: at least an hour, so a retry or a replay in
// flight never finds its row gone.
expected<milliseconds> parse_retention(const std::string& text) {
  auto d = parse_duration(text);
  if (d && *d < std::chrono::hours{1})
    return error{errc::invalid_field,
                 fmt::format("must be at least 1h, got '{}'", text)};
  return d;
}

// A wait of at least a second (0 would remove uploads being recorded).
expected<milliseconds> parse_orphan_grace(const std::string& text) {
  auto d = parse_duration(text);
  if (d && *d < std::chrono::seconds{1})
    return error{errc::invalid_field,
                 fmt::format("must be at least 1s, got '{}'", text)};
  return d;
}

expected<bool> parse_bool(const std::string& text) {
  if (text == "true" || text == "yes" || text == "on" || text == "1")
    return true;
  if (text == "false" || text == "no" || text == "off" || text == "0")
    return false;
  return error{errc::invalid_field,
               fmt::format("expected true or false, got '{}'", text)};
}

expected<log::level> parse_level_value(const std::string& text) {
  return log::parse_level(text);
}

expected<log::format> parse_format_value(const std::string& text) {
  return log::parse_format(text);
}

expected<std::string> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  auto bad = [&] {
    return error{errc::invalid_field,
                 fmt::format("expected HOST:PORT (e.g. 127.0.0.1:8080), got "
                             "'{}'",
                             text)};
  };
  if (colon == std::string::npos || colon == 0)
    return bad();
  auto port = parse_uint(std::string_view{text}.substr(colon + 1));
  if (!port || *port > 65535)
    return bad();
  return text;
}

expected<std::string> parse_database_url(const std::string& text) {
  if (text.empty() || text.starts_with("sqlite://")
      || text.starts_with("postgresql://") || text.starts_with("postgres://"))
    return text;
  return error{errc::invalid_field,
               fmt::format("expected sqlite:///path/souk.db or "
                           "postgresql://user:pass@host:port/db, got '{}'",
                           redact_url(text))};
}

expected<std::string> parse_public_url(const std::string& text) {
  if (text.empty() || text.starts_with("http://")
      || text.starts_with("https://"))
    return text;
  return error{
    errc::invalid_field,
    fmt::format("expected an http:// or https:// URL, got '{}'", text)};
}

expected<std::string> parse_trusted_proxies(const std::string& text) {
  auto nets = ip_networks::parse(text);
  if (!nets)
    return nets.err();
  return nets->str();
}

expected<std::string> parse_forwarded_header(const std::string& text) {
  auto lower = ascii_lower(text);
  if (lower == "x-forwarded-for" || lower == "forwarded")
    return lower;
  return error{
    errc::invalid_field,
    fmt::format("expected x-forwarded-for or forwarded, got '{}'", text)};
}

expected<std::string> parse_cors_origins(const std::string& text) {
  auto origins = web_origins::parse(text);
  if (!origins)
    return origins.err();
  return origins->str();
}

expected<milliseconds> parse_cors_max_age(const std::string& text) {
  auto d = parse_duration_value(text);
  if (!d)
    return d.err();
  if (*d > std::chrono::hours{24})
    return error{errc::invalid_field,
                 fmt::format("expected at most 24h (browsers keep less), got "
                             "'{}'",
                             text)};
  return *d;
}

expected<std::string> parse_dir(const std::string& text) {
  if (text.empty())
    return error{errc::invalid_field, "expected a directory path"};
  return text;
}

expected<std::string> parse_optional_dir(const std::string& text) {
  return text;
}

expected<uint32_t> parse_percent(const std::string& text) {
  auto n = parse_uint(text);
  if (!n)
    return n.err();
  if (*n > 100)
    return error{
      errc::invalid_field,
      fmt::format("expected a percentage from 0 to 100, got '{}'", text)};
  return static_cast<uint32_t>(*n);
}

expected<std::string> parse_gateway(const std::string& text) {
  if (text == "sandbox" || text == "paystack")
    return text;
  return error{errc::invalid_field,
               fmt::format("expected sandbox or paystack, got '{}'", text)};
}

expected<std::string> parse_base_url(const std::string& text) {
  if (text.starts_with("http://") || text.starts_with("https://"))
    return text;
  return error{
    errc::invalid_field,
    fmt::format("expected an http:// or https:// URL, got '{}'", text)};
}

expected<std::string> parse_secret(const std::string& text) {
  return text;
}

expected<std::string> parse_text(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x20)
      return error{errc::invalid_field, "must be one line of text"};
  return text;
}

expected<std::string> parse_mail_transport(const std::string& text) {
  if (text != "files" && text != "smtp")
    return error{errc::invalid_field, "must be files or smtp"};
  return text;
}

expected<std::string> parse_smtp_tls(const std::string& text) {
  if (text != "starttls" && text != "opportunistic" && text != "off")
    return error{errc::invalid_field, "must be starttls, opportunistic or off"};
  return text;
}

expected<std::string> parse_smtp_url(const std::string& text) {
  if (!text.starts_with("smtp://") && !text.starts_with("smtps://"))
    return error{errc::invalid_field,
                 "must be smtp://host:port or smtps://host:port"};
  return text;
}

expected<std::string> parse_mailbox(const std::string& text) {
  auto line = parse_text(text);
  if (!line)
    return line;
  auto open = text.rfind('<');
  auto addr = open == std::string::npos
                ? text
                : text.substr(open + 1, text.rfind('>') - open - 1);
  if (addr.find('@') == std::string::npos
      || addr.find(' ') != std::string::npos)
    return error{errc::invalid_field,
                 "must be an address, e.g. \"Shop <no-reply@example.com>\""};
  return text;
}

expected<std::string> parse_accel_prefix(const std::string& text) {
  if (!text.empty() && (!text.starts_with('/') || !text.ends_with('/')))
    return error{errc::invalid_field,
                 "must be empty or a path starting and ending with /"};
  return text;
}

expected<uint32_t> parse_basis_points(const std::string& text) {
  auto n = parse_uint(text);
  if (!n || *n > 10'000)
    return error{errc::invalid_field,
                 fmt::format("expected basis points from 0 to 10000 (500 = "
                             "5%), got '{}'",
                             text)};
  return static_cast<uint32_t>(*n);
}

expected<int64_t> parse_minor_units(const std::string& text) {
  auto n = parse_uint(text);
  if (!n || *n > 1'000'000'000)
    return error{errc::invalid_field,
                 fmt::format("expected an amount in minor units (kobo, "
                             "cents), got '{}'",
                             text)};
  return static_cast<int64_t>(*n);
}

std::string show_minor_units(int64_t x) {
  return std::to_string(x);
}

std::string show_secret(const std::string& x) {
  return x.empty() ? "" : "***";
}

std::string show_string(const std::string& x) {
  return x;
}
std::string show_size(uint64_t x) {
  return format_size(x);
}
std::string show_count(uint32_t x) {
  return std::to_string(x);
}
std::string show_duration(milliseconds x) {
  return format_duration(x);
}
std::string show_bool(bool x) {
  return x ? "true" : "false";
}
std::string show_level(log::level x) {
  static constexpr const char* names[]
    = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return names[static_cast<int>(x)];
}
std::string show_format(log::format x) {
  return x == log::format::json ? "json" : "text";
}

template<class Access, class Parse, class Show>
field make_field(std::string key, std::string help, Access access, Parse parse,
                 Show show) {
  return field{std::move(key), std::move(help),
               [access, parse](settings& s, const std::string& text) -> status {
                 auto value = parse(text);
                 if (!value)
                   return value.err();
                 access(s) = std::move(*value);
                 return {};
               },
               [access, show](const settings& s) { return show(access(s)); }};
}

#define SOUK_MEMBER(path)                                                      \
  [](auto& s) -> auto& {                                                       \
    return s.path;                                                             \
  }

const std::vector<field>& fields() {
  static const std::vector<field> table{
    make_field("listen", "HOST:PORT to listen on (port 0: any free port)",
               SOUK_MEMBER(listen), parse_listen, show_string),
    make_field("data_dir", "directory for the SQLite file, uploads and mail",
               SOUK_MEMBER(data_dir), parse_dir, show_string),
    make_field("public_url",
               "URL buyers use to reach souk (default http://LISTEN)",
               SOUK_MEMBER(public_url), parse_public_url, show_string),
    make_field("http.body_limit", "largest request body (e.g. 1MiB)",
               SOUK_MEMBER(http.body_limit), parse_size_value, show_size),
    make_field("http.header_limit", "largest request header block",
               SOUK_MEMBER(http.header_limit), parse_size_value, show_size),
    make_field("http.header_timeout", "time to receive a request's header",
               SOUK_MEMBER(http.header_timeout), parse_duration_value,
               show_duration),
    make_field("http.read_timeout", "time to receive a request's body",
               SOUK_MEMBER(http.read_timeout), parse_duration_value,
               show_duration),
    make_field("http.write_timeout", "time to send a response",
               SOUK_MEMBER(http.write_timeout), parse_duration_value,
               show_duration),
    make_field(
      "http.idle_timeout", "idle time before a keep-alive connection closes",
      SOUK_MEMBER(http.idle_timeout), parse_duration_value, show_duration),
    make_field("http.max_requests_per_connection",
               "requests served on one connection before closing it",
               SOUK_MEMBER(http.max_requests_per_connection), parse_count,
               show_count),
    make_field("http.threads", "threads running the HTTP event loop",
               SOUK_MEMBER(http.threads), parse_count, show_count),
    make_field("http.trusted_proxies",
               "reverse proxies whose X-Forwarded-For names the client "
               "(e.g. 10.0.0.0/8, ::1)",
               SOUK_MEMBER(http.trusted_proxies), parse_trusted_proxies,
               show_string),
    make_field("http.forwarded_header",
               "the header trusted proxies name the client in: "
               "x-forwarded-for or forwarded (RFC 7239)",
               SOUK_MEMBER(http.forwarded_header), parse_forwarded_header,
               show_string),
    make_field("http.cors_origins",
               "web origins whose pages may call /api/ from the browser "
               "(e.g. https://shop.example.com; * for any)",
               SOUK_MEMBER(http.cors_origins), parse_cors_origins, show_string),
    make_field(
      "http.cors_max_age", "how long a browser keeps a CORS preflight's answer",
      SOUK_MEMBER(http.cors_max_age), parse_cors_max_age, show_duration),
    make_field("http.shutdown_grace", "time in-flight requests get on shutdown",
               SOUK_MEMBER(http.shutdown_grace), parse_duration_value,
               show_duration),
    make_field("database.url",
               "sqlite:///path/souk.db or postgresql://user:pass@host:port/db",
               SOUK_MEMBER(database.url), parse_database_url, redact_url),
    make_field("database.pool_size", "connections kept open",
               SOUK_MEMBER(database.pool_size), parse_count, show_count),
    make_field("database.statement_cache",
               "PostgreSQL: prepared statements kept per connection (0: none)",
               SOUK_MEMBER(database.statement_cache), parse_cache_size,
               show_count),
    make_field("database.acquire_timeout", "wait for a free connection",
               SOUK_MEMBER(database.acquire_timeout), parse_duration_value,
               show_duration),
    make_field("database.busy_timeout", "SQLite: wait for the write lock",
               SOUK_MEMBER(database.busy_timeout), parse_duration_value,
               show_duration),
    make_field("database.lock_timeout",
               "PostgreSQL: wait for a row or table lock (0: forever)",
               SOUK_MEMBER(database.lock_timeout), parse_session_timeout,
               show_duration),
    make_field("database.idle_in_transaction_timeout",
               "PostgreSQL: end sessions idle in a transaction (0: never)",
               SOUK_MEMBER(database.idle_in_transaction_timeout),
               parse_session_timeout, show_duration),
    make_field("database.migrate_on_start", "apply pending migrations at start",
               SOUK_MEMBER(database.migrate_on_start), parse_bool, show_bool),
    make_field("log.level", "trace, debug, info, warn, error, critical or off",
               SOUK_MEMBER(log.level), parse_level_value, show_level),
    make_field("log.format", "text or json (one object per line)",
               SOUK_MEMBER(log.format), parse_format_value, show_format),
    make_field("log.access_log", "one line per HTTP request",
               SOUK_MEMBER(log.access_log), parse_bool, show_bool),
    make_field("supervisor.restart_initial", "delay before the first restart",
               SOUK_MEMBER(supervisor.restart_initial), parse_duration_value,
               show_duration),
    make_field("supervisor.restart_factor", "growth of the restart delay",
               SOUK_MEMBER(supervisor.restart_factor), parse_count, show_count),
    make_field("supervisor.restart_max", "longest restart delay",
               SOUK_MEMBER(supervisor.restart_max), parse_duration_value,
               show_duration),
    make_field("supervisor.max_restarts",
               "restarts within the window before giving up",
               SOUK_MEMBER(supervisor.max_restarts), parse_count, show_count),
    make_field("supervisor.restart_window", "window counted by max_restarts",
               SOUK_MEMBER(supervisor.restart_window), parse_duration_value,
               show_duration),
    make_field("supervisor.jitter_percent", "random spread of restart delays",
               SOUK_MEMBER(supervisor.jitter_percent), parse_percent,
               show_count),
    make_field("auth.session_ttl", "how long a login session lasts",
               SOUK_MEMBER(auth.session_ttl), parse_duration_value,
               show_duration),
    make_field("auth.sessions_kept_for",
               "how long an expired session is kept before it is deleted",
               SOUK_MEMBER(auth.sessions_kept_for), parse_retention,
               show_duration),
    make_field("auth.login_failures_kept_for",
               "failed logins are forgotten after this long without one",
               SOUK_MEMBER(auth.login_failures_kept_for), parse_retention,
               show_duration),
    make_field("auth.password_min_length", "shortest password accepted",
               SOUK_MEMBER(auth.password_min_length), parse_count, show_count),
    make_field("auth.password_hash_ops", "Argon2id passes (opslimit)",
               SOUK_MEMBER(auth.password_hash_ops), parse_count, show_count),
    make_field("auth.password_hash_memory", "Argon2id memory per hash",
               SOUK_MEMBER(auth.password_hash_memory), parse_hash_memory,
               show_size),
    make_field("auth.hash_threads", "threads hashing passwords",
               SOUK_MEMBER(auth.hash_threads), parse_count, show_count),
    make_field("auth.login_failures_before_block",
               "failed logins for one email before blocking it",
               SOUK_MEMBER(auth.login_failures_before_block), parse_count,
               show_count),
    make_field("auth.login_block_initial",
               "first block after too many failures",
               SOUK_MEMBER(auth.login_block_initial), parse_duration_value,
               show_duration),
    make_field("auth.login_block_max", "longest block",
               SOUK_MEMBER(auth.login_block_max), parse_duration_value,
               show_duration),
    make_field("auth.rate_limit_per_minute",
               "requests per minute per address on abuse-prone routes",
               SOUK_MEMBER(auth.rate_limit_per_minute), parse_count,
               show_count),
    make_field("auth.rate_limit_burst",
               "requests at once per address on abuse-prone routes",
               SOUK_MEMBER(auth.rate_limit_burst), parse_count, show_count),
    make_field("storage.max_upload", "largest file upload (e.g. 2GiB)",
               SOUK_MEMBER(storage.max_upload), parse_size_value, show_size),
    make_field("storage.orphan_grace",
               "age at which a stored file no product names is set aside",
               SOUK_MEMBER(storage.orphan_grace), parse_orphan_grace,
               show_duration),
    make_field("storage.orphans_kept_for",
               "how long set-aside files stay in files/orphaned",
               SOUK_MEMBER(storage.orphans_kept_for), parse_retention,
               show_duration),
    make_field("flows.directory", "extra flow templates (*.yaml); empty: none",
               SOUK_MEMBER(flows.directory), parse_optional_dir, show_string),
    make_field("payments.gateway", "sandbox (built in) or paystack",
               SOUK_MEMBER(payments.gateway), parse_gateway, show_string),
    make_field("payments.paystack.base_url", "Paystack's API URL",
               SOUK_MEMBER(payments.paystack_base_url), parse_base_url,
               show_string),
    make_field("payments.paystack.secret_key",
               "Paystack secret key (API calls and webhook signatures)",
               SOUK_MEMBER(payments.paystack_secret_key), parse_secret,
               show_secret),
    make_field("payments.timeout", "longest wait for one gateway call",
               SOUK_MEMBER(payments.timeout), parse_duration_value,
               show_duration),
    make_field("payments.threads", "threads for gateway calls",
               SOUK_MEMBER(payments.threads), parse_count, show_count),
    make_field("payments.poll", "how often webhooks and checks are looked for",
               SOUK_MEMBER(payments.poll), parse_duration_value, show_duration),
    make_field("payments.reconcile_after",
               "first look at a payment nobody confirmed",
               SOUK_MEMBER(payments.reconcile_after), parse_duration_value,
               show_duration),
    make_field("payments.reconcile_max_interval",
               "longest pause between looks at one payment",
               SOUK_MEMBER(payments.reconcile_max_interval),
               parse_duration_value, show_duration),
    make_field("payments.reconcile_for", "stop looking (payment failed) after",
               SOUK_MEMBER(payments.reconcile_for), parse_duration_value,
               show_duration),
    make_field("payments.idempotency_keys_kept_for",
               "how long an Idempotency-Key is remembered",
               SOUK_MEMBER(payments.idempotency_keys_kept_for), parse_retention,
               show_duration),
    make_field(
      "payments.retry_initial", "first retry of an unprocessed webhook",
      SOUK_MEMBER(payments.retry_initial), parse_duration_value, show_duration),
    make_field("payments.retry_max", "longest retry delay of a webhook",
               SOUK_MEMBER(payments.retry_max), parse_duration_value,
               show_duration),
    make_field("payments.retry_for", "a webhook is set aside after",
               SOUK_MEMBER(payments.retry_for), parse_duration_value,
               show_duration),
    make_field("wallet.fee_basis_points", "platform fee: basis points",
               SOUK_MEMBER(wallet.fee_basis_points), parse_basis_points,
               show_count),
    make_field("wallet.fee_fixed_ngn", "platform fee: fixed part in kobo",
               SOUK_MEMBER(wallet.fee_fixed_ngn), parse_minor_units,
               show_minor_units),
    make_field("wallet.fee_fixed_usd", "platform fee: fixed part in cents",
               SOUK_MEMBER(wallet.fee_fixed_usd), parse_minor_units,
               show_minor_units),
    make_field("wallet.payout_minimum_ngn", "smallest payout in kobo",
               SOUK_MEMBER(wallet.payout_minimum_ngn), parse_minor_units,
               show_minor_units),
    make_field("wallet.payout_minimum_usd", "smallest payout in cents",
               SOUK_MEMBER(wallet.payout_minimum_usd), parse_minor_units,
               show_minor_units),
    make_field("wallet.hold", "how long a sale stays pending",
               SOUK_MEMBER(wallet.hold), parse_duration_value, show_duration),
    make_field("wallet.poll", "how often due holds are looked for",
               SOUK_MEMBER(wallet.poll), parse_duration_value, show_duration),
    make_field(
      "delivery.expires_in", "a grant's lifetime when its step gives none",
      SOUK_MEMBER(delivery.expires_in), parse_duration_value, show_duration),
    make_field("delivery.max_downloads",
               "downloads per grant when its step gives none",
               SOUK_MEMBER(delivery.max_downloads), parse_count, show_count),
    make_field("delivery.repeat_window",
               "a repeat from the same client within this is one download",
               SOUK_MEMBER(delivery.repeat_window), parse_duration_value,
               show_duration),
    make_field("delivery.resume_window",
               "a resume from the same client within this is one download",
               SOUK_MEMBER(delivery.resume_window), parse_duration_value,
               show_duration),
    make_field("delivery.links_per_hour", "fresh links per order per hour",
               SOUK_MEMBER(delivery.links_per_hour), parse_count, show_count),
    make_field("delivery.licence_keys_low",
               "email a creator when a key pool has this many left",
               SOUK_MEMBER(delivery.licence_keys_low), parse_count_or_zero,
               show_count),
    make_field("delivery.accel_redirect",
               "X-Accel-Redirect prefix (front web server sends files)",
               SOUK_MEMBER(delivery.accel_redirect), parse_accel_prefix,
               show_string),
    make_field("email.transport", "files or smtp", SOUK_MEMBER(email.transport),
               parse_mail_transport, show_string),
    make_field("email.from", "the From header of emails",
               SOUK_MEMBER(email.from), parse_mailbox, show_string),
    make_field("email.shop_name", "shown at the foot of emails",
               SOUK_MEMBER(email.shop_name), parse_text, show_string),
    make_field("email.templates", "extra email templates; empty: none",
               SOUK_MEMBER(email.templates), parse_optional_dir, show_string),
    make_field("pages.templates",
               "page templates and static files adding to or replacing the "
               "shipped ones; empty: none",
               SOUK_MEMBER(pages.templates), parse_optional_dir, show_string),
    make_field("email.smtp.url", "smtp://host:port or smtps://host:port",
               SOUK_MEMBER(email.smtp_url), parse_smtp_url, show_string),
    make_field("email.smtp.username", "SMTP AUTH user; empty: no AUTH",
               SOUK_MEMBER(email.smtp_username), parse_text, show_string),
    make_field("email.smtp.password", "SMTP AUTH password",
               SOUK_MEMBER(email.smtp_password), parse_secret, show_secret),
    make_field("email.smtp.tls", "starttls, opportunistic or off",
               SOUK_MEMBER(email.smtp_tls), parse_smtp_tls, show_string),
    make_field("email.smtp.timeout", "longest SMTP conversation",
               SOUK_MEMBER(email.smtp_timeout), parse_duration_value,
               show_duration),
    make_field("email.retry_initial", "first retry of a failed send",
               SOUK_MEMBER(email.retry_initial), parse_duration_value,
               show_duration),
    make_field("email.retry_max", "longest pause between sends",
               SOUK_MEMBER(email.retry_max), parse_duration_value,
               show_duration),
    make_field("email.retry_for", "an email is given up after",
               SOUK_MEMBER(email.retry_for), parse_duration_value,
               show_duration),
    make_field("email.poll", "how often the outbox is looked at",
               SOUK_MEMBER(email.poll), parse_duration_value, show_duration),
    make_field("email.senders", "messages sent at the same time",
               SOUK_MEMBER(email.senders), parse_senders, show_count),
    make_field("orders.idle_timeout", "idle order actors leave memory after",
               SOUK_MEMBER(orders.idle_timeout), parse_duration_value,
               show_duration),
    make_field("orders.step_timeout", "longest a service may take per step",
               SOUK_MEMBER(orders.step_timeout), parse_duration_value,
               show_duration),
    make_field("orders.timer_poll", "how often due timers are looked for",
               SOUK_MEMBER(orders.timer_poll), parse_duration_value,
               show_duration),
    make_field("orders.timer_lease", "a node's claim on a due timer",
               SOUK_MEMBER(orders.timer_lease), parse_duration_value,
               show_duration),
    make_field("orders.sweep_interval",
               "how often unclaimed side effects are looked for",
               SOUK_MEMBER(orders.sweep_interval), parse_duration_value,
               show_duration),
    make_field("orders.batch", "timers or orders per database round trip",
               SOUK_MEMBER(orders.batch), parse_count, show_count),
    make_field("orders.jitter_percent", "random spread of retry delays",
               SOUK_MEMBER(orders.jitter_percent), parse_percent, show_count),
    make_field("orders.restart_initial", "first restart of a crashed order",
               SOUK_MEMBER(orders.restart_initial), parse_duration_value,
               show_duration),
    make_field("orders.restart_max", "longest restart delay of an order",
               SOUK_MEMBER(orders.restart_max), parse_duration_value,
               show_duration),
    make_field("orders.max_crashes", "crashes before an order is parked",
               SOUK_MEMBER(orders.max_crashes), parse_count, show_count),
    make_field("orders.crash_window", "window counted by max_crashes",
               SOUK_MEMBER(orders.crash_window), parse_duration_value,
               show_duration),
    make_field("orders.inline_steps",
               "database-only steps commit with their transitions",
               SOUK_MEMBER(orders.inline_steps), parse_bool, show_bool),
  };
  return table;
}

#undef SOUK_MEMBER

const field* find_field(std::string_view key) {
  auto& all = fields();
  auto i = std::find_if(all.begin(), all.end(),
                        [&](const field& f) { return f.key == key; });
  return i == all.end() ? nullptr : &*i;
}

bool is_section(std::string_view path) {
  auto prefix = std::string{path} + '.';
  return std::any_of(fields().begin(), fields().end(),
                     [&](const field& f) { return f.key.starts_with(prefix); });
}

error config_error(std::string where, std::string what) {
  return error{errc::config, fmt::format("{}: {}", where, what)};
}

// -- the YAML file
// -------------------------------------------------------------

std::string where(const std::string& file, const YAML::Mark& mark) {
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

status apply_map(loaded& out, const std::string& file, const YAML::Node& map,
                 const std::string& prefix) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies: the iterator yields a temporary pair, references would dangle.
    YAML::Node key_node = it->first;
    YAML::Node value = it->second;
    if (!key_node.IsScalar())
      return config_error(where(file, key_node.Mark()),
                          "keys must be plain names");
    auto key = prefix + key_node.Scalar();
    if (!seen.insert(key).second)
      return config_error(where(file, key_node.Mark()),
                          fmt::format("duplicate key '{}'", key));
    if (value.IsMap()) {
      if (!is_section(key))
        return config_error(where(file, key_node.Mark()),
                            fmt::format("unknown key '{}'", key));
      if (auto err = apply_map(out, file, value, key + "."))
        return err;
      continue;
    }
    auto f = find_field(key);
    if (f == nullptr)
      return config_error(where(file, key_node.Mark()),
                          fmt::format("unknown key '{}'", key));
    if (!value.IsScalar())
      return config_error(where(file, value.Mark()),
                          fmt::format("'{}' expects a single value", key));
    if (auto err = f->assign(out.values, value.Scalar()))
      return config_error(
        where(file, value.Mark()),
        fmt::format("bad value for '{}': {}", key, err.detail));
    out.origin[key] = where(file, value.Mark());
  }
  return {};
}

status apply_file(loaded& out, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return error{errc::config,
                 fmt::format("{}: cannot open the config file", file)};
  } catch (const YAML::Exception& e) {
    return config_error(where(file, e.mark), e.msg);
  }
  if (root.IsNull())
    return {}; // an empty file changes nothing
  if (!root.IsMap())
    return config_error(where(file, root.Mark()),
                        "the config file must be a map of keys");
  return apply_map(out, file, root, "");
}

} // namespace

std::string settings::effective_database_url() const {
  if (!database.url.empty())
    return database.url;
  auto path
    = std::filesystem::absolute(std::filesystem::path{data_dir} / "souk.db")
        .lexically_normal();
  return "sqlite://" + path.string();
}

expected<loaded> load(const sources& src) {
  loaded out;
  for (auto& f : fields())
    out.origin[f.key] = "default";
  if (src.file) {
    if (auto err = apply_file(out, *src.file))
      return err;
  }
  for (auto& [name, value] : src.env) {
    // SOUK_ADMIN_* tell soukctl where the admin API is and how to sign in;
    // they are not settings of the node.
    if (!name.starts_with("SOUK_") || name == "SOUK_CONFIG"
        || name.starts_with("SOUK_TEST_") || name.starts_with("SOUK_ADMIN_"))
      continue;
    auto& all = fields();
    auto f = std::find_if(all.begin(), all.end(), [&](const field& x) {
      return env_name(x.key) == name;
    });
    if (f == all.end())
      return config_error("environment",
                          fmt::format("unknown variable {} (souk reads "
                                      "SOUK_<KEY>, e.g. SOUK_HTTP_BODY_LIMIT)",
                                      name));
    if (auto err = f->assign(out.values, value))
      return config_error(
        "environment",
        fmt::format("bad value for {} ('{}'): {}", name, f->key, err.detail));
    out.origin[f->key] = "env " + name;
  }
  for (auto& [key, value] : src.flags) {
    auto f = find_field(key);
    if (f == nullptr)
      return config_error("command line", fmt::format("unknown key '{}'", key));
    if (auto err = f->assign(out.values, value))
      return config_error(
        "command line", fmt::format("bad value for '{}': {}", key, err.detail));
    out.origin[key] = "command line";
  }
  return out;
}

std::vector<key_info> known_keys() {
  std::vector<key_info> out;
  for (auto& f : fields())
    out.push_back({f.key, env_name(f.key), f.help});
  return out;
}

std::string describe(const loaded& x) {
  std::string out;
  for (auto& f : fields())
    out += fmt::format("{}: {}  # {}\n", f.key, f.show(x.values),
                       x.origin.at(f.key));
  return out;
}

std::vector<std::pair<std::string, std::string>> process_env() {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry{*p};
    auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      continue;
    out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

} // namespace souk::config
