// The interface every strategy implements, the validated problem it is built from, and the
// registry the plan, the tests and the benchmarks all iterate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dispatch/kernel_table.hpp"
#include "tconv/tconv.hpp"

namespace tconv::detail {

// A validated problem with its weights in one canonical layout.
struct Problem {
  Params params;
  int64_t cig = 0, cog = 0;   // channels per group
  std::vector<float> weight;  // [Cin][Cout/groups][KH][KW] whatever the caller's layout
  std::vector<float> bias;    // Cout floats (zeros without bias)
  const KernelTable* kernels = nullptr;
  int max_threads = 1;  // execute() runs with 1..max_threads threads

  // Canonical weight w[g*cig + ci][co][th][tw].
  float w(int64_t cin, int64_t co, int64_t th, int64_t tw) const {
    const Params& p = params;
    return weight[size_t(((cin * cog + co) * p.kernel.h + th) * p.kernel.w + tw)];
  }
};

// Element strides of a 4-D activation tensor, whatever its layout.
struct TensorStrides {
  int64_t n, c, h, w;
};
inline TensorStrides strides_of(Layout layout, int64_t c, int64_t h, int64_t w) {
  if (layout == Layout::nchw) return {c * h * w, h * w, w, 1};
  return {h * w * c, 1, w * c, c};
}

// Per-thread workspace slices are rounded to whole cache lines so every slice (and the packed
// panels at its start) stays 64-byte aligned.
constexpr int64_t kCacheLineFloats = 16;
inline size_t cache_line_floats(size_t floats) {
  return (floats + kCacheLineFloats - 1) / kCacheLineFloats * kCacheLineFloats;
}

// Receives output rows as they become final (layout_bridge.cpp transposes each back into the
// caller's layout on the thread that finished it, while the row is still in that core's cache).
class OutputRowSink {
 public:
  virtual ~OutputRowSink() = default;
  // Rows [oh_begin, oh_end) of image n hold their final values (every channel and column); each
  // row is told once.
  virtual void rows_done(int64_t n, int64_t oh_begin, int64_t oh_end) const = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Floats of workspace execute() needs when run with up to `threads` threads.
  virtual size_t workspace_floats(int threads) const = 0;
  // workspace: workspace_floats(threads) floats, 64-byte aligned.
  virtual void execute(const float* input, float* output, float* workspace, int threads) const = 0;
  // execute(), telling `sink` of each output row once it is final; false (nothing run) when this
  // plan cannot tell (its tasks finish rows in parts).
  virtual bool execute_by_rows(const float* /*input*/, float* /*output*/, float* /*workspace*/, int /*threads*/,
                               const OutputRowSink& /*sink*/) const {
    return false;
  }
  // What the benchmark's detail column and Plan::implementation() show.
  virtual std::string implementation() const = 0;
  virtual uint64_t executed_macs() const = 0;
};

struct StrategyInfo {
  const char* name;
  // Empty when the strategy handles these parameters, otherwise why not.
  std::string (*not_applicable)(const Params&);
  std::unique_ptr<Strategy> (*create)(const Problem&);
};

// All strategies, "reference" first. Adding a strategy means adding its line here.
const std::vector<StrategyInfo>& strategy_registry();

// Each strategy's file provides its entry.
StrategyInfo reference_strategy();
StrategyInfo direct_scatter_strategy();
StrategyInfo gemm_col2im_strategy();
StrategyInfo im2col_gemm_strategy();
StrategyInfo subpixel_strategy();
StrategyInfo subpixel_via_nhwc_strategy();
StrategyInfo direct_scatter_via_nchw_strategy();

// Whether direct_scatter stages an NCHW input (small image, few zero columns: its fast path;
// also for NHWC tensors of a single channel, which are the same bytes); auto's rules ask the
// strategy rather than repeat its limits.
bool direct_stages_nchw_input(const Params& params);
// Whether direct_scatter runs an NCHW layer as tap sums (AVX-512, few output channels per group
// against at least 16 input channels, rows that fill their vectors).
bool direct_uses_tap_sums(const Params& params, const KernelTable& kernels);
// Whether direct_scatter runs an NHWC layer as dot products along the input channels (few
// output channels per group against many input channels).
bool direct_uses_dot_products(const Params& params, const KernelTable& kernels);
// Whether direct_scatter runs an NCHW layer with vectors across images (few output channels per
// group, a batch of at least one vector of images: its batch lanes).
bool direct_uses_batch_lanes(const Params& params, const KernelTable& kernels);
// The table whose vectors those lanes are: `kernels`, or its half-width table when the batch
// fits its lanes and not those of `kernels` (AVX-512, NHWC: 8-15 or 17-21 images); null when
// lanes do not apply.
const KernelTable* direct_batch_lane_kernels(const Params& params, const KernelTable& kernels);
// Whether direct_scatter runs an NCHW layer image by image on its input staged pixel-major, as
// dot products along the input channels (few output channels per group, against many input
// channels, and a batch too small for lanes across images).
bool direct_uses_image_lanes(const Params& params, const KernelTable& kernels);
// Whether an NCHW layer's input is too large for direct's lanes (their staging transposes read
// every channel plane from memory), so direct runs its row kernels in channel passes instead.
bool nchw_rows_beat_lanes(const Params& params);

// The widest W stride at which NCHW subpixel writes phase-split rows (subpixel.cpp): up to the
// vector width on AVX2, 4 on AVX-512 (where strides 5 to 16 measured slower than the tile stores).
int64_t subpixel_phase_split_max_stride(const KernelTable& kernels);

// A plan that runs `create`'s plan for the other layout (NHWC for NCHW tensors, and back) on
// copies of chunks of images in that layout (layout_bridge.cpp); its workspace adds the copies.
std::unique_ptr<Strategy> through_other_layout(const Problem& pr, std::unique_ptr<Strategy> (*create)(const Problem&));

// The heuristic behind "auto": a registered strategy name and the reason for it.
struct Choice {
  std::string strategy;
  std::string reason;
};
Choice choose_strategy(const Params& params, const KernelTable& kernels);

}  // namespace tconv::detail
