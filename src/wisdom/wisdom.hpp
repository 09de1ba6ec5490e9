// Wisdom: measured strategy choices, written by `tconv tune` and read by plans made with "auto".
//
// The file is plain text, one measured winner per line, and must be complete to be used:
//
//   tconv-wisdom 1
//   # any comment line
//   entry version=0.1.0 isa=avx512f threads=2 N=16 Cin=256 ... layout=nchw strategy=subpixel ms=1.25
//   end 1
//
// An entry's key is everything that changes which strategy is fastest: the library version, the
// ISA the plan runs, its max_threads, and the shape (batch, channels, spatial sizes, kernel,
// stride, dilation, groups, crop, output size, activation layout). Weight layout, bias and the
// activation are left out: they are handled once at packing or by the shared epilogue, the same
// for every strategy. The `end N` line (N = number of entries) is how a truncated file is told
// from a short one. A file with any defect is ignored as a whole: a half-trusted file is worse
// than none, and the heuristic is always there to fall back on.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "tconv/tconv.hpp"

namespace tconv::detail {

constexpr int kWisdomFormat = 1;

struct WisdomEntry {
  std::string strategy;  // a registered strategy, never "auto"
  double median_ms = 0;  // as measured by `tconv tune`; informative only
};

// key (see wisdom_key) -> the measured winner
using WisdomTable = std::map<std::string, WisdomEntry>;

// The canonical key text for a shape run on `isa` with `threads` threads by this library version.
std::string wisdom_key(const Params& params, const std::string& isa, int threads);

// Parses a whole file. On any defect returns false and sets *why to "line L: <rule>"; *out is
// then left empty.
bool parse_wisdom(const std::string& text, WisdomTable* out, std::string* why);

// The file text for a table (parse_wisdom(format_wisdom(t)) == t).
std::string format_wisdom(const WisdomTable& table);

// The table in `path`, read once per file version (path, size, modification time) and shared.
// Returns null when the file is missing, unreadable or defective; *warning then says why. The
// warning is also printed to stderr, once per file version per process.
std::shared_ptr<const WisdomTable> load_wisdom(const std::string& path, std::string* warning);

// Writes `table` to `path` atomically (a temporary file renamed over it). Throws Error on failure.
void save_wisdom(const std::string& path, const WisdomTable& table);

}  // namespace tconv::detail
