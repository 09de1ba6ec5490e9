// GEMM micro-kernels and the blocked driver, XNNPACK style: every ISA, m/n/k below, at and above
// the tile and the blocking, odd leading dimensions, accumulate and epilogue, against a triple loop.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "dispatch/kernel_table.hpp"
#include "epilogue/epilogue.hpp"
#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#include "support/test_support.hpp"

using namespace tconv;
using namespace tconv::detail;

namespace {

// C (ldc, row-major, m x n) (+)= A (m x k, lda) * B (k x n, ldb) via gemm_block, with a gathered A
// or a prepacked one, then bias per row and an activation.
// phases > 1: C rows are that many interleaved output phases (row i at physical row i/phases,
// columns phases*j + i%phases), the NCHW layout of stacked W phases: with 2 to 4 (kMaxRowGroup),
// the micro-kernel interleaves each row group in registers where its tile's rows are a multiple
// of the group; otherwise runs of consecutive rows go out column by column (long runs) or
// element by element.
// image_w > 0: the n columns are pixels of rows image_w wide, each output row 3 floats longer
// than its pixels take (a panel straddling rows stores in runs).
// every_other: each C row writes columns 0, 2, 4, ... of its own output row (one of two W phases
// whose rows do not pair up), the floats between left as they are; 2: the same with C's rows
// private to the call (GemmBlock::c_rows_private: AVX2 reads and rewrites the floats between).
void check_gemm(const KernelTable& kt, int64_t m, int64_t n, int64_t k, bool prepack_a, bool accumulate,
                std::mt19937& rng, int64_t phases = 1, int64_t image_w = 0, int every_other = 0,
                const Epilogue& epilogue = Epilogue::leaky_relu(0.25f)) {
  const int64_t out_row = phases * image_w + 3, image_rows = image_w > 0 ? (n + image_w - 1) / image_w : 0;
  const int64_t lda = k + 3, ldb = n + 5, ldc = std::max((every_other ? 2 : phases) * n, image_rows * out_row) + 7;
  const int64_t c_rows_physical = (m + phases - 1) / phases;
  const auto a = test::random_tensor(size_t(m * lda), rng);
  const auto b = test::random_tensor(size_t(k * ldb), rng);
  const auto bias = test::random_tensor(size_t(m), rng);
  auto c = test::random_tensor(size_t(c_rows_physical * ldc), rng);
  const auto c0 = c;
  const auto a_rows = strided_offsets(m, lda), a_cols = strided_offsets(k, 1);
  const auto b_cols = strided_offsets(n, 1), b_rows = strided_offsets(k, ldb);
  auto c_rows = strided_offsets(m, ldc), c_cols = strided_offsets(n, 1);
  if (phases > 1) {
    for (int64_t i = 0; i < m; ++i) c_rows[size_t(i)] = i / phases * ldc + i % phases;
    c_cols = strided_offsets(n, phases);
  }
  if (every_other) c_cols = strided_offsets(n, 2);
  for (int64_t j = 0; image_w > 0 && j < n; ++j) c_cols[size_t(j)] = j / image_w * out_row + j % image_w * phases;
  AlignedBuffer packed(size_t(round_up(m, kt.mr) * k));
  if (prepack_a) kt.pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt.mr, packed.data());
  AlignedBuffer pack(gemm_pack_floats(kt));
  // Two K-ranges exercise the split-K accumulation path.
  const KRange ranges[2] = {{0, k / 3}, {k / 3, k}};
  GemmBlock blk;
  blk.m_count = m;
  blk.n_count = n;
  blk.k_ranges = ranges;
  blk.k_range_count = 2;
  blk.a = prepack_a ? Operand{packed.data(), k, nullptr, nullptr, nullptr}
                    : Operand{nullptr, 0, a.data(), a_rows.data(), a_cols.data()};
  blk.b = Operand{nullptr, 0, b.data(), b_cols.data(), b_rows.data()};
  blk.c = c.data();
  blk.c_row_off = c_rows.data();
  blk.c_col_off = c_cols.data();
  blk.accumulate = accumulate;
  blk.bias_row = bias.data();
  blk.epilogue = &epilogue;
  blk.prefetch_c_max_k = (m + n) % 2 == 0 ? k : 0;  // (prefetching the next panel's C lines changes no result)
  blk.c_rows_private = every_other == 2;
  gemm_block(blk, kt, pack.data());
  std::vector<bool> written(c.size(), false);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) written[size_t(c_rows[size_t(i)] + c_cols[size_t(j)])] = true;
  for (size_t e = 0; e < c.size(); ++e) {
    if (!written[e]) REQUIRE(c[e] == c0[e]);  // never written outside the block
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const size_t at = size_t(c_rows[size_t(i)] + c_cols[size_t(j)]);
      const float got = c[at];
      double want = accumulate ? c0[at] : 0.0;
      for (int64_t kk = 0; kk < k; ++kk) want += double(a[size_t(i * lda + kk)]) * double(b[size_t(kk * ldb + j)]);
      want = apply_activation(float(want + bias[size_t(i)]), epilogue);
      INFO(kt.gemm_name << " m=" << m << " n=" << n << " k=" << k << " i=" << i << " j=" << j);
      REQUIRE(std::fabs(got - want) <= 1e-5 * (double(k) + 2.0));
    }
  }
}

