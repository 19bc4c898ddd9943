#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sodium.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sys/stat.h>

#include "souk/core/ids.hpp"
#include "souk/storage/blob_store.hpp"

namespace souk::storage {

namespace fs = std::filesystem;

namespace {

error io_error(std::string what) {
  return error{errc::internal,
               fmt::format("{}: {}", what, std::strerror(errno))};
}

status fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return io_error("open " + dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return io_error("fsync " + dir.string());
  return {};
}

class local_writer : public blob_writer {
public:
  local_writer(fs::path tmp, fs::path final_path, std::string key, int fd)
    : tmp_(std::move(tmp)), final_(std::move(final_path)), key_(std::move(key)),
      fd_(fd) {
    crypto_hash_sha256_init(&hash_);
  }

  ~local_writer() override {
    if (fd_ >= 0)
      ::close(fd_);
    if (!committed_) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }

  status write(std::string_view bytes) override {
    if (fd_ < 0)
      return error{errc::internal, "write after commit"};
    crypto_hash_sha256_update(
      &hash_, reinterpret_cast<const unsigned char*>(bytes.data()),
      bytes.size());
    while (!bytes.empty()) {
      auto n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return io_error("write " + tmp_.string());
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
    }
    return {};
  }

  expected<blob_info> commit() override {
    if (fd_ < 0)
      return error{errc::internal, "commit twice"};
    if (::fsync(fd_) != 0)
      return io_error("fsync " + tmp_.string());
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    fs::create_directories(final_.parent_path(), ec);
    if (ec)
      return error{errc::internal, "mkdir " + final_.parent_path().string()
                                     + ": " + ec.message()};
    if (::rename(tmp_.c_str(), final_.c_str()) != 0)
      return io_error("rename to " + final_.string());
    committed_ = true;
    if (auto err = fsync_dir(final_.parent_path()))
      return err;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&hash_, digest);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    return blob_info{key_, size_, hex};
  }

private:
  fs::path tmp_;
  fs::path final_;
  std::string key_;
  int fd_;
  bool committed_ = false;
  uint64_t size_ = 0;
  crypto_hash_sha256_state hash_;
};

class local_reader : public blob_reader {
public:
  local_reader(int fd, uint64_t size) : fd_(fd), size_(size) {
    // Downloads read front to back, once: tell the kernel so.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~local_reader() override { ::close(fd_); }

  uint64_t size() const override { return size_; }

  expected<size_t> read_at(uint64_t offset, char* buf, size_t n) override {
    for (;;) {
      auto got = ::pread(fd_, buf, n, static_cast<off_t>(offset));
      if (got >= 0)
        return static_cast<size_t>(got);
      if (errno != EINTR)
        return io_error("read");
    }
  }

private:
  int fd_;
  uint64_t size_;
};

class local_store : public blob_store {
public:
  explicit local_store(fs::path root) : root_(std::move(root)) {}

  expected<std::unique_ptr<blob_writer>> create() override {
    if (sodium_init() < 0)
      return error{errc::internal, "libsodium failed to initialise"};
    std::error_code ec;
    fs::create_directories(root_ / "tmp", ec);
    if (ec)
      return error{errc::internal,
                   "mkdir " + (root_ / "tmp").string() + ": " + ec.message()};
    // Two levels of fan-out keep directories small; the key is all souk's.
    auto id = new_uuid();
    auto tail = random_hex(2);
    auto key = tail.substr(0, 2) + "/" + tail.substr(2, 2) + "/" + id;
    auto tmp = root_ / "tmp" / (id + ".part");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
      return io_error("create " + tmp.string());
    return std::unique_ptr<blob_writer>{
      new local_writer(tmp, root_ / "blobs" / key, key, fd)};
  }

  status remove(const std::string& key) override {
    if (!valid_key(key))
      return error{errc::internal, "not a blob key: " + key};
    std::error_code ec;
    fs::remove(root_ / "blobs" / key, ec);
    if (ec)
      return error{errc::internal, "remove " + key + ": " + ec.message()};
    return {};
  }

  expected<std::unique_ptr<blob_reader>> open(const std::string& key) override {
    if (!valid_key(key))
      return error{errc::not_found, "not a blob key: " + key};
    auto path = root_ / "blobs" / key;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT)
        return error{errc::not_found, "no blob " + key};
      return io_error("open " + path.string());
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      auto err = io_error("stat " + path.string());
      ::close(fd);
      return err;
    }
    return std::unique_ptr<blob_reader>{
      new local_reader(fd, static_cast<uint64_t>(st.st_size))};
  }

  bool exists(const std::string& key) const override {
    std::error_code ec;
    return valid_key(key) && fs::is_regular_file(root_ / "blobs" / key, ec);
  }

  expected<std::vector<blob_entry>> list() const override {
    return entries(root_ / "blobs");
  }

