// A 64-byte aligned float buffer: packed weights, tables, workspaces.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace tconv::detail {

class AlignedBuffer {
 public:
  // huge_pages: a buffer of 1 MiB or more sits on a 2 MiB boundary and asks for transparent huge
  // pages. For packed weights, which the GEMM streams once per pixel panel: with 4 KiB pages
  // each of their pages costs a TLB walk (two-level in a virtual machine). Measured, NCHW
  // subpixel, 1 thread, min of 3 rounds: dcgan_g2 (8 MiB of weights) 9.9 -> 9.0 ms, tfgan_2
  // 13.5 -> 12.8 ms. Not for activations: huge pages made unet_up4's 20 MiB input gather slower.
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t floats, bool huge_pages = false) { resize(floats, huge_pages); }
  void resize(size_t floats, bool huge_pages = false) {
    const bool huge = huge_pages && floats * sizeof(float) >= kHugeThreshold;
    const size_t align = huge ? kHugePage : 64;
    const size_t bytes = (floats * sizeof(float) + align - 1) / align * align;
    void* p = bytes ? std::aligned_alloc(align, bytes) : nullptr;
    if (bytes && !p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where THP is off
#endif
    if (p) std::memset(p, 0, bytes);
    data_.reset(static_cast<float*>(p));
    size_ = floats;
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kHugePage = size_t(2) << 20, kHugeThreshold = size_t(1) << 20;
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

}  // namespace tconv::detail
