// tconv: SIMD CPU kernels for 2-D transposed convolution. The only C++ header users include.
//
// Semantics (the crop model): the full output of a transposed convolution has
// FH = (H-1)*SH + DH*(KH-1) + 1 rows; the result is that full output shifted up by crop_top rows
// and cut or extended (with bias-only rows) to OH rows. Every framework's padding parameters
// reduce to (crop_top, crop_left, OH, OW); the from_* builders below do that reduction and check
// each framework's own rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tconv {

// Thrown for every invalid argument. The message names the parameter, its value and the rule.
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Layout { nchw, nhwc };

// pytorch:    w[Cin][Cout/groups][KH][KW]   (ConvTranspose2d.weight)
// tensorflow: w[KH][KW][Cout][Cin]          (Conv2DTranspose kernel; groups must be 1)
enum class WeightLayout { pytorch, tensorflow };

enum class Activation { none, relu, leaky_relu, clamp, tanh, sigmoid };

// Applied to every output element after the bias, in the same pass that writes it.
struct Epilogue {
  Activation activation = Activation::none;
  float alpha = 0.01f;  // leaky_relu slope for negative inputs
  float min = 0.0f;     // clamp lower bound
  float max = 6.0f;     // clamp upper bound

  static Epilogue relu() { return {Activation::relu}; }
  static Epilogue leaky_relu(float alpha) { return {Activation::leaky_relu, alpha}; }
  static Epilogue clamp(float lo, float hi) { return {Activation::clamp, 0.0f, lo, hi}; }
  static Epilogue tanh() { return {Activation::tanh}; }
  static Epilogue sigmoid() { return {Activation::sigmoid}; }
};

// A (height, width) pair.
struct Hw {
  int64_t h = 0;
  int64_t w = 0;
};

// The one problem description every strategy implements (see the header comment).
struct Params {
  int64_t batch = 1;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Hw input;             // H, W
  Hw kernel;            // KH, KW
  Hw stride{1, 1};      // SH, SW
  Hw dilation{1, 1};    // DH, DW
  int64_t groups = 1;
  Hw crop{0, 0};        // crop_top, crop_left (negative: the output starts above the full output)
  Hw output;            // OH, OW
  Layout layout = Layout::nchw;
  WeightLayout weight_layout = WeightLayout::pytorch;
  bool has_bias = false;
  Epilogue epilogue;

  // The full (uncropped) output extent: (H-1)*S + D*(K-1) + 1 per dimension.
  Hw full_output() const;
  // Element counts of the four tensors, in the layouts above.
  int64_t input_elements() const;
  int64_t output_elements() const;
  int64_t weight_elements() const;
  // Useful multiply-adds (ARITHMETIC.md section 6): N * Cin * Cout/groups * VH * VW.
  uint64_t useful_macs() const;
  // A one-line reproducible description, also accepted by parse().
  std::string to_string() const;
  static Params parse(const std::string& text);
};

// Throws Error if the parameters break any rule; returns normally otherwise.
void validate(const Params& params);

// ---- Framework builders: each checks the framework's own rules, then reduces to Params. ----

// torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding,
//                          output_padding, groups, bias, dilation)
struct PyTorchArgs {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Hw kernel;
  Hw stride{1, 1};
  Hw padding{0, 0};
  Hw output_padding{0, 0};
  int64_t groups = 1;
  bool bias = true;
  Hw dilation{1, 1};
};
Params from_pytorch(const PyTorchArgs& args, int64_t batch, Hw input, Layout layout = Layout::nchw);

// Caffe "Deconvolution" layer (convolution_param: num_output, kernel, stride, pad, dilation,
// group, bias_term).
struct CaffeArgs {
  int64_t num_output = 0;
  Hw kernel;
  Hw stride{1, 1};
  Hw pad{0, 0};
  Hw dilation{1, 1};
  int64_t group = 1;
  bool bias_term = true;
};
Params from_caffe(const CaffeArgs& args, int64_t batch, int64_t in_channels, Hw input);

enum class TfPadding { same, valid };

