// Shared test helpers: random problems, tensors, tolerance-aware comparison, ISA forcing.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tconv/tconv.hpp"

namespace tconv::detail {
struct KernelTable;
}

namespace tconv::test {

std::vector<float> random_tensor(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f);

// A small random problem covering every parameter (strides, dilations, groups, crops incl.
// negative ones, output extensions, layouts, weight layouts, bias, activations).
Params random_params(std::mt19937& rng);

// Whether a registered strategy (or "auto") takes these parameters: the layout bridges each take
// one layout only, and say so when asked for the other.
bool applicable(const std::string& strategy, const Params& p);

// Runs the plan's strategy; returns the output.
std::vector<float> run(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, const std::string& strategy, int threads = 1);

// Largest |a - b| minus the allowed error; <= 0 means within tolerance. The tolerance scales with
// the accumulation length (Cin/groups * KH * KW) and the magnitudes of x, w and bias.
double excess_error(const Params& p, const std::vector<float>& got, const std::vector<float>& want,
                    const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& b, size_t* worst_index = nullptr);

// Sets TCONV_ISA for the scope; restores the previous value after.
class ForceIsa {
 public:
  explicit ForceIsa(const std::string& isa);
  ~ForceIsa();

 private:
  std::string saved_;
  bool had_ = false;
};

// Number of random cases for sweeps: TCONV_SWEEP_CASES, else the default.
int sweep_cases(int fallback);

// The kernel table of every ISA this CPU runs, best first (for kernel-level tests).
std::vector<const detail::KernelTable*> kernel_tables();

// kernel_tables() and their short- and grouped-tile variants: every GEMM tile this CPU runs.
std::vector<const detail::KernelTable*> gemm_tile_tables();

}  // namespace tconv::test
