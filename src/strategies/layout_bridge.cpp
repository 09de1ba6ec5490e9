// Tensors of one layout through a plan built for the other: chunks of images are transposed into
// the workspace, run by the inner strategy, and transposed back.
//
// Why, NCHW through NHWC: the GEMM strategies put output channels on the micro-kernel's rows in
// NCHW and pixels on them in NHWC. On small images NCHW is at its worst: input rows shorter than
// half a pixel panel make every panel span rows and images, so panels are gathered element by
// element and stored through the scatter path, while NHWC packs whole channel vectors and
// stores them whole.
// NHWC through NCHW: grouped layers of few channels per group (24 groups of 1 -> 2 channels)
// leave NHWC nothing contiguous to vectorise over, a few floats of each pixel per group, while
// NCHW direct runs each channel's rows as vectors: 4 images of 24 -> 48 channels in 24 groups,
// 31x64, k5 s2, Zen 4, 1 thread: 10.0 ms NHWC, 0.35 ms NCHW.
// The two transposes cost a pass over input and output each; where that pays is auto's call
// (auto_select.cpp), and the benchmark shows both.
#include <algorithm>

#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

// The NHWC copies of one chunk of images take about as many bytes as the weights, within these
// bounds (the upper one bounds the workspace they add). Each chunk streams the weights once,
// so layers with big weights keep big chunks (dcgan_g2, 8 MiB of weights: 16 images, 5%
// slower in 8-image chunks at 2 threads), while layers with small weights keep the copies
// in cache between the transposes and the inner plan: 8 images of 32 -> 32 channels, 57x26,
// k3 s2 (37 KiB of weights), 1 / 2 threads: 8.2-8.5 / 4.6-5.2 ms in one chunk, 6.9 / 4.0-5.1
// image by image.
constexpr int64_t kMinChunkBytes = int64_t(1) << 20, kMaxChunkBytes = int64_t(16) << 20;
// Pixels per transpose task.
constexpr int64_t kPixelsPerTask = 512;

int64_t image_floats(const Params& p) {
  return p.in_channels * p.input.h * p.input.w + p.out_channels * p.output.h * p.output.w;
}

// The most images per chunk: a divisor of the batch, so every chunk runs the same inner plan.
int64_t images_per_chunk(const Params& p) {
  const int64_t f = int64_t(sizeof(float));
  const int64_t budget_floats = std::clamp(p.weight_elements(), kMinChunkBytes / f, kMaxChunkBytes / f);
  const int64_t limit = std::max<int64_t>(1, budget_floats / std::max<int64_t>(1, image_floats(p)));
  int64_t chunk = std::min(limit, p.batch);
  while (p.batch % chunk != 0) --chunk;
  return chunk;
}

// Images [0, images) of `channels` x `pixels` from one layout into the other, in tasks of at
// most kPixelsPerTask pixels, each thread the same share on every call (parallel_for_static):
// with tasks handed out at random, the copy back into the caller's output ran no faster at 2
// threads than at 1 (linknet_up NCHW on a Zen 1, 2 threads: 0.23-0.26 ms per run, 0.11-0.14
// statically). Tasks per image a multiple of the threads, so the shares are (nearly) equal,
// except on images too small to split (fcn8_up2's 16x16 input: one task, as before).
void change_layout(const KernelTable& kt, Layout from, const float* src, float* dst, int64_t images, int64_t channels,
                   int64_t pixels, int threads) {
  const int64_t team = std::max(threads, 1);
  const int64_t tasks = (pixels + kPixelsPerTask - 1) / kPixelsPerTask;
  const int64_t tasks_per_image = pixels < team * kPixelsPerTask / 2 ? tasks : (tasks + team - 1) / team * team;
  const int64_t task_pixels = ((pixels + tasks_per_image - 1) / tasks_per_image + 15) / 16 * 16;  // whole vectors
  parallel_for_static(threads, images * tasks_per_image, [&](int64_t t, int) {
    const int64_t n = t / tasks_per_image, p0 = t % tasks_per_image * task_pixels;
    const int64_t count = std::min(task_pixels, pixels - p0);
    if (count <= 0) return;
    const float* image = src + n * channels * pixels;
    float* out = dst + n * channels * pixels;
    if (from == Layout::nchw) {
      kt.transpose(image + p0, pixels, channels, count, out + p0 * channels, channels);
    } else {
      kt.transpose(image + p0 * channels, channels, count, channels, out + p0, pixels);
    }
  });
}

class LayoutBridge final : public Strategy {
 public:
  LayoutBridge(const Problem& pr, std::unique_ptr<Strategy> (*create)(const Problem&))
      : pr_(pr), chunk_(images_per_chunk(pr.params)), inner_pr_(inner_problem(pr, chunk_)), inner_(create(inner_pr_)) {
    const Params& p = pr.params;
    in_pixels_ = p.input.h * p.input.w;
    out_pixels_ = p.output.h * p.output.w;
    x_floats_ = cache_line_floats(size_t(chunk_ * p.in_channels * in_pixels_));
    y_floats_ = cache_line_floats(size_t(chunk_ * p.out_channels * out_pixels_));
  }