// C = A x B (m x n, started as NaN) over one K-range [0, k) via gemm_block, then every element
// checked against want(i, j), and nothing else written. Row-major, or row i, column j at
// i * ldc + col_off[j] (ldc past the last column) when col_off is given.
template <class Want>
void check_single_range(const KernelTable& kt, int64_t m, int64_t n, int64_t k, const Operand& a, const Operand& b,
                        Want want, const std::vector<int64_t>* col_off = nullptr) {
  const auto c_cols = col_off ? *col_off : strided_offsets(n, 1);
  const int64_t ldc = col_off ? c_cols.back() + 9 : n;
  const auto c_rows = strided_offsets(m, ldc);
  AlignedBuffer pack(gemm_pack_floats(kt));
  const KRange range{0, k};
  GemmBlock blk;
  blk.m_count = m;
  blk.n_count = n;
  blk.k_ranges = &range;
  blk.k_range_count = 1;
  blk.a = a;
  blk.b = b;
  std::vector<float> c(size_t(m * ldc), NAN);
  blk.c = c.data();
  blk.c_row_off = c_rows.data();
  blk.c_col_off = c_cols.data();
  gemm_block(blk, kt, pack.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      INFO(kt.gemm_name << " m=" << m << " n=" << n << " k=" << k << " i=" << i << " j=" << j);
      REQUIRE(std::fabs(c[size_t(c_rows[size_t(i)] + c_cols[size_t(j)])] - want(i, j)) <= 1e-5 * double(k));
    }
  REQUIRE(std::count_if(c.begin(), c.end(), [](float v) { return !std::isnan(v); }) == m * n);
}

// A as NHWC subpixel gathers it: k = (tap, channel), pixel i's channels contiguous at
// i * pixel_step, tap t at t * tap_step (the source's other floats NaN); B (k x n) prepacked.
struct PixelRowsProblem {
  static constexpr int64_t kTaps = 3;
  int64_t n, k;
  std::vector<float> src, b;
  std::vector<int64_t> rows, inner;
  AlignedBuffer packed_b;

  PixelRowsProblem(const KernelTable& kt, int64_t m, int64_t n_, int64_t channels, std::mt19937& rng)
      : n(n_), k(channels * kTaps) {
    const int64_t pixel_step = channels + 2, tap_step = 5 * pixel_step;
    src.assign(size_t((m - 1) * pixel_step + (kTaps - 1) * tap_step + channels), NAN);
    inner.resize(size_t(k));
    for (int64_t t = 0; t < kTaps; ++t)
      for (int64_t c = 0; c < channels; ++c) inner[size_t(t * channels + c)] = t * tap_step + c;
    rows = strided_offsets(m, pixel_step);
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t kk = 0; kk < k; ++kk) src[size_t(rows[size_t(i)] + inner[size_t(kk)])] = d(rng);
    b = test::random_tensor(size_t(k * n), rng);
    const auto b_rows = strided_offsets(k, n), b_cols = strided_offsets(n, 1);
    packed_b.resize(size_t(round_up(n, kt.nr) * k));
    kt.pack(b.data(), b_cols.data(), n, b_rows.data(), k, kt.nr, packed_b.data());
  }
  Operand a() const { return Operand{nullptr, 0, src.data(), rows.data(), inner.data()}; }
  Operand prepacked_b() const { return Operand{packed_b.data(), k, nullptr, nullptr, nullptr}; }
  double want(int64_t i, int64_t j) const {
    double sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) sum += double(src[size_t(rows[size_t(i)] + inner[size_t(kk)])]) * double(b[size_t(kk * n + j)]);
    return sum;
  }
};

}  // namespace