  expected<size_t> remove_abandoned(
    std::chrono::system_clock::time_point untouched_since) override {
    size_t removed = 0;
    auto tmp = root_ / "tmp";
    std::error_code ec;
    if (!fs::exists(tmp, ec))
      return removed;
    for (fs::directory_iterator
           it{tmp, fs::directory_options::skip_permission_denied, ec},
         end;
         !ec && it != end; it.increment(ec)) {
      auto name = it->path().filename().string();
      if (!name.ends_with(".part")
          || !is_uuid(std::string_view{name}.substr(0, name.size() - 5)))
        continue;
      auto written = last_changed(it->path());
      if (!written || *written >= untouched_since)
        continue; // committed meanwhile, or still being written
      std::error_code rm;
      if (fs::remove(it->path(), rm))
        ++removed;
    }
    if (ec)
      return error{errc::internal,
                   "list " + tmp.string() + ": " + ec.message()};
    return removed;
  }

  status quarantine(const std::string& key) override {
    if (!valid_key(key))
      return error{errc::internal, "not a blob key: " + key};
    auto to = root_ / "orphaned" / key;
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec)
      return error{errc::internal,
                   "mkdir " + to.parent_path().string() + ": " + ec.message()};
    if (::rename((root_ / "blobs" / key).c_str(), to.c_str()) != 0) {
      if (errno == ENOENT)
        return {}; // removed meanwhile (a replaced file's old bytes)
      return io_error("move " + key + " to quarantine");
    }
    // Its time in quarantine starts now.
    fs::last_write_time(to, fs::file_time_type::clock::now(), ec);
    return {};
  }

  expected<size_t>
  remove_quarantined(std::chrono::system_clock::time_point before) override {
    auto held = entries(root_ / "orphaned");
    if (!held)
      return held.err();
    size_t removed = 0;
    for (auto& b : *held) {
      if (b.written >= before)
        continue;
      std::error_code rm;
      if (fs::remove(root_ / "orphaned" / b.key, rm))
        ++removed;
    }
    return removed;
  }

private:
  // The blobs under `dir` (keys relative to it), each with the later of its
  // data's and its inode's last change: a rename (a commit, a restore that
  // kept old times) counts as a change.
  static expected<std::vector<blob_entry>> entries(const fs::path& dir) {
    std::vector<blob_entry> out;
    std::error_code ec;
    if (!fs::exists(dir, ec))
      return out;
    for (fs::recursive_directory_iterator
           it{dir, fs::directory_options::skip_permission_denied, ec},
         end;
         !ec && it != end; it.increment(ec)) {
      std::error_code type;
      if (!it->is_regular_file(type))
        continue;
      auto key = it->path().lexically_relative(dir).generic_string();
      if (!valid_key(key))
        continue; // not souk's: left alone
      auto written = last_changed(it->path());
      if (!written)
        continue; // gone meanwhile
      out.push_back({std::move(key), *written});
    }
    if (ec)
      return error{errc::internal,
                   "list " + dir.string() + ": " + ec.message()};
    return out;
  }

  static std::optional<std::chrono::system_clock::time_point>
  last_changed(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return std::nullopt;
    auto at = [](const timespec& t) {
      return std::chrono::system_clock::time_point{
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds{t.tv_sec}
          + std::chrono::nanoseconds{t.tv_nsec})};
    };
    return std::max(at(st.st_mtim), at(st.st_ctim));
  }

  // Keys come from `create`; refuse anything else so no caller can reach
  // outside the store.
  static bool valid_key(const std::string& key) {
    if (key.size() != 6 + 36 || key[2] != '/' || key[5] != '/')
      return false;
    for (size_t i : {0, 1, 3, 4})
      if (!std::isxdigit(static_cast<unsigned char>(key[i])))
        return false;
    return is_uuid(std::string_view{key}.substr(6));
  }

  fs::path root_;
};

} // namespace

expected<orphans_removed> remove_orphans(
  blob_store& store,
  const std::function<expected<std::unordered_set<std::string>>()>& named,
  std::chrono::system_clock::time_point before,
  std::chrono::system_clock::time_point expire_before) {
  orphans_removed out;
  auto abandoned = store.remove_abandoned(before);
  if (!abandoned)
    return abandoned.err();
  out.abandoned = *abandoned;
  auto expired = store.remove_quarantined(expire_before);
  if (!expired)
    return expired.err();
  out.expired = *expired;
  auto all = store.list();
  if (!all)
    return all.err();
  std::vector<std::string> old;
  for (auto& b : *all)
    if (b.written < before)
      old.push_back(b.key);
  if (old.empty())
    return out;
  // Asked after listing: a blob recorded meanwhile is named by now, and one
  // committed meanwhile is too young to be here.
  auto keys = named();
  if (!keys)
    return keys.err();
  std::vector<std::string> orphans;
  for (auto& key : old)
    if (!keys->contains(key))
      orphans.push_back(key);
  // Lost uploads are a few; most files unnamed is a database that is not
  // this store's (a fresh one, an old backup).
  if (!orphans.empty()
      && (keys->empty()
          || (orphans.size() > 10 && orphans.size() * 2 > old.size())))
    return error{errc::conflict,
                 fmt::format("{} of {} stored files older than the grace are "
                             "named by no product file (the database names "
                             "{}): that looks like another database, not "
                             "lost uploads, so nothing was moved",
                             orphans.size(), old.size(), keys->size())};
  for (auto& key : orphans) {
    if (auto err = store.quarantine(key))
      return err;
    ++out.quarantined;
  }
  return out;
}

std::unique_ptr<blob_store> make_local_store(fs::path root) {
  return std::make_unique<local_store>(std::move(root));
}

} // namespace souk::storage
