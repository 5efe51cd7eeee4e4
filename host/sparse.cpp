// sparse() and sparse_fraction(): validation, the layout of units and fan-in positions, and the two
// backends, each with strategies that give the same elements and values (tests/sparse_test.cpp
// checks them against each other and against the per-element mask):
//   CUDA, k <= F/32: zero the view and scatter each unit's kept positions pi_u(0..k-1), one thread
//     per kept element (kernels::SparseScatter); otherwise the dense fill kernel with each element
//     deciding alone, pi_u^{-1}(j) < k (kernels::SparseGenerator).
//   CPU (cpu_sparse below): the same scatter for few kept, a zero scatter for most kept, and a
//     bitmap sweep in between that computes only the Philox calls holding kept elements.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "cuda_launch.hpp"
#include "../kernels/sparse.hpp"
#include "cpu_fill.hpp"
#include "internal.hpp"
#include "params.hpp"
#include "philox_batch.hpp"

namespace paraminit {
namespace detail {
namespace {

// Local index of global element g in the view (kernels::local_index, shared with the GPU scatter).
bool local_of(const Geometry& geo, std::uint64_t g, std::uint64_t* local) { return kernels::local_index(geo, g, local); }

#if defined(__x86_64__) && defined(__GNUC__)
#define PI_SPARSE_AVX2 1
// Feistel::forward of 16 inputs with AVX2: the rounds of two registers of 8 lanes in lock-step
// (the same integer operations as Feistel::forward_once, so the same bits), then a lane outside
// [0, F) walks its cycle alone. GCC does not vectorize Feistel::forward8's lane loop (it stays
// scalar, ~20 ns per evaluation); this runs at ~1-2 ns.
// kernels::mix32 on 8 lanes.
__attribute__((target("avx2"), always_inline)) inline __m256i mix32_avx2(__m256i v, __m256i m1, __m256i m2) {
  v = _mm256_xor_si256(v, _mm256_srli_epi32(v, 16));
  v = _mm256_mullo_epi32(v, m1);
  v = _mm256_xor_si256(v, _mm256_srli_epi32(v, 15));
  v = _mm256_mullo_epi32(v, m2);
  return _mm256_xor_si256(v, _mm256_srli_epi32(v, 16));
}
__attribute__((target("avx2"))) void feistel_forward16_avx2(const kernels::Feistel& f, const std::uint64_t* x, std::uint64_t* y) {
  alignas(32) std::uint32_t l[16], r[16];
  for (int e = 0; e < 16; ++e) {
    l[e] = static_cast<std::uint32_t>(x[e] >> f.half_bits);
    r[e] = static_cast<std::uint32_t>(x[e]) & f.half_mask;
  }
  const auto* vl = reinterpret_cast<const __m256i*>(l);
  const auto* vr = reinterpret_cast<const __m256i*>(r);
  __m256i la = _mm256_load_si256(vl), lb = _mm256_load_si256(vl + 1);
  __m256i ra = _mm256_load_si256(vr), rb = _mm256_load_si256(vr + 1);
  const __m256i mask = _mm256_set1_epi32(static_cast<int>(f.half_mask));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kMix32A)), m2 = _mm256_set1_epi32(static_cast<int>(kernels::kMix32B));
  for (int k = 0; k < kernels::Feistel::kRounds; ++k) {
    const __m256i rk = _mm256_set1_epi32(static_cast<int>(f.round_key(k)));
    const __m256i na = _mm256_xor_si256(la, _mm256_and_si256(mix32_avx2(_mm256_xor_si256(ra, rk), m1, m2), mask));
    const __m256i nb = _mm256_xor_si256(lb, _mm256_and_si256(mix32_avx2(_mm256_xor_si256(rb, rk), m1, m2), mask));
    la = ra, lb = rb, ra = na, rb = nb;
  }
  _mm256_store_si256(reinterpret_cast<__m256i*>(l), la);
  _mm256_store_si256(reinterpret_cast<__m256i*>(l) + 1, lb);
  _mm256_store_si256(reinterpret_cast<__m256i*>(r), ra);
  _mm256_store_si256(reinterpret_cast<__m256i*>(r) + 1, rb);
  for (int e = 0; e < 16; ++e) {
    std::uint64_t v = (static_cast<std::uint64_t>(l[e]) << f.half_bits) | r[e];
    while (v >= f.domain) v = f.forward_once(v);
    y[e] = v;
  }
}
#endif

// f(perm.forward(i)) for i in [i0, i1): 16 at a time with AVX2 where the CPU has it, else eight at
// a time (Feistel::forward8). The permutation's evaluations are most of the cost of the CPU paths.
template <class F>
void for_each_position(const kernels::Feistel& perm, std::uint64_t i0, std::uint64_t i1, F&& f) {
  std::uint64_t in[16], out[16];
  std::uint64_t i = i0;
#if defined(PI_SPARSE_AVX2)
  if (cpu_tier() != CpuTier::portable)
    for (; i + 16 <= i1; i += 16) {
      for (int e = 0; e < 16; ++e) in[e] = i + static_cast<std::uint64_t>(e);
      feistel_forward16_avx2(perm, in, out);
      for (int e = 0; e < 16; ++e) f(out[e]);
    }
#endif
  for (; i + 8 <= i1; i += 8) {
    for (int e = 0; e < 8; ++e) in[e] = i + static_cast<std::uint64_t>(e);
    perm.forward8(in, out);
    for (int e = 0; e < 8; ++e) f(out[e]);
  }
  for (; i < i1; ++i) f(perm.forward(i));
}

// The values of `pending` (<= kPhiloxBatch) Philox calls at arbitrary indices (calls[] is padded
// in place), by the dense fill's own vectorized loop: vals[i * E + j] is element j of call calls[i].
template <class Gen, class Out>
void value_calls(const Gen& gen, std::uint64_t* calls, unsigned pending, Out* vals) {
  for (unsigned i = pending; i < kPhiloxBatch; ++i) calls[i] = calls[0];  // padding, computed and dropped
  const CpuTier tier = cpu_tier();
  run_at_tier(tier, [&]() PI_INLINE_LAMBDA {
    alignas(64) std::uint32_t words[4 * kPhiloxBatch];
    philox_gather(tier)(gen.seed, gen.stream, calls, words);
    gen.template groups<kPhiloxBatch>(words, vals);
  });
}

// pending calls of the sweep: the kept elements (masks[i], bit j = element j) of each stored.
template <class Gen, class Out>
void store_kept_calls(const Gen& gen, std::uint64_t* calls, const unsigned* masks, unsigned pending, Out* data) {
  constexpr unsigned E = Gen::kPerCall;
  alignas(64) Out vals[kPhiloxBatch * E];
  value_calls(gen, calls, pending, vals);
  for (unsigned i = 0; i < pending; ++i)
    for (unsigned m = masks[i]; m != 0; m &= m - 1) {
      const unsigned j = static_cast<unsigned>(__builtin_ctz(m));
      data[calls[i] * E + j] = vals[i * E + j];
    }
}

// pending single elements: element elems[i] of call calls[i], stored at data[locals[i]].
template <class Gen, class Out>
void store_scattered(const Gen& gen, std::uint64_t* calls, const unsigned* elems, const std::uint64_t* locals, unsigned pending,
                     Out* data) {
  constexpr unsigned E = Gen::kPerCall;
  alignas(64) Out vals[kPhiloxBatch * E];
  value_calls(gen, calls, pending, vals);
  for (unsigned i = 0; i < pending; ++i) data[locals[i]] = vals[i * E + elems[i]];
}

template <class Gen, class Out>
void sweep_kept(const Gen& gen, const std::uint64_t* bits, Out* data, Out zero, std::uint64_t numel, std::uint64_t w0,
                std::uint64_t w1) {
  constexpr unsigned E = Gen::kPerCall, B = kPhiloxBatch;
  static_assert(64 % E == 0, "calls must not straddle bitmap words");
  std::uint64_t calls[B];
  unsigned masks[B];
  unsigned pending = 0;
  for (std::uint64_t w = w0; w < w1; ++w) {
    const std::uint64_t n = std::min<std::uint64_t>(64, numel - w * 64);
    std::fill(data + w * 64, data + w * 64 + n, zero);
    std::uint64_t keep = bits[w];
    while (keep != 0) {
      const unsigned c = static_cast<unsigned>(__builtin_ctzll(keep)) / E;  // the next call with a kept element
      calls[pending] = (w * 64) / E + c;
      masks[pending] = static_cast<unsigned>((keep >> (c * E)) & ((1u << E) - 1));
      keep &= c * E + E >= 64 ? 0 : ~std::uint64_t{0} << (c * E + E);
      if (++pending == B) store_kept_calls(gen, calls, masks, pending, data), pending = 0;
    }
  }
  if (pending != 0) store_kept_calls(gen, calls, masks, pending, data);
}

// Few kept elements (k <= F / 32): zero the view, then scatter each unit's k kept positions with
// their dense values (O(k) per unit). Most kept (k >= F / 2): the dense fill (vectorized), then
// scatter the F - k zeros at pi_u(k..F-1). In between: the dense fill, then zero the other
// positions, found by marking the kept ones in a bitmap and sweeping memory in order (so a
// column-unit layout such as torch's sparse_ is not walked column by column). The same set of
// elements and values every way.
template <class Gen, class Out>
void cpu_sparse(ThreadPool& pool, const Geometry& geo, Out* data, const Gen& gen, const kernels::SparseLayout& lay,
                std::uint64_t unit_begin, std::uint64_t unit_end) {
  using T = typename Gen::value_type;
  constexpr std::uint64_t E = Gen::kPerCall;
  Out zero;
  kernels::store(&zero, T(0));
  const std::uint64_t units = unit_end - unit_begin;
  if (lay.k * 32 <= lay.fan) {
    cpu_fill_value(pool, geo.numel, data, zero);
    if (lay.k == 0) return;
    const std::uint64_t per_task = std::max<std::uint64_t>(1, (std::uint64_t{1} << 12) / lay.k);
    pool.run(static_cast<std::int64_t>((units + per_task - 1) / per_task), [&](std::int64_t task) {
      const std::uint64_t u0 = unit_begin + static_cast<std::uint64_t>(task) * per_task;
      const std::uint64_t u1 = std::min(unit_end, u0 + per_task);
      // Kept elements are valued kPhiloxBatch at a time: their calls gathered (philox_gather), the dense
      // fill's vectorized loop over those calls, one value taken from each.
      std::uint64_t calls[kPhiloxBatch], locals[kPhiloxBatch];
      unsigned elems[kPhiloxBatch], pending = 0;
      for (std::uint64_t u = u0; u < u1; ++u) {
        const kernels::Feistel perm = lay.permutation(gen.seed, gen.stream, u);
        for_each_position(perm, 0, lay.k, [&](std::uint64_t j) {
          const std::uint64_t g = lay.global_at(u, j);
          if (!local_of(geo, g, &locals[pending])) return;
          calls[pending] = g / E;
          elems[pending] = static_cast<unsigned>(g % E);
          if (++pending == kPhiloxBatch) store_scattered(gen, calls, elems, locals, pending, data), pending = 0;
        });
      }
      if (pending != 0) store_scattered(gen, calls, elems, locals, pending, data);
    });
    return;
  }
  const bool whole = geo.runs == 1 && geo.global_base == 0 && geo.run_len == geo.global_numel;
  if (whole && 2 * lay.k < lay.fan) {
    // A bitmap of the kept elements in memory order (numel / 8 bytes), marked unit by unit, then
    // one sequential sweep that writes zeros and computes only the kept values (sweep_kept).
    // Units are marked in parallel only where tasks of 64 consecutive units touch disjoint 64-bit
    // words (no atomics, no false sharing).
    std::vector<std::uint64_t> bits((geo.numel + 63) / 64, 0);
    const bool disjoint = (lay.inner == 1 && lay.units % 64 == 0) || lay.inner % 64 == 0;
    const std::uint64_t per_task = disjoint ? 64 * std::max<std::uint64_t>(1, (std::uint64_t{1} << 8) / lay.k) : units;
    pool.run(static_cast<std::int64_t>((units + per_task - 1) / per_task), [&](std::int64_t task) {
      const std::uint64_t u0 = unit_begin + static_cast<std::uint64_t>(task) * per_task;
      const std::uint64_t u1 = std::min(unit_end, u0 + per_task);
      for (std::uint64_t u = u0; u < u1; ++u) {
        const kernels::Feistel perm = lay.permutation(gen.seed, gen.stream, u);
        for_each_position(perm, 0, lay.k, [&](std::uint64_t j) {
          const std::uint64_t g = lay.global_at(u, j);
          bits[g >> 6] |= std::uint64_t{1} << (g & 63);
        });
      }
    });
    constexpr std::uint64_t kWordsPerTask = 1024;  // 64 Ki elements
    const std::uint64_t nwords = bits.size();
    pool.run(static_cast<std::int64_t>((nwords + kWordsPerTask - 1) / kWordsPerTask), [&](std::int64_t task) {
      const std::uint64_t w0 = static_cast<std::uint64_t>(task) * kWordsPerTask;
      sweep_kept(gen, bits.data(), data, zero, geo.numel, w0, std::min(nwords, w0 + kWordsPerTask));
    });
    return;
  }
  cpu_fill(pool, geo, data, gen);
  if (lay.k == lay.fan) return;
  if (2 * lay.k >= lay.fan) {  // most kept: scatter the F - k zeros at pi_u(k), ..., pi_u(F - 1)
    const std::uint64_t per_task = std::max<std::uint64_t>(1, (std::uint64_t{1} << 12) / (lay.fan - lay.k));
    pool.run(static_cast<std::int64_t>((units + per_task - 1) / per_task), [&](std::int64_t task) {
      const std::uint64_t u0 = unit_begin + static_cast<std::uint64_t>(task) * per_task;
      const std::uint64_t u1 = std::min(unit_end, u0 + per_task);
      for (std::uint64_t u = u0; u < u1; ++u) {
        const kernels::Feistel perm = lay.permutation(gen.seed, gen.stream, u);
        for_each_position(perm, lay.k, lay.fan, [&](std::uint64_t j) {
          std::uint64_t local;
          if (local_of(geo, lay.global_at(u, j), &local)) data[local] = zero;
        });
      }
    });
    return;
  }
  // A window: per block of consecutive units, bitmaps (fan, units of the block) and a sweep of the
  // block's elements in memory order, through the window's index map.
  const std::uint64_t block = std::max<std::uint64_t>(1, std::min<std::uint64_t>(64, (std::uint64_t{1} << 20) / lay.fan));
  pool.run(static_cast<std::int64_t>((units + block - 1) / block), [&](std::int64_t task) {
    const std::uint64_t u0 = unit_begin + static_cast<std::uint64_t>(task) * block;
    const std::uint64_t u1 = std::min(unit_end, u0 + block);
    const std::uint64_t nb = u1 - u0;
    std::vector<unsigned char> keep(lay.fan * nb, 0);  // (fan, units of the block): sweep order
    for (std::uint64_t u = u0; u < u1; ++u) {
      const kernels::Feistel perm = lay.permutation(gen.seed, gen.stream, u);
      for_each_position(perm, 0, lay.k, [&](std::uint64_t j) { keep[j * nb + (u - u0)] = 1; });
    }
    // position j = jo * inner + ji of unit u  <->  global ((jo * units + u) * inner + ji)
    for (std::uint64_t jo = 0; jo < lay.fan / lay.inner; ++jo)
      for (std::uint64_t u = u0; u < u1; ++u) {
        const std::uint64_t g0 = (jo * lay.units + u) * lay.inner;
        for (std::uint64_t ji = 0; ji < lay.inner; ++ji) {
          if (keep[(jo * lay.inner + ji) * nb + (u - u0)]) continue;
          std::uint64_t local;
          if (local_of(geo, g0 + ji, &local)) data[local] = zero;
        }
      }
  });
}

}  // namespace
}  // namespace detail

