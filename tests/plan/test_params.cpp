// Parameters: the seeds' shapes, every framework builder, the text form, and the bad-input table.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "tconv/tconv.hpp"

using namespace tconv;

namespace {

Params torch(int64_t h, int64_t k, int64_t s, int64_t p, int64_t op, int64_t d = 1) {
  PyTorchArgs a;
  a.in_channels = 1;
  a.out_channels = 1;
  a.kernel = {k, k};
  a.stride = {s, s};
  a.padding = {p, p};
  a.output_padding = {op, op};
  a.dilation = {d, d};
  return from_pytorch(a, 1, {h, h});
}

Params keras_same(int64_t h, int64_t k, int64_t s) {
  KerasArgs a;
  a.filters = 1;
  a.kernel = {k, k};
  a.strides = {s, s};
  a.padding = TfPadding::same;
  return from_keras(a, 1, 1, {h, h});
}

}  // namespace

TEST_CASE("ARITHMETIC.md section 2 shapes", "[params]") {
  CHECK(torch(2, 3, 1, 0, 0).output.h == 4);
  CHECK(torch(2, 3, 2, 0, 0).output.h == 5);
  CHECK(torch(3, 3, 2, 1, 0).output.h == 5);
  CHECK(keras_same(7, 5, 1).output.h == 7);
  CHECK(keras_same(7, 5, 2).output.h == 14);
  CHECK(keras_same(14, 5, 2).output.h == 28);
  // Round trip: Conv2d(k, s, p) maps the transposed output back to the input size.
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t k = 1; k <= 5; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p < k; ++p) {
          const int64_t out = (in - 1) * s - 2 * p + (k - 1) + 1;
          if (out < 1) continue;
          CHECK((out + 2 * p - (k - 1) - 1) / s + 1 == in);
        }
}

TEST_CASE("PyTorch builder reduces to the crop model", "[params][builders]") {
  const Params p = torch(3, 3, 2, 1, 1);
  CHECK(p.crop.h == 1);
  CHECK(p.output.h == 6);
  CHECK(p.has_bias);
  const Params d = torch(4, 3, 1, 1, 1, 2);  // op < dilation is allowed
  CHECK(d.output.h == (4 - 1) * 1 - 2 + 2 * 2 + 1 + 1);
  CHECK_THROWS_WITH(torch(3, 3, 2, 1, 2), Catch::Contains("output_padding_h=2 must be smaller than stride_h=2 or dilation_h=1"));
}

TEST_CASE("TF same and PyTorch p=1 op=1 give the same size, shifted by one pixel", "[params][builders]") {
  const Params tf = keras_same(7, 3, 2);
  const Params pt = torch(7, 3, 2, 1, 1);
  CHECK(tf.output.h == pt.output.h);
  CHECK(tf.output.h == 14);
  // Full = 15 rows, output 14: TF crops floor(1/2)=0 at the top (the extra row at the bottom),
  // PyTorch crops 1 at the top.
  CHECK(tf.crop.h == 0);
  CHECK(pt.crop.h == 1);
}

TEST_CASE("Keras valid, output_padding and TF weights", "[params][builders]") {
  KerasArgs a;
  a.filters = 4;
  a.kernel = {3, 3};
  a.strides = {2, 2};
  a.padding = TfPadding::valid;
  Params v = from_keras(a, 1, 2, {5, 5});
  CHECK(v.output.h == (5 - 1) * 2 + 3);
  CHECK(v.crop.h == 0);
  CHECK(v.weight_layout == WeightLayout::tensorflow);
  CHECK(v.layout == Layout::nhwc);
  a.kernel = {1, 1};
  a.strides = {3, 3};
  CHECK(from_keras(a, 1, 2, {5, 5}).output.h == 4 * 3 + 3);  // max(k, s)
  a.kernel = {5, 5};
  a.strides = {2, 2};
  a.padding = TfPadding::same;
  a.output_padding = Hw{1, 0};
  Params s = from_keras(a, 1, 2, {7, 7});
  CHECK(s.output.h == 6 * 2 + 5 - 2 * 2 + 1);
  CHECK(s.output.w == 6 * 2 + 5 - 2 * 2);
  CHECK(s.crop.h == (17 - 14) / 2);
  a.output_padding = Hw{2, 0};
  CHECK_THROWS_WITH(from_keras(a, 1, 2, {7, 7}), Catch::Contains("output_padding_h=2 must be smaller than strides_h=2"));
}

