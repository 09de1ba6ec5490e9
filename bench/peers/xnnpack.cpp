// XNNPACK peer: deconvolution2d_nhwc_f32 create/setup/run on a pthreadpool of the requested size.
// XNNPACK is NHWC-only; for NCHW layers the input is transposed once outside the timed run, and
// the output transposed back for the correctness check (also outside).
#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "peers/peer.hpp"
#include "plan/aligned_buffer.hpp"

namespace tconv::bench {
namespace {

class XnnDeconv final : public PeerInstance {
 public:
  XnnDeconv(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
            const std::vector<float>& b, int threads, uint32_t adj_h, uint32_t adj_w)
      : p_(p), pool_(pthreadpool_create(size_t(threads))) {
    const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
    const int64_t KH = p.kernel.h, KW = p.kernel.w;
    // XNNPACK kernel: [groups][Cout/g][KH][KW][Cin/g].
    std::vector<float> k(w.size());
    for (int64_t g = 0; g < p.groups; ++g)
      for (int64_t co = 0; co < cog; ++co)
        for (int64_t th = 0; th < KH; ++th)
          for (int64_t tw = 0; tw < KW; ++tw)
            for (int64_t ci = 0; ci < cig; ++ci)
              k[size_t((((g * cog + co) * KH + th) * KW + tw) * cig + ci)] =
                  w[size_t((((g * cig + ci) * cog + co) * KH + th) * KW + tw)];
    const Hw full = p.full_output();
    const int64_t pad_b = full.h + adj_h - p.output.h - p.crop.h, pad_r = full.w + adj_w - p.output.w - p.crop.w;
    xnn_status s = xnn_create_deconvolution2d_nhwc_f32(
        uint32_t(p.crop.h), uint32_t(pad_r), uint32_t(pad_b), uint32_t(p.crop.w), uint32_t(KH), uint32_t(KW),
        uint32_t(p.stride.h), uint32_t(p.stride.w), uint32_t(p.dilation.h), uint32_t(p.dilation.w),
        uint32_t(p.groups), size_t(cig), size_t(cog), size_t(p.in_channels), size_t(p.out_channels), k.data(),
        b.data(), -INFINITY, INFINITY, 0, &op_);
    if (s != xnn_status_success) throw std::runtime_error("xnn_create_deconvolution2d_nhwc_f32 failed");
    to_nhwc(x, p.in_channels, p.input.h, p.input.w);
    y_.resize(size_t(p.output_elements()));
    s = xnn_setup_deconvolution2d_nhwc_f32(op_, size_t(p.batch), size_t(p.input.h), size_t(p.input.w), adj_h, adj_w,
                                           x_nhwc_.data(), y_.data(), pool_);
    if (s != xnn_status_success) throw std::runtime_error("xnn_setup_deconvolution2d_nhwc_f32 failed");
  }
  ~XnnDeconv() override {
    if (op_) xnn_delete_operator(op_);
    pthreadpool_destroy(pool_);
  }

  void run() override { xnn_run_operator(op_, pool_); }

  std::vector<float> output() override {
    if (p_.layout == Layout::nhwc) return std::vector<float>(y_.data(), y_.data() + y_.size());
    std::vector<float> out(y_.size());
    const int64_t C = p_.out_channels, H = p_.output.h, W = p_.output.w;
    for (int64_t n = 0; n < p_.batch; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i) out[size_t((n * C + c) * H * W + i)] = y_.data()[size_t((n * H * W + i) * C + c)];
    return out;
  }

  std::string detail() const override { return "deconvolution2d_nhwc_f32 (NHWC)"; }

 private:
  // The input as XNNPACK reads it (NHWC) into x_nhwc_, 64-byte aligned like every timed tensor.
  void to_nhwc(const std::vector<float>& x, int64_t C, int64_t H, int64_t W) {
    x_nhwc_.resize(x.size());
    float* out = x_nhwc_.data();
    if (p_.layout == Layout::nhwc) {
      std::copy(x.begin(), x.end(), out);
      return;
    }
    for (int64_t n = 0; n < p_.batch; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i) out[size_t((n * H * W + i) * C + c)] = x[size_t((n * C + c) * H * W + i)];
  }

  Params p_;
  pthreadpool_t pool_;
  xnn_operator_t op_ = nullptr;
  detail::AlignedBuffer x_nhwc_, y_;
};

std::unique_ptr<PeerInstance> create(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& b, int threads, std::string* why) {
  static const bool ready = xnn_initialize(nullptr) == xnn_status_success;
  if (!ready) {
    *why = "xnn_initialize failed";
    return nullptr;
  }
  if (p.crop.h < 0 || p.crop.w < 0) {
    *why = "negative crop";
    return nullptr;
  }
  // XNNPACK lengthens the bottom/right by an adjustment < stride, then crops by its paddings.
  const Hw full = p.full_output();
  const int64_t adj_h = std::max<int64_t>(0, p.output.h + p.crop.h - full.h);
  const int64_t adj_w = std::max<int64_t>(0, p.output.w + p.crop.w - full.w);
  if (adj_h >= p.stride.h || adj_w >= p.stride.w) {
    *why = "output extends past full size by a stride or more";
    return nullptr;
  }
  std::vector<float> bias = b.empty() ? std::vector<float>(size_t(p.out_channels), 0.0f) : b;
  try {
    return std::make_unique<XnnDeconv>(p, x, w, bias, threads, uint32_t(adj_h), uint32_t(adj_w));
  } catch (const std::exception& e) {
    *why = e.what();
    return nullptr;
  }
}

}  // namespace

Peer xnnpack_peer() { return {"xnnpack", &create}; }

}  // namespace tconv::bench
