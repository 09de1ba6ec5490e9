// Any argument values: random parameters drawn far outside the sweep's small ranges (strides,
// dilations and kernels up to 2^20, crops past the output, sizes of 0, -1 and 2^31). Every
// strategy either matches the reference or throws tconv::Error without writing the output, and
// no plan asks for a workspace out of proportion to its tensors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "support/test_support.hpp"
#include "tconv/tconv.hpp"

using namespace tconv;

namespace {

// A parameter set with each value either small (the common case) or extreme.
Params extreme_params(std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
  auto small = [&] { return pick({1, 1, 2, 3, 4, 5, 8, 9, 17, 33}); };
  auto any = [&] { return pick({-1, 0, 1, 2, 7, 31, 100, 1000, 4096, 65536, 1 << 20, int64_t{1} << 31}); };
  auto value = [&](int64_t common) { return rng() % 3 ? common : any(); };
  Params p;
  p.batch = value(1 + int64_t(rng() % 3));
  p.groups = pick({1, 1, 1, 2, 3});
  p.in_channels = p.groups * value(small());
  p.out_channels = p.groups * value(small());
  p.input = {value(small()), value(small())};
  p.kernel = {value(small()), value(small())};
  p.stride = {value(pick({1, 2, 3})), value(pick({1, 2, 3}))};
  p.dilation = {value(1), value(1)};
  p.layout = rng() % 2 ? Layout::nchw : Layout::nhwc;
  p.has_bias = rng() % 2;
  if (rng() % 2) p.epilogue = Epilogue::relu();
  // Crop and output around the full output when that is a sane size, otherwise anything.
  auto around = [&](int64_t in, int64_t s, int64_t k, int64_t d, int64_t& crop, int64_t& out) {
    const double full = double(in - 1) * double(s) + double(d) * double(k - 1) + 1;
    const int64_t f = full >= 1 && full < 1e6 ? int64_t(full) : 5;
    crop = rng() % 4 ? int64_t(rng() % uint64_t(std::min<int64_t>(f, 8))) : any();
    if (rng() % 5 == 0) crop = -crop;
    out = rng() % 4 ? f - 2 * crop + int64_t(rng() % 3) : any();
  };
  around(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h);
  around(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
  return p;
}

}  // namespace

TEST_CASE("Extreme parameter values: the reference's result or an error, never a write", "[params][errors][fuzz]") {
  std::mt19937_64 rng(20261205);
  std::vector<std::string> strategies = strategy_names();
  strategies.push_back("auto");
  int ran = 0, rejected = 0;
  const int cases = test::sweep_cases(400);
  for (int it = 0; it < cases; ++it) {
    const Params p = extreme_params(rng);
    INFO(p.to_string());
    bool valid = true;
    try {
      validate(p);
    } catch (const Error&) {
      valid = false;
    }
    // Invalid: every strategy's plan refuses it (no tensors needed: it never reads them).
    const std::vector<float> one(1, 0.5f);
    if (!valid) {
      ++rejected;
      PlanOptions o;
      o.strategy = strategies[size_t(rng() % strategies.size())];
      CHECK_THROWS_AS(Plan(p, one.data(), one.data(), o), Error);
      continue;
    }
    // Valid but too big for a unit test's tensors (or its reference run): skipped.
    if (p.input_elements() > (1 << 20) || p.output_elements() > (1 << 21) || p.weight_elements() > (1 << 20) ||
        p.useful_macs() > 50'000'000) {
      continue;
    }
    ++ran;
    std::mt19937 data_rng{unsigned(it)};
    const auto x = test::random_tensor(size_t(p.input_elements()), data_rng);
    const auto w = test::random_tensor(size_t(p.weight_elements()), data_rng);
    const auto b = p.has_bias ? test::random_tensor(size_t(p.out_channels), data_rng) : std::vector<float>{};
    const auto want = test::run(p, x, w, b, "reference");
    for (const auto& s : strategies) {
      INFO(s);
      PlanOptions o;
      o.strategy = s;
      o.max_threads = 2;
      std::vector<float> y(size_t(p.output_elements()), NAN);
      try {
        const Plan plan(p, w.data(), b.empty() ? nullptr : b.data(), o);
        // Bounded by the tensors, not by the kernel's or the stride's extent (im2col_gemm's
        // column buffer once asked 268 GB for a 27-pixel input with a 31x33 kernel at stride 4096).
        // (The weights term covers im2col_gemm's K x 4 NR floats of column pieces.)
        const double tensor_bytes = 4.0 * double(p.input_elements() + p.output_elements() + 128 * p.weight_elements());
        CHECK(double(plan.workspace_bytes()) <= 64.0 * (1 << 20) + tensor_bytes);
        // im2col_gemm multiplies every inserted zero: at stride 4096 that is 10^10 and more.
        if (plan.executed_macs() > 200'000'000) continue;
        plan.execute(x.data(), y.data(), nullptr, 2);
      } catch (const Error&) {  // a strategy that does not take these parameters says so
        CHECK(std::all_of(y.begin(), y.end(), [](float v) { return std::isnan(v); }));
        continue;
      }
      CHECK(test::excess_error(p, y, want, x, w, b) <= 0);
    }
  }
  // The draw reaches both outcomes often enough to mean something.
  CHECK(ran >= cases / 16);
  CHECK(rejected >= cases / 10);
}

TEST_CASE("im2col_gemm's workspace stays bounded when one output row's columns exceed it", "[params][workspace]") {
  // Found by the draw above's harness: K = 1000 x 31 x 33 and 32831 output columns asked for
  // 268 GB of column buffer per thread; rows too long for the budget now run in pieces of at
  // least 4 NR columns (NR <= 32), 4 NR K floats per thread.
  const Params p = Params::parse(
      "N=2 Cin=3000 Cout=3 H=1 W=9 kh=31 kw=33 sh=4096 sw=4096 dh=1 dw=2 g=3 ct=2 cl=2 oh=29 ow=32831 layout=nhwc bias=1 act=relu");
  const std::vector<float> w(size_t(p.weight_elements()), 0.25f), b(size_t(p.out_channels), 0.5f);
  for (const char* strategy : {"im2col_gemm", "auto"}) {  // auto: im2col_gemm beyond 65536 phases
    PlanOptions o;
    o.strategy = strategy;
    o.max_threads = 2;
    const Plan plan(p, w.data(), b.data(), o);
    const size_t k = 1000 * 31 * 33;
    CHECK(plan.workspace_bytes() <= 2 * (4 * 32 * k * sizeof(float) + (size_t(16) << 20)));
  }
}
