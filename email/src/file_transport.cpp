#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "souk/email/transport.hpp"

namespace souk::email {

namespace {

namespace fs = std::filesystem;

class file_transport : public transport {
public:
  explicit file_transport(fs::path dir) : dir_(std::move(dir)) {}

  status send(const outgoing& m) override {
    for (char c : m.id)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
        return error{errc::internal, "bad outbox id " + m.id};
    auto final_path = dir_ / (m.id + ".eml");
    // Not *.eml until complete: readers of the directory never see half.
    auto tmp = dir_ / ("." + m.id + ".tmp");
    std::error_code ec;
    fs::create_directories(dir_, ec);
    int fd
      = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
      return fail("open " + tmp.string());
    std::string_view left{m.bytes};
    while (!left.empty()) {
      auto n = ::write(fd, left.data(), left.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        auto err = fail("write " + tmp.string());
        ::close(fd);
        fs::remove(tmp, ec);
        return err;
      }
      left.remove_prefix(static_cast<size_t>(n));
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      auto err = fail("fsync " + tmp.string());
      fs::remove(tmp, ec);
      return err;
    }
    fs::rename(tmp, final_path, ec);
    if (ec)
      return error{errc::unavailable,
                   fmt::format("rename {}: {}", tmp.string(), ec.message())};
    return {};
  }

  std::string describe() const override { return "files in " + dir_.string(); }

private:
  static error fail(const std::string& what) {
    return error{errc::unavailable,
                 fmt::format("{}: {}", what, std::strerror(errno))};
  }

  fs::path dir_;
};

} // namespace

std::unique_ptr<transport> make_file_transport(std::filesystem::path dir) {
  return std::make_unique<file_transport>(std::move(dir));
}

} // namespace souk::email
