/* example-begin c */
#include <paraminit/paraminit.h>
#include <stdio.h>

int main(void) {
  pi_context* ctx = NULL;
  if (pi_context_create_cpu(0, &ctx) != PI_OK) return 1;

  static unsigned short w[768 * 768]; /* bf16 storage */
  const int64_t shape[2] = {768, 768};
  pi_tensor t = pi_tensor_make(w, PI_BF16, 2, shape);
  pi_key key = {42, pi_stream_for_name("encoder.attn.q_proj.weight")};

  /* Glorot's normalized init, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); NULL: PyTorch's layout. */
  if (pi_glorot_uniform(ctx, &t, key, /*gain=*/1.0, NULL) != PI_OK) {
    fprintf(stderr, "paraminit: %s\n", pi_last_error());
    return 1;
  }
  /* An LSTM's gate-stacked bias (i, f, g, o; hidden 256) with the forget gate at 1. */
  static float bias[4 * 256];
  const int64_t bshape[1] = {4 * 256};
  pi_tensor b = pi_tensor_make(bias, PI_F32, 1, bshape);
  if (pi_gate_bias(ctx, &b, PI_GATES_TORCH_LSTM, 1.0, 0.0) != PI_OK) return 1;

  if (pi_uniform(ctx, &t, key, 0.5, -0.5) != PI_ERR_INVALID_ARGUMENT) return 1; /* low >= high */
  pi_context_destroy(ctx);
  return 0;
}
/* example-end c */
