// example-begin cpp
#include <paraminit/paraminit.hpp>

#include <vector>

int main() {
  namespace pi = paraminit;
  pi::Context ctx = pi::Context::cpu();  // or pi::Context::cuda(0, stream) for device memory

  // A Linear(1024 -> 4096) weight, (out, in) = (4096, 1024), and its bias.
  std::vector<float> w(4096 * 1024), b(4096);
  const pi::Key key = pi::key_for(/*seed=*/1234, "decoder.layers.3.mlp.weight");
  pi::trunc_normal(ctx, pi::TensorView::of(w.data(), pi::DType::f32, {4096, 1024}), key,
                   {/*mean=*/0.0, /*std=*/0.02, /*low=*/-0.04, /*high=*/0.04});
  pi::constant(ctx, pi::TensorView::of(b.data(), pi::DType::f32, {4096}), 0.0);

  // Tensor parallelism: rank 1 of 4 holds rows [1024, 2048) and gets exactly those rows' bits.
  std::vector<float> shard(1024 * 1024);
  pi::trunc_normal(ctx,
                   pi::TensorView::of(shard.data(), pi::DType::f32, {1024, 1024})
                       .window(/*dim=*/0, /*start=*/1024, /*global_extent=*/4096),
                   key, {0.0, 0.02, -0.04, 0.04});
  return shard[5] == w[1024 * 1024 + 5] ? 0 : 1;
}
// example-end cpp
