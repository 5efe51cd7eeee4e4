"""Every bad input gets its exception (TypeError / ValueError, paraminit.Error for the library's own
checks, with the library's message) and leaves the tensor exactly as it was."""
import math

import numpy as np
import pytest
import torch

import paraminit as pi
from _cases import bits


def unchanged_after(t, call, exc, match):
    """call(t) raises exc matching `match`, and t's bits are those it had before."""
    before = bits(t).clone()
    with pytest.raises(exc, match=match) as info:
        call(t)
    assert torch.equal(bits(t), before), "the tensor was written before the error"
    return info.value


def sentinel(*shape, dtype=torch.float32):
    return torch.full(shape, 7.0, dtype=dtype)


# ---- tensors ---------------------------------------------------------------------------------------


def test_read_only_numpy():
    a = np.full((4, 5), 7.0, np.float32)
    a.flags.writeable = False
    unchanged_after(a, lambda t: pi.uniform_(t, seed=1), ValueError, "read-only")
    unchanged_after(a, lambda t: pi.zeros_(t), ValueError, "read-only")


def test_jax_array():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.full((4, 5), 7.0, dtype=jnp.float32)
    before = np.asarray(j).copy()
    with pytest.raises(ValueError, match="JAX array"):
        pi.normal_(j, seed=1)
    assert np.array_equal(np.asarray(j), before)


@pytest.mark.parametrize("view", ["transpose", "step", "column", "fortran"])
def test_non_contiguous(view):
    base = torch.full((6, 8), 7.0)
    v = {"transpose": lambda: base.T, "step": lambda: base[:, ::2], "column": lambda: base[:, 3],
         "fortran": lambda: base.T.contiguous().T}[view]()
    before = base.clone()
    with pytest.raises(ValueError, match="not contiguous"):
        pi.uniform_(v, seed=1)
    assert torch.equal(base, before)
    a = np.full((6, 8), 7.0, np.float32)
    for nv in [a.T, a[:, ::2], np.asfortranarray(a)]:
        unchanged_after(nv, lambda t: pi.normal_(t, seed=1), ValueError, "not contiguous")


def test_contiguous_special_cases_are_accepted():
    """Extents of 1 may carry any stride; a one-element view is contiguous whatever its strides."""
    col = torch.zeros(6, 1)
    pi.uniform_(col.T, 1.0, 2.0, seed=1)  # shape (1, 6), strides (1, 1)
    assert (col >= 1).all()
    base = torch.zeros(6, 8)
    pi.uniform_(base[2:3, 5:6], 1.0, 2.0, seed=1)  # one element, strides (8, 1)
    assert base[2, 5] >= 1 and torch.count_nonzero(base) == 1


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64,
                                   torch.float8_e4m3fn])
def test_unsupported_torch_dtype(dtype):
    t = torch.zeros(4, 5, dtype=dtype)
    unchanged_after(t, lambda x: pi.uniform_(x, seed=1), TypeError, "unsupported dtype")
    unchanged_after(t, lambda x: pi.ones_(x), TypeError, "unsupported dtype")


@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.complex128])
def test_unsupported_numpy_dtype(dtype):
    unchanged_after(np.zeros(5, dtype), lambda x: pi.normal_(x, seed=1), TypeError, "unsupported dtype")


@pytest.mark.parametrize("obj", [[1.0, 2.0], "tensor", None, 3.0, object()])
def test_not_a_tensor(obj):
    with pytest.raises(TypeError, match="expected a tensor"):
        pi.uniform_(obj, seed=1)


def test_unsupported_device():
    with pytest.raises(ValueError, match="meta"):
        pi.uniform_(torch.empty(3, 4, device="meta"), seed=1)


def test_rank_over_8():
    unchanged_after(torch.zeros([1] * 9), lambda t: pi.uniform_(t, seed=1), ValueError, "rank 9")


