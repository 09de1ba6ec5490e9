// Every registered strategy, on every SIMD level the machine has, both layouts and 1/2/3 threads,
// against the reference: randomised sweep, PyTorch golden values, bitwise determinism.
//
// Rerun one failing case: TCONV_CASE="<the printed parameter string>" ./tconv_tests "[sweep]"
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "dispatch/kernel_table.hpp"
#include "strategies/strategy.hpp"
#include "support/test_support.hpp"
#include "tconv/tconv.hpp"

using namespace tconv;

namespace {

// Every registered strategy but the reference, and `auto`.
std::vector<std::string> fast_strategies() {
  std::vector<std::string> out;
  for (const auto& s : strategy_names())
    if (s != "reference") out.push_back(s);
  out.push_back("auto");
  return out;
}

// A direct_scatter plan of p on one forced ISA, with random weights and bias.
Plan plan_on(const Params& p, const std::string& isa, std::mt19937& rng, const char* strategy = "direct_scatter") {
  const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
  const auto b = test::random_tensor(size_t(p.out_channels), rng);
  test::ForceIsa force(isa);
  PlanOptions o;
  o.strategy = strategy;
  return Plan(p, w.data(), p.has_bias ? b.data() : nullptr, o);
}

// Runs plan on `threads` threads through a caller workspace of exactly workspace_bytes(),
// starting one byte past a 64-byte boundary (the plan aligns it up, using up to 63 bytes) and
// followed by guard bytes; true when the guard bytes on both sides are intact. On a plan with
// max_threads == threads the workspace is the threads' whole share, so an undersized share shows
// in a release build too.
bool execute_within_workspace(const Plan& plan, const float* x, float* y, int threads) {
  constexpr size_t kHead = 65, kGuard = 256;
  constexpr unsigned char kPattern = 0xA5;
  std::vector<unsigned char> ws(kHead + plan.workspace_bytes() + kGuard, kPattern);
  plan.execute(x, y, ws.data() + kHead, threads);
  const auto intact = [](auto first, auto last) {
    return std::all_of(first, last, [](unsigned char c) { return c == kPattern; });
  };
  return intact(ws.begin(), ws.begin() + kHead) && intact(ws.end() - kGuard, ws.end());
}

// Checks every strategy x ISA x thread count on one problem; stops (after reporting) at the
// first mismatch. 1, 2 and 3 threads run on a max_threads = 3 plan and must agree bitwise; then
// one thread on a max_threads = 1 plan, whose workspace is that thread's whole share, so a share
// sized too small shows in the guard bytes. Where both plans chose the same implementation, they
// must agree bitwise too.
void check_all(const Params& p, std::mt19937& rng) {
  INFO("case (a crash reports it): TCONV_CASE=\"" << p.to_string() << "\"");
  const auto x = test::random_tensor(size_t(p.input_elements()), rng);
  const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
  const auto b = p.has_bias ? test::random_tensor(size_t(p.out_channels), rng) : std::vector<float>{};
  const auto want = test::run(p, x, w, b, "reference");
  const float* bias = b.empty() ? nullptr : b.data();
  for (const auto& isa : supported_isas()) {
    test::ForceIsa force(isa);
    for (const auto& strategy : fast_strategies()) {
      PlanOptions o;
      o.strategy = strategy;
      if (!test::applicable(strategy, p)) {  // a layout bridge asked for the other layout: says so
        CHECK_THROWS_WITH(Plan(p, w.data(), bias, o), Catch::Contains("layout="));
        continue;
      }
      o.max_threads = 3;
      const Plan plan(p, w.data(), bias, o);
      o.max_threads = 1;
      const Plan one_thread(p, w.data(), bias, o);
      // The plan really runs the forced level.
      REQUIRE(plan.implementation().find(isa) != std::string::npos);
      std::vector<float> first;
      for (int threads : {1, 2, 3, 0}) {  // 0: one thread on one_thread
        const bool alone = threads == 0;
        const Plan& runner = alone ? one_thread : plan;
        std::vector<float> y(size_t(p.output_elements()), NAN);
        const bool inside = execute_within_workspace(runner, x.data(), y.data(), alone ? 1 : threads);
        size_t worst = 0;
        const double excess = test::excess_error(p, y, want, x, w, b, &worst);
        const bool comparable = threads > 1 || (alone && one_thread.implementation() == plan.implementation());
        if (!inside || excess > 0 || (comparable && y != first)) {
          FAIL_CHECK("mismatch: strategy=" << strategy << " isa=" << isa << " threads=" << (alone ? 1 : threads)
                     << (alone ? " (max_threads=1 plan)" : "")
                     << (!inside ? " wrote outside its workspace"
                                 : excess > 0 ? " error" : " not bitwise identical to 1 thread")
                     << " at " << worst << " got " << y[worst] << " want " << want[worst]
                     << "\n  rerun: TCONV_CASE=\"" << p.to_string() << "\" ./tconv_tests \"[sweep]\"");
          return;
        }
        if (threads == 1) first = y;
      }
    }
  }
}

// Each shape through check_all, after form(p, kernels, plan) has checked which form of the
// strategy (direct_scatter unless named) a plan runs on each ISA level.
template <class Form>
void check_shapes(std::initializer_list<const char*> shapes, std::mt19937& rng, Form form,
                  const char* strategy = "direct_scatter") {
  for (const char* text : shapes) {
    INFO(text);
    const Params p = Params::parse(text);
    for (const detail::KernelTable* kt : test::kernel_tables()) {
      const Plan plan = plan_on(p, kt->isa_name, rng, strategy);
      INFO(kt->isa_name << ": " << plan.implementation());
      form(p, *kt, plan);
    }
    check_all(p, rng);
  }
}

}  // namespace

TEST_CASE("Randomised sweep: every strategy, ISA, layout and thread count vs reference", "[sweep]") {
  if (const char* one = std::getenv("TCONV_CASE")) {
    std::mt19937 rng(1);
    check_all(Params::parse(one), rng);
    return;
  }
  // TCONV_SWEEP_SEED draws other cases than CI's (with TCONV_SWEEP_CASES for more of them).
  const char* seed = std::getenv("TCONV_SWEEP_SEED");
  std::mt19937 rng(seed ? unsigned(std::strtoul(seed, nullptr, 10)) : 20261122u);
  const int cases = test::sweep_cases(1000);
  for (int it = 0; it < cases; ++it) {
    const Params p = test::random_params(rng);
    check_all(p, rng);
  }
}