TEST_CASE("GEMM micro-kernels and driver on every ISA and tile", "[gemm]") {
  std::mt19937 rng(9);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t MR = kt->mr, NR = kt->nr, KC = kt->k_max;
    const Epilogue activations[3] = {Epilogue{}, Epilogue::relu(), Epilogue::leaky_relu(0.25f)};
    for (int64_t m : {int64_t(1), MR - 1, MR, MR + 1, 2 * MR + 3})
      for (int64_t n : {int64_t(1), NR - 1, NR, NR + 1, 3 * NR - 2})
        for (int64_t k : {int64_t(1), int64_t(2), int64_t(7), KC, KC + 5})
          for (bool prepack : {false, true}) {
            // No and ReLU activations take the inlined whole-tile store, leaky ReLU the general one.
            const Epilogue& e = activations[size_t(m + n + k) % 3];
            check_gemm(*kt, m, n, k, prepack, (m + n + k) % 2 == 1, rng, 1, 0, 0, e);
            if (k != KC + 5) check_gemm(*kt, m, n, k, prepack, (m + n + k) % 2 == 0, rng, /*phases=*/2, 0, 0, e);
          }
    // Every row count has its own tile body (1..MR wide, 1..2*MR narrow: pixel panels of at most
    // one vector run on the narrow tile).
    for (int64_t m = 1; m <= 2 * MR + 1; ++m)
      for (int64_t n : {int64_t(kt->narrow_nr) - 1, NR + 3})
        for (bool prepack : {false, true}) check_gemm(*kt, m, n, 9, prepack, m % 2 == 1, rng);
    // Stacked W phases of larger strides: groups of 3 and 4 interleaved in registers (row counts
    // a multiple of the group: every tile whole groups on tiles of 12 or 8 rows; whole tiles
    // inline for no or ReLU activation, partial or accumulating ones out of line), else runs of
    // consecutive rows, some tiles cut between two runs, runs shorter and longer than the
    // store's column path takes; narrow and wide tiles.
    for (int64_t phases : {3, 4})
      for (int64_t m : {int64_t(12), int64_t(24), 2 * MR + 3})
        for (int64_t n : {int64_t(2), int64_t(kt->narrow_nr) - 1, NR, NR + 3})
          for (const Epilogue& e : activations)
            for (bool accumulate : {false, true}) check_gemm(*kt, m, n, 7, n % 2 == 0, accumulate, rng, phases, 0, 0, e);
    for (int64_t phases : {3, 5, 6, 8, 32})
      for (int64_t m : {MR, 2 * MR + 3, 4 * MR + 1})
        for (int64_t n : {int64_t(kt->narrow_nr) - 1, NR + 3})
          for (bool prepack : {false, true}) check_gemm(*kt, m, n, 7, prepack, (m + n + phases) % 2 == 1, rng, phases);
    // One of two W phases per C row (k3 s2 in NCHW): every other output, whole tiles stored
    // inline for no or ReLU activation, the rest (partial, accumulating, leaky) out of line.
    for (const Epilogue& e : activations)
      for (int64_t m : {MR, 2 * MR + 3})
        for (int64_t n : {int64_t(2), int64_t(kt->narrow_nr) - 1, NR - 1, NR, 3 * NR - 2})
          for (bool accumulate : {false, true})
            for (int every_other : {1, 2}) check_gemm(*kt, m, n, 13, n % 2 == 0, accumulate, rng, 1, 0, every_other, e);
    // Pixel panels straddling image rows: stored run by run (rows of 5 or 13 pixels, one to four
    // phases, whole and partial tiles, groups cut by a row count no multiple of them), or one
    // float at a time (rows of 3: runs too short).
    for (int64_t image_w : {3, 5, 13})
      for (int64_t phases : {1, 2, 3, 4})
        for (int64_t m : {MR, 2 * MR + 3})
          for (int64_t n : {NR, 2 * NR + 7})
            for (bool accumulate : {false, true}) check_gemm(*kt, m, n, 11, true, accumulate, rng, phases, image_w);
    // Beyond the M and N blocks the packing budget allows at a large K.
    const int64_t big_k = KC / 2 + 3;
    check_gemm(*kt, kt->pack_a_floats / big_k + MR + 1, 3 * NR + 3, big_k, false, false, rng);
    check_gemm(*kt, 2 * MR + 1, 5 * NR + 5, big_k, true, true, rng);
  }
}

TEST_CASE("gemm_streamed_a: the same sums as gemm, bit for bit, for every row count", "[gemm]") {
  std::mt19937 rng(21);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t MR = kt->mr, NR = kt->nr;
    // Two segments, the second a K piece of its own, so the prefetch runs off each one's end.
    const int64_t kc[2] = {37, 5};
    const auto a = test::random_tensor(size_t((kc[0] + kc[1]) * MR), rng);
    const auto b = test::random_tensor(size_t((kc[0] + kc[1]) * NR) + 16, rng);
    AlignedBuffer b_aligned(b.size());
    std::copy(b.begin(), b.end(), b_aligned.data());
    const float* a_seg[2] = {a.data(), a.data() + kc[0] * MR};
    const float* b_seg[2] = {b_aligned.data(), b_aligned.data() + kc[0] * NR};
    const int64_t b_step[2] = {NR, NR};
    const auto rows = strided_offsets(MR, NR + 1), cols = strided_offsets(NR, 1);
    const Epilogue relu = Epilogue::relu();
    for (int64_t mr = 1; mr <= MR; ++mr)
      for (int64_t nr : {int64_t(1), NR - 3, NR}) {
        std::vector<float> want(size_t(MR * (NR + 1)), -7.0f), got = want;
        const TileStore to_want{want.data(), rows.data(), cols.data(), true, false, false, false, false, true,
                                nullptr, nullptr, &relu};
        TileStore to_got = to_want;
        to_got.c = got.data();
        kt->gemm(2, kc, a_seg, b_seg, b_step, mr, nr, to_want);
        kt->gemm_streamed_a(2, kc, a_seg, b_seg, b_step, mr, nr, to_got);
        INFO(kt->gemm_name << " mr=" << mr << " nr=" << nr);
        REQUIRE(std::count(want.begin(), want.end(), -7.0f) == int64_t(want.size()) - mr * nr);
        REQUIRE(got == want);
      }
  }
}

