// oneDNN peer: deconvolution_forward (forward inference, deconvolution_direct) with bias.
//   onednn       - format_tag::any: oneDNN's preferred blocked layouts; the input and weight
//                  reorders happen once, outside the timed run (its best case).
//   onednn_plain - plain NCHW/NHWC tensors and PyTorch-layout weights; whatever oneDNN does
//                  inside is timed (what a framework passing plain tensors gets).
// oneDNN runs on OpenMP: the thread count is set with omp_set_num_threads before the primitive is
// created (oneDNN sizes its work split then) and before each run.
#include <omp.h>

#include <dnnl.hpp>

#include <stdexcept>
#include <string>

#include "peers/peer.hpp"

namespace tconv::bench {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

class OnednnDeconv final : public PeerInstance {
 public:
  OnednnDeconv(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
               const std::vector<float>& b, int threads, bool blocked)
      : p_(p), threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    // oneDNN fixes its work split (and the OpenMP team size it will ask for) when the primitive
    // descriptor is created, from omp_get_max_threads(): set the count before, not only at run.
    omp_set_num_threads(threads_);
    const Hw full = p.full_output();
    const dnnl::memory::dims src_dims{p.batch, p.in_channels, p.input.h, p.input.w};
    const dnnl::memory::dims dst_dims{p.batch, p.out_channels, p.output.h, p.output.w};
    const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
    const bool grouped = p.groups > 1;
    const dnnl::memory::dims w_dims = grouped ? dnnl::memory::dims{p.groups, cog, cig, p.kernel.h, p.kernel.w}
                                              : dnnl::memory::dims{p.out_channels, p.in_channels, p.kernel.h, p.kernel.w};
    const tag plain = p.layout == Layout::nchw ? tag::nchw : tag::nhwc;
    const tag w_plain = grouped ? tag::giohw : tag::iohw;  // PyTorch [Cin][Cout/g][KH][KW]
    const dnnl::memory::desc src_plain(src_dims, dt::f32, plain), dst_plain(dst_dims, dt::f32, plain);
    const dnnl::memory::desc w_user(w_dims, dt::f32, w_plain), b_md({p.out_channels}, dt::f32, tag::x);
    const dnnl::memory::desc src_md = blocked ? dnnl::memory::desc(src_dims, dt::f32, tag::any) : src_plain;
    const dnnl::memory::desc dst_md = blocked ? dnnl::memory::desc(dst_dims, dt::f32, tag::any) : dst_plain;
    const dnnl::memory::desc w_md = blocked ? dnnl::memory::desc(w_dims, dt::f32, tag::any) : w_user;
    // oneDNN counts dilation from 0; its right padding may be negative (output_padding).
    const dnnl::memory::dims strides{p.stride.h, p.stride.w}, dil{p.dilation.h - 1, p.dilation.w - 1};
    const dnnl::memory::dims pad_l{p.crop.h, p.crop.w};
    const dnnl::memory::dims pad_r{full.h - p.output.h - p.crop.h, full.w - p.output.w - p.crop.w};
    dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                        src_md, w_md, b_md, dst_md, strides, dil, pad_l, pad_r);
    pd_ = dnnl::deconvolution_forward::primitive_desc(d, engine_);
    // oneDNN's reference kernels are its last resort (scalar loops: minutes on large layers);
    // timing them says nothing about oneDNN's optimised paths, so such layers are not run.
    if (std::string(pd_.impl_info_str()).rfind("ref", 0) == 0) {
      throw std::runtime_error(std::string("oneDNN has only its reference implementation (") + pd_.impl_info_str() +
                               ") for this layer");
    }
    prim_ = dnnl::deconvolution_forward(pd_);
    // Inputs in the primitive's formats, prepared once.
    dnnl::memory x_user(src_plain, engine_, const_cast<float*>(x.data()));
    dnnl::memory w_mem_user(w_user, engine_, const_cast<float*>(w.data()));
    src_ = reorder_to(x_user, pd_.src_desc());
    wei_ = reorder_to(w_mem_user, pd_.weights_desc());
    bias_ = dnnl::memory(b_md, engine_);
    std::copy(b.begin(), b.end(), static_cast<float*>(bias_.get_data_handle()));
    dst_ = dnnl::memory(pd_.dst_desc(), engine_);
    dst_plain_md_ = dst_plain;
    scratch_ = dnnl::memory(pd_.scratchpad_desc(), engine_);
  }

  void run() override {
    omp_set_num_threads(threads_);
    prim_.execute(stream_, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_BIAS, bias_},
                            {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCRATCHPAD, scratch_}});
    stream_.wait();
  }

  std::vector<float> output() override {
    std::vector<float> out(size_t(p_.output_elements()));
    dnnl::memory plain(dst_plain_md_, engine_, out.data());
    dnnl::reorder(dst_, plain).execute(stream_, dst_, plain);
    stream_.wait();
    return out;
  }

  std::string detail() const override { return pd_.impl_info_str(); }
  size_t workspace_bytes() const override { return pd_.scratchpad_desc().get_size(); }

 private:
  dnnl::memory reorder_to(dnnl::memory& from, const dnnl::memory::desc& md) {
    if (from.get_desc() == md) {
      dnnl::memory copy(md, engine_);
      std::copy_n(static_cast<const float*>(from.get_data_handle()), md.get_size() / sizeof(float),
                  static_cast<float*>(copy.get_data_handle()));
      return copy;
    }
    dnnl::memory to(md, engine_);
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
    return to;
  }

  Params p_;
  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::deconvolution_forward::primitive_desc pd_;
  dnnl::deconvolution_forward prim_;
  dnnl::memory src_, wei_, bias_, dst_, scratch_;
  dnnl::memory::desc dst_plain_md_;
};

std::unique_ptr<PeerInstance> create(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& b, int threads, std::string* why, bool blocked) {
  if (p.crop.h < 0 || p.crop.w < 0) {
    *why = "negative crop";
    return nullptr;
  }
  try {
    return std::make_unique<OnednnDeconv>(p, x, w, b, threads, blocked);
  } catch (const dnnl::error& e) {
    *why = std::string("oneDNN: ") + e.what();
    return nullptr;
  } catch (const std::runtime_error& e) {
    *why = e.what();
    return nullptr;
  }
}

}  // namespace

Peer onednn_peer() {
  return {"onednn", [](const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, int threads, std::string* why) {
            return create(p, x, w, b, threads, why, true);
          }};
}

Peer onednn_plain_peer() {
  return {"onednn_plain", [](const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, int threads, std::string* why) {
            return create(p, x, w, b, threads, why, false);
          }};
}

}  // namespace tconv::bench