TEST_CASE("tf.nn.conv2d_transpose output_shape range", "[params][builders]") {
  TfConv2dTransposeArgs a;
  a.out_channels = 3;
  a.kernel = {5, 5};
  a.strides = {2, 2};
  a.padding = TfPadding::same;
  a.output_shape = {13, 14};
  Params p = from_tf_conv2d_transpose(a, 1, 2, {7, 7});
  CHECK(p.output.h == 13);
  CHECK(p.crop.h == (17 - 13) / 2);
  CHECK(p.crop.w == (17 - 14) / 2);
  a.output_shape = {15, 14};
  CHECK_THROWS_WITH(from_tf_conv2d_transpose(a, 1, 2, {7, 7}), Catch::Contains("output_shape_h=15 must be in [13, 14]"));
  a.padding = TfPadding::valid;
  a.output_shape = {18, 17};
  p = from_tf_conv2d_transpose(a, 1, 2, {7, 7});
  CHECK(p.crop.h == 0);
  CHECK(p.output.h == 18);
  a.output_shape = {19, 17};
  CHECK_THROWS_WITH(from_tf_conv2d_transpose(a, 1, 2, {7, 7}), Catch::Contains("output_shape_h=19 must be in [17, 18]"));
}

TEST_CASE("ONNX pads, output_shape and auto_pad", "[params][builders]") {
  OnnxArgs a;
  a.out_channels = 2;
  a.kernel = {3, 3};
  a.strides = {2, 2};
  a.pads[0] = 1;
  a.pads[1] = 0;
  a.pads[2] = 0;
  a.pads[3] = 1;
  a.output_padding = {1, 0};
  Params p = from_onnx(a, 1, 2, {4, 4});
  CHECK(p.crop.h == 1);
  CHECK(p.crop.w == 0);
  CHECK(p.output.h == 9 - 1 - 0 + 1);
  CHECK(p.output.w == 9 - 0 - 1);
  OnnxArgs u;
  u.out_channels = 2;
  u.kernel = {4, 4};
  u.strides = {2, 2};
  u.auto_pad = OnnxAutoPad::same_upper;
  Params up = from_onnx(u, 1, 2, {5, 5});
  CHECK(up.output.h == 10);
  CHECK(up.crop.h == (12 - 10) / 2);
  u.kernel = {3, 3};
  up = from_onnx(u, 1, 2, {5, 5});  // total pad 1: SAME_UPPER puts it at the end
  CHECK(up.crop.h == 0);
  u.auto_pad = OnnxAutoPad::same_lower;
  CHECK(from_onnx(u, 1, 2, {5, 5}).crop.h == 1);
  OnnxArgs s;
  s.out_channels = 2;
  s.kernel = {3, 3};
  s.strides = {2, 2};
  s.output_shape = Hw{10, 9};
  Params sh = from_onnx(s, 1, 2, {5, 5});
  CHECK(sh.output.h == 10);
  CHECK(sh.output.w == 9);
  CHECK(sh.crop.w == 1);
}

TEST_CASE("Caffe deconvolution", "[params][builders]") {
  CaffeArgs a;
  a.num_output = 8;
  a.kernel = {4, 4};
  a.stride = {2, 2};
  a.pad = {1, 1};
  a.group = 2;
  Params p = from_caffe(a, 2, 4, {8, 8});
  CHECK(p.output.h == 16);
  CHECK(p.crop.h == 1);
  CHECK(p.groups == 2);
}

TEST_CASE("Params text form round-trips", "[params]") {
  Params p = torch(5, 3, 2, 1, 1);
  p.epilogue = Epilogue::clamp(-1.5f, 2.0f);
  p.layout = Layout::nhwc;
  const Params q = Params::parse(p.to_string());
  CHECK(q.to_string() == p.to_string());
  CHECK_THROWS_WITH(Params::parse("N=1 bogus=3"), Catch::Contains("unknown key 'bogus'"));
  CHECK_THROWS_WITH(Params::parse("N=x"), Catch::Contains("N=x is not an integer"));
}

namespace {

Params good() {
  Params p;
  p.batch = 2;
  p.in_channels = 4;
  p.out_channels = 6;
  p.input = {5, 5};
  p.kernel = {3, 3};
  p.stride = {2, 2};
  p.groups = 2;
  p.crop = {1, 1};
  p.output = {9, 9};
  p.has_bias = true;
  return p;
}

struct BadCase {
  const char* name;
  std::function<void(Params&)> mutate;
  const char* message;
};

}  // namespace