TEST_CASE("gemm_streamed_b and the tiles across panels: the same sums as the plain tile, bit for bit", "[gemm]") {
  std::mt19937 rng(22);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t MR = kt->mr, NR = kt->nr;
    // Two segments, as above; B is kMaxAcrossPanels prepacked panels, A packed or row by row.
    const int64_t kc[2] = {37, 5}, k = kc[0] + kc[1];
    const int64_t panel_stride = k * NR + 16;  // panels not back to back (a wider prepacked B's)
    const auto a = test::random_tensor(size_t(k * MR), rng);
    const auto b = test::random_tensor(size_t(kMaxAcrossPanels * panel_stride), rng);
    AlignedBuffer b_aligned(b.size());
    std::copy(b.begin(), b.end(), b_aligned.data());
    std::vector<float> a_by_row(a.size());  // row i of A contiguous along k
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t i = 0; i < MR; ++i) a_by_row[size_t(i * k + kk)] = a[size_t(kk * MR + i)];
    const float* a_seg[2] = {a.data(), a.data() + kc[0] * MR};
    std::vector<const float*> a_rows(size_t(2 * MR));
    for (int64_t i = 0; i < MR; ++i) {
      a_rows[size_t(i)] = a_by_row.data() + i * k;
      a_rows[size_t(MR + i)] = a_by_row.data() + i * k + kc[0];
    }
    const int64_t b_step[2] = {NR, NR};
    const int64_t ld = kMaxAcrossPanels * NR + 1;
    const auto rows = strided_offsets(MR, ld), cols = strided_offsets(kMaxAcrossPanels * NR, 1);
    const Epilogue relu = Epilogue::relu();
    auto store_to = [&](std::vector<float>& c, int64_t col0) {
      return TileStore{c.data(), rows.data(), cols.data() + col0, true, 1, false, false, false, true, nullptr, nullptr, &relu};
    };
    for (int64_t mr = 1; mr <= MR; ++mr) {
      INFO(kt->gemm_name << " mr=" << mr);
      const float* b_seg[2] = {b_aligned.data(), b_aligned.data() + kc[0] * NR};
      for (int64_t nr : {int64_t(1), NR - 3, NR}) {
        std::vector<float> want(size_t(MR * ld), -7.0f), got = want;
        kt->gemm(2, kc, a_seg, b_seg, b_step, mr, nr, store_to(want, 0));
        kt->gemm_streamed_b(2, kc, a_seg, b_seg, b_step, mr, nr, store_to(got, 0));
        REQUIRE(got == want);
      }
      const int64_t most = across_panels(MR, NR / kt->narrow_nr, kt->vector_registers, mr);
      for (int64_t panels = 2; panels <= most; ++panels)
        for (int64_t nr : {(panels - 1) * NR + 1, panels * NR}) {
          INFO("panels=" << panels << " nr=" << nr);
          std::vector<float> want(size_t(MR * ld), -7.0f), got = want, got_in_place = want;
          for (int64_t p = 0; p * NR < nr; ++p) {
            const float* panel[2] = {b_seg[0] + p * panel_stride, b_seg[1] + p * panel_stride};
            kt->gemm(2, kc, a_seg, panel, b_step, mr, std::min(NR, nr - p * NR), store_to(want, p * NR));
          }
          kt->gemm_across(2, kc, a_seg, b_seg, panel_stride, mr, nr, store_to(got, 0));
          kt->gemm_direct_a_across(2, kc, a_rows.data(), b_seg, panel_stride, mr, nr, store_to(got_in_place, 0));
          REQUIRE(std::count(want.begin(), want.end(), -7.0f) == int64_t(want.size()) - mr * nr);
          REQUIRE(got == want);
          REQUIRE(got_in_place == want);
        }
    }
  }
}

