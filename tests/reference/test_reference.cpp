// The reference strategy: the worked values of ARITHMETIC.md, and the adjoint identity against an
// independent, test-only conv2d.
#include <catch2/catch.hpp>

#include <random>

#include "plan/checked.hpp"
#include "support/test_support.hpp"
#include "tconv/tconv.hpp"

using namespace tconv;

namespace {

Params worked_params(int64_t h, int64_t k) {
  PyTorchArgs a;
  a.in_channels = 1;
  a.out_channels = 1;
  a.kernel = {k, k};
  a.bias = false;
  return from_pytorch(a, 1, {h, h});
}

// Forward conv2d: x[N][Cout][OH][OW] (the transposed op's output) -> [N][Cin][H][W], weights
// w[Cin][Cout/g][KH][KW] read as the forward conv's [out=Cin][in per group=Cout/g][KH][KW].
// Written from the forward definition: out[ih][iw] = sum x[ih*s + th*d - crop][...] * w.
std::vector<double> conv2d(const Params& p, const std::vector<float>& y, const std::vector<float>& w) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  std::vector<double> out(size_t(p.batch * p.in_channels * p.input.h * p.input.w), 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t ci = 0; ci < p.in_channels; ++ci) {
      const int64_t g = ci / cig;
      for (int64_t ih = 0; ih < p.input.h; ++ih)
        for (int64_t iw = 0; iw < p.input.w; ++iw) {
          double acc = 0.0;
          for (int64_t co = 0; co < cog; ++co)
            for (int64_t th = 0; th < p.kernel.h; ++th)
              for (int64_t tw = 0; tw < p.kernel.w; ++tw) {
                const int64_t oh = ih * p.stride.h + th * p.dilation.h - p.crop.h;
                const int64_t ow = iw * p.stride.w + tw * p.dilation.w - p.crop.w;
                if (oh < 0 || oh >= p.output.h || ow < 0 || ow >= p.output.w) continue;
                acc += double(y[size_t(((n * p.out_channels + g * cog + co) * p.output.h + oh) * p.output.w + ow)]) *
                       double(w[size_t(((ci * cog + co) * p.kernel.h + th) * p.kernel.w + tw)]);
              }
          out[size_t(((n * p.in_channels + ci) * p.input.h + ih) * p.input.w + iw)] = acc;
        }
    }
  return out;
}

}  // namespace

TEST_CASE("Worked values of ARITHMETIC.md section 3, exactly", "[reference]") {
  const Params p = worked_params(2, 3);
  const std::vector<float> x{1, 0, 2, 1}, w{1, 0, 1, 0, 1, 1, 1, 0, 0};
  const std::vector<float> want{1, 0, 1, 0, 2, 2, 3, 1, 1, 2, 3, 1, 2, 1, 0, 0};
  const std::vector<float> x2{258, 294, 402, 438}, w2{0, 1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> want2{0, 258, 810, 588, 774, 2316, 3708, 2346, 2754, 6492, 7884, 4542, 2412, 5442, 6282, 3504};
  for (const auto& name : strategy_names()) {
    if (!test::applicable(name, p)) continue;
    INFO(name);
    CHECK(test::run(p, x, w, {}, name) == want);
    CHECK(test::run(p, x2, w2, {}, name) == want2);
  }
}

TEST_CASE("Adjoint identity <conv2d(y), x> == <y, conv_transpose2d(x)>", "[reference][adjoint]") {
  std::mt19937 rng(11);
  const int cases = test::sweep_cases(300);
  for (int it = 0; it < cases; ++it) {
    Params p = test::random_params(rng);
    p.layout = Layout::nchw;
    p.weight_layout = WeightLayout::pytorch;
    p.has_bias = false;
    p.epilogue = Epilogue{};
    INFO(p.to_string());
    const auto x = test::random_tensor(size_t(p.input_elements()), rng);
    const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
    const auto y = test::random_tensor(size_t(p.output_elements()), rng);
    const auto tx = test::run(p, x, w, {}, "reference");
    const auto cy = conv2d(p, y, w);
    double lhs = 0.0, rhs = 0.0, scale = 0.0;
    for (size_t i = 0; i < x.size(); ++i) lhs += cy[i] * double(x[i]);
    for (size_t i = 0; i < y.size(); ++i) {
      rhs += double(y[i]) * double(tx[i]);
      scale += std::fabs(double(y[i]) * double(tx[i]));
    }
    REQUIRE(std::fabs(lhs - rhs) <= 1e-5 * (scale + 1.0));
  }
}
