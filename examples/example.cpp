// example-begin cpp
#include <paraminit/paraminit.hpp>

#include <vector>

int main() {
  namespace pi = paraminit;
  pi::Context ctx = pi::Context::cpu();  // or pi::Context::cuda(0, stream) for device memory

  // A Linear(1024 -> 4096) as PyTorch initializes it: weight (out, in) = (4096, 1024) by
  // kaiming_uniform(a = sqrt 5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in.
  std::vector<float> w(4096 * 1024), b(4096);
  const pi::TensorView wv = pi::TensorView::of(w.data(), pi::DType::f32, {4096, 1024});
  pi::HeOptions he;
  he.negative_slope = 2.2360679774997896;  // sqrt(5)
  pi::kaiming_uniform(ctx, wv, pi::key_for(/*seed=*/1234, "mlp.fc1.weight"), he);
  pi::fan_in_uniform(ctx, pi::TensorView::of(b.data(), pi::DType::f32, {4096}),
                     pi::key_for(1234, "mlp.fc1.bias"), {/*fan_in=*/pi::compute_fans(wv).fan_in});

  // A GPT-style projection: N(0, 0.02^2) truncated at +-2 std, in absolute units.
  std::vector<float> proj(1024 * 4096);
  const pi::Key key = pi::key_for(1234, "mlp.fc2.weight");
  pi::trunc_normal(ctx, pi::TensorView::of(proj.data(), pi::DType::f32, {1024, 4096}), key,
                   {/*mean=*/0.0, /*std=*/0.02, /*low=*/-0.04, /*high=*/0.04});

  // Tensor parallelism: rank 1 of 4 holds columns [1024, 2048) and gets exactly their bits.
  std::vector<float> shard(1024 * 1024);
  pi::trunc_normal(ctx,
                   pi::TensorView::of(shard.data(), pi::DType::f32, {1024, 1024})
                       .window(/*dim=*/1, /*start=*/1024, /*global_extent=*/4096),
                   key, {0.0, 0.02, -0.04, 0.04});
  return shard[5 * 1024 + 7] == proj[5 * 4096 + 1024 + 7] ? 0 : 1;
}
// example-end cpp