TEST_CASE("Packing: gathers, contiguous runs, zero-padded edges, on every ISA", "[gemm]") {
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    // Scattered outer rows, inner offsets in contiguous runs (NHWC pixels x channels of taps):
    // the transposing paths (16 or 8 k at a time), runs of every length around them, panels of
    // 1..MR rows. Guard floats after the panels must stay untouched (the 8-wide path stores
    // whole vectors into the next k's slot and must not spill past the last one).
    {
      std::vector<float> img(20000);
      for (size_t i = 0; i < img.size(); ++i) img[i] = float(i) * 0.5f;
      std::mt19937 rng(4);
      for (int trial = 0; trial < 100; ++trial) {
        const int64_t r = std::uniform_int_distribution<int64_t>(1, kt->mr)(rng);
        const int64_t count = std::uniform_int_distribution<int64_t>(1, 3 * r)(rng);
        std::vector<int64_t> oo, in;
        for (int64_t i = 0; i < count; ++i) oo.push_back(int64_t(rng() % 15000));
        int64_t base = 0;
        while (in.size() < 70) {
          const int64_t len = std::uniform_int_distribution<int64_t>(1, 40)(rng);
          base = int64_t(rng() % 4000);
          for (int64_t i = 0; i < len && in.size() < 70; ++i) in.push_back(base + i);
        }
        const int64_t k = int64_t(in.size());
        const size_t packed_floats = size_t((count + r - 1) / r * r * k), guard = 16;
        std::vector<float> got(packed_floats + guard, -1.0f);
        kt->pack(img.data(), oo.data(), count, in.data(), k, r, got.data());
        for (size_t g = packed_floats; g < got.size(); ++g) REQUIRE(got[g] == -1.0f);
        for (int64_t p = 0; p * r < count; ++p)
          for (int64_t kk = 0; kk < k; ++kk)
            for (int64_t i = 0; i < r; ++i) {
              const int64_t o = p * r + i;
              const float want = o < count ? img[size_t(oo[size_t(o)] + in[size_t(kk)])] : 0.0f;
              REQUIRE(got[size_t((p * k + kk) * r + i)] == want);
            }
      }
    }
    // One contiguous run over several panels (a plain matrix's columns, packed k row by k row
    // across all panels): whole and partial last panels, guard floats untouched.
    {
      std::vector<float> mat(64 * 300);
      for (size_t i = 0; i < mat.size(); ++i) mat[i] = float(i) + 0.25f;
      for (const int64_t r : {int64_t(kt->mr), int64_t(kt->nr), int64_t(37)})
        for (const int64_t count : {2 * r, 2 * r + 1, 3 * r - 1, 5 * r + 3}) {
          const auto oo = strided_offsets(count, 1, 5), in = strided_offsets(7, 300);
          const size_t packed_floats = size_t((count + r - 1) / r * r * 7), guard = 16;
          std::vector<float> got(packed_floats + guard, -1.0f);
          kt->pack(mat.data(), oo.data(), count, in.data(), 7, r, got.data());
          for (size_t g = packed_floats; g < got.size(); ++g) REQUIRE(got[g] == -1.0f);
          for (int64_t p = 0; p * r < count; ++p)
            for (int64_t kk = 0; kk < 7; ++kk)
              for (int64_t i = 0; i < r; ++i) {
                const int64_t o = p * r + i;
                REQUIRE(got[size_t((p * 7 + kk) * r + i)] == (o < count ? mat[size_t(5 + o + kk * 300)] : 0.0f));
              }
        }
    }
    const std::vector<float> src{1, 2, 3, 4, 5, 6};
    const auto outer = strided_offsets(3, 2), inner = strided_offsets(2, 1);
    std::vector<float> dst(4 * 2, -1.0f);
    kt->pack(src.data(), outer.data(), 3, inner.data(), 2, 4, dst.data());
    CHECK(dst == std::vector<float>{1, 3, 5, 0, 2, 4, 6, 0});
    // Runs of every length up to 40 inside panels of 37, against an element-wise gather.
    std::vector<float> big(4000);
    for (size_t i = 0; i < big.size(); ++i) big[i] = float(i);
    std::mt19937 rng(2);
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int64_t> oo;
      int64_t pos = 0;
      while (oo.size() < 80) {
        const int64_t len = std::uniform_int_distribution<int64_t>(1, 40)(rng);
        pos += std::uniform_int_distribution<int64_t>(1, 30)(rng);
        for (int64_t i = 0; i < len && oo.size() < 80; ++i) oo.push_back(pos++);
      }
      // Short runs shuffled in too (the gathering path), panels of 37, 32 and 16.
      if (trial % 2) std::shuffle(oo.begin(), oo.end(), rng);
      const int64_t count = std::uniform_int_distribution<int64_t>(1, 80)(rng);
      const int64_t r = trial % 3 == 0 ? 37 : trial % 3 == 1 ? 32 : 16;
      const std::vector<int64_t> in{0, 1000, 7};
      std::vector<float> got(size_t((count + r - 1) / r * r * 3), -1.0f);
      kt->pack(big.data(), oo.data(), count, in.data(), 3, r, got.data());
      for (int64_t p = 0; p * r < count; ++p)
        for (int64_t k = 0; k < 3; ++k)
          for (int64_t i = 0; i < r; ++i) {
            const int64_t o = p * r + i;
            REQUIRE(got[size_t((p * 3 + k) * r + i)] == (o < count ? big[size_t(oo[size_t(o)] + in[size_t(k)])] : 0.0f));
          }
    }
  }
}

