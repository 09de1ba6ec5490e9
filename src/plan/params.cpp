// Params: validation, derived sizes, the useful multiply-add count, and the one-line text form.
#include <cmath>
#include <map>
#include <sstream>

#include "plan/checked.hpp"
#include "plan/geometry.hpp"
#include "tconv/tconv.hpp"

namespace tconv {
namespace {

using detail::checked_add;
using detail::checked_mul;

// Dimensions are capped so that any product of two fits in 64 bits before checking further.
constexpr int64_t kMaxDim = (int64_t{1} << 31) - 1;

[[noreturn]] void fail(const std::string& message) { throw Error(message); }

void require_range(const char* name, int64_t value, int64_t lo, const char* rule) {
  if (value < lo) fail(std::string(name) + "=" + std::to_string(value) + " " + rule);
  if (value > kMaxDim) {
    fail(std::string(name) + "=" + std::to_string(value) + " must be at most " +
         std::to_string(kMaxDim));
  }
}

void require_positive(const char* name, int64_t value) {
  require_range(name, value, 1, "must be at least 1");
}

const char* layout_name(Layout l) { return l == Layout::nchw ? "nchw" : "nhwc"; }
const char* weight_layout_name(WeightLayout l) {
  return l == WeightLayout::pytorch ? "pytorch" : "tensorflow";
}
const char* activation_name(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::clamp: return "clamp";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
  }
  return "?";
}

}  // namespace

Hw Params::full_output() const {
  auto full = [](int64_t in, int64_t s, int64_t d, int64_t k) {
    int64_t a = checked_mul(in - 1, s, "full output extent");
    int64_t b = checked_mul(d, k - 1, "dilated kernel extent");
    return checked_add(checked_add(a, b, "full output extent"), 1, "full output extent");
  };
  return {full(input.h, stride.h, dilation.h, kernel.h), full(input.w, stride.w, dilation.w, kernel.w)};
}

int64_t Params::input_elements() const {
  int64_t n = checked_mul(batch, in_channels, "input size");
  return checked_mul(checked_mul(n, input.h, "input size"), input.w, "input size");
}

int64_t Params::output_elements() const {
  int64_t n = checked_mul(batch, out_channels, "output size");
  return checked_mul(checked_mul(n, output.h, "output size"), output.w, "output size");
}

int64_t Params::weight_elements() const {
  int64_t n = checked_mul(in_channels, out_channels / (groups > 0 ? groups : 1), "weight size");
  return checked_mul(checked_mul(n, kernel.h, "weight size"), kernel.w, "weight size");
}

uint64_t Params::useful_macs() const {
  const uint64_t vh = detail::valid_pairs(input.h, stride.h, kernel.h, dilation.h, crop.h, output.h);
  const uint64_t vw = detail::valid_pairs(input.w, stride.w, kernel.w, dilation.w, crop.w, output.w);
  return uint64_t(batch) * uint64_t(in_channels) * uint64_t(out_channels / groups) * vh * vw;
}

void validate(const Params& p) {
  require_positive("batch", p.batch);
  require_positive("in_channels", p.in_channels);
  require_positive("out_channels", p.out_channels);
  require_positive("input_h", p.input.h);
  require_positive("input_w", p.input.w);
  require_positive("kernel_h", p.kernel.h);
  require_positive("kernel_w", p.kernel.w);
  require_positive("stride_h", p.stride.h);
  require_positive("stride_w", p.stride.w);
  require_positive("dilation_h", p.dilation.h);
  require_positive("dilation_w", p.dilation.w);
  require_positive("groups", p.groups);
  require_range("output_h", p.output.h, 1, "must be at least 1 (the output would be empty)");
  require_range("output_w", p.output.w, 1, "must be at least 1 (the output would be empty)");
  require_range("crop_top", p.crop.h, -kMaxDim, "must be at least -2147483647");
  require_range("crop_left", p.crop.w, -kMaxDim, "must be at least -2147483647");
  if (p.in_channels % p.groups != 0) {
    fail("in_channels=" + std::to_string(p.in_channels) + " must be divisible by groups=" +
         std::to_string(p.groups));
  }
  if (p.out_channels % p.groups != 0) {
    fail("out_channels=" + std::to_string(p.out_channels) + " must be divisible by groups=" +
         std::to_string(p.groups));
  }
  if (p.weight_layout == WeightLayout::tensorflow && p.groups != 1) {
    fail("weight_layout=tensorflow requires groups=1, got groups=" + std::to_string(p.groups));
  }
  if (p.layout != Layout::nchw && p.layout != Layout::nhwc) fail("layout must be nchw or nhwc");
  const Epilogue& e = p.epilogue;
  switch (e.activation) {
    case Activation::none:
    case Activation::relu:
    case Activation::tanh:
    case Activation::sigmoid:
      break;
    case Activation::leaky_relu:
      if (!std::isfinite(e.alpha)) fail("leaky_relu alpha=" + std::to_string(e.alpha) + " must be finite");
      break;
    case Activation::clamp:
      if (std::isnan(e.min) || std::isnan(e.max) || e.min > e.max) {
        fail("clamp min=" + std::to_string(e.min) + " must not exceed max=" + std::to_string(e.max) +
             " (and neither may be NaN)");
      }
      break;
    default:
      fail("activation=" + std::to_string(int(e.activation)) + " is not a known activation");
  }
  // Every tensor must be addressable in bytes with 64-bit arithmetic.
  constexpr int64_t kMaxElements = int64_t{1} << 60;
  auto check_elements = [&](const char* what, int64_t n) {
    if (n > kMaxElements) fail(std::string(what) + " has " + std::to_string(n) + " elements, more than 2^60");
  };
  check_elements("input", p.input_elements());
  check_elements("output", p.output_elements());
  check_elements("weight", p.weight_elements());
  (void)p.full_output();
}

