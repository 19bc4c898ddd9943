// soukd: the souk server. See `soukd --help`.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

#include "souk/config/cli.hpp"
#include "souk/core/log.hpp"

#include "node.hpp"

namespace {

constexpr const char* usage
  = "usage: soukd [options]\n"
    "\n"
    "Runs the souk server. With no options it runs the embedded default:\n"
    "SQLite, files and mail under ./var, the built-in sandbox gateway.\n"
    "\n"
    "Options:\n";

constexpr const char* own_switches
  = "  --check-config         validate the configuration, print it, exit\n"
    "  --help                 this text\n"
    "  --version              print the version\n";

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

  auto cli = souk::config::parse_command_line(
    argc, argv, {"check-config", "help", "version"});
  if (!cli) {
    std::cerr << "soukd: " << cli.err().detail << '\n';
    return 2;
  }
  if (cli->switches.count("help")) {
    std::cout << usage << souk::config::config_flags_help() << own_switches;
    return 0;
  }
  if (cli->switches.count("version")) {
    std::cout << "soukd " << SOUK_VERSION << '\n';
    return 0;
  }
  if (!cli->positional.empty()) {
    std::cerr << "soukd: unexpected argument '" << cli->positional.front()
              << "' (see --help)\n";
    return 2;
  }
  auto cfg = souk::config::load(cli->src);
  if (!cfg) {
    std::cerr << "soukd: " << cfg.err().detail << '\n';
    return 2;
  }
  if (cli->switches.count("check-config")) {
    std::cout << souk::config::describe(*cfg) << "configuration OK\n";
    return 0;
  }
  auto& settings = cfg->values;
  souk::log::setup(settings.log.level, settings.log.format);

  souk::node_extensions ext;
  // Taken for dead by another node (a long pause, a cut-off database):
  // stop as if asked to, and exit 1 so the service manager starts a new
  // node.
  ext.on_fenced = [] { ::kill(::getpid(), SIGTERM); };
  souk::node node{settings, std::move(ext)};
  if (auto err = node.start()) {
    souk::log::critical("cannot start: {}", err.detail);
    node.stop();
    return 1;
  }
  std::cout << "souk is running at " << node.url() << "\n"
            << "(press Ctrl-C to stop)" << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  souk::log::info("received {}, shutting down",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
  // A second signal during the graceful stop means "now".
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    souk::log::warn("second signal, exiting at once");
    std::_Exit(130);
  }).detach();
  node.stop();
  souk::log::info("stopped");
  return node.fenced() ? 1 : 0;
}