TEST_CASE("Invalid arguments: clear errors, output untouched", "[params][errors]") {
  constexpr int64_t big = int64_t{1} << 40;
  const std::vector<BadCase> cases{
      {"batch 0", [](Params& p) { p.batch = 0; }, "batch=0 must be at least 1"},
      {"batch negative", [](Params& p) { p.batch = -3; }, "batch=-3 must be at least 1"},
      {"in_channels 0", [](Params& p) { p.in_channels = 0; }, "in_channels=0 must be at least 1"},
      {"out_channels 0", [](Params& p) { p.out_channels = 0; }, "out_channels=0 must be at least 1"},
      {"input_h 0", [](Params& p) { p.input.h = 0; }, "input_h=0 must be at least 1"},
      {"input_w negative", [](Params& p) { p.input.w = -1; }, "input_w=-1 must be at least 1"},
      {"kernel_h 0", [](Params& p) { p.kernel.h = 0; }, "kernel_h=0 must be at least 1"},
      {"kernel_w 0", [](Params& p) { p.kernel.w = 0; }, "kernel_w=0 must be at least 1"},
      {"stride_h 0", [](Params& p) { p.stride.h = 0; }, "stride_h=0 must be at least 1"},
      {"stride_w negative", [](Params& p) { p.stride.w = -2; }, "stride_w=-2 must be at least 1"},
      {"dilation_h 0", [](Params& p) { p.dilation.h = 0; }, "dilation_h=0 must be at least 1"},
      {"dilation_w 0", [](Params& p) { p.dilation.w = 0; }, "dilation_w=0 must be at least 1"},
      {"groups 0", [](Params& p) { p.groups = 0; }, "groups=0 must be at least 1"},
      {"in_channels not divisible", [](Params& p) { p.in_channels = 5; }, "in_channels=5 must be divisible by groups=2"},
      {"out_channels not divisible", [](Params& p) { p.out_channels = 7; }, "out_channels=7 must be divisible by groups=2"},
      {"output_h 0", [](Params& p) { p.output.h = 0; }, "output_h=0 must be at least 1"},
      {"output_w negative", [](Params& p) { p.output.w = -4; }, "output_w=-4 must be at least 1"},
      {"tensorflow weights with groups", [](Params& p) { p.weight_layout = WeightLayout::tensorflow; }, "weight_layout=tensorflow requires groups=1"},
      {"huge batch", [big](Params& p) { p.batch = big; }, "batch=1099511627776 must be at most 2147483647"},
      {"huge input", [big](Params& p) { p.input.h = big; }, "input_h=1099511627776 must be at most"},
      {"huge kernel", [big](Params& p) { p.kernel.w = big; }, "kernel_w=1099511627776 must be at most"},
      {"huge stride", [big](Params& p) { p.stride.h = big; }, "stride_h=1099511627776 must be at most"},
      {"huge output", [big](Params& p) { p.output.w = big; }, "output_w=1099511627776 must be at most"},
      {"crop too negative", [big](Params& p) { p.crop.h = -big; }, "crop_top=-1099511627776 must be at least"},
      {"crop too large", [big](Params& p) { p.crop.w = big; }, "crop_left=1099511627776 must be at most"},
      {"output product overflow", [](Params& p) { p.batch = 2147483647; p.out_channels = 2147483646; p.groups = 1; p.in_channels = 1; p.output = {2147483647, 2147483647}; }, "overflows 64-bit integers"},
      {"input elements beyond 2^60", [](Params& p) { p.batch = 2147483647; p.in_channels = 2147483646; p.groups = 1; p.out_channels = 1; p.input = {1, 1}; }, "more than 2^60"},
      {"clamp min > max", [](Params& p) { p.epilogue = Epilogue::clamp(2.0f, 1.0f); }, "clamp min=2.000000 must not exceed max=1.000000"},
      {"clamp NaN", [](Params& p) { p.epilogue = Epilogue::clamp(std::nanf(""), 1.0f); }, "neither may be NaN"},
      {"leaky alpha inf", [](Params& p) { p.epilogue = Epilogue::leaky_relu(std::numeric_limits<float>::infinity()); }, "leaky_relu alpha=inf must be finite"},
      {"unknown activation", [](Params& p) { p.epilogue.activation = static_cast<Activation>(42); }, "activation=42 is not a known activation"},
      {"unknown layout", [](Params& p) { p.layout = static_cast<Layout>(7); }, "layout must be nchw or nhwc"},
  };
  REQUIRE(cases.size() >= 30);
  for (const auto& c : cases) {
    INFO(c.name);
    Params p = good();
    c.mutate(p);
    std::vector<float> w(1024, 0.5f), b(64, 0.25f), x(4096, 1.0f), y(4096, -7.0f);
    try {
      Plan plan(p, w.data(), b.data());
      plan.execute(x.data(), y.data());
      FAIL("no error for " << c.name);
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains(c.message));
    }
    for (float v : y) REQUIRE(v == -7.0f);
  }
}

