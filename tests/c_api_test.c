/* The C API from C11: create a context, fill, read errors, destroy. Exits non-zero on failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paraminit/paraminit.h"

static int failures = 0;
#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                    \
    }                                                                \
  } while (0)

int main(void) {
  pi_context* ctx = NULL;
  CHECK(pi_context_create_cpu(2, &ctx) == PI_OK);
  CHECK(ctx != NULL);

  float w[6 * 5];
  const int64_t shape[2] = {6, 5};
  pi_tensor t = pi_tensor_make(w, PI_F32, 2, shape);
  const pi_key key = {1234, pi_stream_for_name("layer.weight")};
  CHECK(pi_uniform(ctx, &t, key, -0.5, 0.5) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(w[i] > -0.5f && w[i] < 0.5f);
  CHECK(strcmp(pi_last_error(), "") == 0);

  /* The same key gives the same bits; a window gives the bits of its slice. */
  float rows[2 * 5];
  const int64_t wshape[2] = {2, 5};
  pi_tensor win = pi_tensor_make(rows, PI_F32, 2, wshape);
  win.window_dim = 0;
  win.window_start = 3;
  win.global_extent = 6;
  CHECK(pi_uniform(ctx, &win, key, -0.5, 0.5) == PI_OK);
  CHECK(memcmp(rows, w + 15, sizeof rows) == 0);

  CHECK(pi_constant(ctx, &t, 0.25) == PI_OK);
  CHECK(w[29] == 0.25f);
  CHECK(pi_normal(ctx, &t, key, 0.0, 0.02) == PI_OK);
  CHECK(pi_trunc_normal(ctx, &t, key, 0.0, 0.02, -0.04, 0.04) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(w[i] >= -0.04f && w[i] <= 0.04f);

  /* Sparse: exactly 2 non-zeros in each of the 6 rows. */
  CHECK(pi_sparse(ctx, &t, key, 2, 0.1) == PI_OK);
  for (int r = 0; r < 6; ++r) {
    int nz = 0;
    for (int c = 0; c < 5; ++c) nz += w[r * 5 + c] != 0.0f;
    CHECK(nz == 2);
  }
  CHECK(pi_sparse(ctx, &t, key, 6, 0.1) == PI_ERR_INVALID_ARGUMENT); /* k > fan-in 5 */
  CHECK(pi_sparse_fraction(ctx, &t, key, 0.5, 0.1) == PI_OK);       /* ceil(3) zeros per column */
  for (int c = 0; c < 5; ++c) {
    int z = 0;
    for (int r = 0; r < 6; ++r) z += w[r * 5 + c] == 0.0f;
    CHECK(z == 3);
  }

  /* Errors: a status and a message naming the problem; nothing written. */
  w[0] = 7.0f;
  CHECK(pi_uniform(ctx, &t, key, 1.0, -1.0) == PI_ERR_INVALID_ARGUMENT);
  CHECK(strstr(pi_last_error(), "low") != NULL);
  CHECK(w[0] == 7.0f);
  CHECK(pi_normal(ctx, &t, key, 0.0, NAN) == PI_ERR_INVALID_ARGUMENT);
  CHECK(strstr(pi_last_error(), "std") != NULL);
  CHECK(pi_uniform(NULL, &t, key, 0, 1) == PI_ERR_INVALID_ARGUMENT);
  CHECK(pi_uniform(ctx, NULL, key, 0, 1) == PI_ERR_INVALID_ARGUMENT);
  pi_tensor bad = pi_tensor_make(NULL, PI_F32, 2, shape);
  CHECK(pi_constant(ctx, &bad, 1.0) == PI_ERR_INVALID_ARGUMENT);
  CHECK(strstr(pi_last_error(), "null") != NULL);
  CHECK(strcmp(pi_status_string(PI_ERR_DEVICE), "PI_ERR_DEVICE") == 0);

  uint32_t bits[3];
  CHECK(pi_philox_bits(key, 0, 3, bits) == PI_OK);
  CHECK(pi_philox_bits(key, 0, 3, NULL) == PI_ERR_INVALID_ARGUMENT);

  pi_context* gpu = NULL;
  const pi_status s = pi_context_create_cuda(0, NULL, &gpu);
  CHECK(s == PI_OK || s == PI_ERR_UNSUPPORTED || s == PI_ERR_DEVICE);
  if (s != PI_OK) CHECK(gpu == NULL && strlen(pi_last_error()) > 0);
  pi_context_destroy(gpu);

  pi_context_destroy(ctx);
  pi_context_destroy(NULL);
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
