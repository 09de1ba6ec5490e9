// Runtime ISA detection and the TCONV_ISA cap. Compiled for the x86-64 baseline.
#include <cstdlib>
#include <string>

#include "dispatch/kernel_table.hpp"
#include "tconv/tconv.hpp"

namespace tconv::detail {

bool isa_supported(Isa isa) {
  // __builtin_cpu_supports also reflects whether the OS saves the wider registers (XCR0).
  switch (isa) {
    case Isa::sse2: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512f:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
  }
  return false;
}

namespace {

const KernelTable& table_for(Isa isa) {
  switch (isa) {
    case Isa::avx512f: return avx512f_kernels();
    case Isa::avx2: return avx2_kernels();
    case Isa::sse2: break;
  }
  return sse2_kernels();
}

Isa parse_cap(const char* text) {
  const std::string v(text);
  if (v == "sse2") return Isa::sse2;
  if (v == "avx2") return Isa::avx2;
  if (v == "avx512f" || v == "avx512") return Isa::avx512f;
  throw Error("TCONV_ISA=" + v + " must be one of sse2, avx2, avx512f");
}

}  // namespace

const KernelTable& resolve_kernels() {
  Isa cap = Isa::avx512f;
  if (const char* env = std::getenv("TCONV_ISA"); env != nullptr && *env != '\0') cap = parse_cap(env);
  for (int level = int(cap); level > 0; --level) {
    if (isa_supported(Isa(level))) return table_for(Isa(level));
  }
  return table_for(Isa::sse2);
}

const KernelTable& tiles_for_channels(const KernelTable& kt, bool channels_on_m, const ChannelDim* dims,
                                      int64_t count, int64_t row_group) {
  auto fits = [&](const KernelTable* t) { return t != nullptr && (!channels_on_m || t->mr % row_group == 0); };
  const KernelTable* base = fits(&kt) ? &kt : fits(kt.grouped_tile) ? kt.grouped_tile : fits(kt.short_tile) ? kt.short_tile : &kt;
  if (base == kt.short_tile || !fits(kt.short_tile)) return *base;
  auto padded_work = [&](const KernelTable& t) {
    const int64_t r = channels_on_m ? t.mr : t.nr;
    double sum = 0;
    for (int64_t i = 0; i < count; ++i) sum += double((dims[i].count + r - 1) / r * r) * dims[i].work;
    return sum;
  };
  // Only a clear saving switches: within a few percent the tiles' own speeds differ more.
  return padded_work(*kt.short_tile) / kt.short_tile_rate < 0.97 * padded_work(*base) ? *kt.short_tile : *base;
}

}  // namespace tconv::detail

namespace tconv {

std::string active_isa() { return detail::resolve_kernels().isa_name; }

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (auto isa : {detail::Isa::avx512f, detail::Isa::avx2, detail::Isa::sse2}) {
    if (detail::isa_supported(isa)) out.push_back(detail::table_for(isa).isa_name);
  }
  return out;
}

}  // namespace tconv
