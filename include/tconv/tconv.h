/* tconv C API: the same plans as the C++ API (tconv.hpp), for FFI users. No C++ exception
 * crosses this interface: every call returns a status, and tconv_last_error() returns the
 * message of the calling thread's last failure. */
#ifndef TCONV_TCONV_H
#define TCONV_TCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tconv_status {
  TCONV_OK = 0,
  TCONV_INVALID_ARGUMENT = 1,
  TCONV_OUT_OF_MEMORY = 2,
  TCONV_INTERNAL_ERROR = 3
} tconv_status;

typedef enum tconv_layout { TCONV_NCHW = 0, TCONV_NHWC = 1 } tconv_layout;
typedef enum tconv_weight_layout { TCONV_WEIGHTS_PYTORCH = 0, TCONV_WEIGHTS_TENSORFLOW = 1 } tconv_weight_layout;
typedef enum tconv_activation {
  TCONV_ACT_NONE = 0,
  TCONV_ACT_RELU = 1,
  TCONV_ACT_LEAKY_RELU = 2,
  TCONV_ACT_CLAMP = 3,
  TCONV_ACT_TANH = 4,
  TCONV_ACT_SIGMOID = 5
} tconv_activation;

/* The crop model (see tconv.hpp). Fill it directly or with tconv_params_pytorch(). */
typedef struct tconv_params {
  int64_t batch, in_channels, out_channels;
  int64_t input_h, input_w;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t dilation_h, dilation_w;
  int64_t groups;
  int64_t crop_top, crop_left;
  int64_t output_h, output_w;
  /* Plain integers, not the enum types, so that any value a foreign caller passes is
   * representable and rejected with an error rather than being undefined behaviour. */
  int32_t layout;        /* a tconv_layout */
  int32_t weight_layout; /* a tconv_weight_layout */
  int32_t has_bias;
  int32_t activation;    /* a tconv_activation */
  float alpha, clamp_min, clamp_max;
} tconv_params;

typedef struct tconv_plan tconv_plan;

/* torch.nn.ConvTranspose2d arguments -> params (NCHW, PyTorch weights, no activation). */
tconv_status tconv_params_pytorch(int64_t batch, int64_t in_channels, int64_t out_channels,
                                  int64_t input_h, int64_t input_w, int64_t kernel_h,
                                  int64_t kernel_w, int64_t stride_h, int64_t stride_w,
                                  int64_t padding_h, int64_t padding_w, int64_t output_padding_h,
                                  int64_t output_padding_w, int64_t dilation_h, int64_t dilation_w,
                                  int64_t groups, int bias, tconv_params* out);

/* strategy: a registered name or "auto" (NULL means "auto"); max_threads: 0 = all hardware threads.
   "auto" consults the wisdom file named by the TCONV_WISDOM environment variable, if set. */
tconv_status tconv_plan_create(const tconv_params* params, const float* weights, const float* bias,
                               const char* strategy, int max_threads, tconv_plan** out_plan);
void tconv_plan_destroy(tconv_plan* plan);
tconv_status tconv_plan_execute(const tconv_plan* plan, const float* input, float* output,
                                void* workspace, int threads);
size_t tconv_plan_workspace_bytes(const tconv_plan* plan);
/* dims[4]: N, C, H, W for NCHW or N, H, W, C for NHWC. */
tconv_status tconv_plan_output_shape(const tconv_plan* plan, int64_t dims[4]);
/* Valid until the plan is destroyed. */
const char* tconv_plan_strategy(const tconv_plan* plan);
const char* tconv_plan_implementation(const tconv_plan* plan);
/* Why this strategy: the heuristic's rule or the wisdom entry used ("requested" if named). */
const char* tconv_plan_reason(const tconv_plan* plan);
uint64_t tconv_plan_useful_macs(const tconv_plan* plan);

/* The calling thread's last error message ("" if none). */
const char* tconv_last_error(void);
const char* tconv_version(void);

#ifdef __cplusplus
}
#endif

#endif /* TCONV_TCONV_H */