TEST_CASE("B read in place: runs of evenly stepped k, partial panels reading inside the source only",
          "[gemm]") {
  // B as NCHW subpixel gathers it: k = (tap, channel), channel planes `plane` floats apart, tap t
  // one float further, pixel j at j. Every float of the source that no (k, pixel) names is NaN,
  // so a lane read past a partial panel would poison C if it were ever stored. The source ends
  // `tail` floats after the last named one (0: partial panels must be packed; NR: they fit), so
  // a read beyond src_extent is caught by ASan.
  std::mt19937 rng(12);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    for (int64_t n : {int64_t(kt->nr) - 1, int64_t(kt->nr) + 3, 2 * int64_t(kt->nr) - 1, int64_t(kt->narrow_nr) - 2}) {
      for (int64_t m : {int64_t(kt->mr) - 1, 2 * int64_t(kt->mr) + 1})
      for (int64_t tail : {int64_t(0), int64_t(kt->nr)}) {
        const int64_t channels = 9, taps = 3, plane = n + taps + 5, k = channels * taps;
        std::vector<float> src(size_t((channels - 1) * plane + n + taps - 1 + tail), NAN);
        std::vector<int64_t> inner(static_cast<size_t>(k));
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t c = 0; c < channels; ++c) inner[size_t(t * channels + c)] = c * plane + t;
        std::uniform_real_distribution<float> d(-1, 1);
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t j = 0; j < n; ++j) src[size_t(inner[size_t(kk)] + j)] = d(rng);
        const auto a = test::random_tensor(size_t(m * k), rng);
        const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1), b_cols = strided_offsets(n, 1);
        AlignedBuffer packed(size_t(round_up(m, kt->mr) * k));
        kt->pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt->mr, packed.data());
        INFO("tail=" << tail);
        check_single_range(*kt, m, n, k, Operand{packed.data(), k, nullptr, nullptr, nullptr},
                           Operand{nullptr, 0, src.data(), b_cols.data(), inner.data(), int64_t(src.size())},
                           [&](int64_t i, int64_t j) {
                             double want = 0;
                             for (int64_t kk = 0; kk < k; ++kk)
                               want += double(a[size_t(i * k + kk)]) * double(src[size_t(inner[size_t(kk)] + j)]);
                             return want;
                           });
      }
    }
  }
}

TEST_CASE("GemmRunMemo: one memo across calls whose K-ranges or offset tables change", "[gemm]") {
  // B read in place along runs (NCHW-like planes; the table by channel has runs too short to
  // read in place), K-ranges and tables changing from call to call: each call must equal the
  // same call without a memo, bit for bit.
  std::mt19937 rng(31);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t m = kt->mr + 1, n = kt->nr + 3, channels = 12, taps = 2, plane = n + 9, k = channels * taps;
    const auto src = test::random_tensor(size_t(channels * plane + taps), rng);
    std::vector<int64_t> by_tap(static_cast<size_t>(k)), by_channel(static_cast<size_t>(k));
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < channels; ++c) {
        by_tap[size_t(t * channels + c)] = c * plane + t;  // runs of `plane` steps
        by_channel[size_t(c * taps + t)] = c * plane + t;  // runs of 1 and `plane - 1`
      }
    const auto a = test::random_tensor(size_t(m * k), rng);
    const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1), b_cols = strided_offsets(n, 1);
    AlignedBuffer packed(size_t(round_up(m, kt->mr) * k)), pack(gemm_pack_floats(*kt));
    kt->pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt->mr, packed.data());
    const auto c_rows = strided_offsets(m, n), c_cols = strided_offsets(n, 1);
    const KRange whole{0, k}, halves[2] = {{0, k / 2}, {k / 2 + 1, k}};
    GemmRunMemo memo;
    struct Call {
      const int64_t* inner;
      const KRange* ranges;
      int64_t range_count;
    };
    // Each call differs from the one before in one thing: the K-ranges, or the table.
    for (const Call& call : {Call{by_tap.data(), &whole, 1}, Call{by_tap.data(), halves, 2}, Call{by_channel.data(), halves, 2},
                             Call{by_channel.data(), &whole, 1}, Call{by_tap.data(), &whole, 1}}) {
      std::vector<float> want(size_t(m * n)), got(size_t(m * n));
      for (GemmRunMemo* use : {static_cast<GemmRunMemo*>(nullptr), &memo}) {
        GemmBlock blk;
        blk.m_count = m;
        blk.n_count = n;
        blk.k_ranges = call.ranges;
        blk.k_range_count = call.range_count;
        blk.a = Operand{packed.data(), k, nullptr, nullptr, nullptr};
        blk.b = Operand{nullptr, 0, src.data(), b_cols.data(), call.inner, int64_t(src.size())};
        blk.c = use ? got.data() : want.data();
        blk.c_row_off = c_rows.data();
        blk.c_col_off = c_cols.data();
        blk.run_memo = use;
        gemm_block(blk, *kt, pack.data());
      }
      INFO(kt->gemm_name << " ranges=" << call.range_count << " by_tap=" << (call.inner == by_tap.data()));
      REQUIRE(got == want);
    }
  }
}

TEST_CASE("A read in place: NHWC-like pixel rows along runs of contiguous k, B prepacked", "[gemm]") {
  // A as NHWC subpixel gathers it (PixelRowsProblem). Up to the ISA's direct_a_max_panels B
  // panels A is read in place; one channel more and it is packed, which must read only named
  // floats too (the others are NaN). Runs of 3 channels and more are read in place, of 1
  // (depthwise-like) packed. B of at most one vector of columns runs on the narrow tile (2 * MR
  // rows), either way.
  std::mt19937 rng(13);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t in_place_n = kt->direct_a_max_panels * kt->nr;
    const int64_t narrow = kt->narrow_nr;
    for (int64_t n : {int64_t(1), narrow - 1, narrow, narrow + 1, int64_t(kt->nr), 2 * int64_t(kt->nr) - 3, in_place_n,
                      in_place_n + 1})
      for (int64_t m = 1; m <= 3 * int64_t(kt->mr) + 2; m += m < 2 * kt->mr + 1 ? 1 : int64_t(kt->mr))
        for (int64_t channels : {1, 3, 11}) {
          const PixelRowsProblem pr(*kt, m, n, channels, rng);
          check_single_range(*kt, m, n, pr.k, pr.a(), pr.prepacked_b(), [&](int64_t i, int64_t j) { return pr.want(i, j); });
        }
  }
}

