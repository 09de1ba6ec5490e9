// Zero-insertion + im2col + GEMM (the seeds' three steps): the input with SH-1 zero rows (SW-1
// zero columns) between pixels, padded by DH*(KH-1) - crop_top, convolved at stride 1 with the
// kernel flipped 180 degrees and its in/out axes swapped. Kept as the textbook baseline: it
// multiplies every inserted zero, and the executed/useful multiply-add ratio shows the cost.
//
// The zero-inserted image is never stored: im2col reads it virtually (a position either maps to
// an input pixel or is zero). The im2col buffer is tiled by output rows, and a row too long for
// the budget by columns, so the workspace is bounded: per thread, K x tile pixels of at most
// max(kColumnBudgetFloats, 4 NR K) floats (K = Cin/g x KH x KW, NR the GEMM tile's width), plus
// the GEMM's packing buffers. The GEMM writes the output with bias and activation.
#include <algorithm>

#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#include "plan/checked.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

constexpr int64_t kColumnBudgetFloats = int64_t{1} << 20;
constexpr int64_t kMinTiles = 4;
constexpr int64_t kMinPiecePanels = 4;

class Im2colGemm final : public Strategy {
 public:
  explicit Im2colGemm(const Problem& pr) : pr_(pr), kt_(tiles_for(pr)) {
    const Params& p = pr.params;
    nchw_ = p.layout == Layout::nchw;
    xs_ = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    kk_ = p.kernel.h * p.kernel.w;
    k_ = pr.cig * kk_;
    // Whole rows while one fits the budget; else one row in pieces of tile_cols_ columns (a
    // 2^20-float budget against K x 32831 columns of a huge kernel asked for 268 GB), at least
    // a few pixel panels wide, so the GEMM's tiles stay full where K alone nears the budget.
    tile_cols_ = std::min(p.output.w, std::max<int64_t>(kMinPiecePanels * kt_.nr, kColumnBudgetFloats / k_));
    tile_rows_ = tile_cols_ < p.output.w ? 1 : std::max<int64_t>(1, kColumnBudgetFloats / (k_ * p.output.w));
    tile_rows_ = std::min(tile_rows_, std::max<int64_t>(1, ceil_div(p.output.h, kMinTiles)));
    col_tiles_ = ceil_div(p.output.w, tile_cols_);
    tiles_ = ceil_div(p.output.h, tile_rows_) * col_tiles_;
    const int64_t tile_pixels = tile_rows_ * tile_cols_;
    // Flipped weights: element (co, k) with k = (ci, th', tw') in NCHW or (th', tw', ci) in NHWC
    // is w[g*cig + ci][co][KH-1-th'][KW-1-tw'].
    std::vector<int64_t> k_off(static_cast<size_t>(k_));
    const std::vector<int64_t> co_off = strided_offsets(pr.cog, kk_);
    for (int64_t ci = 0; ci < pr.cig; ++ci)
      for (int64_t t = 0; t < kk_; ++t) k_off[size_t(k_index(ci, t))] = ci * pr.cog * kk_ + (kk_ - 1 - t);
    const int64_t r = nchw_ ? kt_.mr : kt_.nr;
    for (int64_t g = 0; g < p.groups; ++g) {
      AlignedBuffer buf(size_t(round_up(pr.cog, r) * k_), /*huge_pages=*/true);
      kt_.pack(pr.weight.data() + g * pr.cig * pr.cog * kk_, co_off.data(), pr.cog, k_off.data(), k_, r, buf.data());
      packed_.push_back(std::move(buf));
    }
    // The im2col tile: [k][pixel] in NCHW, [pixel][k] in NHWC.
    col_outer_ = strided_offsets(std::max(k_, tile_pixels), nchw_ ? 1 : k_);
    col_inner_ = strided_offsets(std::max(k_, tile_pixels), nchw_ ? tile_pixels : 1);
    channel_off_ = strided_offsets(pr.cog, nchw_ ? ys_.c : 1);
    pixel_out_off_.resize(size_t(tile_pixels));
    for (int64_t i = 0; i < tile_pixels; ++i) pixel_out_off_[size_t(i)] = i / tile_cols_ * ys_.h + i % tile_cols_ * ys_.w;
    k_range_ = {0, k_};
  }