void sparse(Context& c, const TensorView& t, Key key, SparseOptions o) {
  using namespace detail;
  const char* fn = "paraminit::sparse";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (t.rank < 2)
    fail(Status::invalid_argument, where(fn) + "rank " + std::to_string(t.rank) +
                                       " < 2: sparse initialization needs units and fan-in positions");
  if (o.unit_axis < -t.rank || o.unit_axis >= t.rank)
    fail(Status::invalid_argument, where(fn) + "unit_axis " + std::to_string(o.unit_axis) +
                                       " is not an axis of a rank-" + std::to_string(t.rank) + " tensor");
  const int axis = o.unit_axis < 0 ? o.unit_axis + t.rank : o.unit_axis;
  require_finite(fn, "std", o.std);
  if (!(o.std > 0)) fail(Status::invalid_argument, where(fn) + "std = " + fmt_double(o.std) + " must be positive");
  if (o.values != SparseValues::normal && o.values != SparseValues::uniform)
    fail(Status::invalid_argument, where(fn) + "values " + std::to_string(static_cast<int>(o.values)) +
                                       " is neither normal nor uniform");
  // Global extents (a window's global extent along its dimension).
  std::uint64_t inner = 1, units = 0;
  for (int d = 0; d < t.rank; ++d) {
    const auto e = static_cast<std::uint64_t>(d == t.window_dim ? t.global_extent : t.shape[d]);
    if (d == axis) units = e;
    if (d > axis) inner *= e;
  }
  const std::uint64_t fan = units == 0 ? 0 : geo.global_numel / units;
  if (o.nonzeros_per_unit < 0 || (geo.global_numel > 0 && static_cast<std::uint64_t>(o.nonzeros_per_unit) > fan))
    fail(Status::invalid_argument, where(fn) + "nonzeros_per_unit = " + std::to_string(o.nonzeros_per_unit) +
                                       " is outside [0, fan-in = " + std::to_string(fan) + "]");
  if (fan > (std::uint64_t{1} << 62))
    fail(Status::unsupported, where(fn) + "fan-in " + std::to_string(fan) + " exceeds 2^62");
  if (geo.numel == 0) return;
  kernels::SparseLayout lay{inner, units, fan, static_cast<std::uint64_t>(o.nonzeros_per_unit), 1};
  while ((std::uint64_t{1} << (2 * lay.half_bits)) < fan) ++lay.half_bits;
  const std::uint64_t unit_begin = t.window_dim == axis ? static_cast<std::uint64_t>(t.window_start) : 0;
  const std::uint64_t unit_end = t.window_dim == axis ? unit_begin + static_cast<std::uint64_t>(t.shape[axis]) : units;

  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    Out* data = static_cast<Out*>(t.data);
    auto run = [&](const auto& dense) {
#if defined(PARAMINIT_WITH_CUDA)
      if (ctx.cuda) {
        using Dense = std::decay_t<decltype(dense)>;
        if (lay.k * 32 <= lay.fan)  // few kept: zero the view, one thread per kept element
          kernels::launch_sparse_scatter<Dense, Out>(ctx.device, ctx.stream, geo, data,
                                                     kernels::SparseScatter<Dense>{dense, lay, unit_begin},
                                                     (unit_end - unit_begin) * lay.k);
        else  // each element decides alone (pi_u^{-1}(j) < k) inside the dense fill
          kernels::launch_fill<kernels::SparseGenerator<Dense>, Out>(ctx.device, ctx.stream, geo, data,
                                                                       kernels::SparseGenerator<Dense>{dense, lay});
        return;
      }
#endif
      cpu_sparse(*ctx.pool, geo, data, dense, lay, unit_begin, unit_end);
    };
    if (o.values == SparseValues::normal) {
      const auto d = make_normal<T>(fn, {0.0, o.std}, t.dtype);
      run(kernels::Generator<kernels::NormalDist<T>, T>{d, key.seed, key.stream});
    } else {
      const double a = std::sqrt(3.0) * o.std;
      const auto d = make_uniform<T>(fn, {-a, a}, t.dtype);
      run(kernels::Generator<kernels::UniformDist<T>, T>{d, key.seed, key.stream});
    }
  });
}

void sparse_fraction(Context& c, const TensorView& t, Key key, double sparsity, double std) {
  using namespace detail;
  const char* fn = "paraminit::sparse_fraction";
  if (t.rank != 2)
    fail(Status::invalid_argument, where(fn) + "rank " + std::to_string(t.rank) + " is not 2 (torch.nn.init.sparse_'s form)");
  require_finite(fn, "sparsity", sparsity);
  if (sparsity < 0 || sparsity > 1)
    fail(Status::invalid_argument, where(fn) + "sparsity = " + fmt_double(sparsity) + " is outside [0, 1]");
  const std::int64_t rows = t.window_dim == 0 ? t.global_extent : t.shape[0];
  if (rows < 0) fail(Status::invalid_argument, where(fn) + "shape[0] = " + std::to_string(rows) + " is negative");
  const auto zeros = static_cast<std::int64_t>(std::ceil(sparsity * static_cast<double>(rows)));
  SparseOptions o;
  o.nonzeros_per_unit = rows - zeros;
  o.std = std;
  o.values = SparseValues::normal;
  o.unit_axis = 1;  // units are the columns
  sparse(c, t, key, o);
}

}  // namespace paraminit
