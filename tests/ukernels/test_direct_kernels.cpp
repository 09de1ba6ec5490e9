// The direct strategy's kernels on every ISA, against plain loops: row_fma (tap groups of
// consecutive H taps, every channel count and row block, widths below, at and above a vector,
// writing or accumulating),
// chan_fma (runs of depthwise pixels with the fused epilogue), dot_taps (few-channel NHWC pixels as dot
// products along the input channels), lane_taps (the same with vectors across images), tap_sums
// (NCHW tap sums, AVX-512) and add_rows, pad_rows (writes exactly each row) and transpose (the
// NCHW <-> NHWC layout change).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "dispatch/kernel_table.hpp"
#include "epilogue/epilogue.hpp"
#include "support/test_support.hpp"

using namespace tconv;
using namespace tconv::detail;

namespace {

bool close(float got, double want) { return std::fabs(got - want) <= 1e-4 * (1.0 + std::fabs(want)); }

}  // namespace

TEST_CASE("row_fma: tap groups of consecutive H taps, every ISA", "[kernels]") {
  std::mt19937 rng(7);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t channels = 1; channels <= 4; ++channels)
      for (int64_t h_taps : {1, 2, 3, 4, 5, 9})
        for (int64_t rows : {1, 2, 3, 7, 8, 9, 17})
          for (int64_t n : {1, 5, 16, 17, 33})
            for (bool accumulate : {false, true}) {
              const int64_t groups = 1 + int64_t(rng() % 6), x_row_step = n + 11, ld = n + 3;
              // Tap group g reads rows from -(h_taps - 1) on, so tap 0 sits h_taps - 1 rows in.
              const int64_t x_rows = rows + h_taps - 1 + 2;
              const auto x = test::random_tensor(size_t(x_rows * x_row_step), rng);
              const auto w = test::random_tensor(size_t(groups * h_taps * channels), rng);
              std::vector<int64_t> off(static_cast<size_t>(groups));
              for (auto& o : off) o = (h_taps - 1 + int64_t(rng() % 3)) * x_row_step + int64_t(rng() % 11);
              // Accumulating, each output starts from what acc holds (random); past n it holds -7.
              std::vector<float> acc = test::random_tensor(size_t(rows * channels * ld), rng);
              for (int64_t i = 0; i < rows * channels; ++i)
                for (int64_t j = n; j < ld; ++j) acc[size_t(i * ld + j)] = -7.0f;
              const std::vector<float> before = acc;
              const float* x0 = x.data();
              kt->row_fma(acc.data(), ld, channels, rows, n, x0, x_row_step, off.data(), w.data(), groups, h_taps,
                          accumulate);
              bool ok = true;
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < channels; ++c)
                  for (int64_t j = 0; j < ld; ++j) {
                    const size_t at = size_t((r * channels + c) * ld + j);
                    const float got = acc[at];
                    if (j >= n) {
                      ok = ok && got == -7.0f;  // nothing written past n
                      continue;
                    }
                    double want = accumulate ? double(before[at]) : 0.0;
                    for (int64_t g = 0; g < groups; ++g)
                      for (int64_t h = 0; h < h_taps; ++h)
                        want += double(w[size_t((g * h_taps + h) * channels + c)]) *
                                double(x0[(r - h) * x_row_step + off[size_t(g)] + j]);
                    ok = ok && close(got, want);
                  }
              INFO("channels " << channels << " h_taps " << h_taps << " rows " << rows << " n " << n << " accumulate "
                               << accumulate);
              CHECK(ok);
            }
  }
}

TEST_CASE("chan_fma: runs of depthwise pixels with bias and activation, every ISA", "[kernels]") {
  // Inputs are NaN except the named elements (pixel p's channels at p * x_step + x_off[t]), and
  // outputs other than the named ones must keep their value.
  std::mt19937 rng(11);
  Epilogue relu;
  relu.activation = Activation::relu;
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t n : {1, 7, 16, 31, 60, 64, 65, 100, 120})
      for (int64_t pixels : {1, 2, 5})
        for (int64_t taps : {0, 1, 4, 9}) {
          const int64_t x_step = n + 3, out_step = 2 * n + 1, tap_step = pixels * x_step;
          std::vector<float> x(size_t(std::max<int64_t>(taps, 1) * tap_step + 2), NAN);
          std::vector<int64_t> x_off, w_off;
          for (int64_t t = 0; t < taps; ++t) {
            x_off.push_back(t * tap_step + int64_t(rng() % 3));
            w_off.push_back(int64_t(rng() % 10) * n);
          }
          std::uniform_real_distribution<float> d(-1, 1);
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t p = 0; p < pixels; ++p)
              for (int64_t c = 0; c < n; ++c) x[size_t(p * x_step + x_off[size_t(t)] + c)] = d(rng);
          const auto w = test::random_tensor(size_t(10 * n), rng);
          const auto bias = test::random_tensor(size_t(n), rng);
          std::vector<float> out(size_t(pixels * out_step), -3.0f);
          kt->chan_fma(out.data(), out_step, pixels, n, x.data(), x_step, x_off.data(), w.data(), w_off.data(), taps,
                       bias.data(), relu);
          bool ok = true;
          for (int64_t p = 0; p < pixels; ++p)
            for (int64_t c = 0; c < out_step; ++c) {
              const float got = out[size_t(p * out_step + c)];
              if (c >= n) {
                ok = ok && got == -3.0f;
                continue;
              }
              double want = bias[size_t(c)];
              for (int64_t t = 0; t < taps; ++t)
                want += double(x[size_t(p * x_step + x_off[size_t(t)] + c)]) * double(w[size_t(w_off[size_t(t)] + c)]);
              ok = ok && close(got, std::max(want, 0.0));
            }
          INFO("n " << n << " pixels " << pixels << " taps " << taps);
          CHECK(ok);
        }
  }
}

