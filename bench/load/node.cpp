#include <csignal>

#include "run.hpp"

namespace souk::load {

bool soukd_node::start() {
  std::lock_guard g{mtx_};
  proc_ = std::make_unique<child>(argv_, log_);
  return proc_->start();
}

void soukd_node::stop(bool hard) {
  std::lock_guard g{mtx_};
  if (!proc_)
    return;
  peak_kib_ = std::max(peak_kib_, load::peak_rss_kib(proc_->pid()));
  proc_->stop(hard ? SIGKILL : SIGTERM);
  proc_.reset();
}

bool soukd_node::wait_ready(milliseconds limit) {
  return wait_ok(url() + "/readyz", limit, {}, [this] {
    std::lock_guard g{mtx_};
    return proc_ && proc_->alive();
  });
}

pid_t soukd_node::pid() {
  std::lock_guard g{mtx_};
  return proc_ ? proc_->pid() : 0;
}

long soukd_node::peak_rss_kib() {
  std::lock_guard g{mtx_};
  if (proc_)
    peak_kib_ = std::max(peak_kib_, load::peak_rss_kib(proc_->pid()));
  return peak_kib_;
}

} // namespace souk::load
