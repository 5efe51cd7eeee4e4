"""The values of the Python fills: bit for bit those of the C++ API (through the independent
`paraminit init` program) for every scheme and dtype, on torch CPU tensors and NumPy arrays; and
known answers that do not come from the library (Philox's published vectors, the name hash, the
uniform grid, torch.nn.init's bounds, 5-sigma bounds on mean and std)."""
import math
import threading
import time

import numpy as np
import pytest
import torch

import paraminit as pi
from _cases import CASES, DTYPES, SEED, assert_same_bits, bits, fill, numpy_dtype, spec_for, torch_dtype

# ---- bit identity with the C++ API ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_torch_equals_cpp(cli_run, case, dtype):
    if dtype not in case.dtypes:
        pytest.skip(f"{case.name} has no {dtype} case")
    want = cli_run(spec_for(dtype, shard=False), f"all_{dtype}")[case.name]
    t = torch.full(case.shape, 7.0, dtype=torch_dtype(dtype))
    assert fill(case, t) is t
    assert_same_bits(t, want, f"{case.name} {dtype} (torch)")


@pytest.mark.parametrize("dtype", ["f32", "f64", "f16"])  # NumPy has no bfloat16
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_numpy_equals_cpp(cli_run, case, dtype):
    want = cli_run(spec_for(dtype, shard=False), f"all_{dtype}")[case.name]
    a = np.full(case.shape, 7.0, dtype=numpy_dtype(dtype))
    assert fill(case, a) is a
    assert_same_bits(a, want, f"{case.name} {dtype} (NumPy)")


def test_every_spec_scheme_is_covered():
    """The table reaches every scheme the program knows (tools/spec.cpp's kSchemeFields)."""
    import pathlib
    import re

    src = (pathlib.Path(__file__).resolve().parents[2] / "tools" / "spec.cpp").read_text()
    table = src[src.index("kSchemeFields"):src.index("};", src.index("kSchemeFields"))]
    schemes = set(re.findall(r'\{"(\w+)", \{', table))
    covered = {c.spec["scheme"] for c in CASES}
    aliases = {"xavier_uniform": "glorot_uniform", "kaiming_uniform": "he_uniform"}
    missing = {s for s in schemes if s not in covered and aliases.get(s) not in covered}
    assert not missing, f"schemes without a bit-identity case: {sorted(missing)}"


def test_stream_argument_equals_name(cli_run):
    """stream=stream_for_name(name) is the same key as name=name."""
    want = cli_run(spec_for("f32", shard=False), "all_f32")["normal"]
    t = torch.empty(40, 37)
    pi.normal_(t, 0.1, 0.3, seed=SEED, stream=pi.stream_for_name("normal"))
    assert_same_bits(t, want, "stream=")


def test_parameters_and_grad():
    """An nn.Parameter that requires grad is filled in place (torch.nn.init's use), values as a plain tensor."""
    lin = torch.nn.Linear(30, 20)
    pi.kaiming_uniform_(lin.weight, a=math.sqrt(5), seed=1, name="w")
    plain = torch.empty(20, 30)
    pi.kaiming_uniform_(plain, a=math.sqrt(5), seed=1, name="w")
    assert_same_bits(lin.weight.detach(), plain, "parameter")
    assert lin.weight.requires_grad


def test_other_memory_kinds():
    """Zero-size tensors do nothing; a scalar (rank 0) works; byte offsets (a row of a matrix) are honoured."""
    pi.uniform_(torch.empty(0, 5), seed=1)
    s = torch.zeros(())
    pi.uniform_(s, 2.0, 3.0, seed=1)
    assert 2.0 < s.item() < 3.0
    m = torch.zeros(4, 6)
    pi.normal_(m[2], seed=5, window=(0, 12, 24))  # row 2 of a flat 24: the same as elements 12..17
    flat = torch.empty(24)
    pi.normal_(flat, seed=5)
    assert_same_bits(m[2], flat[12:18], "row of a matrix")
    assert torch.count_nonzero(m[0]) == 0 and torch.count_nonzero(m[3]) == 0


def test_integer_like_arguments():
    """NumPy integers and lists work where ints and tuples are expected; the key is the same."""
    a, b = torch.empty(6, 10), torch.empty(6, 4)
    pi.xavier_uniform_(a, seed=5, name="w", layout=(-1, -2))
    pi.xavier_uniform_(b, seed=np.uint64(5), name="w", layout=[-1, -2], window=[np.int64(1), np.int32(3), 10])
    assert_same_bits(b, a[:, 3:7], "NumPy integers")


# ---- known answers independent of the library -------------------------------------------------------

M32 = 0xFFFFFFFF


