#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "souk/core/error.hpp"

/// Where product files' bytes live. The database holds each file's row; the
/// store holds its bytes under a key souk generates (never derived from user
/// input). Local files today; the interface is shaped so an S3-compatible
/// backend can follow (write once, then make visible; read by key; remove).
namespace souk::storage {

/// What a finished write produced.
struct blob_info {
  std::string key; ///< e.g. "3f/a2/01890a5d-ac96-774b-bcce-b302099a8057"
  uint64_t size = 0;
  std::string sha256; ///< hex
};

/// One blob being written. Not thread-safe: one writer per upload, used by
/// one thread at a time. Destroying it without `commit` removes what was
/// written: a failed or aborted upload leaves nothing behind.
class blob_writer {
public:
  virtual ~blob_writer() = default;

  /// Appends bytes (and feeds the SHA-256).
  virtual status write(std::string_view bytes) = 0;

  /// Makes the blob durable and visible under its key. After this the writer
  /// is spent.
  virtual expected<blob_info> commit() = 0;
};

/// A committed blob opened for reading. Its bytes stay readable while it is
/// open, even if the blob is removed or replaced meanwhile (a download in
/// progress finishes with the bytes it started with). Not thread-safe: one
/// reader per download, used by one thread at a time.
class blob_reader {
public:
  virtual ~blob_reader() = default;

  /// The blob's size in bytes.
  virtual uint64_t size() const = 0;

  /// Reads up to `n` bytes at `offset` into `buf`; returns how many (0 only
  /// at or past the end).
  virtual expected<size_t> read_at(uint64_t offset, char* buf, size_t n) = 0;
};

/// A committed blob, as `blob_store::list` finds it.
struct blob_entry {
  std::string key;
  std::chrono::system_clock::time_point written; ///< when it was committed
};

/// A store of immutable blobs. Thread-safe.
class blob_store {
public:
  virtual ~blob_store() = default;

  /// Starts a new blob under a fresh key.
  virtual expected<std::unique_ptr<blob_writer>> create() = 0;

  /// Removes a blob; removing a missing one succeeds.
  virtual status remove(const std::string& key) = 0;

  /// Opens a committed blob; `errc::not_found` if there is none.
  virtual expected<std::unique_ptr<blob_reader>> open(const std::string& key)
    = 0;

  /// True if a committed blob has this key.
  virtual bool exists(const std::string& key) const = 0;

  /// Every committed blob (for housekeeping: an upload that crashed
  /// between committing its blob and recording it leaves a blob nothing
  /// names). An entry that cannot be read (gone meanwhile, no permission)
  /// is skipped.
  virtual expected<std::vector<blob_entry>> list() const = 0;

  /// Removes writes in progress that nothing has written to since
  /// `untouched_since` (what a crash in the middle of an upload leaves);
  /// returns how many.
  virtual expected<size_t>
  remove_abandoned(std::chrono::system_clock::time_point untouched_since) = 0;

  /// Moves a committed blob out of reach (`open` and `exists` no longer
  /// find it) into quarantine, where an operator can still take it back;
  /// its time in quarantine starts now.
  virtual status quarantine(const std::string& key) = 0;

  /// Removes blobs quarantined before `before`; returns how many.
  virtual expected<size_t>
  remove_quarantined(std::chrono::system_clock::time_point before) = 0;
};

/// What `remove_orphans` did.
struct orphans_removed {
  size_t quarantined = 0; ///< committed blobs nothing named, moved aside
  size_t abandoned = 0;   ///< unfinished writes removed
  size_t expired = 0;     ///< quarantined blobs removed for good
};

/// Housekeeping of `store`:
///  * writes in progress untouched since `before` are removed;
///  * committed blobs written before `before` whose keys `named` (asked
///    after the store is listed) does not hold are quarantined, unless that
///    looks like the wrong database rather than lost uploads: `named` holds
///    no key at all, or more than half of those blobs (and more than ten)
///    would go. Then nothing is moved and the error says why;
///  * blobs quarantined before `expire_before` are removed.
/// `before` must leave an upload time to record its blob (an hour, say).
expected<orphans_removed> remove_orphans(
  blob_store& store,
  const std::function<expected<std::unordered_set<std::string>>()>& named,
  std::chrono::system_clock::time_point before,
  std::chrono::system_clock::time_point expire_before);

/// Files under `root`: blobs in `root/blobs/<key>`, writes in progress in
/// `root/tmp/` (a temporary file, fsync, rename, fsync of the directory), so
/// a crash never leaves a partial blob under a key; quarantined blobs in
/// `root/orphaned/<key>`.
std::unique_ptr<blob_store> make_local_store(std::filesystem::path root);

} // namespace souk::storage