TEST_CASE("Layer-like shapes: larger channels exercise full tiles and K blocking", "[sweep][layers]") {
  std::mt19937 rng(3);
  const char* shapes[] = {
      "N=2 Cin=40 Cout=36 H=5 W=6 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=10 ow=12 layout=nchw bias=1 act=relu",
      "N=1 Cin=300 Cout=20 H=3 W=3 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=6 ow=6 layout=nhwc bias=1",
      "N=1 Cin=70 Cout=45 H=9 W=11 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=18 ow=22 layout=nchw",
      "N=1 Cin=16 Cout=16 H=12 W=12 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=16 ct=1 cl=1 oh=24 ow=24 layout=nhwc bias=1",
      "N=1 Cin=3 Cout=5 H=3 W=3 kh=20 kw=20 sh=8 sw=8 dh=1 dw=1 g=1 ct=0 cl=0 oh=36 ow=36 layout=nchw",
      "N=3 Cin=24 Cout=2 H=7 W=7 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=14 ow=14 layout=nchw bias=1 act=tanh",
      "N=1 Cin=32 Cout=48 H=6 W=6 kh=3 kw=3 sh=2 sw=2 dh=2 dw=2 g=2 ct=2 cl=2 oh=12 ow=12 layout=nhwc bias=1 act=sigmoid",
      "N=2 Cin=20 Cout=64 H=1 W=1 kh=4 kw=4 sh=1 sw=1 dh=1 dw=1 g=1 ct=0 cl=0 oh=4 ow=4 layout=nhwc",
      "N=1 Cin=33 Cout=17 H=14 W=14 kh=3 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=0 cl=0 oh=16 ow=16 layout=nchw",
      // More tap rows than one micro-kernel call takes K pieces: several passes.
      "N=1 Cin=3 Cout=4 H=5 W=5 kh=19 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=2 cl=1 oh=20 ow=6 layout=nchw bias=1",
      "N=1 Cin=3 Cout=4 H=5 W=5 kh=19 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=2 cl=1 oh=20 ow=6 layout=nhwc bias=1",
      // K beyond one pass's budget (Cin * taps > k_max).
      "N=1 Cin=700 Cout=20 H=4 W=4 kh=3 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=1 cl=1 oh=4 ow=4 layout=nchw bias=1",
      // Direct NCHW rows: tall phases fill every row block (8/4/2 rows by channel count) and
      // its halving remainders, odd output widths end the stride-2 zip on a lone even column.
      "N=2 Cin=5 Cout=1 H=23 W=19 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=46 ow=37 layout=nchw bias=1 act=relu",
      "N=1 Cin=3 Cout=2 H=21 W=35 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=42 ow=70 layout=nchw bias=1",
      "N=1 Cin=4 Cout=3 H=19 W=9 kh=3 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=1 cl=1 oh=19 ow=9 layout=nchw",
      "N=1 Cin=2 Cout=9 H=17 W=13 kh=3 kw=4 sh=3 sw=2 dh=1 dw=1 g=1 ct=0 cl=1 oh=51 ow=27 layout=nchw bias=1 act=tanh",
      "N=1 Cin=6 Cout=6 H=25 W=24 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=6 ct=1 cl=1 oh=50 ow=48 layout=nchw bias=1",
      // W phase groups of 16 / 32 members: NCHW subpixel puts pixels on the tile's rows (its
      // vectors then run along neighbouring output columns, one per W phase).
      "N=1 Cin=3 Cout=5 H=3 W=4 kh=64 kw=64 sh=32 sw=32 dh=1 dw=1 g=1 ct=0 cl=0 oh=128 ow=160 layout=nchw bias=1 act=relu",
      "N=2 Cin=4 Cout=6 H=4 W=5 kh=32 kw=32 sh=16 sw=16 dh=1 dw=1 g=2 ct=8 cl=8 oh=64 ow=80 layout=nchw bias=1",
      // Phases no tap reaches (k < s; dilation sharing a factor with the stride): bias fill.
      "N=2 Cin=3 Cout=5 H=3 W=4 kh=2 kw=3 sh=9 sw=7 dh=1 dw=1 g=1 ct=1 cl=2 oh=25 ow=27 layout=nhwc bias=1 act=tanh",
      "N=1 Cin=2 Cout=4 H=2 W=2 kh=1 kw=1 sh=256 sw=256 dh=1 dw=1 g=1 ct=0 cl=0 oh=512 ow=512 layout=nchw bias=1 act=sigmoid",
      "N=1 Cin=4 Cout=4 H=5 W=5 kh=3 kw=3 sh=4 sw=2 dh=2 dw=2 g=2 ct=1 cl=1 oh=19 ow=10 layout=nchw bias=1 act=relu",
      // Not staged: far-reaching dilated taps (too many zero columns), and an image too big.
      "N=1 Cin=2 Cout=2 H=12 W=10 kh=3 kw=3 sh=2 sw=2 dh=7 dw=7 g=1 ct=0 cl=0 oh=20 ow=30 layout=nchw bias=1",
      "N=1 Cin=64 Cout=1 H=66 W=66 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=131 ow=131 layout=nchw bias=1",
      // Direct NHWC with few output channels per group (dot products along the input
      // channels): pixel runs of every length, Cin not a multiple of a vector, groups, k < s.
      "N=2 Cin=64 Cout=1 H=14 W=14 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=28 ow=28 layout=nhwc bias=1 act=relu",
      "N=1 Cin=37 Cout=3 H=9 W=23 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=18 ow=46 layout=nhwc bias=1",
      "N=1 Cin=48 Cout=10 H=5 W=7 kh=3 kw=3 sh=3 sw=2 dh=2 dw=1 g=2 ct=0 cl=1 oh=17 ow=14 layout=nhwc bias=1 act=tanh",
      "N=1 Cin=20 Cout=2 H=4 W=5 kh=2 kw=2 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=12 ow=15 layout=nhwc bias=1",
      "N=1 Cin=40 Cout=2 H=3 W=70 kh=3 kw=3 sh=1 sw=2 dh=1 dw=1 g=1 ct=0 cl=1 oh=5 ow=139 layout=nhwc bias=1 act=relu",
      // Subpixel regions 31 and 62 pixels wide (central pieces of k = 4, s = 2, pad = 1): NCHW
      // runs them row by row; also depthwise rows and a 3-wide tail past a full 2-tap row.
      "N=2 Cin=8 Cout=6 H=9 W=32 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=2 ct=1 cl=1 oh=18 ow=64 layout=nchw bias=1 act=relu",
      "N=1 Cin=3 Cout=5 H=6 W=63 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=12 ow=126 layout=nchw bias=1",
      // im2col_gemm's column buffer in pieces of a row: K x OW beyond its 2^20-float budget (K
      // 1600, 902 columns: pieces of 655 and 247), and K alone beyond it (one pixel per piece).
      "N=1 Cin=64 Cout=3 H=2 W=300 kh=5 kw=5 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=8 ow=902 layout=nchw bias=1 act=relu",
      "N=1 Cin=64 Cout=3 H=2 W=300 kh=5 kw=5 sh=3 sw=3 dh=1 dw=1 g=1 ct=1 cl=2 oh=7 ow=899 layout=nhwc bias=1",
      "N=1 Cin=4100 Cout=2 H=1 W=3 kh=16 kw=16 sh=1 sw=1 dh=1 dw=1 g=1 ct=0 cl=0 oh=16 ow=18 layout=nchw bias=1",
      // Bands too short to split by rows (7x7 outputs, k5): NHWC subpixel (and the NCHW bridge's
      // inner plan) splits the channels instead when max_threads wants more tasks; the
      // max_threads = 1 plan does not, and both must agree bitwise.
      "N=16 Cin=32 Cout=128 H=7 W=7 kh=5 kw=5 sh=1 sw=1 dh=1 dw=1 g=1 ct=2 cl=2 oh=7 ow=7 layout=nhwc bias=1 act=relu",
      "N=16 Cin=32 Cout=128 H=7 W=7 kh=5 kw=5 sh=1 sw=1 dh=1 dw=1 g=1 ct=2 cl=2 oh=7 ow=7 layout=nchw bias=1",
      // NHWC border regions one pixel wide (k4 s2, no padding): plans for several threads take
      // row chunks coarser than the finest halving where they waste fewer pixel tiles.
      "N=1 Cin=21 Cout=21 H=16 W=16 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=34 ow=34 layout=nhwc bias=1",
      // Weights beyond 1 MiB on 4x4 images: NHWC tasks split the channels before the rows.
      "N=4 Cin=256 Cout=128 H=4 W=4 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=8 ow=8 layout=nhwc bias=1 act=relu",
      // NCHW weights beyond 1 MiB (the streamed A) on small images: row chunks chosen by an
      // estimate that counts the weights' reads.
      "N=4 Cin=128 Cout=256 H=12 W=5 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=26 ow=12 layout=nchw bias=1 act=relu",
      // Images of over 1 MiB each with small weights: the NHWC bridge runs one image per chunk.
      "N=3 Cin=4 Cout=5 H=100 W=90 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=200 ow=180 layout=nchw bias=1 act=relu",
      // Every phase bias-only (the cropped output sees no tap), so subpixel has no GEMM task at
      // all: session 40's crash (the scheduler ran one thread on a share it never set up).
      "N=1 Cin=15 Cout=18 H=2 W=1 kh=4 kw=1 sh=1 sw=3 dh=3 dw=3 g=3 ct=5 cl=-1 oh=1 ow=1 layout=nchw bias=1",
      "N=1 Cin=15 Cout=18 H=2 W=1 kh=4 kw=1 sh=1 sw=3 dh=3 dw=3 g=3 ct=5 cl=-1 oh=1 ow=1 layout=nhwc bias=1 act=relu",
  };
  for (const char* s : shapes) {
    INFO(s);
    check_all(Params::parse(s), rng);
  }
}

TEST_CASE("Short GEMM tile: picked where it pads the channel rows less, and exact", "[sweep][tiles]") {
  std::mt19937 rng(8);
  // 8 output channels on NCHW rows: 14x32 / 6x16 tiles pad them to 14 / 12 rows, the short
  // 8x32 / 4x16 ones fit (AVX2's at 0.8 of the rate: 12 rows cost more); NHWC puts channels on
  // N, where both tiles are equally wide.
  const char* nchw = "N=1 Cin=20 Cout=8 H=9 W=40 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=18 ow=80 layout=nchw bias=1 act=relu";
  for (const char* layout : {"nchw", "nhwc"}) {
    std::string shape(nchw);
    shape.replace(shape.find("nchw"), 4, layout);
    INFO(shape);
    const Params p = Params::parse(shape);
    const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
    const auto b = test::random_tensor(size_t(p.out_channels), rng);
    for (const auto& isa : supported_isas()) {
      if (isa == "sse2") continue;  // one tile
      test::ForceIsa force(isa);
      const std::string short_tile = isa == "avx512f" ? "8x32" : "4x16";
      for (const char* strategy : {"subpixel", "im2col_gemm"}) {
        PlanOptions o;
        o.strategy = strategy;
        Plan plan(p, w.data(), b.data(), o);
        INFO(strategy << " on " << isa << ": " << plan.implementation());
        CHECK((plan.implementation().find(short_tile) != std::string::npos) == (p.layout == Layout::nchw));
      }
    }
    check_all(p, rng);
  }
}

