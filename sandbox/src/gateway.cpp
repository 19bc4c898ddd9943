#include "souk/sandbox/gateway.hpp"

#include "souk/core/hash.hpp"

#include "engine.hpp"
#include "routes.hpp"

namespace souk::sandbox {

gateway::gateway(options o) : engine_(std::make_shared<engine>(std::move(o))) {}

gateway::~gateway() {
  stop();
}

void gateway::add_routes(http::router& r, const std::string& prefix) {
  sandbox::add_routes(r, prefix, engine_);
}

void gateway::set_behaviour(behaviour b) {
  engine_->set_behaviour(b);
}

behaviour gateway::current_behaviour() const {
  return engine_->current_behaviour();
}

void gateway::set_webhook_url(std::string url) {
  engine_->set_webhook_url(std::move(url));
}

void gateway::set_public_url(std::string url) {
  engine_->set_public_url(std::move(url));
}

status gateway::pay(const std::string& reference) {
  auto done = engine_->finish(reference, true);
  return done ? status{} : std::move(done).err();
}

status gateway::decline(const std::string& reference) {
  auto done = engine_->finish(reference, false);
  return done ? status{} : std::move(done).err();
}

status gateway::set_transfer_outcome(std::string status) {
  return engine_->set_transfer_outcome(std::move(status));
}

gateway::counters gateway::stats() const {
  return engine_->stats();
}

uint64_t gateway::verify_calls(const std::string& reference) const {
  return engine_->verify_calls(reference);
}

std::vector<gateway::attempt> gateway::attempts() const {
  return engine_->attempts();
}

void gateway::stop() {
  engine_->stop();
}

std::string signature(std::string_view secret_key, std::string_view body) {
  return hmac_sha512_hex(secret_key, body);
}

} // namespace souk::sandbox
