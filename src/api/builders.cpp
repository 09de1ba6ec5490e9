// Framework builders: PyTorch, Caffe, Keras, tf.nn.conv2d_transpose and ONNX parameters reduced to
// the crop model, each after checking the framework's own rules.
#include <string>

#include "plan/checked.hpp"
#include "tconv/tconv.hpp"

namespace tconv {
namespace {

using detail::checked_add;
using detail::checked_mul;

[[noreturn]] void fail(const std::string& m) { throw Error(m); }

std::string s(int64_t v) { return std::to_string(v); }

void require_positive(const std::string& name, int64_t v) {
  if (v < 1) fail(name + "=" + s(v) + " must be at least 1");
}
void require_non_negative(const std::string& name, int64_t v) {
  if (v < 0) fail(name + "=" + s(v) + " must be at least 0");
  if (v > (int64_t{1} << 31) - 1) fail(name + "=" + s(v) + " must be at most 2147483647");
}

// Positive geometry common to every framework, checked before any formula uses it so that the
// formulas below never see nonsense (and name the framework's own parameter).
void require_geometry(const char* kernel, Hw k, const char* stride, Hw st, const char* dilation,
                      Hw d, Hw input) {
  require_positive("input_h", input.h);
  require_positive("input_w", input.w);
  require_positive(std::string(kernel) + "_h", k.h);
  require_positive(std::string(kernel) + "_w", k.w);
  require_positive(std::string(stride) + "_h", st.h);
  require_positive(std::string(stride) + "_w", st.w);
  require_positive(std::string(dilation) + "_h", d.h);
  require_positive(std::string(dilation) + "_w", d.w);
  constexpr int64_t kMax = (int64_t{1} << 31) - 1;
  for (int64_t v : {input.h, input.w, k.h, k.w, st.h, st.w, d.h, d.w}) {
    if (v > kMax) fail("geometry value " + s(v) + " must be at most " + s(kMax));
  }
}

// (in-1)*s + d*(k-1) + 1
int64_t full_extent(int64_t in, int64_t st, int64_t d, int64_t k) {
  return checked_add(checked_add(checked_mul(in - 1, st, "full output extent"),
                                 checked_mul(d, k - 1, "dilated kernel extent"), "full output extent"),
                     1, "full output extent");
}

Params base(int64_t batch, int64_t cin, int64_t cout, Hw input, Hw kernel, Hw stride, Hw dilation,
            int64_t groups) {
  Params p;
  p.batch = batch;
  p.in_channels = cin;
  p.out_channels = cout;
  p.input = input;
  p.kernel = kernel;
  p.stride = stride;
  p.dilation = dilation;
  p.groups = groups;
  return p;
}

// TensorFlow's rule for an explicit output size O: SAME crops floor(T/2) at the top where
// T = max(0, FH - O); VALID crops nothing and extends or cuts the bottom.
int64_t tf_crop(TfPadding padding, int64_t full, int64_t out) {
  if (padding == TfPadding::valid) return 0;
  const int64_t t = full > out ? full - out : 0;
  return t / 2;
}

}  // namespace

Params from_pytorch(const PyTorchArgs& a, int64_t batch, Hw input, Layout layout) {
  require_geometry("kernel_size", a.kernel, "stride", a.stride, "dilation", a.dilation, input);
  require_non_negative("padding_h", a.padding.h);
  require_non_negative("padding_w", a.padding.w);
  require_non_negative("output_padding_h", a.output_padding.h);
  require_non_negative("output_padding_w", a.output_padding.w);
  auto check_op = [](const char* dim, int64_t op, int64_t st, int64_t d) {
    if (op >= st && op >= d) {
      fail(std::string("output_padding_") + dim + "=" + s(op) + " must be smaller than stride_" +
           dim + "=" + s(st) + " or dilation_" + dim + "=" + s(d));
    }
  };
  check_op("h", a.output_padding.h, a.stride.h, a.dilation.h);
  check_op("w", a.output_padding.w, a.stride.w, a.dilation.w);
  Params p = base(batch, a.in_channels, a.out_channels, input, a.kernel, a.stride, a.dilation, a.groups);
  p.crop = a.padding;
  p.output.h = full_extent(input.h, a.stride.h, a.dilation.h, a.kernel.h) - 2 * a.padding.h + a.output_padding.h;
  p.output.w = full_extent(input.w, a.stride.w, a.dilation.w, a.kernel.w) - 2 * a.padding.w + a.output_padding.w;
  p.has_bias = a.bias;
  p.layout = layout;
  validate(p);
  return p;
}

Params from_caffe(const CaffeArgs& a, int64_t batch, int64_t in_channels, Hw input) {
  require_geometry("kernel", a.kernel, "stride", a.stride, "dilation", a.dilation, input);
  require_non_negative("pad_h", a.pad.h);
  require_non_negative("pad_w", a.pad.w);
  Params p = base(batch, in_channels, a.num_output, input, a.kernel, a.stride, a.dilation, a.group);
  p.crop = a.pad;
  p.output.h = full_extent(input.h, a.stride.h, a.dilation.h, a.kernel.h) - 2 * a.pad.h;
  p.output.w = full_extent(input.w, a.stride.w, a.dilation.w, a.kernel.w) - 2 * a.pad.w;
  p.has_bias = a.bias_term;
  validate(p);
  return p;
}

Params from_keras(const KerasArgs& a, int64_t batch, int64_t in_channels, Hw input, Layout layout) {
  require_geometry("kernel_size", a.kernel, "strides", a.strides, "dilation_rate", a.dilation_rate, input);
  Params p = base(batch, in_channels, a.filters, input, a.kernel, a.strides, a.dilation_rate, 1);
  const Hw full{full_extent(input.h, a.strides.h, a.dilation_rate.h, a.kernel.h),
                full_extent(input.w, a.strides.w, a.dilation_rate.w, a.kernel.w)};
  auto out_len = [&](const char* dim, int64_t in, int64_t st, int64_t d, int64_t k, int64_t op_or_neg) {
    const int64_t dk = (k - 1) * d + 1;
    if (op_or_neg < 0) {  // no output_padding: Keras' deconv_output_length
      return a.padding == TfPadding::valid ? checked_mul(in - 1, st, "output size") + std::max(dk, st)
                                           : checked_mul(in, st, "output size");
    }
    if (op_or_neg >= st) {
      fail(std::string("output_padding_") + dim + "=" + s(op_or_neg) + " must be smaller than strides_" +
           dim + "=" + s(st));
    }
    const int64_t pad = a.padding == TfPadding::valid ? 0 : dk / 2;
    return checked_mul(in - 1, st, "output size") + dk - 2 * pad + op_or_neg;
  };
  if (a.output_padding) {
    require_non_negative("output_padding_h", a.output_padding->h);
    require_non_negative("output_padding_w", a.output_padding->w);
  }
  p.output.h = out_len("h", input.h, a.strides.h, a.dilation_rate.h, a.kernel.h,
                       a.output_padding ? a.output_padding->h : -1);
  p.output.w = out_len("w", input.w, a.strides.w, a.dilation_rate.w, a.kernel.w,
                       a.output_padding ? a.output_padding->w : -1);
  p.crop = {tf_crop(a.padding, full.h, p.output.h), tf_crop(a.padding, full.w, p.output.w)};
  p.weight_layout = WeightLayout::tensorflow;
  p.layout = layout;
  p.has_bias = a.use_bias;
  validate(p);
  return p;
}

Params from_tf_conv2d_transpose(const TfConv2dTransposeArgs& a, int64_t batch, int64_t in_channels,
                                Hw input, Layout layout) {
  require_geometry("filters", a.kernel, "strides", a.strides, "dilations", a.dilations, input);
  if (a.dilations.h > 1 && a.strides.h > 1) fail("dilations_h=" + s(a.dilations.h) + " > 1 requires strides_h=1 in tf.nn.conv2d_transpose");
  if (a.dilations.w > 1 && a.strides.w > 1) fail("dilations_w=" + s(a.dilations.w) + " > 1 requires strides_w=1 in tf.nn.conv2d_transpose");
  Params p = base(batch, in_channels, a.out_channels, input, a.kernel, a.strides, a.dilations, 1);
  const Hw full{full_extent(input.h, a.strides.h, a.dilations.h, a.kernel.h),
                full_extent(input.w, a.strides.w, a.dilations.w, a.kernel.w)};
  auto check = [&](const char* dim, int64_t o, int64_t in, int64_t st, int64_t f) {
    // The forward conv of an O-long input must give back `in` outputs.
    const int64_t lo = a.padding == TfPadding::same ? st * (in - 1) + 1 : f;
    const int64_t hi = a.padding == TfPadding::same ? st * in : f + st - 1;
    if (o < lo || o > hi) {
      fail(std::string("output_shape_") + dim + "=" + s(o) + " must be in [" + s(lo) + ", " + s(hi) +
           "] for input_" + dim + "=" + s(in) + ", strides_" + dim + "=" + s(st) + " and padding " +
           (a.padding == TfPadding::same ? "SAME" : "VALID"));
    }
  };
  check("h", a.output_shape.h, input.h, a.strides.h, full.h);
  check("w", a.output_shape.w, input.w, a.strides.w, full.w);
  p.output = a.output_shape;
  p.crop = {tf_crop(a.padding, full.h, p.output.h), tf_crop(a.padding, full.w, p.output.w)};
  p.weight_layout = WeightLayout::tensorflow;
  p.layout = layout;
  p.has_bias = false;
  validate(p);
  return p;
}

Params from_onnx(const OnnxArgs& a, int64_t batch, int64_t in_channels, Hw input) {
  require_geometry("kernel_shape", a.kernel, "strides", a.strides, "dilations", a.dilations, input);
  require_non_negative("output_padding_h", a.output_padding.h);
  require_non_negative("output_padding_w", a.output_padding.w);
  if (a.output_padding.h >= a.strides.h && a.output_padding.h >= a.dilations.h) {
    fail("output_padding_h=" + s(a.output_padding.h) + " must be smaller than strides_h=" +
         s(a.strides.h) + " or dilations_h=" + s(a.dilations.h));
  }
  if (a.output_padding.w >= a.strides.w && a.output_padding.w >= a.dilations.w) {
    fail("output_padding_w=" + s(a.output_padding.w) + " must be smaller than strides_w=" +
         s(a.strides.w) + " or dilations_w=" + s(a.dilations.w));
  }
  Params p = base(batch, in_channels, a.out_channels, input, a.kernel, a.strides, a.dilations, a.group);
  const Hw full{full_extent(input.h, a.strides.h, a.dilations.h, a.kernel.h),
                full_extent(input.w, a.strides.w, a.dilations.w, a.kernel.w)};
  const int64_t op[2] = {a.output_padding.h, a.output_padding.w};
  const int64_t fulls[2] = {full.h, full.w};
  const int64_t ins[2] = {input.h, input.w};
  const int64_t strides[2] = {a.strides.h, a.strides.w};
  int64_t crop[2], out[2];
  for (int i = 0; i < 2; ++i) {
    const char* dim = i == 0 ? "h" : "w";
    if (a.auto_pad == OnnxAutoPad::notset && !a.output_shape) {
      require_non_negative(std::string("pads_begin_") + dim, a.pads[i]);
      require_non_negative(std::string("pads_end_") + dim, a.pads[i + 2]);
      crop[i] = a.pads[i];
      out[i] = fulls[i] - a.pads[i] - a.pads[i + 2] + op[i];
      continue;
    }
    if (a.auto_pad == OnnxAutoPad::valid) {
      crop[i] = 0;
      out[i] = a.output_shape ? (i == 0 ? a.output_shape->h : a.output_shape->w) : fulls[i] + op[i];
      continue;
    }
    // An explicit output_shape, or SAME_*: output = input * stride; the pads are derived.
    out[i] = a.output_shape ? (i == 0 ? a.output_shape->h : a.output_shape->w)
                            : checked_mul(ins[i], strides[i], "output size");
    require_positive(std::string("output_shape_") + dim, out[i]);
    const int64_t total = fulls[i] + op[i] - out[i];
    // Per the ONNX spec: SAME_UPPER puts the odd pad at the end, otherwise at the beginning.
    // C++ division truncates toward zero exactly as the spec's reference code does.
    crop[i] = a.auto_pad == OnnxAutoPad::same_upper ? total / 2 : total - total / 2;
  }
  p.crop = {crop[0], crop[1]};
  p.output = {out[0], out[1]};
  p.has_bias = a.bias;
  validate(p);
  return p;
}

}  // namespace tconv
