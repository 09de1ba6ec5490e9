// The Plan: validation, canonical weights, strategy choice, workspace and execution checks.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "plan/aligned_buffer.hpp"
#include "strategies/strategy.hpp"
#include "wisdom/wisdom.hpp"
#include "tconv/tconv.hpp"

namespace tconv {

struct Plan::Impl {
  detail::Problem problem;
  std::unique_ptr<detail::Strategy> strategy;
  std::string strategy_name;
  std::string reason;
  int max_threads = 1;
  // Computed once at creation, not on every execute() (tiny layers take well under a microsecond):
  size_t input_floats = 0, output_floats = 0;
  std::vector<size_t> workspace_floats;  // [threads], for threads <= kCachedThreads

  size_t workspace_floats_for(int threads) const {
    return size_t(threads) < workspace_floats.size() ? workspace_floats[size_t(threads)]
                                                      : strategy->workspace_floats(threads);
  }
};

namespace {

constexpr size_t kAlignSlack = 64;  // the caller's workspace may start anywhere
constexpr int kCachedThreads = 256;  // workspace sizes kept per thread count up to this

std::vector<float> canonical_weights(const Params& p, const float* w) {
  const int64_t count = p.weight_elements();
  std::vector<float> out(static_cast<size_t>(count));
  if (p.weight_layout == WeightLayout::pytorch) {
    std::copy(w, w + count, out.begin());
    return out;
  }
  // TensorFlow [KH][KW][Cout][Cin] (groups == 1) -> [Cin][Cout][KH][KW].
  const int64_t kh = p.kernel.h, kw = p.kernel.w, co = p.out_channels, ci = p.in_channels;
  for (int64_t th = 0; th < kh; ++th)
    for (int64_t tw = 0; tw < kw; ++tw)
      for (int64_t o = 0; o < co; ++o)
        for (int64_t i = 0; i < ci; ++i)
          out[size_t(((i * co + o) * kh + th) * kw + tw)] = w[((th * kw + tw) * co + o) * ci + i];
  return out;
}

const detail::StrategyInfo& find_strategy(const std::string& name) {
  std::string known;
  for (const auto& s : detail::strategy_registry()) {
    if (name == s.name) return s;
    known += std::string(known.empty() ? "" : ", ") + s.name;
  }
  throw Error("strategy=" + name + " is not registered (known: auto, " + known + ")");
}

bool overlaps(const float* a, size_t an, const float* b, size_t bn) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + bn * sizeof(float) && pb < pa + an * sizeof(float);
}

// "auto": a matching wisdom entry if there is one (and its strategy can run these parameters),
// else the heuristic.
detail::Choice choose_auto(const Params& params, const PlanOptions& options, const detail::KernelTable& kernels,
                           int max_threads) {
  detail::Choice heuristic = detail::choose_strategy(params, kernels);
  if (!options.use_wisdom) return heuristic;
  std::string path = options.wisdom_file;
  if (path.empty()) {
    const char* env = std::getenv("TCONV_WISDOM");
    if (env == nullptr || *env == '\0') return heuristic;
    path = env;
  }
  std::string warning;
  const auto table = detail::load_wisdom(path, &warning);
  if (!table) {
    heuristic.reason += " (" + warning + ")";
    return heuristic;
  }
  const auto it = table->find(detail::wisdom_key(params, kernels.isa_name, max_threads));
  if (it == table->end()) {
    heuristic.reason += " (no entry for this shape in wisdom file '" + path + "')";
    return heuristic;
  }
  const detail::WisdomEntry& e = it->second;
  if (e.strategy == "auto" || !find_strategy(e.strategy).not_applicable(params).empty()) {
    heuristic.reason += " (wisdom file '" + path + "' names " + e.strategy + ", which cannot run this shape)";
    return heuristic;
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.4g", e.median_ms);
  return {e.strategy, "measured fastest by tconv tune (" + std::string(ms) + " ms), wisdom file '" + path + "'"};
}

}  // namespace

Plan::Plan(const Params& params, const float* weights, const float* bias, const PlanOptions& options)
    : impl_(std::make_unique<Impl>()) {
  validate(params);
  if (weights == nullptr) throw Error("weights must not be null");
  if (params.has_bias && bias == nullptr) throw Error("bias must not be null when has_bias is set");
  if (options.max_threads < 0) {
    throw Error("max_threads=" + std::to_string(options.max_threads) + " must be at least 0 (0: all hardware threads)");
  }
  try {
    Impl& im = *impl_;
    im.max_threads = options.max_threads > 0 ? options.max_threads
                                             : std::max(1, int(std::thread::hardware_concurrency()));
    detail::Problem& pr = im.problem;
    pr.params = params;
    pr.cig = params.in_channels / params.groups;
    pr.cog = params.out_channels / params.groups;
    pr.weight = canonical_weights(params, weights);
    pr.bias.assign(size_t(params.out_channels), 0.0f);
    if (params.has_bias) std::copy(bias, bias + params.out_channels, pr.bias.begin());
    pr.kernels = &detail::resolve_kernels();
    pr.max_threads = im.max_threads;
    if (options.strategy == "auto") {
      const detail::Choice choice = choose_auto(params, options, *pr.kernels, im.max_threads);
      im.strategy_name = choice.strategy;
      im.reason = choice.reason;
    } else {
      im.strategy_name = options.strategy;
      im.reason = "requested";
    }
    const detail::StrategyInfo& info = find_strategy(im.strategy_name);
    if (std::string why = info.not_applicable(params); !why.empty()) {
      throw Error("strategy=" + im.strategy_name + " cannot run these parameters: " + why);
    }
    im.strategy = info.create(pr);
    im.input_floats = size_t(params.input_elements());
    im.output_floats = size_t(params.output_elements());
    im.workspace_floats.assign(size_t(std::min(im.max_threads, kCachedThreads)) + 1, 0);
    for (int t = 1; t < int(im.workspace_floats.size()); ++t) im.workspace_floats[size_t(t)] = im.strategy->workspace_floats(t);
  } catch (const std::bad_alloc&) {
    throw Error("out of memory while creating the plan for " + params.to_string());
  } catch (const std::length_error&) {
    throw Error("out of memory while creating the plan for " + params.to_string());
  }
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

const Params& Plan::params() const { return impl_->problem.params; }

std::vector<int64_t> Plan::output_shape() const {
  const Params& p = params();
  if (p.layout == Layout::nchw) return {p.batch, p.out_channels, p.output.h, p.output.w};
  return {p.batch, p.output.h, p.output.w, p.out_channels};
}

size_t Plan::workspace_bytes() const {
  const size_t floats = impl_->workspace_floats_for(impl_->max_threads);
  return floats == 0 ? 0 : floats * sizeof(float) + kAlignSlack;
}

int Plan::max_threads() const { return impl_->max_threads; }
std::string Plan::strategy() const { return impl_->strategy_name; }
std::string Plan::implementation() const { return impl_->strategy->implementation(); }
std::string Plan::reason() const { return impl_->reason; }
uint64_t Plan::useful_macs() const { return params().useful_macs(); }
uint64_t Plan::executed_macs() const { return impl_->strategy->executed_macs(); }

void Plan::execute(const float* input, float* output, void* workspace, int threads) const {
  if (input == nullptr) throw Error("input must not be null");
  if (output == nullptr) throw Error("output must not be null");
  if (threads < 1 || threads > impl_->max_threads) {
    throw Error("threads=" + std::to_string(threads) + " must be in [1, max_threads=" +
                std::to_string(impl_->max_threads) + "]");
  }
  if (overlaps(input, impl_->input_floats, output, impl_->output_floats)) {
    throw Error("output must not overlap input");
  }
  const size_t floats = impl_->workspace_floats_for(threads);
  detail::AlignedBuffer owned;
  float* ws = nullptr;
  if (floats > 0) {
    if (workspace == nullptr) {
      try {
        owned.resize(floats);
      } catch (const std::bad_alloc&) {
        throw Error("out of memory allocating a workspace of " + std::to_string(floats * 4) + " bytes");
      }
      ws = owned.data();
    } else {
      const auto addr = reinterpret_cast<uintptr_t>(workspace);
      ws = reinterpret_cast<float*>((addr + 63) / 64 * 64);
    }
  }
  impl_->strategy->execute(input, output, ws, threads);
}

const char* version() { return TCONV_VERSION; }

}  // namespace tconv
