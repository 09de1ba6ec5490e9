// Direct strategy: the definition without lowering, no packing and no GEMM. Each output row is
// owned by one task, which accumulates into it the products of the input rows that reach it:
//
// NCHW (vectors along the width): a row of one channel, split by W stride phase, is a sum of
// shifted input rows times scalar taps (kernel row_fma); the W phases are then interleaved into
// the output row with bias and activation. Border pixels use only their valid taps (the phase
// segments of plan/geometry.hpp), so no padded tap is multiplied.
// NHWC (vectors along channels): each output pixel's channel vector gathers every valid
// (input pixel, tap) pair's channel vector times the tap matrix (vec_mat), or the tap vector
// for depthwise layers (chan_fma).
//
// Memory-bound layers (depthwise, very few channels) are where this wins: it reads the input
// and weights in place and writes each output element once.
#include <algorithm>

#include "epilogue/epilogue.hpp"
#include "plan/checked.hpp"
#include "plan/geometry.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

// A valid tap run of one output position along one dimension.
struct TapRun {
  const Phase1D* phase;
  int64_t q;             // phase output index
  int64_t begin, end;    // valid taps of the phase
};

TapRun run_at(const std::vector<Phase1D>& phases, int64_t o, int64_t crop, int64_t s) {
  const Phase1D& ph = phases[size_t(floor_mod(o + crop, s))];
  const int64_t q = (o - ph.first) / s;
  for (const auto& seg : ph.segments) {
    if (q >= seg.q0 && q < seg.q1) return {&ph, q, seg.tap_begin, seg.tap_end};
  }
  return {&ph, q, 0, 0};
}

class DirectScatter final : public Strategy {
 public:
  explicit DirectScatter(const Problem& pr) : pr_(pr), kt_(*pr.kernels) {
    const Params& p = pr.params;
    nchw_ = p.layout == Layout::nchw;
    depthwise_ = pr.cig == 1 && pr.cog == 1;
    xs_ = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    phases_h_ = decompose_phases(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h);
    phases_w_ = decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
    if (!nchw_) {
      // Tap matrices [th][tw][g][ci][co] (vec_mat), or [th][tw][c] for depthwise (chan_fma).
      const int64_t KH = p.kernel.h, KW = p.kernel.w;
      taps_.resize(size_t(KH * KW * p.in_channels * pr.cog));
      for (int64_t t = 0; t < KH * KW; ++t)
        for (int64_t cin = 0; cin < p.in_channels; ++cin)
          for (int64_t co = 0; co < pr.cog; ++co)
            taps_[size_t((t * p.in_channels + cin) * pr.cog + co)] = pr.w(cin, co, t / KW, t % KW);
    }
  }