TEST_CASE("B prepacked: a block's last rows across panels, not across a break in C's columns", "[gemm]") {
  // NHWC stacked phases: C's columns are consecutive within each phase's channels only. The rows
  // of a block past its last whole tile run across several B panels where their columns are
  // consecutive, and panel by panel elsewhere; A packed (1 channel per tap) or in place (11).
  // Also B beyond the caches (the kernel that prefetches it: K long enough, n * k > 64 Ki).
  std::mt19937 rng(23);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t MR = kt->mr, NR = kt->nr;
    for (int64_t channels : {1, 11, 700})
      for (int64_t m : {MR + 1, 2 * MR + 2, 3 * MR - 1})
        for (int64_t gap_at : {int64_t(-1), NR + 5, 2 * NR}) {
          const int64_t n = 5 * NR + 3;
          const PixelRowsProblem pr(*kt, m, n, channels, rng);
          auto cols = strided_offsets(n, 1);
          for (int64_t j = gap_at < 0 ? n : gap_at; j < n; ++j) cols[size_t(j)] += 4;
          INFO("channels=" << channels << " gap_at=" << gap_at);
          check_single_range(*kt, m, n, pr.k, pr.a(), pr.prepacked_b(), [&](int64_t i, int64_t j) { return pr.want(i, j); },
                             &cols);
        }
  }
}

TEST_CASE("Prepacked A beyond L2 against groups of B panels packed in one go", "[gemm]") {
  std::mt19937 rng(12);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    // One K-range of k_max - 1 and A over 64 Ki floats: each A tile runs against groups of
    // B panels packed together, the narrow last panel on its own.
    const int64_t k = kt->k_max - 1, m = (int64_t{1} << 16) / k + kt->mr + 1;
    for (const int64_t n : {5 * kt->nr + 3, 9 * kt->nr}) {
      const auto a = test::random_tensor(size_t(m * k), rng);
      const auto b = test::random_tensor(size_t(k * n), rng);
      const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1);
      const auto b_cols = strided_offsets(n, 1), b_rows = strided_offsets(k, n);
      AlignedBuffer packed(size_t(round_up(m, kt->mr) * k));
      kt->pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt->mr, packed.data());
      check_single_range(*kt, m, n, k, Operand{packed.data(), k, nullptr, nullptr, nullptr},
                         Operand{nullptr, 0, b.data(), b_cols.data(), b_rows.data()}, [&](int64_t i, int64_t j) {
                           double sum = 0;
                           for (int64_t kk = 0; kk < k; ++kk) sum += double(a[size_t(i * k + kk)]) * double(b[size_t(kk * n + j)]);
                           return sum;
                         });
    }
  }
}

TEST_CASE("Gathered B with many k rows megabytes apart: groups of panels packed in one go", "[gemm]") {
  // NCHW-like B: each k row an input plane far from the next (over 1 Mi floats in all), a small
  // prepacked A of more than one tile. Panels are packed in groups and each runs against all
  // of A; the narrow last panel on its own. With at most two tiles of A rows (2 * MR), whole
  // panels are read in place instead, however far apart their k rows. Unnamed source floats
  // are NaN.
  std::mt19937 rng(14);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t k = std::min<int64_t>(70, kt->k_max), row_step = (int64_t{1} << 20) / (k - 1) + 17;
    for (const int64_t m : {int64_t(61), int64_t(2 * kt->mr)})
      for (const int64_t n : {5 * kt->nr + 3, 9 * kt->nr, kt->narrow_nr}) {
        const auto a = test::random_tensor(size_t(m * k), rng);
        std::vector<float> src(size_t((k - 1) * row_step + n), NAN);
        const auto b_cols = strided_offsets(n, 1), b_rows = strided_offsets(k, row_step);
        std::uniform_real_distribution<float> d(-1, 1);
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t j = 0; j < n; ++j) src[size_t(kk * row_step + j)] = d(rng);
        const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1);
        AlignedBuffer packed(size_t(round_up(m, kt->mr) * k));
        kt->pack(a.data(), a_rows.data(), m, a_cols.data(), k, kt->mr, packed.data());
        check_single_range(*kt, m, n, k, Operand{packed.data(), k, nullptr, nullptr, nullptr},
                           Operand{nullptr, 0, src.data(), b_cols.data(), b_rows.data()}, [&](int64_t i, int64_t j) {
                             double sum = 0;
                             for (int64_t kk = 0; kk < k; ++kk)
                               sum += double(a[size_t(i * k + kk)]) * double(src[size_t(kk * row_step + j)]);
                             return sum;
                           });
      }
  }
}