std::string Params::to_string() const {
  std::ostringstream s;
  s << "N=" << batch << " Cin=" << in_channels << " Cout=" << out_channels << " H=" << input.h
    << " W=" << input.w << " kh=" << kernel.h << " kw=" << kernel.w << " sh=" << stride.h
    << " sw=" << stride.w << " dh=" << dilation.h << " dw=" << dilation.w << " g=" << groups
    << " ct=" << crop.h << " cl=" << crop.w << " oh=" << output.h << " ow=" << output.w
    << " layout=" << layout_name(layout) << " wl=" << weight_layout_name(weight_layout)
    << " bias=" << (has_bias ? 1 : 0) << " act=" << activation_name(epilogue.activation);
  if (epilogue.activation == Activation::leaky_relu) s << " alpha=" << epilogue.alpha;
  if (epilogue.activation == Activation::clamp) s << " min=" << epilogue.min << " max=" << epilogue.max;
  return s.str();
}

Params Params::parse(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string token;
  while (in >> token) {
    auto eq = token.find('=');
    if (eq == std::string::npos) fail("parameter string token '" + token + "' is not key=value");
    kv[token.substr(0, eq)] = token.substr(eq + 1);
  }
  auto take = [&](const char* key, int64_t fallback) -> int64_t {
    auto it = kv.find(key);
    if (it == kv.end()) return fallback;
    try {
      size_t used = 0;
      int64_t v = std::stoll(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("trailing");
      kv.erase(it);
      return v;
    } catch (const std::exception&) {
      fail(std::string("parameter string: ") + key + "=" + it->second + " is not an integer");
    }
  };
  auto take_float = [&](const char* key, float fallback) -> float {
    auto it = kv.find(key);
    if (it == kv.end()) return fallback;
    try {
      float v = std::stof(it->second);
      kv.erase(it);
      return v;
    } catch (const std::exception&) {
      fail(std::string("parameter string: ") + key + "=" + it->second + " is not a number");
    }
  };
  auto take_word = [&](const char* key, const char* fallback) -> std::string {
    auto it = kv.find(key);
    if (it == kv.end()) return fallback;
    std::string v = it->second;
    kv.erase(it);
    return v;
  };
  Params p;
  p.batch = take("N", 1);
  p.in_channels = take("Cin", 0);
  p.out_channels = take("Cout", 0);
  p.input = {take("H", 0), take("W", 0)};
  p.kernel = {take("kh", 0), take("kw", 0)};
  p.stride = {take("sh", 1), take("sw", 1)};
  p.dilation = {take("dh", 1), take("dw", 1)};
  p.groups = take("g", 1);
  p.crop = {take("ct", 0), take("cl", 0)};
  p.output = {take("oh", 0), take("ow", 0)};
  const std::string layout = take_word("layout", "nchw");
  if (layout == "nchw") p.layout = Layout::nchw;
  else if (layout == "nhwc") p.layout = Layout::nhwc;
  else fail("parameter string: layout=" + layout + " must be nchw or nhwc");
  const std::string wl = take_word("wl", "pytorch");
  if (wl == "pytorch") p.weight_layout = WeightLayout::pytorch;
  else if (wl == "tensorflow") p.weight_layout = WeightLayout::tensorflow;
  else fail("parameter string: wl=" + wl + " must be pytorch or tensorflow");
  p.has_bias = take("bias", 0) != 0;
  const std::string act = take_word("act", "none");
  bool known = false;
  for (Activation a : {Activation::none, Activation::relu, Activation::leaky_relu, Activation::clamp,
                       Activation::tanh, Activation::sigmoid}) {
    if (act == activation_name(a)) {
      p.epilogue.activation = a;
      known = true;
    }
  }
  if (!known) fail("parameter string: act=" + act + " is not a known activation");
  p.epilogue.alpha = take_float("alpha", p.epilogue.alpha);
  p.epilogue.min = take_float("min", p.epilogue.min);
  p.epilogue.max = take_float("max", p.epilogue.max);
  if (!kv.empty()) fail("parameter string: unknown key '" + kv.begin()->first + "'");
  return p;
}

}  // namespace tconv
