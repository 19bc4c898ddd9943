// Serves one extra route with souk's HTTP layer: the same router, problem
// documents and request-id logging that soukd uses.
//
//   build/dev/examples/example_custom_route 127.0.0.1:9000
//   curl -s localhost:9000/greet/ada        -> {"greeting":"hello, ada"}
//   curl -s localhost:9000/greet/x -X POST  -> 405 problem document
//
// Stops on Ctrl-C, letting in-flight requests finish.

#include <csignal>
#include <iostream>

#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/http/server.hpp"

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  souk::http::router routes;
  routes.add(
    "GET", "/greet/{name}",
    [](const souk::http::request& req, souk::http::reply_fn reply) {
      auto& name = req.param("name");
      if (name.size() > 64)
        return reply(souk::http::problem(
          souk::error{souk::errc::invalid_field,
                      "name is longer than 64 characters", "name"},
          req.request_id));
      req.log.info("greeting {}", name);
      reply(souk::http::json_response(200, {{"greeting", "hello, " + name}}));
    });

  souk::http::server_options opts;
  opts.listen = argc > 1 ? argv[1] : "127.0.0.1:9000";
  souk::http::server server{opts, routes};
  if (auto err = server.start()) {
    std::cerr << err.detail << '\n';
    return 1;
  }
  std::cout << "listening on port " << server.port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.shutdown(std::chrono::seconds(5));
  return 0;
}
