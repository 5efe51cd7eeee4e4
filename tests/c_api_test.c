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

  /* The scheme catalog from C. Fans of (6, 5) in PyTorch's layout: fan_in 5, fan_out 6. */
  int64_t fi = 0, fo = 0, rf = 0;
  CHECK(pi_compute_fans(&t, NULL, &fi, &fo, &rf) == PI_OK);
  CHECK(fi == 5 && fo == 6 && rf == 1);
  pi_fan_layout jax = pi_fan_layout_jax();
  CHECK(pi_compute_fans(&t, &jax, &fi, &fo, NULL) == PI_OK);
  CHECK(fi == 6 && fo == 5);
  double g = 0;
  CHECK(pi_calculate_gain("tanh", NAN, &g) == PI_OK && g == 5.0 / 3);
  CHECK(pi_calculate_gain("leaky_relu", 0.2, &g) == PI_OK && fabs(g - 1.3867504905630728) < 1e-15);
  CHECK(pi_quadrature_gain("relu", NAN, &g) == PI_OK && fabs(g - sqrt(2.0)) < 1e-12);
  CHECK(pi_calculate_gain("tanhh", NAN, &g) == PI_ERR_INVALID_ARGUMENT);
  CHECK(strstr(pi_last_error(), "unknown nonlinearity") != NULL);

  /* he_uniform(fan_in 5, relu): bound sqrt(6 / 5). */
  CHECK(pi_he_uniform(ctx, &t, key, 0.0, PI_FAN_IN, "relu", NULL) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(fabsf(w[i]) < (float)sqrt(6.0 / 5));
  CHECK(pi_he_normal(ctx, &t, key, 0.0, PI_FAN_OUT, NULL, 1, NULL) == PI_OK);
  CHECK(pi_glorot_uniform(ctx, &t, key, 1.0, NULL) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(fabsf(w[i]) < (float)sqrt(6.0 / 11));
  CHECK(pi_glorot_normal(ctx, &t, key, 2.0, 0, &jax) == PI_OK);
  CHECK(pi_lecun_uniform(ctx, &t, key, NULL) == PI_OK);
  CHECK(pi_lecun_normal(ctx, &t, key, 1, NULL) == PI_OK);
  CHECK(pi_variance_scaling(ctx, &t, key, 2.0, PI_FAN_AVG, PI_DIST_TRUNCATED_NORMAL, NULL) == PI_OK);
  CHECK(pi_variance_scaling(ctx, &t, key, -2.0, PI_FAN_AVG, PI_DIST_UNIFORM, NULL) == PI_ERR_INVALID_ARGUMENT);
  CHECK(strstr(pi_last_error(), "scale") != NULL);
  CHECK(pi_fan_in_uniform(ctx, &t, key, 0, NULL) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(fabsf(w[i]) < (float)(1 / sqrt(5.0)));

  CHECK(pi_eye(ctx, &t, 2.0) == PI_OK);
  for (int i = 0; i < 30; ++i) CHECK(w[i] == ((i / 5 == i % 5) ? 2.0f : 0.0f));
  CHECK(pi_dirac(ctx, &t, 1, 1.0) == PI_ERR_INVALID_ARGUMENT); /* rank 2 */

  float b8[8];
  const int64_t n8 = 8;
  pi_tensor bias = pi_tensor_make(b8, PI_F32, 1, &n8);
  CHECK(pi_gate_bias(ctx, &bias, PI_GATES_TORCH_LSTM, 1.0, 0.0) == PI_OK);
  for (int i = 0; i < 8; ++i) CHECK(b8[i] == ((i / 2 == 1) ? 1.0f : 0.0f)); /* i, f, g, o blocks of 2 */

  float ob[2];
  const int64_t n2 = 2;
  pi_tensor out_bias = pi_tensor_make(ob, PI_F32, 1, &n2);
  const double prior[2] = {0.25, 0.75};
  CHECK(pi_output_bias(ctx, &out_bias, prior, 2, PI_OUTPUT_SIGMOID, 0) == PI_OK);
  CHECK(ob[0] == (float)log(1.0 / 3) && ob[1] == (float)log(3.0));
  CHECK(pi_output_bias(ctx, &out_bias, prior, 3, PI_OUTPUT_SOFTMAX, 0) == PI_ERR_INVALID_ARGUMENT);
  CHECK(pi_variance_parameter(ctx, &out_bias, PI_SCALE_PRECISION, prior, 2) == PI_OK);
  CHECK(ob[0] == 4.0f && ob[1] == (float)(1 / 0.75));
  CHECK(pi_variance_parameter(ctx, &out_bias, PI_SCALE_LOG_STD, NULL, 0) == PI_OK);
  CHECK(ob[0] == 0.0f && ob[1] == 0.0f);

  /* Orthogonal: (6, 5) has orthonormal columns times the gain. */
  CHECK(pi_orthogonal(ctx, &t, key, 2.0) == PI_OK);
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) {
      double s = 0;
      for (int r = 0; r < 6; ++r) s += (double)w[r * 5 + a] * w[r * 5 + b];
      CHECK(fabs(s - (a == b ? 4.0 : 0.0)) < 1e-5);
    }
  CHECK(pi_orthogonal_ex(ctx, &t, key, 1.0, PI_ORTHO_CHOLESKY_QR2, 1) == PI_ERR_INVALID_ARGUMENT); /* rank 2 < 1 + 2 */
  CHECK(pi_orthogonal(ctx, &t, key, NAN) == PI_ERR_INVALID_ARGUMENT);
  CHECK(pi_orthogonalize(ctx, &t, 1.0) == PI_OK);
  CHECK(pi_batch_stream(7, 0) != pi_batch_stream(7, 1));
  float conv[4 * 2 * 3];
  const int64_t cshape[3] = {4, 2, 3};
  pi_tensor ct = pi_tensor_make(conv, PI_F32, 3, cshape);
  CHECK(pi_delta_orthogonal(ctx, &ct, key, 1.0, 0) == PI_OK);
  for (int i = 0; i < 24; ++i) CHECK(i % 3 == 1 || conv[i] == 0.0f);

  /* Every option of the C++ API: the orthogonal path and what the call did. */
  {
    pi_orthogonal_info info;
    memset(&info, 0x7f, sizeof info);
    CHECK(pi_orthogonal_with_info(ctx, &t, key, 1.0, PI_ORTHO_HOUSEHOLDER, 0, &info) == PI_OK);
    CHECK(info.path == PI_ORTHO_HOUSEHOLDER && info.cholesky_passes == 0 && info.orthogonality_error == -1.0);
    float hh[6 * 5];
    memcpy(hh, w, sizeof hh);
    CHECK(pi_orthogonal_ex(ctx, &t, key, 1.0, PI_ORTHO_HOUSEHOLDER, 0) == PI_OK);
    CHECK(memcmp(hh, w, sizeof hh) == 0); /* the same call without info */
    CHECK(pi_orthogonal_with_info(ctx, &t, key, 1.0, PI_ORTHO_CHOLESKY_QR, 0, &info) == PI_OK);
    CHECK(info.path != PI_ORTHO_AUTOMATIC && (info.path == PI_ORTHO_HOUSEHOLDER || info.cholesky_passes >= 1));
    CHECK(pi_orthogonal_with_info(ctx, &t, key, 1.0, PI_ORTHO_CHOLESKY_QR2, 0, NULL) == PI_OK);
    CHECK(pi_orthogonal_with_info(ctx, &t, key, 1.0, (pi_orthogonal_path)9, 0, &info) == PI_ERR_INVALID_ARGUMENT);
    CHECK(strstr(pi_last_error(), "path = 9") != NULL);
    CHECK(pi_orthogonalize_with_info(ctx, &t, 1.0, PI_ORTHO_CHOLESKY_QR2, &info) == PI_OK);
    CHECK(info.path == PI_ORTHO_HOUSEHOLDER || info.path == PI_ORTHO_CHOLESKY_QR2);
    CHECK(pi_orthogonalize_with_info(ctx, &t, 1.0, PI_ORTHO_AUTOMATIC, &info) == PI_OK);
    CHECK(info.path == PI_ORTHO_HOUSEHOLDER); /* automatic means Householder for orthogonalize */
    float conv2[4 * 2 * 3];
    pi_tensor ct2 = pi_tensor_make(conv2, PI_F32, 3, (const int64_t[3]){4, 2, 3});
    CHECK(pi_delta_orthogonal_with_info(ctx, &ct2, key, 1.0, 0, PI_ORTHO_HOUSEHOLDER, &info) == PI_OK);
    CHECK(info.path == PI_ORTHO_HOUSEHOLDER);
    CHECK(pi_delta_orthogonal_with_info(ctx, &ct2, key, 1.0, 0, (pi_orthogonal_path)-1, NULL) == PI_ERR_INVALID_ARGUMENT);
  }

  /* Sparse values and unit axis: units are the columns of (6, 5) here, k = 2 of their 6 entries. */
  {
    float sp[6 * 5], sp2[6 * 5];
    pi_tensor st = pi_tensor_make(sp, PI_F32, 2, shape), st2 = pi_tensor_make(sp2, PI_F32, 2, shape);
    CHECK(pi_sparse(ctx, &st, key, 3, 0.1) == PI_OK);
    CHECK(pi_sparse_ex(ctx, &st2, key, 3, 0.1, PI_SPARSE_NORMAL, 0) == PI_OK);
    CHECK(memcmp(sp, sp2, sizeof sp) == 0);
    CHECK(pi_sparse_ex(ctx, &st, key, 2, 0.1, PI_SPARSE_UNIFORM, -1) == PI_OK);
    for (int c = 0; c < 5; ++c) {
      int nz = 0;
      for (int r = 0; r < 6; ++r)
        if (sp[r * 5 + c] != 0.0f) {
          ++nz;
          CHECK(fabs(sp[r * 5 + c]) < sqrt(3.0) * 0.1 + 1e-6);
        }
      CHECK(nz == 2);
    }
    CHECK(pi_sparse_ex(ctx, &st, key, 2, 0.1, (pi_sparse_values)5, 0) == PI_ERR_INVALID_ARGUMENT);
    CHECK(strstr(pi_last_error(), "values = 5") != NULL);
    CHECK(pi_sparse_ex(ctx, &st, key, 2, 0.1, PI_SPARSE_NORMAL, 2) == PI_ERR_INVALID_ARGUMENT);
  }

  /* The version, and streams belong to CUDA contexts only. */
  {
    const char* v = pi_version();
    int dots = 0;
    for (const char* c = v; *c != '\0'; ++c) dots += *c == '.';
    CHECK(dots == 2 && v[0] >= '0' && v[0] <= '9');
    CHECK(pi_context_set_stream(ctx, NULL) == PI_ERR_INVALID_ARGUMENT);
    CHECK(strstr(pi_last_error(), "CPU context") != NULL);
    CHECK(pi_context_set_stream(NULL, NULL) == PI_ERR_INVALID_ARGUMENT);
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
  if (s == PI_OK) {
    CHECK(pi_context_set_stream(gpu, NULL) == PI_OK); /* the legacy default stream */
  }
  pi_context_destroy(gpu);

  pi_context_destroy(ctx);
  pi_context_destroy(NULL);
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