  // Chunks run one per thread, each thread transposing and computing its own images, when there
  // are enough of them: a chunk's three steps each split a few images' work between the threads
  // otherwise, and small images leave them a handful of tasks per step (8 images of 32 -> 32
  // channels, 37x37, k2 s2, 4 groups: 1.50 ms at 1 thread, 1.46 at 2).
  bool chunks_per_thread(int threads) const { return threads > 1 && pr_.params.batch / chunk_ >= 2 * int64_t(threads); }

  size_t chunk_floats(int inner_threads) const {
    return x_floats_ + y_floats_ + cache_line_floats(inner_->workspace_floats(inner_threads));
  }

  // Up to `threads` threads: any count at most that may take the other mode.
  size_t workspace_floats(int threads) const override {
    size_t most = 0;
    for (int t = 1; t <= threads; ++t) most = std::max(most, chunks_per_thread(t) ? size_t(t) * chunk_floats(1) : chunk_floats(t));
    return most;
  }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    const int64_t chunks = p.batch / chunk_;
    if (chunks_per_thread(threads)) {
      parallel_for(threads, chunks, [&](int64_t c, int tid) { run_chunk(c * chunk_, x, y, ws + size_t(tid) * chunk_floats(1), 1); });
      return;
    }
    for (int64_t n0 = 0; n0 < p.batch; n0 += chunk_) run_chunk(n0, x, y, ws, threads);
  }

  std::string implementation() const override {
    return inner_->implementation() + (pr_.params.layout == Layout::nchw ? " (nchw via nhwc)" : " (nhwc via nchw)");
  }
  uint64_t executed_macs() const override { return inner_->executed_macs() * uint64_t(pr_.params.batch / chunk_); }

 private:
  // Images [n0, n0 + chunk_): copies in the inner layout, the inner plan, back.
  void run_chunk(int64_t n0, const float* x, float* y, float* ws, int threads) const {
    const Params& p = pr_.params;
    const Layout outer = p.layout, inner = inner_pr_.params.layout;
    float* x_inner = ws;
    float* y_inner = ws + x_floats_;
    const int64_t cin = p.in_channels, cout = p.out_channels;
    change_layout(*pr_.kernels, outer, x + n0 * cin * in_pixels_, x_inner, chunk_, cin, in_pixels_, threads);
    float* y_outer = y + n0 * cout * out_pixels_;
    if (outer == Layout::nchw && threads > 1) {
      // Each output row back as soon as it is final, by the thread that wrote it: a separate pass
      // read the rows from the other core's cache (or beyond), a third of linknet_up's time at 2 threads.
      const RowsBackToNchw sink(*pr_.kernels, p.output, cout, y_inner, y_outer);
      if (inner_->execute_by_rows(x_inner, y_inner, ws + x_floats_ + y_floats_, threads, sink)) return;
    }
    inner_->execute(x_inner, y_inner, ws + x_floats_ + y_floats_, threads);
    change_layout(*pr_.kernels, inner, y_inner, y_outer, chunk_, cout, out_pixels_, threads);
  }

  // One NHWC output row (OW pixels x C) into the C rows of the NCHW output.
  class RowsBackToNchw final : public OutputRowSink {
   public:
    RowsBackToNchw(const KernelTable& kt, Hw output, int64_t channels, const float* nhwc, float* nchw)
        : kt_(kt), output_(output), channels_(channels), nhwc_(nhwc), nchw_(nchw) {}
    void rows_done(int64_t n, int64_t oh_begin, int64_t oh_end) const override {
      const int64_t plane = output_.h * output_.w, pixel0 = oh_begin * output_.w;
      kt_.transpose(nhwc_ + (n * plane + pixel0) * channels_, channels_, (oh_end - oh_begin) * output_.w, channels_,
                    nchw_ + n * channels_ * plane + pixel0, plane);
    }

   private:
    const KernelTable& kt_;
    Hw output_;
    int64_t channels_;
    const float* nhwc_;
    float* nchw_;
  };

  static Problem inner_problem(const Problem& pr, int64_t chunk) {
    Problem inner = pr;
    inner.params.layout = pr.params.layout == Layout::nchw ? Layout::nhwc : Layout::nchw;
    inner.params.batch = chunk;
    return inner;
  }

  const Problem& pr_;
  int64_t chunk_;
  Problem inner_pr_;  // declared before inner_, which keeps a reference to it
  std::unique_ptr<Strategy> inner_;
  int64_t in_pixels_ = 0, out_pixels_ = 0;
  size_t x_floats_ = 0, y_floats_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> through_other_layout(const Problem& pr, std::unique_ptr<Strategy> (*create)(const Problem&)) {
  return std::make_unique<LayoutBridge>(pr, create);
}

}  // namespace tconv::detail