TEST_CASE("gemm_parallel: bitwise identical for 1, 2 and 3 threads", "[gemm][threads]") {
  std::mt19937 rng(4);
  for (const KernelTable* kt : test::gemm_tile_tables()) {
    const int64_t m = 3 * 16 * kt->mr + 5, n = 2 * 8 * kt->nr + 7, k = 300;
    const auto a = test::random_tensor(size_t(m * k), rng), b = test::random_tensor(size_t(k * n), rng);
    const auto a_rows = strided_offsets(m, k), a_cols = strided_offsets(k, 1);
    const auto b_cols = strided_offsets(n, 1), b_rows = strided_offsets(k, n);
    const auto c_rows = strided_offsets(m, n), c_cols = strided_offsets(n, 1);
    const KRange range{0, k};
    GemmBlock blk;
    blk.m_count = m;
    blk.n_count = n;
    blk.k_ranges = &range;
    blk.k_range_count = 1;
    blk.a = Operand{nullptr, 0, a.data(), a_rows.data(), a_cols.data()};
    blk.b = Operand{nullptr, 0, b.data(), b_cols.data(), b_rows.data()};
    blk.c_row_off = c_rows.data();
    blk.c_col_off = c_cols.data();
    AlignedBuffer pack(gemm_pack_floats(*kt) * 3);
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      std::vector<float> c(size_t(m * n), NAN);
      blk.c = c.data();
      gemm_parallel(blk, *kt, pack.data(), threads);
      if (threads == 1) first = c;
      INFO(kt->gemm_name << " threads=" << threads);
      REQUIRE(c == first);
    }
  }
}

TEST_CASE("tiles_for_channels: row groups take tiles of a multiple of their rows", "[gemm]") {
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->gemm_name);
    for (int64_t group : {2, 3, 4}) {
      const ChannelDim dims[1] = {{group * 64, 1.0}};
      const KernelTable& t = tiles_for_channels(*kt, true, dims, 1, group);
      const bool any_fits = kt->mr % group == 0 || (kt->short_tile && kt->short_tile->mr % group == 0) ||
                            (kt->grouped_tile && kt->grouped_tile->mr % group == 0);
      CHECK((t.mr % group == 0) == any_fits);
      CHECK(&tiles_for_channels(*kt, false, dims, 1, group) == kt);  // channels on N: no row groups
    }
    if (kt->isa == Isa::avx512f) {  // 14 and 8 rows: groups of 3 need the 12-row tile
      const ChannelDim dims[1] = {{9 * 256, 1.0}};
      REQUIRE(kt->grouped_tile != nullptr);
      CHECK(&tiles_for_channels(*kt, true, dims, 1, 3) == kt->grouped_tile);
      CHECK(&tiles_for_channels(*kt, true, dims, 1, 1) == kt);
    }
  }
}

TEST_CASE("tiles_for_channels: the short tile only where it pads the channels clearly less", "[gemm]") {
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->gemm_name);
    auto pick = [&](bool on_m, std::initializer_list<ChannelDim> dims) {
      return &tiles_for_channels(*kt, on_m, dims.begin(), int64_t(dims.size()));
    };
    if (!kt->short_tile) {
      CHECK(pick(true, {{32, 1.0}}) == kt);
      continue;
    }
    const KernelTable* short_tile = kt->short_tile;
    REQUIRE(short_tile->mr < kt->mr);
    REQUIRE(short_tile->nr == kt->nr);
    CHECK(pick(true, {{kt->mr, 1.0}}) == kt);                                           // no padding
    CHECK(pick(true, {{std::lcm<int64_t>(kt->mr, short_tile->mr), 1.0}}) == kt);        // a tie
    // A multiple of the short tile's rows just past the default's: the short tile pads less.
    const int64_t m = round_up(kt->mr + 1, short_tile->mr);
    REQUIRE(round_up(m, kt->mr) > m);
    CHECK(pick(true, {{m, 1.0}}) == short_tile);
    // Weighted: a heavy dimension the default fits decides over a light one it pads.
    CHECK(pick(true, {{kt->mr, 100.0}, {m, 1.0}}) == kt);
    // Under 3% less padding is not worth a switch: 100 tiles' rows plus one short tile's.
    CHECK(pick(true, {{100 * kt->mr + short_tile->mr, 1.0}}) == kt);
    // Channels on N: both tiles are equally wide.
    CHECK(pick(false, {{m, 1.0}}) == kt);
    // A short tile of a lower rate must save more padding than the rate it loses.
    for (int64_t rows = short_tile->mr; rows <= 128; rows += short_tile->mr) {
      const double saved = double(rows) / double(round_up(rows, kt->mr));
      if (saved < 0.97 && saved > 0.97 * kt->short_tile_rate) CHECK(pick(true, {{rows, 1.0}}) == kt);
    }
    if (kt->isa == Isa::avx2) {
      CHECK(pick(true, {{32, 1.0}}) == kt);          // 36 rows on 6x16 beat 32 on 4x16
      CHECK(pick(true, {{8, 1.0}}) == short_tile);  // 12 rows on 6x16 do not
    }
  }
}