TEST_CASE("Direct batch lanes: thin layers of a batch of images, exact on every ISA and layout", "[sweep][lanes]") {
  std::mt19937 rng(9);
  // Batches of whole vectors of images on every ISA (4, 8, 16 lanes), a partial last block (15
  // images), dilation with k < s (phases no tap reaches), groups of 2 and 3 channels, a batch
  // too ragged for lanes on some ISAs (9 images: 16 lanes on AVX2 is over half more), and
  // batches too small for AVX-512's 16 lanes (8 and 12 images), which it runs on AVX2's 8.
  struct Shape {
    const char* params;
    bool lanes_on_avx2;
  };
  const Shape shapes[] = {
      {"N=16 Cin=24 Cout=1 H=7 W=7 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=14 ow=14 layout=nchw bias=1 act=relu", true},
      {"N=15 Cin=6 Cout=6 H=5 W=9 kh=4 kw=3 sh=2 sw=3 dh=1 dw=1 g=2 ct=1 cl=0 oh=10 ow=27 layout=nchw bias=1 act=tanh", true},
      {"N=16 Cin=5 Cout=2 H=4 W=6 kh=2 kw=3 sh=3 sw=4 dh=3 dw=2 g=1 ct=0 cl=1 oh=12 ow=26 layout=nchw bias=1", true},
      // Taller than one band of staged input rows on every ISA (1 MiB of them): several bands.
      // (One input pixel per output: too few multiply-adds per output for NCHW tap sums.)
      {"N=16 Cin=32 Cout=2 H=36 W=64 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=72 ow=128 layout=nchw bias=1 act=relu", true},
      {"N=9 Cin=4 Cout=4 H=5 W=5 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=9 ow=9 layout=nchw bias=1 act=sigmoid", false},
      {"N=8 Cin=12 Cout=3 H=6 W=11 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=12 ow=22 layout=nchw bias=1 act=relu", true},
      {"N=12 Cin=8 Cout=4 H=7 W=5 kh=4 kw=4 sh=3 sw=3 dh=2 dw=2 g=2 ct=3 cl=2 oh=20 ow=14 layout=nchw bias=1", true},
  };
  for (const Shape& shape : shapes)
    for (const char* layout : {"nchw", "nhwc"}) {
      std::string text(shape.params);
      text.replace(text.find("nchw"), 4, layout);
      INFO(text);
      const Params p = Params::parse(text);
      for (const auto& isa : supported_isas()) {
        const Plan plan = plan_on(p, isa, rng);
        INFO(isa << ": " << plan.implementation());
        const bool lanes = plan.implementation().find("direct_lanes") != std::string::npos;
        if (isa == "sse2") CHECK(lanes);
        if (isa == "avx2") CHECK(lanes == shape.lanes_on_avx2);
        // AVX-512: its 16 lanes where the batch fills them, else AVX2's 8 on NHWC layers of
        // few input channels; tap sums go first on NCHW layers of many multiply-adds per output.
        const bool half_width = isa == "avx512f" && plan.implementation().find("direct_lanes8") != std::string::npos;
        if (isa == "avx512f" && plan.implementation().find("tap_sums") == std::string::npos) {
          const bool fills_16 = p.batch >= 16 && 2 * ((p.batch + 15) / 16) * 16 <= 3 * p.batch;
          const bool half_width_fits = p.layout == Layout::nhwc && p.in_channels / p.groups < 32;
          CHECK(lanes == (shape.lanes_on_avx2 && (fills_16 || half_width_fits)));
          CHECK(half_width == (lanes && !fills_16));
        }
        // Padded lanes are multiplied and counted.
        const int64_t L = isa == "avx512f" && !half_width ? 16 : isa != "sse2" ? 8 : 4;
        if (lanes) CHECK(plan.executed_macs() == plan.useful_macs() / uint64_t(p.batch) * uint64_t((p.batch + L - 1) / L * L));
        // The workspace holds bands of input rows, not the image: below a staged image per thread.
        if (lanes) CHECK(plan.workspace_bytes() < size_t(plan.max_threads()) * size_t(p.input_elements() / p.batch * L) * 4 + (1 << 20));
      }
      check_all(p, rng);
    }
}

TEST_CASE("Direct image lanes: NCHW thin layers of few images, staged pixel-major, every ISA", "[sweep][lanes]") {
  // Too few images for batch lanes, at least 32 input channels per group against 1-4 output
  // channels: each image's input rows staged pixel-major, dot products along the channels (with
  // W-tap runs for one output channel). Groups, dilation with k < s, crops and output padding,
  // a channel count off the vector width, stride 1, and an image taller than one band. Rows
  // that fill too little of their vectors, or too few multiply-adds per output, for tap sums.
  std::mt19937 rng(37);
  const auto shapes = {
      "N=1 Cin=256 Cout=2 H=7 W=5 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=14 ow=10 layout=nchw bias=1 act=relu",
      "N=3 Cin=64 Cout=4 H=6 W=9 kh=4 kw=3 sh=2 sw=3 dh=1 dw=1 g=2 ct=1 cl=0 oh=12 ow=27 layout=nchw bias=1 act=tanh",
      "N=2 Cin=40 Cout=1 H=5 W=7 kh=2 kw=3 sh=3 sw=4 dh=3 dw=2 g=1 ct=0 cl=1 oh=15 ow=30 layout=nchw bias=1",
      "N=2 Cin=35 Cout=1 H=8 W=6 kh=3 kw=3 sh=1 sw=1 dh=1 dw=1 g=1 ct=1 cl=1 oh=9 ow=6 layout=nchw bias=1 act=leaky_relu alpha=0.1",
      "N=1 Cin=48 Cout=2 H=40 W=64 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=80 ow=128 layout=nchw bias=1 act=sigmoid",
  };
  check_shapes(shapes, rng, [](const Params& p, const detail::KernelTable& kt, const Plan& plan) {
    REQUIRE(!detail::direct_uses_tap_sums(p, kt));
    const bool image_lanes = detail::direct_uses_image_lanes(p, kt);
    if (kt.isa == detail::Isa::avx2) CHECK(image_lanes);  // the path this test is for
    CHECK((plan.implementation().find("direct_dot_staged") == 0) == image_lanes);
    if (image_lanes) CHECK(plan.executed_macs() == plan.useful_macs());
  });
}

TEST_CASE("Direct tap sums: NCHW thin layers summed over the channels in registers, every ISA", "[sweep][tap_sums]") {
  // Each input row's products with every tap summed over the input channels in registers, then
  // added into per-kernel-column planes of the output band. Batches below and above a vector of
  // images, groups, stride 1 and 3, W strides above the kernel (phases no column reaches),
  // dilation with gcd(d, s) > 1, crops of 0 to 3 and negative ones (output above the full
  // output), output padding, rows of one vector, of several and a partial last one, an output
  // narrower than the stride, more taps than a register block (several blocks per row), and
  // images taller than one band (band edges inside an input row's taps).
  std::mt19937 rng(53);
  const auto shapes = {
      "N=16 Cin=64 Cout=1 H=14 W=14 kh=5 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=28 ow=28 layout=nchw bias=1 act=relu",
      "N=3 Cin=32 Cout=3 H=9 W=32 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=18 ow=64 layout=nchw bias=1 act=tanh",
      "N=2 Cin=48 Cout=4 H=6 W=40 kh=3 kw=3 sh=1 sw=1 dh=1 dw=1 g=2 ct=0 cl=3 oh=8 ow=37 layout=nchw bias=1",
      "N=1 Cin=128 Cout=2 H=5 W=30 kh=3 kw=2 sh=3 sw=4 dh=2 dw=1 g=1 ct=-2 cl=1 oh=19 ow=118 layout=nchw bias=1 act=sigmoid",
      "N=2 Cin=64 Cout=1 H=4 W=16 kh=4 kw=4 sh=2 sw=2 dh=2 dw=2 g=1 ct=3 cl=0 oh=7 ow=36 layout=nchw bias=0",
      "N=1 Cin=128 Cout=2 H=3 W=16 kh=7 kw=7 sh=2 sw=3 dh=1 dw=1 g=1 ct=1 cl=2 oh=9 ow=2 layout=nchw bias=1 act=leaky_relu alpha=0.1",
      "N=2 Cin=32 Cout=4 H=70 W=64 kh=6 kw=5 sh=2 sw=2 dh=1 dw=1 g=1 ct=2 cl=2 oh=141 ow=129 layout=nchw bias=1 act=relu",
  };
  check_shapes(shapes, rng, [](const Params& p, const detail::KernelTable& kt, const Plan& plan) {
    const bool tap_sums = detail::direct_uses_tap_sums(p, kt);
    CHECK((plan.implementation().find("direct_tap_sums") == 0) == tap_sums);
    CHECK(tap_sums == (kt.isa == detail::Isa::avx512f));  // the path this test is for, AVX-512 only
    // Whole vectors of each row are multiplied, border products included: never fewer than useful.
    if (tap_sums) CHECK(plan.executed_macs() >= plan.useful_macs());
    // The workspace holds a band of output rows per thread, not the image.
    if (tap_sums) CHECK(plan.workspace_bytes() <= size_t(plan.max_threads()) * ((size_t(1) << 17) + (1 << 16)));
  });
}

TEST_CASE("Direct tap sums: randomised thin NCHW layers in their domain vs reference", "[sweep][tap_sums]") {
  // The randomised sweep's layers have at most 6 channels per group, below tap sums' 16 input
  // channels: here random layers built inside the form's domain (16-40 input channels and 1-4
  // output channels per group, at least 64 multiply-adds per output, rows filling 80% of a
  // 16-float vector) with the sweep's random strides, dilations, crops, output lengths, groups,
  // bias and activations.
  std::mt19937 rng(59);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const detail::KernelTable* avx512 = nullptr;
  for (const detail::KernelTable* kt : test::kernel_tables())
    if (kt->isa == detail::Isa::avx512f) avx512 = kt;
  const int cases = std::max(4, test::sweep_cases(1000) / 25);
  int taken = 0;
  for (int it = 0; it < cases; ++it) {
    Params p = test::random_params(rng);
    p.layout = Layout::nchw;
    p.groups = pick(1, 2);
    const int64_t cig = pick(16, 40), cog = pick(1, 4);
    p.in_channels = cig * p.groups;
    p.out_channels = cog * p.groups;
    p.weight_layout = p.groups == 1 && pick(0, 3) == 0 ? WeightLayout::tensorflow : WeightLayout::pytorch;
    do {
      p.kernel = {pick(1, 5), pick(1, 5)};
      p.stride = {pick(1, 3), pick(1, 3)};
    } while (cig * p.kernel.h * p.kernel.w < 64 * p.stride.h * p.stride.w);
    const int64_t vectors = pick(1, 3);
    p.input = {pick(1, 8), pick(13 * vectors, 16 * vectors)};
    const Hw full = p.full_output();
    auto crop = [&](int64_t f) { return pick(0, 5) == 0 ? -pick(1, 2) : pick(0, std::max<int64_t>(0, f / 2)); };
    p.crop = {crop(full.h), crop(full.w)};
    p.output = {std::max<int64_t>(1, full.h - 2 * std::max<int64_t>(0, p.crop.h) + pick(-2, 3)),
                std::max<int64_t>(1, full.w - 2 * std::max<int64_t>(0, p.crop.w) + pick(-2, 3))};
    INFO(p.to_string());
    if (avx512) taken += detail::direct_uses_tap_sums(p, *avx512);
    check_all(p, rng);
  }
  if (avx512) CHECK(taken == cases);  // every case is in the domain
}