// dot_taps (lanes false) or lane_taps (lanes true: L = the vector width lanes per element) on one
// case against a plain loop. Inputs are NaN except the named elements (input channel i, lane l of
// pixel p at p * x_step + x_off[t] + i * L + l), and outputs other than the named ones (channel c,
// lane l of pixel p at p * out_step + c * L + l) must keep their value.
namespace {

// The taps come in runs of `run` reading consecutive pixels (x_off one x_step less per tap of a
// run).
bool taps_kernel_matches(const KernelTable& kt, bool lanes, int64_t cout, int64_t cin, int64_t pixels, int64_t taps,
                         int64_t run, std::mt19937& rng) {
  const int64_t L = lanes ? kt.narrow_nr : 1, out_step = (cout + 1) * L + 1;
  const int64_t x_step = (cin + 1) * L + 3, run_step = (pixels + run - 1) * x_step;
  std::vector<float> x(size_t(taps / run * run_step + 4), NAN);
  std::vector<int64_t> x_off, w_off;
  for (int64_t t = 0; t < taps; t += run) {
    const int64_t first = t / run * run_step + (run - 1) * x_step + int64_t(rng() % 3);
    for (int64_t m = 0; m < run; ++m) {
      x_off.push_back(first - m * x_step);
      w_off.push_back((t + m) * cout * cin);
    }
  }
  auto at = [&](int64_t p, int64_t t, int64_t i, int64_t l) {
    return size_t(p * x_step + x_off[size_t(t)] + i * L + l);
  };
  std::uniform_real_distribution<float> d(-1, 1);
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t i = 0; i < cin; ++i)
        for (int64_t l = 0; l < L; ++l) x[at(p, t, i, l)] = d(rng);
  const auto w = test::random_tensor(size_t(std::max<int64_t>(taps, 1) * cout * cin), rng);
  std::vector<float> out(size_t(pixels * out_step), -3.0f);
  if (lanes)
    kt.lane_taps(out.data(), out_step, pixels, cout, x.data(), x_step, x_off.data(), w.data(), w_off.data(), taps, run, cin);
  else
    kt.dot_taps(out.data(), out_step, pixels, cout, x.data(), x_step, x_off.data(), w.data(), w_off.data(), taps, run, cin);
  bool ok = true;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t j = 0; j < out_step; ++j) {
      const float got = out[size_t(p * out_step + j)];
      const int64_t c = j / L, l = j % L;
      if (c >= cout) {
        ok = ok && got == -3.0f;
        continue;
      }
      double want = 0;
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t i = 0; i < cin; ++i)
          want += double(x[at(p, t, i, l)]) * double(w[size_t(w_off[size_t(t)] + c * cin + i)]);
      ok = ok && close(got, want);
    }
  return ok;
}

}  // namespace

TEST_CASE("dot_taps: runs of pixels x 1-4 channels, dot products along the input channels, every ISA",
          "[kernels]") {
  std::mt19937 rng(17);
  for (const KernelTable* kt : test::kernel_tables())
    for (int64_t cout = 1; cout <= 4; ++cout)
      for (int64_t cin : {1, 3, 8, 16, 17, 40, 64})
        for (int64_t pixels = 1; pixels <= 25; ++pixels)  // every block size, and up to three blocks
          for (int64_t taps : {0, 1, 3}) {
            INFO(kt->isa_name << " cout " << cout << " cin " << cin << " pixels " << pixels << " taps " << taps);
            CHECK(taps_kernel_matches(*kt, false, cout, cin, pixels, taps, 1, rng));
          }
}

