// The C API: thin wrappers that turn exceptions into status codes and a per-thread message.
#include "tconv/tconv.h"

#include <new>
#include <string>

#include "tconv/tconv.hpp"

struct tconv_plan {
  tconv::Plan plan;
  std::string strategy, implementation, reason;
};

namespace {

thread_local std::string g_last_error;

template <class F>
tconv_status guarded(F&& f) {
  try {
    f();
    g_last_error.clear();
    return TCONV_OK;
  } catch (const tconv::Error& e) {
    g_last_error = e.what();
    return TCONV_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
    return TCONV_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return TCONV_INTERNAL_ERROR;
  } catch (...) {
    g_last_error = "unknown internal error";
    return TCONV_INTERNAL_ERROR;
  }
}

tconv::Params to_cpp(const tconv_params& c) {
  tconv::Params p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.input = {c.input_h, c.input_w};
  p.kernel = {c.kernel_h, c.kernel_w};
  p.stride = {c.stride_h, c.stride_w};
  p.dilation = {c.dilation_h, c.dilation_w};
  p.groups = c.groups;
  p.crop = {c.crop_top, c.crop_left};
  p.output = {c.output_h, c.output_w};
  if (c.layout != TCONV_NCHW && c.layout != TCONV_NHWC) throw tconv::Error("layout=" + std::to_string(int(c.layout)) + " must be TCONV_NCHW or TCONV_NHWC");
  p.layout = c.layout == TCONV_NCHW ? tconv::Layout::nchw : tconv::Layout::nhwc;
  if (c.weight_layout != TCONV_WEIGHTS_PYTORCH && c.weight_layout != TCONV_WEIGHTS_TENSORFLOW) {
    throw tconv::Error("weight_layout=" + std::to_string(int(c.weight_layout)) + " must be TCONV_WEIGHTS_PYTORCH or TCONV_WEIGHTS_TENSORFLOW");
  }
  p.weight_layout = c.weight_layout == TCONV_WEIGHTS_PYTORCH ? tconv::WeightLayout::pytorch : tconv::WeightLayout::tensorflow;
  p.has_bias = c.has_bias != 0;
  if (int(c.activation) < 0 || int(c.activation) > int(TCONV_ACT_SIGMOID)) {
    throw tconv::Error("activation=" + std::to_string(int(c.activation)) + " is not a tconv_activation");
  }
  p.epilogue.activation = static_cast<tconv::Activation>(int(c.activation));
  p.epilogue.alpha = c.alpha;
  p.epilogue.min = c.clamp_min;
  p.epilogue.max = c.clamp_max;
  return p;
}

}  // namespace

extern "C" {

tconv_status tconv_params_pytorch(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t input_h,
                                  int64_t input_w, int64_t kernel_h, int64_t kernel_w, int64_t stride_h,
                                  int64_t stride_w, int64_t padding_h, int64_t padding_w,
                                  int64_t output_padding_h, int64_t output_padding_w, int64_t dilation_h,
                                  int64_t dilation_w, int64_t groups, int bias, tconv_params* out) {
  return guarded([&] {
    if (out == nullptr) throw tconv::Error("out must not be null");
    tconv::PyTorchArgs a;
    a.in_channels = in_channels;
    a.out_channels = out_channels;
    a.kernel = {kernel_h, kernel_w};
    a.stride = {stride_h, stride_w};
    a.padding = {padding_h, padding_w};
    a.output_padding = {output_padding_h, output_padding_w};
    a.dilation = {dilation_h, dilation_w};
    a.groups = groups;
    a.bias = bias != 0;
    const tconv::Params p = tconv::from_pytorch(a, batch, {input_h, input_w});
    tconv_params c{};
    c.batch = p.batch;
    c.in_channels = p.in_channels;
    c.out_channels = p.out_channels;
    c.input_h = p.input.h;
    c.input_w = p.input.w;
    c.kernel_h = p.kernel.h;
    c.kernel_w = p.kernel.w;
    c.stride_h = p.stride.h;
    c.stride_w = p.stride.w;
    c.dilation_h = p.dilation.h;
    c.dilation_w = p.dilation.w;
    c.groups = p.groups;
    c.crop_top = p.crop.h;
    c.crop_left = p.crop.w;
    c.output_h = p.output.h;
    c.output_w = p.output.w;
    c.layout = TCONV_NCHW;
    c.weight_layout = TCONV_WEIGHTS_PYTORCH;
    c.has_bias = p.has_bias ? 1 : 0;
    c.activation = TCONV_ACT_NONE;
    c.alpha = p.epilogue.alpha;
    c.clamp_min = p.epilogue.min;
    c.clamp_max = p.epilogue.max;
    *out = c;
  });
}

tconv_status tconv_plan_create(const tconv_params* params, const float* weights, const float* bias,
                               const char* strategy, int max_threads, tconv_plan** out_plan) {
  return guarded([&] {
    if (out_plan == nullptr) throw tconv::Error("out_plan must not be null");
    *out_plan = nullptr;
    if (params == nullptr) throw tconv::Error("params must not be null");
    tconv::PlanOptions options;
    options.strategy = strategy ? strategy : "auto";
    options.max_threads = max_threads;
    tconv::Plan plan(to_cpp(*params), weights, bias, options);
    auto* handle = new tconv_plan{std::move(plan), {}, {}, {}};
    handle->strategy = handle->plan.strategy();
    handle->implementation = handle->plan.implementation();
    handle->reason = handle->plan.reason();
    *out_plan = handle;
  });
}

void tconv_plan_destroy(tconv_plan* plan) { delete plan; }

tconv_status tconv_plan_execute(const tconv_plan* plan, const float* input, float* output, void* workspace,
                                int threads) {
  return guarded([&] {
    if (plan == nullptr) throw tconv::Error("plan must not be null");
    plan->plan.execute(input, output, workspace, threads);
  });
}

size_t tconv_plan_workspace_bytes(const tconv_plan* plan) { return plan ? plan->plan.workspace_bytes() : 0; }

tconv_status tconv_plan_output_shape(const tconv_plan* plan, int64_t dims[4]) {
  return guarded([&] {
    if (plan == nullptr) throw tconv::Error("plan must not be null");
    if (dims == nullptr) throw tconv::Error("dims must not be null");
    const auto shape = plan->plan.output_shape();
    for (int i = 0; i < 4; ++i) dims[i] = shape[size_t(i)];
  });
}

const char* tconv_plan_strategy(const tconv_plan* plan) { return plan ? plan->strategy.c_str() : ""; }
const char* tconv_plan_implementation(const tconv_plan* plan) { return plan ? plan->implementation.c_str() : ""; }
const char* tconv_plan_reason(const tconv_plan* plan) { return plan ? plan->reason.c_str() : ""; }
uint64_t tconv_plan_useful_macs(const tconv_plan* plan) { return plan ? plan->plan.useful_macs() : 0; }
const char* tconv_last_error(void) { return g_last_error.c_str(); }
const char* tconv_version(void) { return tconv::version(); }

}  // extern "C"