TEST_CASE("Direct segment forms with more taps than their prebuilt lists hold, every ISA", "[sweep][lanes]") {
  // Stride 1 and kernels of 21-25 taps a side: each output row has dozens of W-phase segments
  // of up to 625 taps, far more list entries over the image than direct_scatter prebuilds, so
  // every row builds its own (NHWC depthwise and dot products, NCHW image lanes, batch lanes).
  std::mt19937 rng(41);
  const auto shapes = {
      "N=1 Cin=4 Cout=4 H=40 W=40 kh=25 kw=25 sh=1 sw=1 dh=1 dw=1 g=4 ct=3 cl=5 oh=60 ow=58 layout=nhwc bias=1 act=relu",
      "N=1 Cin=24 Cout=2 H=30 W=30 kh=21 kw=21 sh=1 sw=1 dh=1 dw=1 g=1 ct=2 cl=0 oh=48 ow=50 layout=nhwc bias=1",
      "N=1 Cin=32 Cout=1 H=30 W=9 kh=21 kw=21 sh=1 sw=1 dh=1 dw=1 g=1 ct=0 cl=4 oh=50 ow=25 layout=nchw bias=1 act=tanh",
      "N=16 Cin=4 Cout=1 H=30 W=30 kh=21 kw=21 sh=1 sw=1 dh=1 dw=1 g=1 ct=1 cl=1 oh=48 ow=48 layout=nchw bias=1",
  };
  check_shapes(shapes, rng, [](const Params&, const detail::KernelTable&, const Plan& plan) {
    CHECK_THAT(plan.implementation(), !Catch::StartsWith("direct_rows") && !Catch::StartsWith("direct_vecmat"));
  });
}

TEST_CASE("Direct NCHW stride-2 rows stored straight into the output (row_fma_zip), every ISA", "[sweep][zip]") {
  // Both W phases computed together and interleaved in registers: even and odd output widths
  // (the column-0 phase one longer), phase rows of partial vectors, row counts off the kernel's
  // row blocks, 1-4 output channels per group, bias and activations, crops of 0 and 1.
  std::mt19937 rng(31);
  const auto shapes = {
      "N=2 Cin=6 Cout=6 H=11 W=13 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=6 ct=1 cl=1 oh=22 ow=26 layout=nchw bias=1 act=relu",
      "N=1 Cin=2 Cout=3 H=7 W=9 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=13 ow=17 layout=nchw bias=1 act=tanh",
      "N=1 Cin=4 Cout=8 H=5 W=21 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=2 ct=0 cl=0 oh=10 ow=42 layout=nchw bias=1 act=leaky_relu alpha=0.1",
      "N=3 Cin=3 Cout=6 H=9 W=4 kh=4 kw=3 sh=3 sw=2 dh=1 dw=1 g=3 ct=2 cl=0 oh=22 ow=9 layout=nchw bias=0",
  };
  check_shapes(shapes, rng, [](const Params&, const detail::KernelTable&, const Plan& plan) {
    CHECK_THAT(plan.implementation(), Catch::StartsWith("direct_rows_zip"));
  });
}

TEST_CASE("Direct NCHW rows in bands of every H phase and in passes over the input channels, every ISA",
          "[sweep][bands]") {
  // Images whose rows run in bands of every H phase (tasks split by bands when there are fewer
  // images and channel blocks than threads), and images whose band reads too much input for
  // cache, summed a pass of input channels at a time: passes that do not divide the channels,
  // partial-sum rows that hold one, two or three rows per H phase, stride 3 with k < s phases,
  // dilation (one H tap per tap group), groups, crops, 5 and 7 output channels per group (partial
  // channel blocks) and bias with activations. Staged images with row_fma_zip run in bands.
  std::mt19937 rng(43);
  const auto passes = {
      "N=1 Cin=64 Cout=8 H=20 W=320 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=39 ow=639 layout=nchw bias=1 act=relu",
      "N=2 Cin=240 Cout=10 H=12 W=300 kh=3 kw=2 sh=3 sw=2 dh=2 dw=1 g=2 ct=2 cl=0 oh=33 ow=600 layout=nchw bias=1 act=tanh",
      "N=1 Cin=128 Cout=5 H=10 W=600 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=20 ow=1200 layout=nchw bias=1",
      "N=1 Cin=140 Cout=7 H=17 W=260 kh=5 kw=4 sh=4 sw=2 dh=1 dw=1 g=1 ct=3 cl=1 oh=70 ow=521 layout=nchw bias=1 act=leaky_relu alpha=0.1",
  };
  check_shapes(passes, rng, [](const Params&, const detail::KernelTable&, const Plan& plan) {
    CHECK_THAT(plan.implementation(), Catch::StartsWith("direct_rows_passes"));
    CHECK(plan.executed_macs() == plan.useful_macs());
  });
  const auto bands = {
      "N=1 Cin=6 Cout=4 H=30 W=20 kh=5 kw=5 sh=3 sw=3 dh=1 dw=1 g=1 ct=2 cl=1 oh=88 ow=60 layout=nchw bias=1 act=relu",
      "N=1 Cin=16 Cout=6 H=10 W=2100 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=20 ow=4200 layout=nchw bias=1",
      "N=1 Cin=3 Cout=3 H=40 W=40 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=3 ct=1 cl=1 oh=80 ow=80 layout=nchw bias=1 act=sigmoid",
  };
  check_shapes(bands, rng, [](const Params&, const detail::KernelTable&, const Plan& plan) {
    CHECK_THAT(plan.implementation(), Catch::StartsWith("direct_rows") && !Catch::StartsWith("direct_rows_passes"));
  });
}

TEST_CASE("Subpixel NCHW phase-split rows: W strides of 3 and more, every ISA", "[sweep][split]") {
  // Wide NCHW rows at a W stride of 3 and more go through phase-split rows (a scratch of whole
  // rows per chunk of band rows and output channels, then interleaved): strides 3 and 4 (their
  // own interleave kernels), 5 and 6 (transposes, up to the vector width on AVX2; not on SSE2 or
  // AVX-512, which stop at 4 and still write the output right); chunks of fewer
  // output channels than the group has (200 channels of 3 x 120 floats exceed the scratch);
  // crops with border pieces, dilation, groups, activations; K beyond one GEMM pass (2400); H
  // phases without taps (bias-only rows).
  std::mt19937 rng(47);
  const auto split = {
      "N=2 Cin=8 Cout=64 H=6 W=30 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=1 ct=0 cl=0 oh=24 ow=120 layout=nchw bias=1 act=relu",
      "N=1 Cin=4 Cout=200 H=3 W=40 kh=3 kw=3 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=9 ow=120 layout=nchw bias=1",
      "N=1 Cin=6 Cout=9 H=7 W=33 kh=5 kw=7 sh=3 sw=3 dh=1 dw=2 g=3 ct=2 cl=3 oh=20 ow=100 layout=nchw bias=1 act=tanh",
      "N=1 Cin=600 Cout=3 H=3 W=40 kh=6 kw=6 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=12 ow=123 layout=nchw",
      "N=1 Cin=5 Cout=7 H=4 W=24 kh=5 kw=5 sh=5 sw=5 dh=1 dw=1 g=1 ct=1 cl=2 oh=18 ow=116 layout=nchw bias=1 act=leaky_relu alpha=0.1",
      "N=3 Cin=2 Cout=2 H=3 W=18 kh=6 kw=6 sh=6 sw=6 dh=1 dw=1 g=1 ct=0 cl=0 oh=18 ow=108 layout=nchw bias=1 act=sigmoid",
      "N=1 Cin=3 Cout=5 H=6 W=40 kh=2 kw=4 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=17 ow=121 layout=nchw bias=1 act=relu",
  };
  // Not through phase-split rows: a W phase without taps (k < s), rows narrower than the
  // threshold, stride 2, a stride beyond every vector width, rows so long that one tile's rows
  // would need over 16 MiB of scratch, NHWC.
  const auto direct_to_output = {
      "N=1 Cin=1 Cout=2 H=1 W=70000 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=1 ct=0 cl=0 oh=4 ow=280000 layout=nchw bias=1",
      "N=1 Cin=3 Cout=4 H=2 W=6 kh=17 kw=17 sh=17 sw=17 dh=1 dw=1 g=1 ct=0 cl=0 oh=34 ow=102 layout=nchw bias=1",
      "N=1 Cin=4 Cout=6 H=5 W=50 kh=2 kw=2 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=14 ow=149 layout=nchw bias=1",
      "N=2 Cin=8 Cout=16 H=6 W=20 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=1 ct=0 cl=0 oh=24 ow=80 layout=nchw bias=1",
      "N=1 Cin=8 Cout=16 H=6 W=60 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=12 ow=120 layout=nchw bias=1",
      "N=2 Cin=8 Cout=64 H=6 W=30 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=1 ct=0 cl=0 oh=24 ow=120 layout=nhwc bias=1",
  };
  for (const bool phase_rows : {true, false}) {
    check_shapes(phase_rows ? split : direct_to_output, rng,
                 [&](const Params& p, const detail::KernelTable& kt, const Plan& plan) {
                   const bool expected = phase_rows && p.stride.w <= detail::subpixel_phase_split_max_stride(kt);
                   CHECK(plan.implementation().rfind("subpixel_phase_rows:", 0) == (expected ? 0u : std::string::npos));
                   CHECK(plan.executed_macs() == plan.useful_macs());
                 },
                 "subpixel");
  }
}