TEST_CASE("Invalid execution arguments: clear errors, output untouched", "[plan][errors]") {
  const Params p = good();
  std::vector<float> w(size_t(p.weight_elements()), 0.5f), b(6, 0.25f);
  std::vector<float> x(size_t(p.input_elements()), 1.0f), y(size_t(p.output_elements()), -7.0f);
  PlanOptions o;
  o.max_threads = 2;
  const Plan plan(p, w.data(), b.data(), o);
  CHECK_THROWS_WITH(plan.execute(nullptr, y.data()), "input must not be null");
  CHECK_THROWS_WITH(plan.execute(x.data(), nullptr), "output must not be null");
  CHECK_THROWS_WITH(plan.execute(x.data(), y.data(), nullptr, 0), Catch::Contains("threads=0 must be in [1, max_threads=2]"));
  CHECK_THROWS_WITH(plan.execute(x.data(), y.data(), nullptr, 3), Catch::Contains("threads=3 must be in [1, max_threads=2]"));
  CHECK_THROWS_WITH(plan.execute(x.data(), x.data()), "output must not overlap input");
  for (float v : y) REQUIRE(v == -7.0f);
  CHECK_THROWS_WITH(Plan(p, nullptr, b.data()), "weights must not be null");
  CHECK_THROWS_WITH(Plan(p, w.data(), nullptr), "bias must not be null when has_bias is set");
  PlanOptions bad;
  bad.strategy = "fastest";
  CHECK_THROWS_WITH(Plan(p, w.data(), b.data(), bad), Catch::Contains("strategy=fastest is not registered"));
  bad.strategy = "reference";
  bad.max_threads = -1;
  CHECK_THROWS_WITH(Plan(p, w.data(), b.data(), bad), Catch::Contains("max_threads=-1 must be at least 0"));
}

TEST_CASE("Framework builders reject their own invalid cases", "[params][builders][errors]") {
  PyTorchArgs t;
  t.in_channels = 2;
  t.out_channels = 2;
  t.kernel = {3, 3};
  t.padding = {-1, 0};
  CHECK_THROWS_WITH(from_pytorch(t, 1, {4, 4}), Catch::Contains("padding_h=-1 must be at least 0"));
  t.padding = {5, 0};
  CHECK_THROWS_WITH(from_pytorch(t, 1, {2, 2}), Catch::Contains("output_h=-6 must be at least 1"));
  t.padding = {0, 0};
  t.stride = {0, 1};
  CHECK_THROWS_WITH(from_pytorch(t, 1, {2, 2}), Catch::Contains("stride_h=0 must be at least 1"));
  CaffeArgs c;
  c.num_output = 2;
  c.kernel = {0, 3};
  CHECK_THROWS_WITH(from_caffe(c, 1, 2, {3, 3}), Catch::Contains("kernel_h=0 must be at least 1"));
  TfConv2dTransposeArgs tf;
  tf.out_channels = 2;
  tf.kernel = {3, 3};
  tf.strides = {2, 2};
  tf.dilations = {2, 1};
  tf.output_shape = {8, 8};
  CHECK_THROWS_WITH(from_tf_conv2d_transpose(tf, 1, 2, {4, 4}), Catch::Contains("dilations_h=2 > 1 requires strides_h=1"));
  OnnxArgs o;
  o.out_channels = 2;
  o.kernel = {3, 3};
  o.strides = {2, 2};
  o.output_padding = {2, 0};
  CHECK_THROWS_WITH(from_onnx(o, 1, 2, {4, 4}), Catch::Contains("output_padding_h=2 must be smaller than strides_h=2 or dilations_h=1"));
  o.output_padding = {0, 0};
  o.pads[2] = -1;
  CHECK_THROWS_WITH(from_onnx(o, 1, 2, {4, 4}), Catch::Contains("pads_end_h=-1 must be at least 0"));
}