# ---- keys and windows --------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, exc, match", [
    (dict(seed=1, name="w", stream=3), ValueError, "not both"),
    (dict(seed=-1), ValueError, "seed = -1 is outside"),
    (dict(seed=2 ** 64), ValueError, "outside"),
    (dict(seed=1.5), TypeError, "seed must be an int"),
    (dict(seed="1"), TypeError, "seed must be an int"),
    (dict(seed=1, name=5), TypeError, "name must be a str"),
    (dict(seed=1, stream=-3), ValueError, "stream = -3"),
    (dict(seed=1, window=(0, 2)), ValueError, r"window must be \(dim, start, global_extent\)"),
    (dict(seed=1, window=5), ValueError, "window must be"),
    (dict(seed=1, window=(2, 0, 8)), ValueError, "window dim 2 is not a dimension"),
    (dict(seed=1, window=(0, 5, 8)), pi.Error, "window"),  # [5, 9) is not inside 8
    (dict(seed=1, window=(0, -1, 8)), pi.Error, "window"),
    (dict(seed=1, window=(0, 0, 3)), pi.Error, "window"),  # global extent below the window's
    (dict(seed=1, context="cpu"), TypeError, "context must be a paraminit.Context"),
])
def test_bad_keys_and_windows(kw, exc, match):
    unchanged_after(sentinel(4, 5), lambda t: pi.uniform_(t, **kw), exc, match)


def test_seed_is_required():
    # paraminit has no global seed: forgetting it is a TypeError that says so, nothing written
    unchanged_after(sentinel(3), lambda t: pi.uniform_(t), TypeError, "seed is required")
    unchanged_after(sentinel(4, 4), lambda t: pi.sparse_k_(t, 2), TypeError, "seed is required")


# ---- values: the library's own checks ----------------------------------------------------------------

BAD_CALLS = [
    ("uniform low >= high", (4, 5), lambda t: pi.uniform_(t, 1.0, 0.0, seed=1), "low = 1 must be less than high"),
    ("uniform nan", (4, 5), lambda t: pi.uniform_(t, math.nan, 1.0, seed=1), "nan|finite"),
    ("normal std < 0", (4, 5), lambda t: pi.normal_(t, 0.0, -1.0, seed=1), "std"),
    ("trunc_normal a >= b", (4, 5), lambda t: pi.trunc_normal_(t, 0.0, 1.0, 2.0, -2.0, seed=1), "low|high"),
    ("kaiming on a bias", (5,), lambda t: pi.kaiming_uniform_(t, seed=1), "rank 1"),
    ("xavier on a scalar", (), lambda t: pi.xavier_normal_(t, seed=1), "rank 0"),
    ("zero fan", (5, 0), lambda t: pi.lecun_uniform_(t, seed=1), "fan"),
    ("sparse k > fan", (4, 5), lambda t: pi.sparse_k_(t, 6, seed=1), "fan-in = 5"),
    ("sparse_ rank 3", (4, 5, 2), lambda t: pi.sparse_(t, 0.5, seed=1), "rank"),
    ("sparsity > 1", (4, 5), lambda t: pi.sparse_(t, 1.5, seed=1), "sparsity"),
    ("orthogonal rank 1", (5,), lambda t: pi.orthogonal_(t, seed=1), "rank"),
    ("delta_orthogonal in > out", (4, 8, 3, 3), lambda t: pi.delta_orthogonal_(t, seed=1), "in"),
    ("eye rank 3", (2, 3, 4), lambda t: pi.eye_(t), "rank"),
    ("dirac groups", (6, 3, 3, 3), lambda t: pi.dirac_(t, 4), "groups"),
    ("gate_bias blocks", (10,), lambda t: pi.gate_bias_(t), "multiple|block"),
    ("output_bias count", (4,), lambda t: pi.output_bias_(t, [0.5, 0.5]), "stats|element"),
    ("output_bias sum", (2,), lambda t: pi.output_bias_(t, [0.5, 0.7]), "sum"),
    ("variance <= 0", (2,), lambda t: pi.variance_parameter_(t, "variance", [1.0, -1.0]), "variance"),
    ("constant nan", (3,), lambda t: pi.constant_(t, math.nan), "nan|finite"),
    ("kaiming slope inf", (4, 5), lambda t: pi.kaiming_normal_(t, a=math.inf, seed=1), "slope|finite|inf"),
    ("orthogonal batch_dims < 0", (4, 5), lambda t: pi.orthogonal_(t, batch_dims=-1, seed=1), "batch_dims"),
    ("orthogonalize rank-deficient", (4, 3), lambda t: pi.orthogonalize_(t), "rank|deficient"),
]