TEST_CASE("Subpixel NCHW stacked W phases of strides 3 and 4: groups interleaved in the tile store, every ISA",
          "[sweep][groups]") {
  // Outputs narrower than the phase-split rows take, all W phases in one group (kw a multiple of
  // the stride): each tile's rows come as groups of sw neighbouring outputs, stored interleaved
  // (AVX-512: on the 12-row tile; AVX2 stacks stride 3 on its 6x16 and stores stride 4 scattered,
  // its only 4-row tile being the slower short one). Rows by row (28 and 13 pixels) and panels across rows (18
  // pixels: run-by-run stores), a crop that reorders the phases' first outputs, two taps per
  // phase, groups, K beyond one GEMM pass, activations inline (none, ReLU) and out of line.
  std::mt19937 rng(53);
  const auto shapes = {
      "N=1 Cin=16 Cout=40 H=5 W=28 kh=3 kw=3 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=15 ow=84 layout=nchw bias=1",
      "N=2 Cin=8 Cout=10 H=4 W=16 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=1 ct=1 cl=1 oh=14 ow=62 layout=nchw bias=1 act=relu",
      "N=1 Cin=12 Cout=7 H=6 W=20 kh=6 kw=6 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=21 ow=63 layout=nchw bias=1 act=tanh",
      "N=3 Cin=5 Cout=6 H=4 W=13 kh=3 kw=3 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=12 ow=39 layout=nchw bias=1 act=relu",
      "N=1 Cin=8 Cout=8 H=5 W=20 kh=4 kw=4 sh=4 sw=4 dh=1 dw=1 g=8 ct=0 cl=0 oh=20 ow=80 layout=nchw bias=1",
      "N=1 Cin=2100 Cout=3 H=2 W=10 kh=3 kw=3 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=6 ow=30 layout=nchw bias=1 act=leaky_relu alpha=0.1",
      "N=1 Cin=20 Cout=12 H=3 W=18 kh=3 kw=3 sh=3 sw=3 dh=1 dw=1 g=1 ct=0 cl=0 oh=9 ow=54 layout=nchw bias=1 act=relu",
  };
  check_shapes(shapes, rng,
               [&](const Params& p, const detail::KernelTable& kt, const Plan& plan) {
                 CHECK(plan.implementation().rfind("subpixel:", 0) == 0u);
                 if (kt.isa == detail::Isa::avx512f && p.stride.w == 3)
                   CHECK(plan.implementation().find("12x32") != std::string::npos);
                 CHECK(plan.executed_macs() == plan.useful_macs());
               },
               "subpixel");
}

TEST_CASE("NHWC bridge: chunks of images one per thread, every ISA", "[sweep][bridge]") {
  // Images of over 128 K floats (input + output) with small weights make chunks of one image, so
  // with at least two chunks per thread each thread transposes and computes its own images (at
  // 2 and 3 threads here; at 1 thread, and on a batch of 2, the chunks run one after another).
  std::mt19937 rng(59);
  const auto shapes = {
      "N=6 Cin=8 Cout=8 H=64 W=64 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=128 ow=128 layout=nchw bias=1 act=relu",
      "N=7 Cin=12 Cout=6 H=40 W=70 kh=3 kw=3 sh=2 sw=2 dh=1 dw=1 g=3 ct=1 cl=1 oh=80 ow=140 layout=nchw bias=1",
      "N=2 Cin=8 Cout=8 H=64 W=64 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=128 ow=128 layout=nchw",
      // 5 chunks: one per thread at 2 threads, not at 3 (a plan for 3 sizes its workspace for both)
      "N=5 Cin=8 Cout=8 H=64 W=64 kh=2 kw=2 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=128 ow=128 layout=nchw bias=1",
  };
  check_shapes(shapes, rng,
               [](const Params&, const detail::KernelTable&, const Plan& plan) {
                 CHECK(plan.implementation().find("(nchw via nhwc)") != std::string::npos);
               },
               "subpixel_via_nhwc");
}

TEST_CASE("PyTorch golden values", "[golden]") {
  std::ifstream in(TCONV_TEST_DATA_DIR "/pytorch_golden.txt");
  REQUIRE(in.good());
  std::string line;
  int cases = 0;
  auto floats = [](const std::string& l) {
    std::vector<float> v;
    std::istringstream s(l);
    double d;
    while (s >> d) v.push_back(float(d));
    return v;
  };
  while (std::getline(in, line)) {
    if (line.rfind("case ", 0) != 0) continue;
    std::istringstream head(line.substr(5));
    std::string name;
    int64_t n, cin, cout, h, w, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups, bias;
    head >> name >> n >> cin >> cout >> h >> w >> kh >> kw >> sh >> sw >> ph >> pw >> oph >> opw >> dh >> dw >> groups >> bias;
    std::string lx, lw, lb, ly;
    std::getline(in, lx);
    std::getline(in, lw);
    std::getline(in, lb);
    std::getline(in, ly);
    PyTorchArgs a;
    a.in_channels = cin;
    a.out_channels = cout;
    a.kernel = {kh, kw};
    a.stride = {sh, sw};
    a.padding = {ph, pw};
    a.output_padding = {oph, opw};
    a.dilation = {dh, dw};
    a.groups = groups;
    a.bias = bias != 0;
    const Params p = from_pytorch(a, n, {h, w});
    const auto x = floats(lx), wt = floats(lw), b = floats(lb), want = floats(ly);
    REQUIRE(int64_t(want.size()) == p.output_elements());
    for (const auto& isa : supported_isas()) {
      test::ForceIsa force(isa);
      for (const auto& strategy : strategy_names()) {
        if (!test::applicable(strategy, p)) continue;
        INFO("case " << name << " strategy " << strategy << " isa " << isa);
        const auto y = test::run(p, x, wt, b, strategy, 2);
        CHECK(test::excess_error(p, y, want, x, wt, b) <= 0);
      }
    }
    ++cases;
  }
  CHECK(cases >= 30);
}

TEST_CASE("subpixel is zero-free: executed multiply-adds equal the useful count", "[subpixel][macs]") {
  std::mt19937 rng(17);
  for (int it = 0; it < test::sweep_cases(1000); ++it) {
    const Params p = test::random_params(rng);
    std::vector<float> w(size_t(p.weight_elements()), 1.0f), b(size_t(p.out_channels), 0.0f);
    PlanOptions o;
    o.strategy = "subpixel";
    const Plan plan(p, w.data(), b.data(), o);
    INFO(p.to_string());
    REQUIRE(plan.executed_macs() == plan.useful_macs());
    if (p.layout == Layout::nchw) {  // and through NHWC copies: every chunk of images counted once
      o.strategy = "subpixel_via_nhwc";
      REQUIRE(Plan(p, w.data(), b.data(), o).executed_macs() == plan.useful_macs());
    }
  }
  // And the textbook zero-insertion form really does multiply the zeros.
  const Params p = Params::parse("N=1 Cin=4 Cout=4 H=8 W=8 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=16 ow=16");
  std::vector<float> w(size_t(p.weight_elements()), 1.0f);
  PlanOptions o;
  o.strategy = "im2col_gemm";
  const Plan plan(p, w.data(), nullptr, o);
  CHECK(plan.executed_macs() >= 3 * plan.useful_macs());
}

TEST_CASE("auto picks a registered strategy and says why", "[auto]") {
  std::mt19937 rng(29);
  const auto names = strategy_names();
  for (int it = 0; it < 300; ++it) {
    const Params p = test::random_params(rng);
    std::vector<float> w(size_t(p.weight_elements()), 1.0f), b(size_t(p.out_channels), 0.0f);
    const Plan plan(p, w.data(), b.data());
    INFO(p.to_string());
    CHECK(plan.strategy() != "auto");
    CHECK(std::find(names.begin(), names.end(), plan.strategy()) != names.end());
    CHECK(!plan.reason().empty());
  }
  // Beyond 65536 stride phases only im2col_gemm (and the reference) plan; auto still works.
  const Params huge_stride = Params::parse("N=1 Cin=2 Cout=3 H=2 W=2 kh=3 kw=3 sh=300 sw=300 ct=1 cl=0 oh=300 ow=303 bias=1");
  std::mt19937 rng2(3);
  const auto x = test::random_tensor(size_t(huge_stride.input_elements()), rng2);
  const auto w2 = test::random_tensor(size_t(huge_stride.weight_elements()), rng2);
  const auto b2 = test::random_tensor(3, rng2);
  CHECK(test::excess_error(huge_stride, test::run(huge_stride, x, w2, b2, "auto"),
                           test::run(huge_stride, x, w2, b2, "reference"), x, w2, b2) <= 0);
  PlanOptions sub;
  sub.strategy = "subpixel";
  CHECK_THROWS_WITH(Plan(huge_stride, w2.data(), b2.data(), sub), Catch::Contains("exceeds the 65536 phases"));
  const Params depthwise = Params::parse("N=1 Cin=8 Cout=8 H=6 W=6 kh=4 kw=4 sh=2 sw=2 g=8 ct=1 cl=1 oh=12 ow=12");
  std::vector<float> w(size_t(depthwise.weight_elements()), 1.0f);
  CHECK(Plan(depthwise, w.data(), nullptr).strategy() == "direct_scatter");
  // Thin layers of a batch of images: direct's batch lanes, except one-tap (k <= s) NCHW ones.
  const Params thin = Params::parse("N=16 Cin=24 Cout=1 H=7 W=7 kh=5 kw=5 sh=2 sw=2 ct=2 cl=2 oh=14 ow=14");
  std::vector<float> w3(size_t(thin.weight_elements()), 1.0f);
  const Plan lanes(thin, w3.data(), nullptr);
  CHECK(lanes.strategy() == "direct_scatter");
  CHECK_THAT(lanes.reason(), Catch::Contains("batch lanes"));
  CHECK_THAT(lanes.implementation(), Catch::Contains("direct_lanes"));
  const Params one_tap = Params::parse("N=16 Cin=24 Cout=1 H=6 W=6 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=12 ow=12");
  std::vector<float> w4(size_t(one_tap.weight_elements()), 1.0f);
  CHECK(Plan(one_tap, w4.data(), nullptr).strategy() == "subpixel");
}