  size_t workspace_floats(int threads) const override { return size_t(threads) * per_thread_floats(); }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    if (nchw_) {
      parallel_for(threads, p.batch * p.out_channels, [&](int64_t t, int tid) {
        const int64_t n = t / p.out_channels, c = t % p.out_channels;
        channel_nchw(x + n * xs_.n, y + n * ys_.n, c, ws + size_t(tid) * per_thread_floats());
      });
    } else {
      parallel_for(threads, p.batch * p.output.h, [&](int64_t t, int tid) {
        const int64_t n = t / p.output.h, oh = t % p.output.h;
        row_nhwc(x + n * xs_.n, y + n * ys_.n, oh, ws + size_t(tid) * per_thread_floats());
      });
    }
  }

  std::string implementation() const override {
    return std::string(nchw_ ? "direct_rows_" : (depthwise_ ? "direct_chanwise_" : "direct_vecmat_")) +
           "f32__" + kt_.isa_name;
  }
  uint64_t executed_macs() const override { return pr_.params.useful_macs(); }

 private:
  int64_t max_taps() const {
    const Params& p = pr_.params;
    return pr_.cig * p.kernel.h * p.kernel.w;
  }
  size_t per_thread_floats() const {
    const Params& p = pr_.params;
    // NCHW: the phase-split row + tap offsets (int64, 2 floats) + tap weights.
    // NHWC: the channel accumulator + tap offsets.
    const int64_t acc = nchw_ ? p.output.w : p.out_channels;
    return cache_line_floats(size_t(acc + 3 * max_taps() + 16));
  }

  void channel_nchw(const float* x, float* y, int64_t c, float* ws) const {
    const Params& p = pr_.params;
    const int64_t g = c / pr_.cog, co = c % pr_.cog;
    const float* xg = x + g * pr_.cig * xs_.c;
    float* acc = ws;  // W phases one after another
    int64_t* offs = reinterpret_cast<int64_t*>(ws + ((p.output.w + 15) / 16) * 16);
    float* wts = reinterpret_cast<float*>(offs + max_taps());
    const float bias = pr_.bias[size_t(c)];
    for (int64_t oh = 0; oh < p.output.h; ++oh) {
      const TapRun rh = run_at(phases_h_, oh, p.crop.h, p.stride.h);
      float* phase_acc = acc;
      for (const Phase1D& fw : phases_w_) {
        std::fill(phase_acc, phase_acc + fw.count, 0.0f);
        for (const auto& seg : fw.segments) {
          int64_t taps = 0;
          for (int64_t ci = 0; ci < pr_.cig; ++ci) {
            for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
              const auto& th = rh.phase->taps[size_t(jh)];
              for (int64_t jw = seg.tap_begin; jw < seg.tap_end; ++jw) {
                const auto& tw = fw.taps[size_t(jw)];
                offs[taps] = ci * xs_.c + (th.base + rh.q) * xs_.h + tw.base + seg.q0;
                wts[taps] = pr_.w(g * pr_.cig + ci, co, th.k, tw.k);
                ++taps;
              }
            }
          }
          if (taps > 0) kt_.row_fma(phase_acc + seg.q0, seg.q1 - seg.q0, xg, offs, wts, taps);
        }
        phase_acc += fw.count;
      }
      // Interleave the phases into the output row.
      float* out = y + c * ys_.c + oh * ys_.h;
      phase_acc = acc;
      for (const Phase1D& fw : phases_w_) {
        for (int64_t q = 0; q < fw.count; ++q) {
          out[fw.first + q * p.stride.w] = apply_activation(phase_acc[q] + bias, p.epilogue);
        }
        phase_acc += fw.count;
      }
    }
  }

  void row_nhwc(const float* x, float* y, int64_t oh, float* ws) const {
    const Params& p = pr_.params;
    const int64_t C = p.out_channels, KW = p.kernel.w;
    float* acc = ws;
    const TapRun rh = run_at(phases_h_, oh, p.crop.h, p.stride.h);
    for (int64_t ow = 0; ow < p.output.w; ++ow) {
      const TapRun rw = run_at(phases_w_, ow, p.crop.w, p.stride.w);
      std::fill(acc, acc + C, 0.0f);
      if (depthwise_) {
        // Depthwise: one tap's weights are a channel vector; taps in ascending (th, tw) order.
        for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
          const auto& th = rh.phase->taps[size_t(jh)];
          for (int64_t jw = rw.begin; jw < rw.end; ++jw) {
            const auto& tw = rw.phase->taps[size_t(jw)];
            const int64_t pixel = (th.base + rh.q) * xs_.h + (tw.base + rw.q) * xs_.w;
            kt_.chan_fma(acc, C, x, &pixel, taps_.data() + (th.k * KW + tw.k) * C, 0, 1);
          }
        }
      } else {
        for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
          const auto& th = rh.phase->taps[size_t(jh)];
          for (int64_t jw = rw.begin; jw < rw.end; ++jw) {
            const auto& tw = rw.phase->taps[size_t(jw)];
            const float* pixel = x + (th.base + rh.q) * xs_.h + (tw.base + rw.q) * xs_.w;
            const float* tap = taps_.data() + (th.k * KW + tw.k) * p.in_channels * pr_.cog;
            for (int64_t g = 0; g < p.groups; ++g) {
              kt_.vec_mat(acc + g * pr_.cog, pixel + g * pr_.cig, pr_.cig, tap + g * pr_.cig * pr_.cog,
                          pr_.cog, pr_.cog);
            }
          }
        }
      }
      float* out = y + oh * ys_.h + ow * ys_.w;
      for (int64_t c = 0; c < C; ++c) out[c] = apply_activation(acc[c] + pr_.bias[size_t(c)], p.epilogue);
    }
  }

  const Problem& pr_;
  const KernelTable& kt_;
  bool nchw_ = true, depthwise_ = false;
  TensorStrides xs_{}, ys_{};
  std::vector<Phase1D> phases_h_, phases_w_;
  std::vector<float> taps_;
};

}  // namespace

StrategyInfo direct_scatter_strategy() {
  return {"direct_scatter",
          [](const Params& p) -> std::string {
            if (p.stride.h * p.stride.w > (int64_t{1} << 16)) return "stride_h*stride_w exceeds 65536 phases";
            return {};
          },
          [](const Problem& pr) -> std::unique_ptr<Strategy> { return std::make_unique<DirectScatter>(pr); }};
}

}  // namespace tconv::detail