@pytest.mark.parametrize("what, shape, call, match", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_library_errors(what, shape, call, match):
    # the sentinel 7 makes every column equal: orthogonalize_ sees a rank-1 matrix
    e = unchanged_after(sentinel(*shape), call, pi.Error, match)
    assert isinstance(e, ValueError) and e.status in ("invalid_argument", "numerical", "unsupported")
    assert str(e).startswith("paraminit::")


def test_constant_out_of_half_range():
    unchanged_after(sentinel(3, dtype=torch.float16), lambda t: pi.constant_(t, 1e6), pi.Error, "overflows f16")


@pytest.mark.parametrize("call, match", [
    (lambda t: pi.kaiming_uniform_(t, mode="fan_middle", seed=1), "fan_in"),  # the message lists the names
    (lambda t: pi.kaiming_normal_(t, nonlinearity="relu7", seed=1), "leaky_relu"),
    (lambda t: pi.variance_scaling_(t, distribution="cauchy", seed=1), "truncated_normal"),
    (lambda t: pi.orthogonal_(t, path="givens", seed=1), "householder"),
    (lambda t: pi.sparse_k_(t, 2, values="laplace", seed=1), "uniform"),
    (lambda t: pi.gate_bias_(t, "tf_lstm"), "torch_lstm"),
    (lambda t: pi.variance_parameter_(t, "spread"), "log_std"),
    (lambda t: pi.output_bias_(t, [1.0] * 20, "tanh"), "sigmoid"),
])
def test_unknown_names(call, match):
    unchanged_after(sentinel(4, 5), call, pi.Error, match)


@pytest.mark.parametrize("call, exc, match", [
    (lambda t: pi.fan_in_uniform_(t, 0, seed=1), ValueError, "fan_in = 0 must be > 0"),
    (lambda t: pi.xavier_uniform_(t, layout="keras", seed=1), ValueError, "unknown layout"),
    (lambda t: pi.xavier_uniform_(t, layout=(0,), seed=1), ValueError, "layout must be"),
    (lambda t: pi.xavier_uniform_(t, layout=(0, 0), seed=1), pi.Error, "same axis"),
    (lambda t: pi.xavier_uniform_(t, layout=(0, 2 ** 32 + 1), seed=1), ValueError, "not an axis"),
    (lambda t: pi.xavier_uniform_(t, layout=(0, 2), seed=1), pi.Error, "out of range"),
    (lambda t: pi.output_bias_(t, "abc"), TypeError, "stats"),
    (lambda t: pi.calculate_gain("relu", 0.5), pi.Error, "relu"),
])
def test_bad_options(call, exc, match):
    unchanged_after(sentinel(4, 5), call, exc, match)


# ---- contexts --------------------------------------------------------------------------------------


def test_bad_contexts():
    with pytest.raises(pi.Error, match="negative"):
        pi.Context.cpu(-1)
    n = pi.get_num_threads()
    with pytest.raises(pi.Error):
        pi.set_num_threads(-2)
    assert pi.get_num_threads() == n
    with pytest.raises(ValueError, match="unknown device"):
        pi.default_context("tpu")
    with pytest.raises(TypeError):
        pi.default_context(2.5)
    with pytest.raises(ValueError, match="not a CUDA ordinal"):
        pi.default_context(-1)
    if not pi.cuda_built():
        with pytest.raises(pi.Error, match="no CUDA backend") as e:
            pi.Context.cuda(0)
        assert e.value.status == "unsupported"
        with pytest.raises(pi.Error, match="no CUDA backend"):
            pi.default_context("cuda:0")
    with pytest.raises(pi.Error, match="CPU context"):
        pi.Context.cpu(1).set_stream(0)