TEST_CASE("auto's thresholds follow the ISA they were measured on", "[auto]") {
  // Two layers where each ISA's rules pick what was fastest on that ISA, and differently.
  // rand22 of tune_random.json (NCHW), 1 thread: on AVX2 (Zen 1) subpixel 11.8 ms against
  // direct's 14.9, on AVX-512 (Zen 4) direct 4.65 against subpixel's 8.72. rand32 (NHWC, 16
  // images of 32 -> 8 channels): AVX-512's 16-float vectors make direct's dot products worth it,
  // 9.0 ms against subpixel's 26.9; on AVX2 subpixel 39.5 against direct's 91.7.
  const Params one_tap = Params::parse("N=2 Cin=8 Cout=128 H=88 W=88 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=176 ow=176");
  const Params thin_nhwc = Params::parse("N=16 Cin=32 Cout=8 H=94 W=94 kh=3 kw=3 sh=1 sw=1 ct=0 cl=0 oh=96 ow=96 layout=nhwc");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    const detail::Choice a = detail::choose_strategy(one_tap, *kt), b = detail::choose_strategy(thin_nhwc, *kt);
    if (kt->isa == detail::Isa::avx512f) {
      CHECK(a.strategy == "direct_scatter");
      CHECK_THAT(a.reason, Catch::Contains("small image"));
      CHECK(b.strategy == "direct_scatter");
      CHECK_THAT(b.reason, Catch::Contains("dot products"));
    } else {
      CHECK(a.strategy == "subpixel");
      CHECK_THAT(a.reason, Catch::Contains("one input pixel per output"));
      CHECK(b.strategy == "subpixel");
    }
  }
}

TEST_CASE("auto: NCHW batch lanes yield to subpixel on whole-panel stride-2 rows (AVX-512 only)", "[auto]") {
  // bench/data/avx512/tune_lanes_panels_nchw.json (Zen 4), 1 thread: dcgan_g5 (16 images of
  // 64 -> 3 channels, 32x32, k4 s2: phase rows of 32 pixels, 12 GEMM channels) subpixel 1.11 ms
  // against direct's lanes 1.22; on 40x40 images direct 2.12 against subpixel's 3.88; 64 -> 1
  // channels (4 GEMM channels) stays with the lanes. On AVX2 (Zen 3) direct won dcgan_g5 (1.49
  // against 2.05 ms), so its lanes keep every such layer there.
  // Session 28: on AVX-512, direct's tap sums took dcgan_g5 back (0.98 ms against subpixel's
  // 1.11, bench/data/avx512/tune_tap_sums_nchw.json) and every such layer of 16 or more input
  // channels per group; the rule keeps the rest (12 input channels here: 48 multiply-adds per
  // output, too few for tap sums).
  const Params dcgan_g5 = Params::parse("N=16 Cin=64 Cout=3 H=32 W=32 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=64 ow=64");
  const Params few_inputs = Params::parse("N=16 Cin=12 Cout=3 H=32 W=32 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=64 ow=64");
  const Params rows_of_40 = Params::parse("N=16 Cin=12 Cout=3 H=40 W=40 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=80 ow=80");
  const Params one_channel = Params::parse("N=16 Cin=12 Cout=1 H=32 W=32 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=64 ow=64");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    if (!detail::direct_uses_batch_lanes(dcgan_g5, *kt)) continue;  // SSE2: 4 lanes, narrow tiles
    const detail::Choice a = detail::choose_strategy(dcgan_g5, *kt), b = detail::choose_strategy(few_inputs, *kt);
    CHECK(a.strategy == "direct_scatter");
    if (kt->isa == detail::Isa::avx512f) {
      CHECK_THAT(a.reason, Catch::Contains("tap sums"));
      CHECK(b.strategy == "subpixel");
      CHECK_THAT(b.reason, Catch::Contains("whole 32-pixel panels"));
    } else {
      CHECK_THAT(a.reason, Catch::Contains("batch lanes"));
      CHECK_THAT(b.reason, Catch::Contains("batch lanes"));
    }
    CHECK_THAT(detail::choose_strategy(rows_of_40, *kt).reason, Catch::Contains("batch lanes"));
    CHECK_THAT(detail::choose_strategy(one_channel, *kt).reason, Catch::Contains("batch lanes"));
  }
}

TEST_CASE("auto on AVX2: the rules fitted on the diverse random layers", "[auto]") {
  // bench/data/avx2/ (Zen 3, session 22), 1 thread: r02 of tune_diverse.json (one tap, 4 GEMM
  // channels, Cin 256) runs gemm_col2im; r18 (NHWC, one tap, 12 GEMM channels): direct's dot
  // products and subpixel within 1% (subpixel was 2.2x faster on Zen 1), direct 1.14x at 2
  // threads. r24 (96 -> 1 channels, k7x5: K 840, 11x7 pixels): direct's image lanes. Of
  // tune_diverse2.json: n13 (8 -> 256 channels, k4 s3: K 14, 1024 GEMM channels) 4.2 ms through
  // NHWC copies against direct's 8.5; n07 (32 -> 1 channels, 44x29, k7 s2) 0.138 ms on direct's
  // image lanes against gemm_col2im's 0.212.
  const Params few_channels = Params::parse("N=8 Cin=256 Cout=1 H=37 W=57 kh=2 kw=2 sh=4 sw=4 ct=1 cl=1 oh=144 ow=224");
  const Params thin_nhwc = Params::parse("N=4 Cin=64 Cout=3 H=25 W=45 kh=2 kw=2 sh=4 sw=4 ct=0 cl=0 oh=98 ow=178 layout=nhwc");
  const Params long_k = Params::parse("N=4 Cin=96 Cout=1 H=11 W=7 kh=7 kw=5 sh=2 sw=2 ct=6 cl=2 oh=15 ow=13");
  const Params wide_short_k = Params::parse("N=1 Cin=8 Cout=256 H=38 W=45 kh=4 kw=4 sh=3 sw=3 ct=0 cl=2 oh=115 ow=132");
  const Params few_cin_big_image = Params::parse("N=2 Cin=32 Cout=1 H=44 W=29 kh=7 kw=7 sh=2 sw=2 ct=0 cl=5 oh=93 ow=53");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    if (kt->isa != detail::Isa::avx2) continue;  // fitted on AVX2 data (SSE2 vectors enable direct's batch lanes on r24)
    INFO(kt->isa_name);
    const detail::Choice a = detail::choose_strategy(few_channels, *kt);
    CHECK(a.strategy == "gemm_col2im");
    CHECK_THAT(a.reason, Catch::Contains("one input pixel per output"));
    CHECK(detail::choose_strategy(thin_nhwc, *kt).strategy == "direct_scatter");
    const detail::Choice c = detail::choose_strategy(long_k, *kt);
    CHECK(c.strategy == "direct_scatter");
    CHECK_THAT(c.reason, Catch::Contains("staged pixel-major"));
    const detail::Choice d = detail::choose_strategy(wide_short_k, *kt);
    CHECK(d.strategy == "subpixel_via_nhwc");
    CHECK_THAT(d.reason, Catch::Contains("the output dominates"));
    const detail::Choice e = detail::choose_strategy(few_cin_big_image, *kt);
    CHECK(e.strategy == "direct_scatter");
    CHECK_THAT(e.reason, Catch::Contains("staged pixel-major"));
  }
}

TEST_CASE("auto on AVX-512: the thresholds re-fitted in session 25", "[auto]") {
  // bench/data/avx512/ (Zen 4, session 25), 1 thread: n08 of tune_diverse2.json (16 -> 256
  // channels, 53x8, k3 s2: K 36, 1024 GEMM channels) 0.42 ms through NHWC copies against direct's
  // 0.97; h15 of tune_check22.json (8 images of 24 -> 96, k1x5 s3: K 40, 192 GEMM channels) 8.7
  // against 14.5.
  // r10 of tune_diverse.json (192 -> 1 channels, 54x46, k3x5 s2): beyond the image lanes' 64
  // input channels, gemm_col2im 0.175 ms against direct's 0.274; since session 28 direct's tap
  // sums take it (0.140 against gemm_col2im's 0.183, tune_tap_sums_nchw.json). A short
  // reduction with few GEMM channels (64: 16 -> 16, k4 s3) stays on direct's rows.
  const Params wide_short_k = Params::parse("N=1 Cin=16 Cout=256 H=53 W=8 kh=3 kw=3 sh=2 sw=2 ct=1 cl=0 oh=105 ow=17");
  const Params mid_short_k = Params::parse("N=8 Cin=24 Cout=96 H=41 W=48 kh=1 kw=5 sh=3 sw=3 ct=0 cl=4 oh=121 ow=138");
  const Params many_cin = Params::parse("N=1 Cin=192 Cout=1 H=54 W=46 kh=3 kw=5 sh=2 sw=2 ct=2 cl=1 oh=105 ow=93");
  const Params narrow_short_k = Params::parse("N=1 Cin=16 Cout=16 H=53 W=40 kh=4 kw=4 sh=3 sw=3 ct=1 cl=0 oh=158 ow=121");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    if (kt->isa != detail::Isa::avx512f) continue;
    for (const Params* p : {&wide_short_k, &mid_short_k}) {
      const detail::Choice c = detail::choose_strategy(*p, *kt);
      CHECK(c.strategy == "subpixel_via_nhwc");
      CHECK_THAT(c.reason, Catch::Contains("the output dominates"));
    }
    const detail::Choice m = detail::choose_strategy(many_cin, *kt);
    CHECK(m.strategy == "direct_scatter");
    CHECK_THAT(m.reason, Catch::Contains("tap sums"));
    const detail::Choice d = detail::choose_strategy(narrow_short_k, *kt);
    CHECK(d.strategy == "direct_scatter");
    CHECK_THAT(d.reason, Catch::Contains("short reduction"));
  }
}

