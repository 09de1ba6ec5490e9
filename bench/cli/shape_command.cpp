// `tconv shape`: what a framework's arguments mean in the crop model, the work they cost, and the
// per-phase tap counts (the checkerboard pattern made visible).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "plan/geometry.hpp"
#include "tconv/tconv.hpp"

namespace tconv::bench {
namespace {

Hw parse_hw(const std::string& flag, const std::string& v) {
  try {
    size_t x = v.find('x');
    if (x == std::string::npos) {
      size_t used = 0;
      const int64_t n = std::stoll(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
      return {n, n};
    }
    size_t u1 = 0, u2 = 0;
    const std::string a = v.substr(0, x), b = v.substr(x + 1);
    const int64_t h = std::stoll(a, &u1), w = std::stoll(b, &u2);
    if (u1 != a.size() || u2 != b.size()) throw std::invalid_argument(v);
    return {h, w};
  } catch (const std::exception&) {
    throw Error(flag + " " + v + " must be N or HxW (integers)");
  }
}

const char* kHelp =
    "usage: tconv shape --framework pytorch|caffe|keras|tf|onnx --input HxW --kernel KHxKW [options]\n\n"
    "  --in-channels C --out-channels C --batch N --groups G   (defaults 1)\n"
    "  --stride S --dilation D                                  (N or HxW; default 1)\n"
    "  pytorch/caffe: --padding P [--output-padding OP]         (pytorch only: output padding)\n"
    "  keras:         --padding same|valid [--output-padding OP]\n"
    "  tf:            --padding same|valid --output-shape HxW   (tf.nn.conv2d_transpose)\n"
    "  onnx:          --pads T,L,B,R | --auto-pad same_upper|same_lower|valid [--output-shape HxW]\n"
    "                 [--output-padding OP]\n\n"
    "Prints the output shape, the crop model (crop_top/left, output size), the useful multiply-adds\n"
    "and, for one stride period, how many kernel taps reach each output position.";

}  // namespace

int shape_command(const std::vector<std::string>& args) {
  std::string framework, padding_word;
  Hw input{0, 0}, kernel{0, 0}, stride{1, 1}, dilation{1, 1}, padding{0, 0}, op{0, 0}, out_shape{0, 0};
  bool have_op = false, have_out = false, have_pads = false;
  int64_t cin = 1, cout = 1, batch = 1, groups = 1, pads[4] = {0, 0, 0, 0};
  std::string auto_pad;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::puts(kHelp);
      return 0;
    }
    if (i + 1 >= args.size()) throw Error(a + " needs a value (see tconv shape --help)");
    const std::string v = args[++i];
    auto integer = [&]() {
      try {
        size_t used = 0;
        const int64_t n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return n;
      } catch (const std::exception&) {
        throw Error(a + " " + v + " must be an integer");
      }
    };
    if (a == "--framework") framework = v;
    else if (a == "--input") input = parse_hw(a, v);
    else if (a == "--kernel") kernel = parse_hw(a, v);
    else if (a == "--stride") stride = parse_hw(a, v);
    else if (a == "--dilation") dilation = parse_hw(a, v);
    else if (a == "--padding") {
      if (v == "same" || v == "valid") padding_word = v;
      else padding = parse_hw(a, v);
    } else if (a == "--output-padding") {
      op = parse_hw(a, v);
      have_op = true;
    } else if (a == "--output-shape") {
      out_shape = parse_hw(a, v);
      have_out = true;
    } else if (a == "--in-channels") cin = integer();
    else if (a == "--out-channels") cout = integer();
    else if (a == "--batch") batch = integer();
    else if (a == "--groups") groups = integer();
    else if (a == "--auto-pad") auto_pad = v;
    else if (a == "--pads") {
      if (std::sscanf(v.c_str(), "%ld,%ld,%ld,%ld", &pads[0], &pads[1], &pads[2], &pads[3]) != 4) {
        throw Error("--pads " + v + " must be T,L,B,R");
      }
      have_pads = true;
    } else {
      throw Error("unknown argument '" + a + "' (see tconv shape --help)");
    }
  }
  Params p;
  if (framework == "pytorch") {
    PyTorchArgs t{cin, cout, kernel, stride, padding, op, groups, true, dilation};
    p = from_pytorch(t, batch, input);
  } else if (framework == "caffe") {
    CaffeArgs c{cout, kernel, stride, padding, dilation, groups, true};
    p = from_caffe(c, batch, cin, input);
  } else if (framework == "keras" || framework == "tf") {
    if (padding_word.empty()) throw Error("--padding must be same or valid for --framework " + framework);
    const TfPadding tp = padding_word == "same" ? TfPadding::same : TfPadding::valid;
    if (framework == "keras") {
      KerasArgs k{cout, kernel, stride, tp, std::nullopt, dilation, true};
      if (have_op) k.output_padding = op;
      p = from_keras(k, batch, cin, input);
    } else {
      if (!have_out) throw Error("--output-shape is required for --framework tf");
      TfConv2dTransposeArgs t{out_shape, cout, kernel, stride, tp, dilation};
      p = from_tf_conv2d_transpose(t, batch, cin, input);
    }
  } else if (framework == "onnx") {
    OnnxArgs o;
    o.out_channels = cout;
    o.kernel = kernel;
    o.strides = stride;
    o.dilations = dilation;
    o.group = groups;
    o.output_padding = op;
    if (have_pads) std::copy(pads, pads + 4, o.pads);
    if (have_out) o.output_shape = out_shape;
    if (auto_pad == "same_upper") o.auto_pad = OnnxAutoPad::same_upper;
    else if (auto_pad == "same_lower") o.auto_pad = OnnxAutoPad::same_lower;
    else if (auto_pad == "valid") o.auto_pad = OnnxAutoPad::valid;
    else if (!auto_pad.empty()) throw Error("--auto-pad " + auto_pad + " must be same_upper, same_lower or valid");
    p = from_onnx(o, batch, cin, input);
  } else {
    throw Error("--framework '" + framework + "' must be pytorch, caffe, keras, tf or onnx");
  }
  const Hw full = p.full_output();
  std::printf("output shape (NCHW): %ld x %ld x %ld x %ld\n", p.batch, p.out_channels, p.output.h, p.output.w);
  std::printf("crop model: full output %ldx%ld, crop_top=%ld crop_left=%ld, output %ldx%ld\n", full.h, full.w, p.crop.h,
              p.crop.w, p.output.h, p.output.w);
  std::printf("useful multiply-adds: %llu (%.3f GFLOP)\n", static_cast<unsigned long long>(p.useful_macs()),
              2.0 * double(p.useful_macs()) / 1e9);
  std::printf("params: %s\n", p.to_string().c_str());
  if (p.stride.h > 64 || p.stride.w > 64) return 0;
  const auto ph = detail::decompose_phases(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h);
  const auto pw = detail::decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
  std::printf("\nkernel taps reaching each output position of one %ldx%ld stride period (interior):\n", p.stride.h, p.stride.w);
  // Output rows first..first+S-1 in output order: phase of row oh is (oh + crop) mod S.
  for (int64_t r = 0; r < p.stride.h; ++r) {
    const auto& fh = ph[size_t(((r + p.crop.h) % p.stride.h + p.stride.h) % p.stride.h)];
    std::printf("  ");
    for (int64_t c = 0; c < p.stride.w; ++c) {
      const auto& fw = pw[size_t(((c + p.crop.w) % p.stride.w + p.stride.w) % p.stride.w)];
      std::printf("%4zu", fh.taps.size() * fw.taps.size());
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace tconv::bench
