// Shared test helpers (see test_support.hpp).
#include "support/test_support.hpp"

#include "dispatch/kernel_table.hpp"
#include "strategies/strategy.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>

namespace tconv::test {

std::vector<float> random_tensor(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

Params random_params(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  Params p;
  // Mostly 1-2 images; sometimes a batch of 8-10, which subpixel lays out batch-innermost.
  p.batch = pick(0, 7) == 0 ? pick(8, 10) : pick(1, 2);
  p.groups = pick(0, 3) == 0 ? pick(2, 3) : 1;
  int64_t cig = pick(1, 6), cog = pick(1, 6);
  if (p.groups > 1 && pick(0, 2) == 0) cig = cog = 1;  // depthwise
  p.in_channels = cig * p.groups;
  p.out_channels = cog * p.groups;
  p.input = {pick(1, 7), pick(1, 7)};
  p.kernel = {pick(1, 5), pick(1, 5)};
  p.stride = {pick(1, 4), pick(1, 4)};
  p.dilation = {pick(0, 3) == 0 ? pick(2, 3) : 1, pick(0, 3) == 0 ? pick(2, 3) : 1};
  const Hw full = p.full_output();
  // Crops from a little negative (extension above) to most of the full output; the output
  // length anywhere from a few rows short to a few rows past what the crop leaves.
  auto crop = [&](int64_t f) { return pick(0, 5) == 0 ? -pick(1, 2) : pick(0, std::max<int64_t>(0, f / 2)); };
  p.crop = {crop(full.h), crop(full.w)};
  p.output = {std::max<int64_t>(1, full.h - 2 * std::max<int64_t>(0, p.crop.h) + pick(-2, 3)),
              std::max<int64_t>(1, full.w - 2 * std::max<int64_t>(0, p.crop.w) + pick(-2, 3))};
  p.layout = pick(0, 1) ? Layout::nchw : Layout::nhwc;
  p.weight_layout = p.groups == 1 && pick(0, 3) == 0 ? WeightLayout::tensorflow : WeightLayout::pytorch;
  p.has_bias = pick(0, 2) != 0;
  switch (pick(0, 7)) {
    case 0: p.epilogue = Epilogue::relu(); break;
    case 1: p.epilogue = Epilogue::leaky_relu(0.1f); break;
    case 2: p.epilogue = Epilogue::clamp(-0.5f, 0.7f); break;
    case 3: p.epilogue = Epilogue::tanh(); break;
    case 4: p.epilogue = Epilogue::sigmoid(); break;
    default: break;
  }
  return p;
}

bool applicable(const std::string& strategy, const Params& p) {
  for (const auto& info : detail::strategy_registry())
    if (strategy == info.name) return info.not_applicable(p).empty();
  return strategy == "auto";
}

std::vector<float> run(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, const std::string& strategy, int threads) {
  PlanOptions o;
  o.strategy = strategy;
  o.max_threads = std::max(threads, 3);
  Plan plan(p, w.data(), b.empty() ? nullptr : b.data(), o);
  std::vector<float> y(size_t(p.output_elements()), NAN);
  plan.execute(x.data(), y.data(), nullptr, threads);
  return y;
}

double excess_error(const Params& p, const std::vector<float>& got, const std::vector<float>& want,
                    const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& b, size_t* worst_index) {
  auto max_abs = [](const std::vector<float>& v) {
    float m = 0.0f;
    for (float e : v) m = std::max(m, std::fabs(e));
    return double(m);
  };
  const double length = double(p.in_channels / p.groups * p.kernel.h * p.kernel.w);
  const double tol = 8.0 * FLT_EPSILON * (length * max_abs(x) * max_abs(w) + max_abs(b) + 1.0);
  double worst = -tol;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::fabs(double(got[i]) - double(want[i])) - tol : 1e30;
    if (e > worst) {
      worst = e;
      if (worst_index) *worst_index = i;
    }
  }
  return worst;
}

ForceIsa::ForceIsa(const std::string& isa) {
  if (const char* v = std::getenv("TCONV_ISA")) {
    had_ = true;
    saved_ = v;
  }
  setenv("TCONV_ISA", isa.c_str(), 1);
}

ForceIsa::~ForceIsa() {
  if (had_) setenv("TCONV_ISA", saved_.c_str(), 1);
  else unsetenv("TCONV_ISA");
}

int sweep_cases(int fallback) {
  if (const char* v = std::getenv("TCONV_SWEEP_CASES")) return std::max(1, std::atoi(v));
  return fallback;
}

std::vector<const detail::KernelTable*> kernel_tables() {
  using namespace detail;
  std::vector<const KernelTable*> out;
  if (isa_supported(Isa::avx512f)) out.push_back(&avx512f_kernels());
  if (isa_supported(Isa::avx2)) out.push_back(&avx2_kernels());
  out.push_back(&sse2_kernels());
  return out;
}

std::vector<const detail::KernelTable*> gemm_tile_tables() {
  std::vector<const detail::KernelTable*> out;
  for (const detail::KernelTable* kt : kernel_tables()) {
    out.push_back(kt);
    if (kt->short_tile) out.push_back(kt->short_tile);
    if (kt->grouped_tile) out.push_back(kt->grouped_tile);
  }
  return out;
}

}  // namespace tconv::test
