#include "souk/core/log.hpp"

#include <atomic>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace souk::log {

namespace {

std::atomic<level> min_level_{level::info};
std::atomic<format> format_{format::text};

spdlog::level::level_enum to_spdlog(level x) {
  switch (x) {
  case level::trace:
    return spdlog::level::trace;
  case level::debug:
    return spdlog::level::debug;
  case level::info:
    return spdlog::level::info;
  case level::warn:
    return spdlog::level::warn;
  case level::error:
    return spdlog::level::err;
  case level::critical:
    return spdlog::level::critical;
  case level::off:
    return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> make_logger(format fmt) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  // Timestamps are UTC, like everything else souk stores or prints.
  auto pattern = fmt == format::json
                   ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})"
                   : "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v";
  sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
    pattern, spdlog::pattern_time_type::utc));
  auto result = std::make_shared<spdlog::logger>("souk", std::move(sink));
  result->set_level(spdlog::level::trace); // filtering happens in `enabled`
  return result;
}

std::shared_ptr<spdlog::logger>& instance() {
  static auto ptr = make_logger(format::text);
  return ptr;
}

std::string quote(std::string_view text) {
  return nlohmann::json(std::string{text})
    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

expected<level> parse_level(std::string_view name) {
  static constexpr std::pair<std::string_view, level> names[] = {
    {"trace", level::trace}, {"debug", level::debug},
    {"info", level::info},   {"warn", level::warn},
    {"error", level::error}, {"critical", level::critical},
    {"off", level::off},
  };
  for (auto& [key, value] : names)
    if (key == name)
      return value;
  return souk::error{
    errc::invalid_field,
    fmt::format("expected one of trace, debug, info, warn, error, "
                "critical, off; got '{}'",
                name)};
}

expected<format> parse_format(std::string_view name) {
  if (name == "text")
    return format::text;
  if (name == "json")
    return format::json;
  return souk::error{errc::invalid_field,
                     fmt::format("expected text or json, got '{}'", name)};
}

void setup(level min_level, format fmt) {
  min_level_ = min_level;
  format_ = fmt;
  instance() = make_logger(fmt);
}

bool enabled(level lvl) noexcept {
  return lvl != level::off && lvl >= min_level_.load();
}

void write(level lvl, const fields& ctx, std::string_view message) {
  std::string payload;
  if (format_.load() == format::json) {
    payload = "\"msg\":" + quote(message);
    for (auto& [key, value] : ctx)
      payload += "," + quote(key) + ":" + quote(value);
  } else {
    payload.assign(message);
    for (auto& [key, value] : ctx) {
      payload += ' ';
      payload += key;
      payload += '=';
      payload += value;
    }
  }
  instance()->log(to_spdlog(lvl), "{}", payload);
}

} // namespace souk::log
