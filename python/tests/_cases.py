"""One table of cases shared by the bit-identity and window tests: every scheme of the C++ API, as a
`paraminit init` spec entry (tools/spec.cpp's fields) and as the Python call that must give the
same bits. Shapes are small, odd where it matters (tails of the element loops), and rectangular.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import paraminit as pi

SEED = 20240613
DTYPES = ["f32", "f64", "f16", "bf16"]


@dataclass
class Case:
    name: str  # the parameter name: the stream is key_for(SEED, name) on both sides
    shape: list
    spec: dict  # scheme and its fields, as in a spec file
    call: Callable  # call(t, **kw) with kw = seed/name/window (window only where given)
    shard: Optional[int] = None  # shard_dim: the dimension windows and --world-size split
    random: bool = True  # takes seed/name (False: constants and structural fills)
    dtypes: list = field(default_factory=lambda: list(DTYPES))


def _plain(f):
    """A non-random fill: drops seed and name, keeps window."""
    return lambda t, seed=None, name=None, **kw: f(t, **kw)


STATS6 = [0.3, 0.05, 0.5, 0.9, 0.01, 0.25]
STATS5 = [0.4, 0.3, 0.15, 0.1, 0.05]

CASES = [
    Case("uniform", [33, 47], {"scheme": "uniform", "low": -0.5, "high": 2.0},
         lambda t, **k: pi.uniform_(t, -0.5, 2.0, **k), shard=0),
    Case("uniform_default", [129], {"scheme": "uniform"}, lambda t, **k: pi.uniform_(t, **k), shard=0),
    Case("normal", [40, 37], {"scheme": "normal", "mean": 0.1, "std": 0.3},
         lambda t, **k: pi.normal_(t, 0.1, 0.3, **k), shard=1),
    Case("normal_odd", [7, 5, 3], {"scheme": "normal"}, lambda t, **k: pi.normal_(t, **k), shard=2),
    Case("trunc_normal", [41, 30], {"scheme": "trunc_normal", "mean": 0.01, "std": 0.02, "low": -0.03, "high": 0.04},
         lambda t, **k: pi.trunc_normal_(t, 0.01, 0.02, -0.03, 0.04, **k), shard=0),
    Case("trunc_normal_torch_defaults", [50, 11], {"scheme": "trunc_normal", "low": -2.0, "high": 2.0},
         lambda t, **k: pi.trunc_normal_(t, **k), shard=1),
    Case("constant", [17, 5], {"scheme": "constant", "value": 0.37}, _plain(lambda t, **k: pi.constant_(t, 0.37, **k)),
         shard=0, random=False),
    Case("zeros", [9], {"scheme": "zeros"}, _plain(pi.zeros_), shard=0, random=False),
    Case("ones", [3, 4], {"scheme": "ones"}, _plain(pi.ones_), shard=1, random=False),
    Case("relu_bias", [10], {"scheme": "relu_bias"}, _plain(pi.relu_bias_), shard=0, random=False),
    Case("lecun_uniform", [30, 20], {"scheme": "lecun_uniform"}, lambda t, **k: pi.lecun_uniform_(t, **k), shard=1),
    Case("lecun_normal", [30, 20, 3], {"scheme": "lecun_normal", "truncated": True},
         lambda t, **k: pi.lecun_normal_(t, truncated=True, **k), shard=0),
    Case("glorot_uniform", [50, 30], {"scheme": "glorot_uniform", "gain": 1.5},
         lambda t, **k: pi.xavier_uniform_(t, 1.5, **k), shard=0),
    Case("glorot_normal", [50, 30], {"scheme": "glorot_normal"}, lambda t, **k: pi.glorot_normal_(t, **k), shard=1),
    Case("xavier_normal_jax", [20, 30], {"scheme": "xavier_normal", "truncated": True, "layout": "jax"},
         lambda t, **k: pi.xavier_normal_(t, truncated=True, layout="jax", **k), shard=1),
    Case("he_uniform_sqrt5", [64, 27, 3, 3], {"scheme": "he_uniform", "a": math.sqrt(5)},
         lambda t, **k: pi.kaiming_uniform_(t, a=math.sqrt(5), **k), shard=0),
    Case("he_normal", [32, 16, 3, 3], {"scheme": "he_normal", "mode": "fan_out", "nonlinearity": "relu"},
         lambda t, **k: pi.he_normal_(t, mode="fan_out", nonlinearity="relu", **k), shard=1),
    Case("kaiming_normal_trunc", [40, 50], {"scheme": "kaiming_normal", "nonlinearity": "tanh", "truncated": True},
         lambda t, **k: pi.kaiming_normal_(t, nonlinearity="tanh", truncated=True, **k), shard=0),
    Case("kaiming_uniform_leaky", [40, 50], {"scheme": "kaiming_uniform", "negative_slope": 0.2},
         lambda t, **k: pi.he_uniform_(t, 0.2, **k), shard=1),
    Case("variance_scaling_uniform", [30, 40],
         {"scheme": "variance_scaling", "scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
         lambda t, **k: pi.variance_scaling_(t, 2.0, "fan_avg", "uniform", **k), shard=0),
    Case("variance_scaling_jax", [3, 20, 30], {"scheme": "variance_scaling", "layout": "jax"},
         lambda t, **k: pi.variance_scaling_(t, layout="jax", **k), shard=2),
    Case("variance_scaling_normal", [30, 40], {"scheme": "variance_scaling", "mode": "fan_out", "distribution": "normal"},
         lambda t, **k: pi.variance_scaling_(t, mode="fan_out", distribution="normal", **k), shard=1),
    Case("fan_in_uniform", [40, 30], {"scheme": "fan_in_uniform"}, lambda t, **k: pi.fan_in_uniform_(t, **k), shard=0),
    Case("fan_in_uniform_bias", [40], {"scheme": "fan_in_uniform", "fan_in": 30},
         lambda t, **k: pi.fan_in_uniform_(t, 30, **k), shard=0),
    Case("eye", [20, 30], {"scheme": "eye", "gain": 2.0}, _plain(lambda t, **k: pi.eye_(t, 2.0, **k)), shard=0, random=False),
    Case("dirac", [8, 3, 3, 3], {"scheme": "dirac", "groups": 2}, _plain(lambda t, **k: pi.dirac_(t, 2, **k)),
         shard=0, random=False),
    Case("sparse_k", [20, 30], {"scheme": "sparse", "k": 3, "std": 0.1, "values": "uniform"},
         lambda t, **k: pi.sparse_k_(t, 3, 0.1, values="uniform", **k), shard=1),
    Case("sparse_k_default", [20, 30, 2], {"scheme": "sparse"}, lambda t, **k: pi.sparse_k_(t, **k), shard=0),
    Case("sparse_k_axis1", [12, 20], {"scheme": "sparse", "k": 4, "unit_axis": 1},
         lambda t, **k: pi.sparse_k_(t, 4, unit_axis=1, **k), shard=0),
    Case("sparse_fraction", [30, 20], {"scheme": "sparse_fraction", "sparsity": 0.3, "std": 0.05},
         lambda t, **k: pi.sparse_(t, 0.3, 0.05, **k), shard=1),
    Case("orthogonal_tall", [40, 24], {"scheme": "orthogonal", "gain": 1.3},
         lambda t, **k: pi.orthogonal_(t, 1.3, **k), shard=0),
    Case("orthogonal_wide", [24, 40], {"scheme": "orthogonal"}, lambda t, **k: pi.orthogonal_(t, **k), shard=1),
    Case("orthogonal_batched", [3, 16, 16], {"scheme": "orthogonal", "batch_dims": 1},
         lambda t, **k: pi.orthogonal_(t, batch_dims=1, **k), shard=0),
    Case("orthogonal_cqr2", [64, 8], {"scheme": "orthogonal", "path": "cholesky_qr2"},
         lambda t, **k: pi.orthogonal_(t, path="cholesky_qr2", **k), shard=0),
    Case("delta_orthogonal", [16, 8, 3, 3], {"scheme": "delta_orthogonal", "gain": math.sqrt(2)},
         lambda t, **k: pi.delta_orthogonal_(t, math.sqrt(2), **k), shard=0),
    Case("gate_bias_gru", [2, 30], {"scheme": "gate_bias", "layout": "torch_gru", "others": 0.5},
         _plain(lambda t, **k: pi.gate_bias_(t, "torch_gru", 1.0, 0.5, **k)), shard=1, random=False),
    Case("gate_bias_lstm", [40], {"scheme": "gate_bias"}, _plain(pi.gate_bias_), shard=0, random=False),
    Case("output_bias_sigmoid", [6], {"scheme": "output_bias", "activation": "sigmoid", "stats": STATS6},
         _plain(lambda t, **k: pi.output_bias_(t, STATS6, "sigmoid", **k)), shard=0, random=False),
    Case("output_bias_softmax", [5], {"scheme": "output_bias", "centered": True, "stats": STATS5},
         _plain(lambda t, **k: pi.output_bias_(t, STATS5, centered=True, **k)), shard=0, random=False),
    Case("variance_parameter_log_std", [4], {"scheme": "variance_parameter", "kind": "log_std",
                                             "variances": [0.5, 2.0, 3.0, 0.25]},
         _plain(lambda t, **k: pi.variance_parameter_(t, "log_std", [0.5, 2.0, 3.0, 0.25], **k)), shard=0, random=False),
    Case("variance_parameter_precision", [7], {"scheme": "variance_parameter", "kind": "precision"},
         _plain(lambda t, **k: pi.variance_parameter_(t, "precision", **k)), shard=0, random=False),
]


def spec_for(dtype, cases=CASES, shard=True):
    """The `paraminit init` spec of `cases` in one dtype (with shard_dim where a case has one)."""
    params = {}
    for c in cases:
        if dtype not in c.dtypes:
            continue
        entry = {"shape": c.shape, **c.spec}
        if shard and c.shard is not None:
            entry["shard_dim"] = c.shard
        params[c.name] = entry
    return {"seed": SEED, "dtype": dtype, "parameters": params}


def torch_dtype(dtype):
    import torch

    return {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]


def numpy_dtype(dtype):
    import numpy as np

    return {"f32": np.float32, "f64": np.float64, "f16": np.float16}.get(dtype)


def bits(t):
    """The raw bits of a torch tensor or NumPy array, as a torch integer tensor."""
    import torch

    if not isinstance(t, torch.Tensor):
        import numpy as np

        t = torch.from_numpy(np.array(t, copy=True))  # a copy: also of read-only arrays
    ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}.get(t.element_size())
    if ints is None or t.is_complex():  # bytes of any other element type (bool, uint8, complex, float8)
        return t.contiguous().reshape(-1).view(torch.uint8)
    return t.contiguous().view(ints)


def assert_same_bits(got, want, what):
    import torch

    g, w = bits(got), bits(want)
    assert tuple(g.shape) == tuple(w.shape), f"{what}: shape {tuple(g.shape)} != {tuple(w.shape)}"
    if not torch.equal(g, w):
        diff = (g != w).nonzero()
        first = tuple(diff[0].tolist())
        raise AssertionError(f"{what}: {diff.shape[0]} of {g.numel()} elements differ, first at {first}")


def fill(case, t, **kw):
    """Runs the case's Python call on t with the key of its name."""
    return case.call(t, seed=SEED, name=case.name, **kw)