def philox4x32_10(counter, key):
    """Philox4x32-10 (Salmon et al. 2011) in plain Python: the reference the library must equal."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
    return [c0, c1, c2, c3]


def test_philox_known_answers():
    # Random123's kat_vectors: counter 0, key 0
    assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert list(pi.philox_bits(0, 0, 0, 4)) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    # the library's counter layout (DESIGN.md 2): element i is word i % 4 of call (i/4 lo, hi, stream lo, hi)
    seed, stream, first = 0x0123456789ABCDEF, 0xFEDCBA9876543210, (1 << 34) + 6
    words = pi.philox_bits(seed, stream, first, 9)
    for j, w in enumerate(words):
        i = first + j
        call = philox4x32_10([(i // 4) & M32, (i // 4) >> 32, stream & M32, stream >> 32], [seed & M32, seed >> 32])
        assert int(w) == call[i % 4]


def test_uniform_is_the_symmetric_grid():
    """U(-1, 1) in f32 is w = (2m + 1 - 2^24) 2^-24, m = word >> 8 (paraminit.hpp), from the stream's words."""
    n = 1001
    t = np.empty(n, np.float32)
    pi.uniform_(t, -1.0, 1.0, seed=99, stream=7)
    m = pi.philox_bits(99, 7, 0, n).astype(np.int64) >> 8
    want = ((2 * m + 1 - (1 << 24)) * 2.0 ** -24).astype(np.float32)
    assert np.array_equal(t, want)


def fnv1a_splitmix(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 31)


@pytest.mark.parametrize("name", ["", "w", "decoder.layers.3.mlp.weight", "émbed.权重"])
def test_key_for_is_fnv1a_splitmix(name):
    assert pi.stream_for_name(name) == fnv1a_splitmix(name)
    assert pi.key_for(5, name) == (5, fnv1a_splitmix(name))


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_bounds(dtype):
    """torch.nn.init's bounds hold in every dtype: kaiming_uniform_(a=sqrt 5) is U(+-1/sqrt(fan_in)),
    xavier_uniform_ U(+-gain sqrt(6/(fan_in+fan_out))), trunc_normal_ within [a, b], uniform_ in (a, b)."""
    dt = torch_dtype(dtype)
    w = torch.empty(300, 200, dtype=dt)
    pi.kaiming_uniform_(w, a=math.sqrt(5), seed=1)
    b = 1 / math.sqrt(200)
    assert w.abs().max().item() <= b and w.abs().max().item() > 0.99 * b
    pi.xavier_uniform_(w, 2.0, seed=2)
    b = 2.0 * math.sqrt(6 / 500)
    assert w.abs().max().item() <= b and w.abs().max().item() > 0.99 * b
    pi.trunc_normal_(w, 0.0, 0.02, -0.04, 0.04, seed=3)
    assert -0.04 <= w.min().item() and w.max().item() <= 0.04
    pi.uniform_(w, 0.04, 0.05, seed=4)
    assert 0.04 < w.min().item() and w.max().item() < 0.05


def moments_within_5_sigma(x, mean, std, kurtosis):
    """Sample mean and std against the distribution's: 5 standard errors (se(mean) = std / sqrt(n);
    se(std) ~ std sqrt((kurtosis - 1) / (4 n)) by the delta method)."""
    x = np.asarray(x, np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= 5 * std / math.sqrt(n), (x.mean(), mean)
    assert abs(x.std() - std) <= 5 * std * math.sqrt((kurtosis - 1) / (4 * n)), (x.std(), std)


def test_moments_of_large_fills():
    n = 1 << 20
    t = np.empty(n, np.float32)
    pi.uniform_(t, -0.5, 2.0, seed=11)
    moments_within_5_sigma(t, 0.75, 2.5 / math.sqrt(12), 1.8)
    pi.normal_(t, 0.1, 0.3, seed=12)
    moments_within_5_sigma(t, 0.1, 0.3, 3.0)
    # N(0, 1) truncated to [-2, 2]: std 0.87962566103423978 (JAX's constant), kurtosis from its moments
    pi.trunc_normal_(t, seed=13)
    s2 = 0.87962566103423978 ** 2
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    z = math.erf(2 / math.sqrt(2))
    m4 = 3 - (2 ** 3 + 3 * 2) * 2 * phi2 / z  # E[x^4] of the truncated normal
    moments_within_5_sigma(t, 0.0, math.sqrt(s2), m4 / s2 ** 2)
    w = np.empty((1024, 1024), np.float32)
    pi.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", seed=14)
    moments_within_5_sigma(w, 0.0, math.sqrt(2 / 1024), 3.0)
    pi.variance_scaling_(w, 2.0, "fan_avg", seed=15)  # truncated normal with std sqrt(2 / 1024)
    moments_within_5_sigma(w, 0.0, math.sqrt(2 / 1024), m4 / s2 ** 2)


def test_sparse_counts():
    w = torch.empty(50, 40)
    pi.sparse_k_(w, 7, seed=3)
    assert (torch.count_nonzero(w, dim=1) == 7).all()
    pi.sparse_(w, 0.3, seed=4)  # ceil(0.3 * 50) = 15 zeros per column
    assert (torch.count_nonzero(w, dim=0) == 35).all()


def test_orthogonal_is_orthogonal():
    for shape in [(64, 32), (32, 64), (48, 48)]:
        w = torch.empty(*shape, dtype=torch.float64)
        pi.orthogonal_(w, 2.0, seed=5)
        q = w / 2.0
        g = q.T @ q if shape[0] >= shape[1] else q @ q.T
        assert torch.allclose(g, torch.eye(g.shape[0], dtype=torch.float64), atol=1e-12)


def test_orthogonalize_keeps_the_orientation():
    """orthogonalize_ gives Q of W = QR with diag(R) > 0: Q^T W is upper triangular with a positive diagonal."""
    w0 = torch.randn(40, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = w0.clone()
    assert pi.orthogonalize_(w) is w
    r = w.T @ w0
    assert torch.allclose(torch.tril(r, -1), torch.zeros_like(r), atol=1e-10)
    assert (torch.diagonal(r) > 0).all()


def test_gains_and_fans():
    assert pi.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert pi.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert pi.calculate_gain("tanh") == pytest.approx(5 / 3)
    for nl in ["linear", "sigmoid", "tanh", "relu", "selu", "conv2d"]:
        assert pi.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl))
    assert pi.quadrature_gain("relu") == pytest.approx(math.sqrt(2), rel=1e-12)
    assert pi.compute_fans((20, 10, 3, 3)) == (90, 180)
    assert pi.compute_fans(torch.empty(20, 10, 3, 3)) == (90, 180)
    assert pi.compute_fans([3, 3, 10, 20], layout="jax") == (90, 180)
    assert pi.compute_fans((4, 10, 20), layout=(-2, -1, [0])) == (10, 20)