TEST_CASE("auto on AVX-512: NCHW one-tap layers go to subpixel from 32 input channels (session 29)", "[auto]") {
  // bench/data/avx512/tune_random_s29.json: xr05 (24 -> 64 channels, 41x26, k4 s4, 1 image) ran
  // 1.23 ms on subpixel against 0.74 through NHWC copies (1 thread). From 32 input channels per
  // group the one-tap rule keeps subpixel.
  const Params xr05 = Params::parse("N=1 Cin=24 Cout=64 H=41 W=26 kh=4 kw=4 sh=4 sw=4 ct=1 cl=0 oh=162 ow=104");
  const Params cin32 = Params::parse("N=1 Cin=32 Cout=64 H=41 W=26 kh=4 kw=4 sh=4 sw=4 ct=1 cl=0 oh=162 ow=104");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    if (kt->isa != detail::Isa::avx512f) continue;
    const detail::Choice v = detail::choose_strategy(xr05, *kt);
    INFO(v.reason);
    CHECK(v.strategy == "subpixel_via_nhwc");
    const detail::Choice c = detail::choose_strategy(cin32, *kt);
    CHECK(c.strategy == "subpixel");
    CHECK_THAT(c.reason, Catch::Contains("one input pixel per output"));
  }
}

TEST_CASE("auto: NCHW short reductions past 32 MiB of tapped output stay on subpixel (sessions 30, 33)", "[auto]") {
  // rand08 of tune_random_s29.json (3 -> 256 channels, 165x165, k4 s4: 446 MB of output) ran 1.8x /
  // 2.4x slower through NHWC copies than on subpixel (1 / 2 threads); 4 images of 1 -> 256,
  // 165x165, k3 s3: 249 ms against subpixel's 133. The same layer on a 40x40 input (26 MB of
  // output) keeps the NHWC copies, as does h15 (a third of its 51 MB of output tapped).
  // Session 33, AVX2 on a Zen 1 (bench/data/avx2/tune_zen1_s33.json): rand11 (2 images of
  // 1 -> 128, 256x256, k3 s3) 1.43x / 1.76x slower through NHWC copies, so AVX2 and SSE2 share
  // the limit.
  const Params rand08 = Params::parse("N=1 Cin=3 Cout=256 H=165 W=165 kh=4 kw=4 sh=4 sw=4 ct=0 cl=0 oh=660 ow=660");
  const Params k3s3 = Params::parse("N=4 Cin=1 Cout=256 H=165 W=165 kh=3 kw=3 sh=3 sw=3 ct=0 cl=0 oh=495 ow=495");
  const Params rand11 = Params::parse("N=2 Cin=1 Cout=128 H=256 W=256 kh=3 kw=3 sh=3 sw=3 ct=0 cl=0 oh=768 ow=768");
  const Params small = Params::parse("N=1 Cin=3 Cout=256 H=40 W=40 kh=4 kw=4 sh=4 sw=4 ct=0 cl=0 oh=160 ow=160");
  const Params h15 = Params::parse("N=8 Cin=24 Cout=96 H=41 W=48 kh=1 kw=5 sh=3 sw=3 ct=0 cl=4 oh=121 ow=138");
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (const Params* p : {&rand08, &k3s3, &rand11}) {
      const detail::Choice c = detail::choose_strategy(*p, *kt);
      INFO(c.reason);
      CHECK(c.strategy == "subpixel");
      CHECK_THAT(c.reason, Catch::Contains("writes it once"));
    }
    CHECK(detail::choose_strategy(small, *kt).strategy == "subpixel_via_nhwc");
    if (kt->isa == detail::Isa::avx512f) CHECK(detail::choose_strategy(h15, *kt).strategy == "subpixel_via_nhwc");
  }
}

TEST_CASE("auto on AVX2: NCHW one-tap layers with untapped phases and many GEMM channels go through NHWC (session 34)", "[auto]") {
  // bench/data/avx2/tune_zen2_s34.json (Zen 2), r08: 8 images of 256 -> 96 channels, 33x42, k1 s2
  // (three of four phases bias only), 1 / 2 threads: subpixel 12.4 / 7.7 ms, through NHWC
  // 8.7 / 4.4. Not with 8 GEMM channels (n02 of tune_diverse2.json: through NHWC 1.9x slower),
  // nor where every phase has a tap (k = s), nor on AVX-512 (no gain on its data).
  const Params r08 = Params::parse("N=8 Cin=256 Cout=96 H=33 W=42 kh=1 kw=1 sh=2 sw=2 ct=0 cl=0 oh=65 ow=83");
  const Params n02 = Params::parse("N=2 Cin=128 Cout=8 H=55 W=29 kh=1 kw=1 sh=2 sw=2 ct=0 cl=0 oh=109 ow=57");
  const Params every_phase = Params::parse("N=8 Cin=256 Cout=96 H=33 W=42 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=66 ow=84");
  Params nhwc = r08;
  nhwc.layout = Layout::nhwc;
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    const detail::Choice c = detail::choose_strategy(r08, *kt);
    INFO(c.reason);
    CHECK((c.strategy == "subpixel_via_nhwc") == (kt->isa != detail::Isa::avx512f));
    for (const Params* p : {&n02, &every_phase}) {
      const detail::Choice other = detail::choose_strategy(*p, *kt);
      INFO(other.reason);
      CHECK_THAT(other.reason, !Catch::Contains("phases no tap reaches"));
    }
    CHECK(detail::choose_strategy(nhwc, *kt).strategy == "subpixel");
  }
  std::mt19937 rng(71);
  check_all(Params::parse("N=2 Cin=40 Cout=36 H=7 W=11 kh=1 kw=1 sh=2 sw=3 ct=0 cl=1 oh=14 ow=31 bias=1 act=relu"), rng);
}

TEST_CASE("auto on AVX-512: NHWC layers of few GEMM channels run subpixel's narrow tile (session 30)", "[auto]") {
  // bench/data/avx512/tune_narrow_nhwc_s30.json (1 thread): h22 (4 images of 64 -> 16 channels,
  // 5x9, k4 s1) subpixel 3.3x faster than gemm_col2im; rand02 (16 images of 1 -> 3, 256x256,
  // k2 s2: one tap, 12 GEMM channels) subpixel 15.2 ms against direct's 93.6. Since session 32
  // rand02 runs direct through NCHW copies (1-3 channels in and out: 7.5 ms against subpixel's
  // 17.4, tune_remeasure_random_nhwc_s32.json); with 8 output channels it stays with subpixel.
  const Params h22 = Params::parse("N=4 Cin=64 Cout=16 H=5 W=9 kh=4 kw=4 sh=1 sw=1 ct=0 cl=3 oh=8 ow=6 layout=nhwc");
  const Params rand02 = Params::parse("N=16 Cin=1 Cout=3 H=256 W=256 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=512 ow=512 layout=nhwc");
  Params eight_out = rand02;
  eight_out.out_channels = 8;
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    if (kt->isa != detail::Isa::avx512f) continue;
    for (const Params* p : {&h22, static_cast<const Params*>(&eight_out)}) {
      const detail::Choice c = detail::choose_strategy(*p, *kt);
      INFO(c.reason);
      CHECK(c.strategy == "subpixel");
    }
    CHECK(detail::choose_strategy(rand02, *kt).strategy == "direct_scatter_via_nchw");
  }
}

TEST_CASE("auto: NHWC grouped layers of few channels per group run direct through NCHW copies (session 31)", "[auto]") {
  // bench/data/avx512/tune_grouped_nhwc_s31.json (1 thread): e03 (4 images of 24 -> 48 channels
  // in 24 groups, k5 s2) subpixel 12.5 ms, through NCHW 0.84; not with 2 groups (g01 of
  // tune_grouped_holdout_nhwc_s31.json: subpixel 2.5x faster), nor in NCHW, nor depthwise.
  const Params e03 = Params::parse("N=4 Cin=24 Cout=48 H=31 W=64 kh=5 kw=5 sh=2 sw=2 g=24 ct=3 cl=3 oh=59 ow=125 layout=nhwc");
  const Params two_groups = Params::parse("N=8 Cin=8 Cout=16 H=24 W=7 kh=2 kw=2 sh=1 sw=1 g=2 ct=0 cl=0 oh=25 ow=8 layout=nhwc");
  Params nchw = e03;
  nchw.layout = Layout::nchw;
  const Params depthwise = Params::parse("N=1 Cin=64 Cout=64 H=64 W=64 kh=4 kw=4 sh=2 sw=2 g=64 ct=1 cl=1 oh=128 ow=128 layout=nhwc");
  std::mt19937 rng(61);
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    CHECK(detail::choose_strategy(e03, *kt).strategy == "direct_scatter_via_nchw");
    for (const Params* p : {&two_groups, static_cast<const Params*>(&nchw), &depthwise}) CHECK(detail::choose_strategy(*p, *kt).strategy != "direct_scatter_via_nchw");
  }
  check_all(e03, rng);
}