// tf.keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding, output_padding,
//                                 dilation_rate, use_bias). Kernel in TensorFlow layout.
struct KerasArgs {
  int64_t filters = 0;
  Hw kernel;
  Hw strides{1, 1};
  TfPadding padding = TfPadding::valid;
  std::optional<Hw> output_padding;
  Hw dilation_rate{1, 1};
  bool use_bias = true;
};
Params from_keras(const KerasArgs& args, int64_t batch, int64_t in_channels, Hw input,
                  Layout layout = Layout::nhwc);

// tf.nn.conv2d_transpose(input, filters, output_shape, strides, padding, dilations).
// filters has shape [KH][KW][out_channels][in_channels]; no bias.
struct TfConv2dTransposeArgs {
  Hw output_shape;
  int64_t out_channels = 0;
  Hw kernel;
  Hw strides{1, 1};
  TfPadding padding = TfPadding::valid;
  Hw dilations{1, 1};
};
Params from_tf_conv2d_transpose(const TfConv2dTransposeArgs& args, int64_t batch,
                                int64_t in_channels, Hw input, Layout layout = Layout::nhwc);

// ONNX ConvTranspose (opset 11+). pads = {top, left, bottom, right}.
enum class OnnxAutoPad { notset, same_upper, same_lower, valid };
struct OnnxArgs {
  int64_t out_channels = 0;  // the weight's second dimension times group
  Hw kernel;
  Hw strides{1, 1};
  int64_t pads[4] = {0, 0, 0, 0};
  Hw output_padding{0, 0};
  std::optional<Hw> output_shape;
  Hw dilations{1, 1};
  int64_t group = 1;
  OnnxAutoPad auto_pad = OnnxAutoPad::notset;
  bool bias = true;
};
Params from_onnx(const OnnxArgs& args, int64_t batch, int64_t in_channels, Hw input);

// ---- Plans ----

struct PlanOptions {
  // A registered strategy name (see strategy_names()) or "auto".
  std::string strategy = "auto";
  // execute() accepts 1..max_threads threads; the workspace is sized for max_threads.
  // 0 means the number of hardware threads.
  int max_threads = 0;
  // Measured choices for "auto" (a file written by `tconv tune`). A matching entry (same shape,
  // layout, ISA, max_threads and library version) decides the strategy; otherwise the heuristic
  // does. Empty: the path in the TCONV_WISDOM environment variable, if set. A missing or
  // defective file is ignored with one warning on stderr (and in reason()).
  std::string wisdom_file;
  // false: the heuristic alone, whatever wisdom_file and TCONV_WISDOM say.
  bool use_wisdom = true;
};

// Registered strategy names, in registration order ("reference" first).
std::vector<std::string> strategy_names();

// A transposed convolution with its weights packed once; execute() runs it many times.
// execute() is const and thread-safe: several threads may run one plan at once, each with its
// own workspace.
class Plan {
 public:
  // weights: in params.weight_layout; bias: out_channels floats when params.has_bias, else
  // ignored (may be null). Both are copied/packed: the caller may free them afterwards.
  Plan(const Params& params, const float* weights, const float* bias,
       const PlanOptions& options = {});
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  const Params& params() const;
  // {N, C, H, W} in NCHW or {N, H, W, C} in NHWC: the output tensor's dimensions in order.
  std::vector<int64_t> output_shape() const;
  // Bytes of scratch execute() needs for up to max_threads threads (0 if none).
  size_t workspace_bytes() const;
  int max_threads() const;
  std::string strategy() const;        // e.g. "subpixel"
  std::string implementation() const;  // e.g. "f32_gemm_14x32__avx512f"
  std::string reason() const;          // why this strategy (for "auto") or "requested"
  uint64_t useful_macs() const;
  uint64_t executed_macs() const;      // multiply-adds the strategy actually performs

  // Computes output from input. workspace: at least workspace_bytes() bytes, any alignment;
  // if null, execute() allocates it (the only allocation it ever makes). threads in
  // [1, max_threads]. On error (Error thrown) the output is not written.
  void execute(const float* input, float* output, void* workspace = nullptr,
               int threads = 1) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The instruction-set level plans created now would use ("avx512f", "avx2", "sse2"): the best
// the CPU and OS support, capped by the TCONV_ISA environment variable.
std::string active_isa();
// Every level this CPU supports, best first.
std::vector<std::string> supported_isas();

const char* version();

}  // namespace tconv
