// GEMM engine benchmark (Google Benchmark): GFLOP/s of the packed engine per ISA on square sizes
// and on the skinny shapes the strategies produce, at 1 and 2 threads, beside OpenBLAS's sgemm
// (optional peer) in the same run. C = A * B, A prepacked (weights), B gathered and packed per call.
//   ./build/bench/tconv_gemm_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "dispatch/kernel_table.hpp"
#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#ifdef TCONV_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

using namespace tconv::detail;

namespace {

const KernelTable* table_named(const std::string& isa) {
  if (isa == "avx512f") return isa_supported(Isa::avx512f) ? &avx512f_kernels() : nullptr;
  if (isa == "avx2") return isa_supported(Isa::avx2) ? &avx2_kernels() : nullptr;
  return &sse2_kernels();
}

void bm_tconv(benchmark::State& st, std::string isa, int64_t m, int64_t n, int64_t k, int threads) {
  const KernelTable* kt = table_named(isa);
  if (!kt) {
    st.SkipWithError("ISA not supported on this CPU");
    return;
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> a(size_t(m * k)), b(size_t(k * n)), c(size_t(m * n));
  for (auto& v : a) v = d(rng);
  for (auto& v : b) v = d(rng);
  const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1);
  const auto b_cols = strided_offsets(n, 1), b_rows = strided_offsets(k, n);
  const auto c_rows = strided_offsets(m, n), c_cols = strided_offsets(n, 1);
  AlignedBuffer packed_a(size_t(round_up(m, kt->mr) * k), /*huge_pages=*/true);  // as plans pack weights
  kt->pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt->mr, packed_a.data());
  AlignedBuffer pack(gemm_pack_floats(*kt) * size_t(threads));
  const KRange range{0, k};
  GemmBlock blk;
  blk.m_count = m;
  blk.n_count = n;
  blk.k_ranges = &range;
  blk.k_range_count = 1;
  blk.a = Operand{packed_a.data(), k, nullptr, nullptr, nullptr};
  blk.b = Operand{nullptr, 0, b.data(), b_cols.data(), b_rows.data()};
  blk.c = c.data();
  blk.c_row_off = c_rows.data();
  blk.c_col_off = c_cols.data();
  for (auto _ : st) gemm_parallel(blk, *kt, pack.data(), threads);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(kt->gemm_name);
}

#ifdef TCONV_HAVE_OPENBLAS
void bm_openblas(benchmark::State& st, int64_t m, int64_t n, int64_t k, int threads) {
  std::vector<float> a(size_t(m * k), 0.5f), b(size_t(k * n), 0.25f), c(size_t(m * n));
  openblas_set_num_threads(threads);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a.data(), int(k), b.data(),
                int(n), 0.0f, c.data(), int(n));
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel("openblas sgemm");
}
#endif

struct Shape {
  const char* name;
  int64_t m, n, k;
};

int register_all() {
  const Shape shapes[] = {
      {"square256", 256, 256, 256},   {"square512", 512, 512, 512},    {"square1024", 1024, 1024, 1024},
      {"square2048", 2048, 2048, 2048},
      // Skinny shapes the strategies produce: subpixel dcgan_g4 phase (Cout x pixels x 4*Cin),
      // unet_up1 phase, gemm_col2im unet_up1 (Cout*4 x pixels x Cin), dcgan_g5 (Cout=3).
      {"subpixel_dcgan_g4", 64, 256, 512}, {"l2b", 224, 2048, 512}, {"subpixel_unet_up1", 512, 784, 1024},
      {"col2im_unet_up1", 2048, 784, 1024}, {"subpixel_dcgan_g5", 3, 1024, 256},
  };
  for (const Shape& s : shapes) {
    for (int threads : {1, 2}) {
      for (const char* isa : {"avx512f", "avx2", "sse2"}) {
        benchmark::RegisterBenchmark((std::string("tconv/") + isa + "/" + s.name + "/threads:" + std::to_string(threads)).c_str(),
                                     bm_tconv, std::string(isa), s.m, s.n, s.k, threads)
            ->UseRealTime()->Unit(benchmark::kMillisecond);
      }
#ifdef TCONV_HAVE_OPENBLAS
      benchmark::RegisterBenchmark((std::string("openblas/") + s.name + "/threads:" + std::to_string(threads)).c_str(),
                                   bm_openblas, s.m, s.n, s.k, threads)
          ->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
