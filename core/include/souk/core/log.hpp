#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "souk/core/error.hpp"

/// Logging for all of souk: a thin front over spdlog that attaches context
/// fields (such as `request_id`) to every line and writes either readable text
/// or one JSON object per line. Thread-safe after `setup`.
namespace souk::log {

enum class level { trace, debug, info, warn, error, critical, off };

enum class format { text, json };

/// Parses "trace", "debug", "info", "warn", "error", "critical" or "off".
expected<level> parse_level(std::string_view name);

/// Parses "text" or "json".
expected<format> parse_format(std::string_view name);

/// Configures the process-wide logger (stderr). Call once at start-up, before
/// other threads log. Until then souk logs text at `info`.
void setup(level min_level, format fmt);

/// True if a message at `lvl` would be written.
bool enabled(level lvl) noexcept;

/// Context fields attached to each line: `key=value` in text, JSON members
/// in JSON lines. Values are copied; cheap to pass by reference.
using fields = std::vector<std::pair<std::string, std::string>>;

/// Writes one line. Prefer the `info(...)`-style helpers below.
void write(level lvl, const fields& ctx, std::string_view message);

/// A logger carrying context fields, e.g. one per HTTP request.
class logger {
public:
  logger() = default;
  explicit logger(fields ctx) : ctx_(std::move(ctx)) {}

  /// A copy of this logger with one more field.
  logger with(std::string key, std::string value) const {
    auto copy = *this;
    copy.ctx_.emplace_back(std::move(key), std::move(value));
    return copy;
  }

  const fields& context() const noexcept { return ctx_; }

  template<class... Ts>
  void log(level lvl, fmt::format_string<Ts...> f, Ts&&... xs) const {
    if (enabled(lvl))
      write(lvl, ctx_, fmt::format(f, std::forward<Ts>(xs)...));
  }
  template<class... Ts>
  void debug(fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(level::debug, f, std::forward<Ts>(xs)...);
  }
  template<class... Ts>
  void info(fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(level::info, f, std::forward<Ts>(xs)...);
  }
  template<class... Ts>
  void warn(fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(level::warn, f, std::forward<Ts>(xs)...);
  }
  template<class... Ts>
  void error(fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(level::error, f, std::forward<Ts>(xs)...);
  }
  template<class... Ts>
  void critical(fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(level::critical, f, std::forward<Ts>(xs)...);
  }

private:
  fields ctx_;
};

/// The context-free logger.
inline const logger& root() {
  static const logger instance;
  return instance;
}

template<class... Ts>
void debug(fmt::format_string<Ts...> f, Ts&&... xs) {
  root().debug(f, std::forward<Ts>(xs)...);
}
template<class... Ts>
void info(fmt::format_string<Ts...> f, Ts&&... xs) {
  root().info(f, std::forward<Ts>(xs)...);
}
template<class... Ts>
void warn(fmt::format_string<Ts...> f, Ts&&... xs) {
  root().warn(f, std::forward<Ts>(xs)...);
}
template<class... Ts>
void error(fmt::format_string<Ts...> f, Ts&&... xs) {
  root().error(f, std::forward<Ts>(xs)...);
}
template<class... Ts>
void critical(fmt::format_string<Ts...> f, Ts&&... xs) {
  root().critical(f, std::forward<Ts>(xs)...);
}

} // namespace souk::log
