// The strategy list: the plan, the tests and the benchmarks iterate this and nothing else.
#include "strategies/strategy.hpp"

namespace tconv::detail {

const std::vector<StrategyInfo>& strategy_registry() {
  static const std::vector<StrategyInfo> registry{
      reference_strategy(),   direct_scatter_strategy(), gemm_col2im_strategy(),
      im2col_gemm_strategy(), subpixel_strategy(),       subpixel_via_nhwc_strategy(),
      direct_scatter_via_nchw_strategy(),
  };
  return registry;
}

}  // namespace tconv::detail

namespace tconv {

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& s : detail::strategy_registry()) names.emplace_back(s.name);
  return names;
}

}  // namespace tconv
