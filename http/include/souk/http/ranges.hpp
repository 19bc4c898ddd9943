#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

/// Byte ranges of a `Range` request header (RFC 9110 §14).
namespace souk::http {

/// An inclusive range of byte positions.
struct byte_range {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
};

/// What to answer a Range header with for a representation of `size` bytes.
struct range_answer {
  enum class kind {
    full,          ///< 200 with the whole representation (no usable Range)
    partial,       ///< 206 with `ranges` (one part, or multipart/byteranges)
    unsatisfiable, ///< 416 with `Content-Range: bytes */size`
  };
  kind what = kind::full;
  std::vector<byte_range> ranges; ///< sorted, overlaps and neighbours merged
};

/// The most ranges one request may ask for; more are ignored (a full 200),
/// as RFC 9110 §14.2 allows against denial of service.
inline constexpr size_t max_ranges = 16;

/// Reads `header` (the value of `Range`) against `size`:
///  * not `bytes=` or a malformed range-set → ignored (full), as §14.2 says
///    a server may;
///  * `a-b`, `a-` and `-n` (suffix) ranges, each clipped to the end;
///    unsatisfiable ones dropped; none left → unsatisfiable (416);
///  * overlapping or adjacent ranges merged (§14.2 allows coalescing).
range_answer parse_range(std::string_view header, uint64_t size);

} // namespace souk::http