TEST_CASE("auto: NHWC layers of 1-3 channels in and out run direct through NCHW copies (AVX-512, session 32)", "[auto]") {
  // bench/data/avx512/tune_few_channels_nhwc_s32.json (1 thread): c14 (1 image of 2 -> 1
  // channels, 256x256, k4 s2) direct 1.06 ms, subpixel 0.78, through NCHW 0.32; hrand22 (1 -> 3,
  // k2 s2, one tap) too. Not one-tap layers of stride 4 (c04: 3 -> 3, k4 s4, subpixel 1.15x
  // faster), nor batches that fill direct's lanes, nor 4 channels, nor NCHW, nor on AVX2 (no data).
  const Params c14 = Params::parse("N=1 Cin=2 Cout=1 H=256 W=256 kh=4 kw=4 sh=2 sw=2 ct=0 cl=0 oh=514 ow=514 layout=nhwc");
  const Params one_tap = Params::parse("N=2 Cin=1 Cout=3 H=256 W=256 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=512 ow=512 layout=nhwc");
  const Params one_tap_s4 = Params::parse("N=2 Cin=3 Cout=3 H=256 W=256 kh=4 kw=4 sh=4 sw=4 ct=0 cl=0 oh=1024 ow=1024 layout=nhwc");
  const Params lanes = Params::parse("N=16 Cin=2 Cout=1 H=64 W=64 kh=4 kw=4 sh=2 sw=2 ct=0 cl=0 oh=130 ow=130 layout=nhwc");
  const Params four = Params::parse("N=1 Cin=4 Cout=1 H=256 W=256 kh=4 kw=4 sh=2 sw=2 ct=0 cl=0 oh=514 ow=514 layout=nhwc");
  Params nchw = c14;
  nchw.layout = Layout::nchw;
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    const bool avx512 = kt->isa == detail::Isa::avx512f;
    CHECK((detail::choose_strategy(c14, *kt).strategy == "direct_scatter_via_nchw") == avx512);
    CHECK((detail::choose_strategy(one_tap, *kt).strategy == "direct_scatter_via_nchw") == avx512);
    for (const Params* p : {&one_tap_s4, &lanes, &four, static_cast<const Params*>(&nchw)})
      CHECK(detail::choose_strategy(*p, *kt).strategy != "direct_scatter_via_nchw");
  }
  std::mt19937 rng(67);
  check_all(Params::parse("N=2 Cin=3 Cout=2 H=9 W=13 kh=3 kw=3 sh=2 sw=2 ct=1 cl=1 oh=17 ow=25 layout=nhwc bias=1 act=relu"), rng);
}

TEST_CASE("auto: NCHW one-tap layers of few output channels on huge inputs run direct's channel passes", "[auto]") {
  // bench/data/avx2/ (session 23): 2 images of 512 -> 1 channels, 156x156, k2 s2 (48 MiB of input
  // per image): direct 15.6 ms against gemm_col2im's 35.5 at 1 thread. Not for a smaller input
  // (r02: 8 images of 256 -> 1, 37x57, k2 s4), nor with more taps per output (k4 s2).
  const Params huge = Params::parse("N=2 Cin=512 Cout=1 H=156 W=156 kh=2 kw=2 sh=2 sw=2 ct=0 cl=0 oh=312 ow=312");
  const Params small = Params::parse("N=8 Cin=256 Cout=1 H=37 W=57 kh=2 kw=2 sh=4 sw=4 ct=1 cl=1 oh=144 ow=224");
  const Params more_taps = Params::parse("N=2 Cin=512 Cout=1 H=156 W=156 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=312 ow=312");
  std::mt19937 rng(47);
  const auto w = test::random_tensor(size_t(huge.weight_elements()), rng);
  // On AVX-512 direct's tap sums take the huge layer first, and read the input once too (Zen 4,
  // session 28: 5.7 ms against the channel passes' 12.6, gemm_col2im's 37).
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    const bool tap_sums = kt->isa == detail::Isa::avx512f;
    const detail::Choice c = detail::choose_strategy(huge, *kt);
    CHECK(c.strategy == "direct_scatter");
    CHECK_THAT(c.reason, Catch::Contains(tap_sums ? "tap sums" : "channel passes"));
    CHECK_THAT(detail::choose_strategy(small, *kt).reason, !Catch::Contains("channel passes"));
    CHECK_THAT(detail::choose_strategy(more_taps, *kt).reason, !Catch::Contains("channel passes"));
    test::ForceIsa force(kt->isa_name);
    PlanOptions o;
    o.strategy = "auto";
    CHECK_THAT(Plan(huge, w.data(), nullptr, o).implementation(),
               Catch::StartsWith(tap_sums ? "direct_tap_sums" : "direct_rows_passes"));
  }
}

TEST_CASE("auto: NCHW layers of few output channels and several taps per phase run direct, staged or not", "[auto]") {
  // bench/data/avx2/tune_check22.json (session 24): 1 image of 8 -> 3 channels, 229x256, k3 s1,
  // too large to stage: direct 0.69 ms against subpixel's 1.86. Many input channels go to
  // gemm_col2im first on AVX2 (64 -> 1, 166x249, k3 s2: 1.2x faster than direct); on AVX-512
  // direct's image lanes take that layer before either rule (Zen 4, session 25: 2.07 ms against
  // gemm_col2im's 2.93, bench/data/avx512/tune_random.json rand01). One tap per phase (k = s)
  // keeps its own rules.
  const Params unstaged = Params::parse("N=1 Cin=8 Cout=3 H=229 W=256 kh=3 kw=3 sh=1 sw=1 ct=0 cl=0 oh=231 ow=258");
  const Params many_inputs = Params::parse("N=1 Cin=64 Cout=1 H=166 W=249 kh=3 kw=3 sh=2 sw=2 ct=0 cl=0 oh=333 ow=499");
  REQUIRE_FALSE(detail::direct_stages_nchw_input(unstaged));
  for (const detail::KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    const detail::Choice c = detail::choose_strategy(unstaged, *kt);
    CHECK(c.strategy == "direct_scatter");
    CHECK_THAT(c.reason, Catch::Contains("too large to stage"));
    const detail::Choice many = detail::choose_strategy(many_inputs, *kt);
    if (kt->isa == detail::Isa::avx512f) {  // session 28: tap sums before the image lanes
      CHECK(many.strategy == "direct_scatter");
      CHECK_THAT(many.reason, Catch::Contains("tap sums"));
    } else {
      CHECK(many.strategy == "gemm_col2im");
    }
  }
}

TEST_CASE("No strategy writes outside workspace_bytes(), on every ISA", "[plan][workspace]") {
  // The random sweep checks this on small shapes (check_all); these are large enough for the
  // forms that only big layers take.
  std::mt19937 rng(29);
  const auto shapes = {
      // Direct NCHW rows whose tap lists are too big to prebuild: built per segment in the
      // workspace, one List per W-phase segment (found by a random sweep of large shapes).
      "N=1 Cin=128 Cout=128 H=3 W=3 kh=16 kw=16 sh=2 sw=2 dh=1 dw=1 g=1 ct=0 cl=0 oh=20 ow=20 layout=nchw",
      "N=2 Cin=24 Cout=20 H=9 W=9 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=18 ow=18 layout=nhwc bias=1",
      "N=16 Cin=32 Cout=3 H=8 W=8 kh=4 kw=4 sh=2 sw=2 dh=1 dw=1 g=1 ct=1 cl=1 oh=16 ow=16 layout=nchw",
      "N=1 Cin=8 Cout=8 H=12 W=12 kh=3 kw=3 sh=2 sw=2 dh=2 dw=2 g=8 ct=1 cl=1 oh=25 ow=25 layout=nhwc bias=1",
  };
  for (const char* text : shapes) {
    INFO(text);
    const Params p = Params::parse(text);
    const auto x = test::random_tensor(size_t(p.input_elements()), rng);
    const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
    const auto b = test::random_tensor(size_t(p.out_channels), rng);
    for (const auto& isa : supported_isas()) {
      test::ForceIsa force(isa);
      for (const auto& strategy : fast_strategies()) {
        if (!test::applicable(strategy, p)) continue;
        INFO(isa << " " << strategy);
        PlanOptions o;
        o.strategy = strategy;
        o.max_threads = 1;
        const Plan plan(p, w.data(), p.has_bias ? b.data() : nullptr, o);
        INFO(plan.implementation());
        std::vector<float> y(size_t(p.output_elements()));
        CHECK(execute_within_workspace(plan, x.data(), y.data(), 1));
      }
    }
  }
}

TEST_CASE("Concurrent executions of one plan with distinct workspaces agree", "[plan][threads]") {
  std::mt19937 rng(23);
  const Params p = Params::parse("N=2 Cin=24 Cout=20 H=9 W=9 kh=4 kw=4 sh=2 sw=2 ct=1 cl=1 oh=18 ow=18 bias=1 act=relu");
  const auto x = test::random_tensor(size_t(p.input_elements()), rng);
  const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
  const auto b = test::random_tensor(size_t(p.out_channels), rng);
  for (const auto& strategy : strategy_names()) {
    if (!test::applicable(strategy, p)) continue;
    PlanOptions o;
    o.strategy = strategy;
    o.max_threads = 2;
    const Plan plan(p, w.data(), b.data(), o);
    std::vector<float> want(size_t(p.output_elements()));
    std::vector<char> ws0(plan.workspace_bytes());
    plan.execute(x.data(), want.data(), ws0.data(), 1);
    std::vector<std::vector<float>> outs(4, std::vector<float>(want.size()));
    std::vector<std::vector<char>> wss(4, std::vector<char>(plan.workspace_bytes() + 4));
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
      pool.emplace_back([&, t] {
        for (int rep = 0; rep < 5; ++rep) plan.execute(x.data(), outs[size_t(t)].data(), wss[size_t(t)].data() + t, 1 + t % 2);
      });
    }
    for (auto& th : pool) th.join();
    for (const auto& o2 : outs) CHECK(o2 == want);
  }
}