TEST_CASE("lane_taps: runs of pixels x 1-4 channels, vectors across images, every ISA", "[kernels]") {
  std::mt19937 rng(19);
  for (const KernelTable* kt : test::kernel_tables())
    for (int64_t cout = 1; cout <= 4; ++cout)
      for (int64_t cin : {1, 3, 8, 17})
        for (int64_t pixels = 1; pixels <= 25; ++pixels)  // every block size, and up to three blocks
          for (int64_t taps : {0, 1, 3}) {
            INFO(kt->isa_name << " cout " << cout << " cin " << cin << " pixels " << pixels << " taps " << taps);
            CHECK(taps_kernel_matches(*kt, true, cout, cin, pixels, taps, 1, rng));
          }
}

TEST_CASE("dot_taps and lane_taps: runs of W taps over consecutive input pixels (each input loaded once per run)",
          "[kernels]") {
  std::mt19937 rng(23);
  for (const KernelTable* kt : test::kernel_tables())
    for (bool lanes : {false, true})
      for (int64_t run = 2; run <= 5; ++run)
        for (int64_t cout : {1, 2})
          for (int64_t cin : {1, 2, 3, 5, 8, 17, 40})
            for (int64_t pixels = 1; pixels <= 17; ++pixels)
              for (int64_t runs : {0, 1, 3}) {
                INFO(kt->isa_name << (lanes ? " lane_taps" : " dot_taps") << " run " << run << " cout " << cout
                                  << " cin " << cin << " pixels " << pixels << " runs " << runs);
                CHECK(taps_kernel_matches(*kt, lanes, cout, cin, pixels, runs * run, run, rng));
              }
}

TEST_CASE("tap_sums: channel sums of a row's pixels added at each tap's offset (AVX-512 only)", "[kernels]") {
  // Tap counts below, at and above a register block (24) and uneven splits of them, rows of a
  // partial vector, one, and several, with and without the prefetch. Each tap's whole vectors
  // land in a region of their own (the lanes past the row add zero); nothing else is written,
  // and x is allocated to end where its last row does (ASan in CI checks no read goes past).
  std::mt19937 rng(61);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    if (kt->tap_sums == nullptr) {
      CHECK(kt->isa != Isa::avx512f);
      continue;
    }
    const int64_t W = kt->narrow_nr;
    for (int64_t taps : {1, 5, 24, 25, 49, 60})
      for (int64_t pixels : {1, 7, 16, 17, 40})
        for (int64_t channels : {1, 3, 16})
          for (int64_t prefetch : {int64_t{0}, int64_t{97}}) {
            const int64_t x_step = pixels + 5, w_step = taps + 3, padded = (pixels + W - 1) / W * W;
            const int64_t region = padded + 4, shift = 2;
            const auto x = test::random_tensor(size_t((channels - 1) * x_step + pixels), rng);
            const auto w = test::random_tensor(size_t(channels * w_step), rng);
            const auto init = test::random_tensor(size_t(shift + taps * region + 8), rng);
            std::vector<int64_t> off(static_cast<size_t>(taps));
            for (int64_t t = 0; t < taps; ++t) off[size_t(t)] = (taps - 1 - t) * region;  // descending: any order
            std::vector<float> out = init;
            kt->tap_sums(x.data(), x_step, channels, pixels, w.data(), w_step, taps, out.data(), shift, off.data(),
                         prefetch);
            bool ok = true;
            for (size_t e = 0; e < out.size(); ++e) {
              double want = init[e];
              const int64_t at = int64_t(e) - shift;
              if (at >= 0 && at < taps * region && at % region < padded) {
                const int64_t t = taps - 1 - at / region, i = at % region;
                for (int64_t c = 0; c < channels && i < pixels; ++c)
                  want += double(w[size_t(c * w_step + t)]) * x[size_t(c * x_step + i)];
              }
              ok = ok && close(out[e], want);
            }
            INFO("taps " << taps << " pixels " << pixels << " channels " << channels << " prefetch " << prefetch);
            CHECK(ok);
          }
  }
}

TEST_CASE("add_rows: rows at offsets summed in order, every ISA", "[kernels]") {
  std::mt19937 rng(67);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t rows = 0; rows <= 3; ++rows)
      for (int64_t len : {1, 15, 16, 17, 40}) {
        const auto base = test::random_tensor(size_t(200), rng);
        std::vector<int64_t> off;
        for (int64_t r = 0; r < rows; ++r) off.push_back(std::uniform_int_distribution<int64_t>(0, 200 - len)(rng));
        std::vector<float> out(size_t(len + 8), -3.0f);
        kt->add_rows(base.data(), off.data(), rows, len, out.data());
        bool ok = true;
        for (int64_t i = 0; i < len + 8; ++i) {
          float want = 0.0f;  // the same additions in the same order: exact
          for (int64_t r = 0; r < rows && i < len; ++r) want += base[size_t(off[size_t(r)] + i)];
          ok = ok && out[size_t(i)] == (i < len ? want : -3.0f);
        }
        INFO("rows " << rows << " len " << len);
        CHECK(ok);
      }
  }
}