  size_t workspace_floats(int threads) const override { return size_t(threads) * per_thread_floats(); }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    const int64_t per_image = p.groups * tiles_;
    parallel_for(threads, p.batch * per_image, [&](int64_t t, int tid) {
      const int64_t n = t / per_image, g = (t % per_image) / tiles_, tile = t % tiles_;
      run_tile(tile, g, x + n * xs_.n, y + n * ys_.n, ws + size_t(tid) * per_thread_floats());
    });
  }

  std::string implementation() const override { return std::string("im2col_gemm:") + kt_.gemm_name; }
  uint64_t executed_macs() const override {
    const Params& p = pr_.params;
    return uint64_t(p.batch) * uint64_t(p.groups) * uint64_t(pr_.cog) * uint64_t(k_) *
           uint64_t(p.output.h) * uint64_t(p.output.w);
  }

 private:
  // The GEMM tile for the output channels of a group.
  static const KernelTable& tiles_for(const Problem& pr) {
    const ChannelDim channels{pr.cog, 1.0};
    return tiles_for_channels(*pr.kernels, pr.params.layout == Layout::nchw, &channels, 1);
  }

  int64_t k_index(int64_t ci, int64_t t) const { return nchw_ ? ci * kk_ + t : t * pr_.cig + ci; }

  size_t per_thread_floats() const {
    return cache_line_floats(gemm_pack_floats(kt_) + size_t(k_ * tile_rows_ * tile_cols_));
  }

  void run_tile(int64_t tile, int64_t g, const float* x, float* y, float* ws) const {
    const Params& p = pr_.params;
    const int64_t oh0 = tile / col_tiles_ * tile_rows_, oh1 = std::min(p.output.h, oh0 + tile_rows_);
    const int64_t ow0 = tile % col_tiles_ * tile_cols_, ow1 = std::min(p.output.w, ow0 + tile_cols_);
    // Pixel i of the tile is output (oh0 + i / tile_cols_, ow0 + i % tile_cols_): a partial last
    // column piece only occurs with one row per tile, so its pixels stay 0 .. ow1 - ow0.
    const int64_t pixels = (oh1 - oh0) * (ow1 - ow0), tile_pixels = tile_rows_ * tile_cols_;
    float* cols = ws + gemm_pack_floats(kt_);
    const float* xg = x + g * pr_.cig * xs_.c;
    // Position (zh, zw) of the padded zero-inserted image maps to input (ih, iw) when
    // zh - pad_top == ih*SH (likewise zw); everything else is an inserted or padding zero. The
    // tile is zeroed in one sweep, then only the positions that hold input pixels are copied
    // (about one in SH*SW): the zeros are still multiplied by the GEMM, as the method does.
    const int64_t pad_top = p.dilation.h * (p.kernel.h - 1) - p.crop.h;
    const int64_t pad_left = p.dilation.w * (p.kernel.w - 1) - p.crop.w;
    std::fill(cols, cols + k_ * tile_pixels, 0.0f);
    // Tap rows outer (few reach a given row); then tap columns, or input columns when there are
    // fewer of those: a piece of a row under a kernel 65536 columns wide is reached from a few
    // input columns, and walking every tap column for every piece would dominate.
    for (int64_t th = 0; th < p.kernel.h; ++th) {
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        const int64_t zh = oh + th * p.dilation.h - pad_top;
        if (floor_mod(zh, p.stride.h) != 0 || zh < 0 || zh / p.stride.h >= p.input.h) continue;
        const int64_t ih = zh / p.stride.h;
        // Input column iw under tap column tw lands on output column ow = iw*SW + pad_left - tw*DW.
        const auto put = [&](int64_t tw, int64_t iw) {
          const int64_t t = th * p.kernel.w + tw;
          const int64_t pix = (oh - oh0) * tile_cols_ + iw * p.stride.w + pad_left - tw * p.dilation.w - ow0;
          const float* src = xg + ih * xs_.h + iw * xs_.w;
          if (nchw_) {
            for (int64_t ci = 0; ci < pr_.cig; ++ci) cols[k_index(ci, t) * tile_pixels + pix] = src[ci * xs_.c];
          } else {
            std::copy(src, src + pr_.cig, cols + pix * k_ + k_index(0, t));  // channels contiguous
          }
        };
        if (p.kernel.w <= p.input.w) {
          for (int64_t tw = 0; tw < p.kernel.w; ++tw) {
            const int64_t shift = pad_left - tw * p.dilation.w;
            const int64_t iw0 = std::max<int64_t>(0, ceil_div(ow0 - shift, p.stride.w));
            const int64_t iw1 = std::min<int64_t>(p.input.w, floor_div(ow1 - 1 - shift, p.stride.w) + 1);
            for (int64_t iw = iw0; iw < iw1; ++iw) put(tw, iw);
          }
        } else {
          for (int64_t iw = 0; iw < p.input.w; ++iw) {
            const int64_t base = iw * p.stride.w + pad_left;  // ow = base - tw*DW in [ow0, ow1)
            const int64_t tw0 = std::max<int64_t>(0, ceil_div(base - ow1 + 1, p.dilation.w));
            const int64_t tw1 = std::min<int64_t>(p.kernel.w, floor_div(base - ow0, p.dilation.w) + 1);
            for (int64_t tw = tw0; tw < tw1; ++tw) put(tw, iw);
          }
        }
      }
    }
    GemmBlock blk;
    blk.k_ranges = &k_range_;
    blk.k_range_count = 1;
    blk.c = y + g * pr_.cog * ys_.c + oh0 * ys_.h + ow0 * ys_.w;
    blk.epilogue = &p.epilogue;
    const Operand weights{packed_[size_t(g)].data(), k_, nullptr, nullptr, nullptr};
    const Operand columns{nullptr, 0, cols, col_outer_.data(), col_inner_.data()};
    const float* bias = pr_.bias.data() + g * pr_.cog;
    orient(blk, nchw_, weights, columns, 0, pr_.cog, pixels, channel_off_.data(), pixel_out_off_.data(), bias);
    gemm_block(blk, kt_, ws);
  }

  const Problem& pr_;
  const KernelTable& kt_;
  bool nchw_ = true;
  TensorStrides xs_{}, ys_{};
  int64_t kk_ = 0, k_ = 0, tile_rows_ = 1, tile_cols_ = 1, col_tiles_ = 1, tiles_ = 1;  // tiles_: row x column pieces
  std::vector<AlignedBuffer> packed_;
  std::vector<int64_t> col_outer_, col_inner_, channel_off_, pixel_out_off_;
  KRange k_range_{};
};

}  // namespace

StrategyInfo im2col_gemm_strategy() {
  return {"im2col_gemm", [](const Params&) { return std::string(); },
          [](const Problem& pr) -> std::unique_ptr<Strategy> { return std::make_unique<Im2colGemm>(pr); }};
}

}  // namespace tconv::detail
