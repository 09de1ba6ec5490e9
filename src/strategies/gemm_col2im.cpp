// GEMM + col2im strategy (Caffe, PyTorch slow_conv_transpose2d, TFLite): per image and group,
// cols = W^T x X on the packed engine, then col2im gathers each output pixel's column entries
// with bias and activation in the same pass.
//
// Bounded workspace: instead of PyTorch's N x Cout x KH x KW x H x W column buffer, the output
// is cut into bands of rows; a band needs the columns of only the input rows that reach it
// (band/SH + about KH*DH/SH rows, the overlap recomputed), so one thread holds at most
// Cout/groups * KH * KW * (band input rows) * W floats. Bands also make the threads' outputs
// disjoint, and the band layout never depends on the thread count.
#include <algorithm>

#include "epilogue/epilogue.hpp"
#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#include "plan/checked.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

constexpr int64_t kColumnBudgetFloats = int64_t{1} << 20;  // 4 MiB of columns per thread
constexpr int64_t kMinBands = 4;                           // so two threads have work

struct Band {
  int64_t oh0, oh1;  // output rows
  int64_t ih0, ih1;  // input rows whose columns they need (ih1 <= ih0 when none)
};

class GemmCol2im final : public Strategy {
 public:
  explicit GemmCol2im(const Problem& pr) : pr_(pr), kt_(*pr.kernels) {
    const Params& p = pr.params;
    nchw_ = p.layout == Layout::nchw;
    xs_ = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    kk_ = p.kernel.h * p.kernel.w;
    rows_ = pr.cog * kk_;  // column rows per group: (co, th, tw) in NCHW, (th, tw, co) in NHWC
    plan_bands();
    // Weights as the GEMM's prepacked operand: element (col row, ci) = w[g*cig + ci][co][th][tw].
    std::vector<int64_t> row_off(static_cast<size_t>(rows_));
    const std::vector<int64_t> ci_off = strided_offsets(pr.cig, pr.cog * kk_);
    for (int64_t co = 0; co < pr.cog; ++co)
      for (int64_t t = 0; t < kk_; ++t) row_off[size_t(col_row(co, t))] = co * kk_ + t;
    const int64_t r = nchw_ ? kt_.mr : kt_.nr;
    for (int64_t g = 0; g < p.groups; ++g) {
      AlignedBuffer buf(size_t(round_up(rows_, r) * pr.cig));
      kt_.pack(pr.weight.data() + g * pr.cig * rows_, row_off.data(), rows_, ci_off.data(), pr.cig, r, buf.data());
      packed_.push_back(std::move(buf));
    }
    ci_off_ = strided_offsets(pr.cig, xs_.c);
    pixel_off_ = strided_offsets(max_pixels_, xs_.w);
    col_ld_off_ = strided_offsets(std::max(rows_, max_pixels_), nchw_ ? max_pixels_ : rows_);
    identity_ = strided_offsets(std::max(rows_, max_pixels_), 1);
    k_range_ = {0, pr.cig};
  }