# ---- threads, contexts and the GIL ----------------------------------------------------------------


def test_thread_count_does_not_change_bits():
    t1, t2 = torch.empty(3, 100003), torch.empty(3, 100003)
    old = pi.get_num_threads()
    try:
        pi.set_num_threads(1)
        assert pi.get_num_threads() == 1
        pi.normal_(t1, seed=8, name="x")
    finally:
        pi.set_num_threads(old)
    pi.normal_(t2, seed=8, name="x", context=pi.Context.cpu(3))
    assert_same_bits(t1, t2, "threads")


def test_contexts():
    c = pi.Context.cpu(2)
    assert not c.is_cuda and c.threads == 2 and c.device == -1 and c.stream == 0
    assert "cpu" in repr(c)
    d = pi.default_context()
    assert not d.is_cuda and d.threads == pi.get_num_threads()
    assert not pi.default_context("cpu").is_cuda
    assert pi.default_context(torch.device("cpu")).threads == d.threads


def test_gil_is_released_during_fills():
    """Another Python thread runs while a large fill does."""
    t = torch.empty(1 << 25)
    done = threading.Event()

    def work():
        pi.normal_(t, seed=1)
        done.set()

    w = threading.Thread(target=work)
    ticks = 0
    w.start()
    time.sleep(0.001)
    while not done.is_set():
        ticks += 1
    w.join()
    assert ticks > 1000, f"the main thread ran only {ticks} iterations during the fill"
    assert bits(t).abs().sum() > 0


def test_direct_call_helper():
    s = pi._core._direct_call_seconds(101)
    assert 0 < s < 1e-3


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_equals_cpu(dtype):
    """CUDA tensors: the same bits as on the CPU, on torch's current stream."""
    dt = torch_dtype(dtype)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        for case in CASES:
            if not case.random or "orthogonal" in case.name:  # orthogonal: a tolerance, not bits
                continue
            g = torch.empty(case.shape, dtype=dt, device="cuda")
            fill(case, g)
            c = torch.empty(case.shape, dtype=dt)
            fill(case, c)
            torch.cuda.current_stream().synchronize()
            assert_same_bits(g.cpu(), c, f"{case.name} {dtype} cuda")


def test_stubs_match_the_module():
    """_core.pyi names every function of the module with the same parameters, in order."""
    import ast
    import pathlib
    import re

    import paraminit._core as core

    stub = ast.parse((pathlib.Path(pi.__file__).parent / "_core.pyi").read_text())
    funcs = {f.name: f for f in stub.body if isinstance(f, ast.FunctionDef)}
    public = {n for n in dir(core) if not n.startswith("__") and callable(getattr(core, n))} - {"Context", "Error"}
    assert set(funcs) == public
    for name, f in funcs.items():
        sig = getattr(core, name).__doc__.splitlines()[0]  # nanobind: "name(a: T = d, *, b: U) -> R"
        got = [p for p in re.findall(r"[(,]\s*\*?\s*(\w+)\s*:", sig)]
        want = [a.arg for a in f.args.args + f.args.kwonlyargs]
        assert got == want, f"{name}: module {got}, stub {want}"
    assert set(pi.__all__) >= public - {"_direct_call_seconds"}
