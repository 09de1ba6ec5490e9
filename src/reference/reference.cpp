// The reference strategy: the definition read as a gather, one output element at a time, with
// double accumulation. No SIMD, no cleverness: the oracle every other strategy is tested against.
#include "epilogue/epilogue.hpp"
#include "plan/checked.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

class Reference final : public Strategy {
 public:
  explicit Reference(const Problem& problem) : pr_(problem) {}

  size_t workspace_floats(int) const override { return 0; }

  void execute(const float* x, float* y, float*, int threads) const override {
    const Params& p = pr_.params;
    const TensorStrides xs = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    const TensorStrides ys = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    parallel_for(threads, p.batch * p.out_channels, [&](int64_t task, int) {
      const int64_t n = task / p.out_channels, c = task % p.out_channels;
      const int64_t g = c / pr_.cog, co = c % pr_.cog;
      for (int64_t oh = 0; oh < p.output.h; ++oh) {
        for (int64_t ow = 0; ow < p.output.w; ++ow) {
          double acc = 0.0;
          for (int64_t th = 0; th < p.kernel.h; ++th) {
            const int64_t rh = oh + p.crop.h - th * p.dilation.h;
            if (floor_mod(rh, p.stride.h) != 0) continue;
            const int64_t ih = floor_div(rh, p.stride.h);
            if (ih < 0 || ih >= p.input.h) continue;
            for (int64_t tw = 0; tw < p.kernel.w; ++tw) {
              const int64_t rw = ow + p.crop.w - tw * p.dilation.w;
              if (floor_mod(rw, p.stride.w) != 0) continue;
              const int64_t iw = floor_div(rw, p.stride.w);
              if (iw < 0 || iw >= p.input.w) continue;
              for (int64_t ci = 0; ci < pr_.cig; ++ci) {
                const int64_t cin = g * pr_.cig + ci;
                acc += double(x[n * xs.n + cin * xs.c + ih * xs.h + iw * xs.w]) *
                       double(pr_.w(cin, co, th, tw));
              }
            }
          }
          acc += double(pr_.bias[size_t(c)]);
          y[n * ys.n + c * ys.c + oh * ys.h + ow * ys.w] = apply_activation(float(acc), p.epilogue);
        }
      }
    });
  }

  std::string implementation() const override { return "reference_gather_f64"; }
  // The gather loop visits every tap of every output but multiplies only the valid pairs.
  uint64_t executed_macs() const override { return pr_.params.useful_macs(); }

 private:
  const Problem& pr_;
};

}  // namespace

StrategyInfo reference_strategy() {
  return {"reference", [](const Params&) { return std::string(); },
          [](const Problem& pr) -> std::unique_ptr<Strategy> { return std::make_unique<Reference>(pr); }};
}

}  // namespace tconv::detail