  size_t workspace_floats(int threads) const override { return size_t(threads) * per_thread_floats(); }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    const int64_t per_image = p.groups * int64_t(bands_.size());
    parallel_for(threads, p.batch * per_image, [&](int64_t t, int tid) {
      const int64_t n = t / per_image, g = (t % per_image) / int64_t(bands_.size());
      const Band& band = bands_[size_t(t % int64_t(bands_.size()))];
      float* mine = ws + size_t(tid) * per_thread_floats();
      run_band(band, g, x + n * xs_.n, y + n * ys_.n, mine);
    });
  }

  std::string implementation() const override { return std::string("gemm_col2im:") + kt_.gemm_name; }
  uint64_t executed_macs() const override { return executed_per_image_ * uint64_t(pr_.params.batch); }

 private:
  int64_t col_row(int64_t co, int64_t t) const { return nchw_ ? co * kk_ + t : t * pr_.cog + co; }

  size_t per_thread_floats() const { return cache_line_floats(gemm_pack_floats(kt_) + size_t(rows_ * max_pixels_)); }

  void plan_bands() {
    const Params& p = pr_.params;
    const int64_t W = p.input.w, SH = p.stride.h;
    const int64_t reach = (p.kernel.h - 1) * p.dilation.h;  // output rows one input row spans - 1
    const int64_t budget_in_rows = std::max<int64_t>(1, kColumnBudgetFloats / std::max<int64_t>(1, rows_ * W));
    int64_t band = std::max<int64_t>(1, budget_in_rows * SH - reach);
    band = std::min(band, std::max<int64_t>(SH, ceil_div(p.output.h, kMinBands)));
    for (int64_t oh0 = 0; oh0 < p.output.h; oh0 += band) {
      Band b{oh0, std::min(p.output.h, oh0 + band), 0, 0};
      b.ih0 = std::max<int64_t>(0, ceil_div(b.oh0 + p.crop.h - reach, SH));
      b.ih1 = std::min<int64_t>(p.input.h, floor_div(b.oh1 - 1 + p.crop.h, SH) + 1);
      const int64_t pixels = std::max<int64_t>(0, b.ih1 - b.ih0) * W;
      max_pixels_ = std::max(max_pixels_, pixels);
      executed_per_image_ += uint64_t(pixels) * uint64_t(rows_) * uint64_t(pr_.cig) * uint64_t(p.groups);
      bands_.push_back(b);
    }
  }

  void run_band(const Band& band, int64_t g, const float* x, float* y, float* ws) const {
    const Params& p = pr_.params;
    float* cols = ws + gemm_pack_floats(kt_);
    const int64_t pixels = std::max<int64_t>(0, band.ih1 - band.ih0) * p.input.w;
    if (pixels > 0) {
      GemmBlock blk;
      blk.k_ranges = &k_range_;
      blk.k_range_count = 1;
      const Operand weights{packed_[size_t(g)].data(), pr_.cig, nullptr, nullptr, nullptr};
      const Operand input{nullptr, 0, x + g * pr_.cig * xs_.c + band.ih0 * xs_.h, pixel_off_.data(), ci_off_.data()};
      blk.c = cols;
      if (nchw_) {  // cols[(co, t)][pixel]
        blk.m_count = rows_;
        blk.n_count = pixels;
        blk.a = weights;
        blk.b = input;
        blk.c_row_off = col_ld_off_.data();
        blk.c_col_off = identity_.data();
      } else {  // cols[pixel][(t, co)]
        blk.m_count = pixels;
        blk.n_count = rows_;
        blk.a = input;
        blk.b = weights;
        blk.c_row_off = col_ld_off_.data();
        blk.c_col_off = identity_.data();
      }
      gemm_block(blk, kt_, ws);
    }
    col2im(band, g, cols, y);
  }

  // out[oh][ow] = act(bias + sum over the taps that reach it of their column entry), taps in
  // ascending (th, tw) order.
  void col2im(const Band& band, int64_t g, const float* cols, float* y) const {
    const Params& p = pr_.params;
    const int64_t W = p.input.w, cog = pr_.cog;
    const int64_t entry_stride = nchw_ ? 1 : rows_;    // next input pixel
    const int64_t row_stride = nchw_ ? max_pixels_ : 1;  // next column row
    for (int64_t oh = band.oh0; oh < band.oh1; ++oh) {
      for (int64_t ow = 0; ow < p.output.w; ++ow) {
        float* out = y + g * cog * ys_.c + oh * ys_.h + ow * ys_.w;
        for (int64_t co = 0; co < cog; ++co) out[co * ys_.c] = pr_.bias[size_t(g * cog + co)];
        for (int64_t th = 0; th < p.kernel.h; ++th) {
          const int64_t rh = oh + p.crop.h - th * p.dilation.h;
          if (floor_mod(rh, p.stride.h) != 0) continue;
          const int64_t ih = floor_div(rh, p.stride.h);
          if (ih < band.ih0 || ih >= band.ih1) continue;
          for (int64_t tw = 0; tw < p.kernel.w; ++tw) {
            const int64_t rw = ow + p.crop.w - tw * p.dilation.w;
            if (floor_mod(rw, p.stride.w) != 0) continue;
            const int64_t iw = floor_div(rw, p.stride.w);
            if (iw < 0 || iw >= W) continue;
            const float* src = cols + ((ih - band.ih0) * W + iw) * entry_stride +
                               col_row(0, th * p.kernel.w + tw) * row_stride;
            const int64_t co_step = (nchw_ ? kk_ : 1) * row_stride;
            for (int64_t co = 0; co < cog; ++co) out[co * ys_.c] += src[co * co_step];
          }
        }
        for (int64_t co = 0; co < cog; ++co) out[co * ys_.c] = apply_activation(out[co * ys_.c], p.epilogue);
      }
    }
  }

  const Problem& pr_;
  const KernelTable& kt_;
  bool nchw_ = true;
  TensorStrides xs_{}, ys_{};
  int64_t kk_ = 0, rows_ = 0, max_pixels_ = 0;
  std::vector<Band> bands_;
  std::vector<AlignedBuffer> packed_;
  std::vector<int64_t> ci_off_, pixel_off_, col_ld_off_, identity_;
  KRange k_range_{};
  uint64_t executed_per_image_ = 0;
};

}  // namespace

StrategyInfo gemm_col2im_strategy() {
  return {"gemm_col2im", [](const Params&) { return std::string(); },
          [](const Problem& pr) -> std::unique_ptr<Strategy> { return std::make_unique<GemmCol2im>(pr); }};
}

}  // namespace tconv::detail