TEST_CASE("pad_rows: zero columns either side, nothing outside each row", "[kernels]") {
  std::mt19937 rng(13);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t n : {1, 5, 14, 16, 17, 40})
      for (int64_t pad_left : {0, 1, 2, 17})
        for (int64_t pad_right : {0, 3, 20}) {
          const int64_t rows = 5, src_step = n + 2, total = pad_left + n + pad_right, dst_step = total + 4;
          const auto src = test::random_tensor(size_t(rows * src_step), rng);
          std::vector<float> dst(size_t(rows * dst_step + 8), -5.0f);
          kt->pad_rows(src.data(), src_step, rows, n, pad_left, total, dst.data(), dst_step);
          bool ok = true;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < dst_step; ++i) {
              const float got = dst[size_t(r * dst_step + i)];
              const bool data = i >= pad_left && i < pad_left + n;
              const float want = i >= total ? -5.0f : data ? src[size_t(r * src_step + i - pad_left)] : 0.0f;
              ok = ok && got == want;
            }
          INFO("n " << n << " pad_left " << pad_left << " pad_right " << pad_right);
          CHECK(ok);
        }
  }
}

TEST_CASE("transpose: blocks of every vector width and the edges, nothing outside the matrix", "[kernels]") {
  std::mt19937 rng(31);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t rows : {1, 2, 3, 4, 8, 15, 16, 17, 37})
      for (int64_t cols : {1, 4, 7, 8, 16, 31, 33})
        // 0: contiguous destination rows (2-4 rows: interleaved in registers); 4101: destination
        // rows far apart (another loop order)
        for (int64_t dst_gap : {0, 5, 4101}) {
          const int64_t src_ld = cols + 3, dst_ld = rows + dst_gap;
          const auto src = test::random_tensor(size_t(rows * src_ld), rng);
          std::vector<float> dst(size_t(cols * dst_ld), -7.0f);
          kt->transpose(src.data(), src_ld, rows, cols, dst.data(), dst_ld);
          int64_t first_bad = -1;
          for (int64_t e = 0; e < cols * dst_ld && first_bad < 0; ++e) {
            const int64_t j = e / dst_ld, i = e % dst_ld;
            if (dst[size_t(e)] != (i < rows ? src[size_t(i * src_ld + j)] : -7.0f)) first_bad = e;
          }
          INFO("rows=" << rows << " cols=" << cols << " dst_ld=" << dst_ld << " first wrong element (j, i) = ("
                       << first_bad / dst_ld << ", " << first_bad % dst_ld << ")");
          REQUIRE(first_bad == -1);
        }
  }
}

TEST_CASE("interleave_phase_rows: stride-s phase rows back in output order, nothing at or past the row", "[kernels]") {
  std::mt19937 rng(53);
  for (const KernelTable* kt : test::kernel_tables()) {
    INFO(kt->isa_name);
    for (int64_t s = 1; s <= 17; ++s)
      for (int64_t width : {1, 7, 16, 31, 47, 64, 100, 257, 300}) {
        // Phase r holds outputs r, r + s, ... (none when r >= width), each row padded with NaN.
        std::vector<std::vector<float>> rows(static_cast<size_t>(s));
        std::vector<const float*> phase;
        for (int64_t r = 0; r < s; ++r) {
          const int64_t count = r < width ? (width - r + s - 1) / s : 0;
          rows[size_t(r)] = test::random_tensor(size_t(count), rng);
          rows[size_t(r)].resize(size_t(count + 32), NAN);
          phase.push_back(rows[size_t(r)].data());
        }
        std::vector<float> out(size_t(width + 32), -7.0f);
        const int64_t done = kt->interleave_phase_rows(phase.data(), s, width, out.data());
        INFO("s=" << s << " width=" << width << " done=" << done);
        CHECK(done >= 0);
        CHECK(done <= width);
        CHECK(done % std::max<int64_t>(s, 1) == 0);
        const int64_t w = kt->narrow_nr;  // vector width
        if (s < 2 || s > w || width < w * s) CHECK(done == 0);  // no block of w outputs per phase fits
        // Once a block fits, a last one overlapping the one before leaves less than a vector.
        else if (width >= w * s + w - s) CHECK(width - done < w);
        bool ok = true;
        for (int64_t o = 0; o < done; ++o) ok = ok && out[size_t(o)] == rows[size_t(o % s)][size_t(o / s)];
        for (int64_t o = width; o < width + 32; ++o) ok = ok && out[size_t(o)] == -7.0f;  // nothing past the row
        CHECK(ok);
      }
  }
}
