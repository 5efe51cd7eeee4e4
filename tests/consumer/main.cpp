#include <paraminit/paraminit.hpp>

int main() {
  float w[64];
  paraminit::Context ctx = paraminit::Context::cpu(1);
  paraminit::uniform(ctx, paraminit::TensorView::of(w, paraminit::DType::f32, {8, 8}), paraminit::key_for(1, "w"), {-1, 1});
  for (float v : w)
    if (!(v > -1 && v < 1)) return 1;
  return 0;
}
