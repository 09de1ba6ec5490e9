// The C API: statuses, messages, no exception crossing, output untouched on failure.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tconv/tconv.h"

TEST_CASE("C API runs a plan and reports errors", "[c_api]") {
  tconv_params p;
  REQUIRE(tconv_params_pytorch(1, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1, &p) == TCONV_OK);
  CHECK(p.output_h == 5);
  std::vector<float> w(size_t(2 * 3 * 9), 0.5f), b(3, 1.0f), x(18, 1.0f), y(75, -7.0f);
  tconv_plan* plan = nullptr;
  REQUIRE(tconv_plan_create(&p, w.data(), b.data(), "subpixel", 2, &plan) == TCONV_OK);
  CHECK(std::string(tconv_plan_strategy(plan)) == "subpixel");
  int64_t dims[4];
  REQUIRE(tconv_plan_output_shape(plan, dims) == TCONV_OK);
  CHECK(dims[1] == 3);
  CHECK(dims[2] == 5);
  std::vector<char> ws(tconv_plan_workspace_bytes(plan) + 1);
  REQUIRE(tconv_plan_execute(plan, x.data(), y.data(), ws.data(), 2) == TCONV_OK);
  CHECK(y[0] == 1.0f + 2 * 0.5f);  // output (0,0): one tap per input channel
  std::vector<float> y2(75, -7.0f);
  CHECK(tconv_plan_execute(plan, x.data(), y2.data(), nullptr, 5) == TCONV_INVALID_ARGUMENT);
  CHECK(std::string(tconv_last_error()).find("threads=5") != std::string::npos);
  for (float v : y2) CHECK(v == -7.0f);
  CHECK(tconv_plan_execute(nullptr, x.data(), y2.data(), nullptr, 1) == TCONV_INVALID_ARGUMENT);
  tconv_plan_destroy(plan);

  CHECK(tconv_params_pytorch(1, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1, 2, 0, 1, 1, 1, 1, &p) == TCONV_INVALID_ARGUMENT);
  CHECK(std::string(tconv_last_error()) == "output_padding_h=2 must be smaller than stride_h=2 or dilation_h=1");
  tconv_params bad = p;
  bad.groups = 0;
  tconv_plan* none = reinterpret_cast<tconv_plan*>(0x1);
  CHECK(tconv_plan_create(&bad, w.data(), b.data(), nullptr, 1, &none) == TCONV_INVALID_ARGUMENT);
  CHECK(none == nullptr);
  CHECK(std::string(tconv_last_error()).find("groups=0") != std::string::npos);
  CHECK(tconv_plan_create(nullptr, w.data(), b.data(), nullptr, 1, &none) == TCONV_INVALID_ARGUMENT);
  bad = p;
  bad.layout = 9;
  CHECK(tconv_plan_create(&bad, w.data(), b.data(), nullptr, 1, &none) == TCONV_INVALID_ARGUMENT);
  CHECK(std::string(tconv_last_error()).find("layout=9") != std::string::npos);
}
