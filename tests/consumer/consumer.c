/* Builds against the installed headers and library through the C API; exits 0 on success. */
#include <stdio.h>
#include <tconv/tconv.h>

int main(void) {
  tconv_params p;
  if (tconv_params_pytorch(1, 1, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, &p) != TCONV_OK) return 1;
  const float x[4] = {1, 0, 2, 1}, w[9] = {1, 0, 1, 0, 1, 1, 1, 0, 0};
  const float want[16] = {1, 0, 1, 0, 2, 2, 3, 1, 1, 2, 3, 1, 2, 1, 0, 0};
  float y[16];
  tconv_plan* plan = NULL;
  if (tconv_plan_create(&p, w, NULL, "auto", 1, &plan) != TCONV_OK) return 2;
  if (tconv_plan_execute(plan, x, y, NULL, 1) != TCONV_OK) return 3;
  for (int i = 0; i < 16; ++i)
    if (y[i] != want[i]) return 4;
  printf("consumer ok: strategy %s\n", tconv_plan_strategy(plan));
  tconv_plan_destroy(plan);
  return 0;
}
