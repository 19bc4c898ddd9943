#include "souk/config/cli.hpp"

#include <cstdlib>
#include <map>

#include <fmt/format.h>

namespace souk::config {

namespace {

const std::map<std::string, std::string>& flag_keys() {
  static const std::map<std::string, std::string> table{
    {"listen", "listen"},         {"data-dir", "data_dir"},
    {"database", "database.url"}, {"public-url", "public_url"},
    {"log-level", "log.level"},   {"log-format", "log.format"},
  };
  return table;
}

} // namespace

expected<command_line>
parse_command_line(int argc, char** argv, const std::set<std::string>& switches,
                   const std::set<std::string>& options) {
  command_line out;
  out.src.env = process_env();
  if (auto env_file = std::getenv("SOUK_CONFIG"); env_file && *env_file)
    out.src.file = env_file;
  auto fail = [](std::string msg) {
    return error{errc::config, std::move(msg)};
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--") || arg == "--") {
      out.positional.push_back(arg);
      continue;
    }
    auto name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (switches.count(name)) {
      if (value)
        return fail(fmt::format("--{} takes no value", name));
      out.switches.insert(name);
      continue;
    }
    bool known = name == "config" || name == "set" || flag_keys().count(name)
                 || options.count(name);
    if (!known)
      return fail(fmt::format("unknown option --{} (see --help)", name));
    if (!value) {
      if (i + 1 >= argc)
        return fail(fmt::format("--{} needs a value", name));
      value = argv[++i];
    }
    if (options.count(name)) {
      out.values[name] = *value;
    } else if (name == "config") {
      out.src.file = *value;
    } else if (name == "set") {
      auto eq = value->find('=');
      if (eq == std::string::npos || eq == 0)
        return fail(fmt::format("--set expects KEY=VALUE, got '{}'", *value));
      out.src.flags.emplace_back(value->substr(0, eq), value->substr(eq + 1));
    } else {
      out.src.flags.emplace_back(flag_keys().at(name), *value);
    }
  }
  return out;
}

std::string config_flags_help() {
  return "  --config FILE          YAML config file (also SOUK_CONFIG)\n"
         "  --listen HOST:PORT     address to listen on (default "
         "127.0.0.1:8080)\n"
         "  --data-dir DIR         data directory (default ./var)\n"
         "  --database URL         sqlite:///path/souk.db or "
         "postgresql://user:pass@host:port/db\n"
         "  --public-url URL       URL buyers use to reach souk\n"
         "  --log-level LEVEL      trace|debug|info|warn|error|critical|off\n"
         "  --log-format FORMAT    text|json\n"
         "  --set KEY=VALUE        any config key, e.g. "
         "--set http.body_limit=2MiB\n"
         "Precedence: defaults < config file < SOUK_* environment < flags.\n";
}

} // namespace souk::config
