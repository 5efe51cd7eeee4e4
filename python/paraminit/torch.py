"""paraminit for torch.nn modules: whole-module init by qualified name, sharded with no communication.

``init_module(module, seed)`` fills every parameter of a module (and the buffers PyTorch's
``reset_parameters`` / ``reset_running_stats`` set) from paraminit's stream ``key_for(seed, name)``,
where ``name`` is the parameter's qualified name (``"encoder.layers.0.linear1.weight"``). The values
are a pure function of (seed, name, global element index), so they depend neither on the order in
which the module was built nor on which process runs the call, nor on how the parameter is sharded:

* a ``DTensor`` parameter (``torch.distributed.tensor``: ``Shard(d)`` on any mesh dims, several mesh
  dims on one tensor dim, uneven shards with torch.chunk's semantics, empty shards, ``Replicate``) is
  filled by each rank on its local shard only, through the window of the whole parameter that the
  shard is, computed from the DTensor's mesh and placements -- no collective runs;
* FSDP2 (``fully_shard``) keeps DTensor parameters, so a model built on ``meta``, wrapped, then
  ``init_module``-ed on every rank has local shards whose all-gather is bit for bit the
  single-process ``init_module`` of the unsharded model;
* tensor parallelism without DTensor: ``windows={name_or_glob: (dim, start, global_extent)}``.

Default rules reproduce PyTorch's own ``reset_parameters`` (the same distributions and bounds, drawn
from paraminit's stream): see ``default_scheme``. ``rules`` overrides them by glob pattern.
"""
from __future__ import annotations

import fnmatch
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch

import paraminit as _pi

__all__ = [
    "init_module",
    "Report",
    "ReportRow",
    "default_scheme",
    "fill_",
    "dtensor_block",
    "expected_stats",
    "load_rules",
    "SCHEME_FIELDS",
]

# The fields of each scheme, exactly as `paraminit init`'s JSON spec (tools/spec.cpp kSchemeFields).
SCHEME_FIELDS: Dict[str, Tuple[str, ...]] = {
    "constant": ("value",), "zeros": (), "ones": (), "relu_bias": ("value",),
    "uniform": ("low", "high"), "normal": ("mean", "std"), "trunc_normal": ("mean", "std", "low", "high"),
    "lecun_uniform": ("layout",), "lecun_normal": ("truncated", "layout"),
    "glorot_uniform": ("gain", "layout"), "glorot_normal": ("gain", "truncated", "layout"),
    "xavier_uniform": ("gain", "layout"), "xavier_normal": ("gain", "truncated", "layout"),
    "he_uniform": ("negative_slope", "a", "mode", "nonlinearity", "layout"),
    "he_normal": ("negative_slope", "a", "mode", "nonlinearity", "truncated", "layout"),
    "kaiming_uniform": ("negative_slope", "a", "mode", "nonlinearity", "layout"),
    "kaiming_normal": ("negative_slope", "a", "mode", "nonlinearity", "truncated", "layout"),
    "variance_scaling": ("scale", "mode", "distribution", "layout"), "fan_in_uniform": ("fan_in", "layout"),
    "eye": ("gain",), "dirac": ("groups", "gain"), "sparse": ("k", "std", "values", "unit_axis"),
    "sparse_fraction": ("sparsity", "std"), "orthogonal": ("gain", "batch_dims", "path"),
    "delta_orthogonal": ("gain", "allow_even", "path"), "gate_bias": ("layout", "value", "others"),
    "output_bias": ("activation", "centered", "stats"), "variance_parameter": ("kind", "variances"),
}
# Keys a rule may carry besides its scheme's fields: checked (shape) or ignored (the rest).
_RULE_EXTRA = ("scheme", "shape", "dtype", "shard_dim", "comment")
# Schemes whose every call needs the whole matrix (or whole units): a window computes the whole and
# keeps its part, so a block is filled in one call rather than in slabs.
_WHOLE_SCHEMES = ("orthogonal", "delta_orthogonal", "sparse", "sparse_fraction")
# Schemes whose values are random: the key (seed, name) is passed.
_RANDOM_SCHEMES = (
    "uniform", "normal", "trunc_normal", "lecun_uniform", "lecun_normal", "glorot_uniform", "glorot_normal",
    "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
    "variance_scaling", "fan_in_uniform", "sparse", "sparse_fraction", "orthogonal", "delta_orthogonal",
)
# Module wrappers that insert a component into qualified names without changing the model:
# torch.compile, activation checkpointing, FSDP1's wrapper. They are dropped from the name that keys
# the stream, so a wrapped model gets the bits of the unwrapped one.
_WRAPPER_COMPONENTS = ("_orig_mod", "_checkpoint_wrapped_module", "_fsdp_wrapped_module")
# A block sharded along two or more tensor dims is filled through a temporary slab (see _fill_block);
# element-wise schemes fill it in slabs of at most this many bytes (or the block's own size if larger).
_SLAB_BYTES = 64 << 20

_DTYPE_NAMES = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}


# ---- rules ------------------------------------------------------------------------------------------

def _check_rule(pattern: str, rule: Mapping[str, Any], origin: str) -> Dict[str, Any]:
    if not isinstance(rule, Mapping):
        raise TypeError(f"{origin}: rules[{pattern!r}]: expected a dict with a 'scheme' field, got {type(rule).__name__}")
    scheme = rule.get("scheme")
    if not isinstance(scheme, str):
        raise ValueError(f"{origin}: rules[{pattern!r}].scheme: missing or not a string")
    if scheme not in SCHEME_FIELDS:
        raise ValueError(f"{origin}: rules[{pattern!r}].scheme: unknown scheme {scheme!r} (known: {', '.join(sorted(SCHEME_FIELDS))})")
    for k in rule:
        if k not in _RULE_EXTRA and k not in SCHEME_FIELDS[scheme]:
            raise ValueError(f"{origin}: rules[{pattern!r}].{k}: not a field of scheme {scheme}")
    return dict(rule)


def load_rules(spec: Union[str, os.PathLike, Mapping[str, Any]]) -> Tuple[List[Tuple[str, Dict[str, Any]]], Optional[int]]:
    """Rules from a ``paraminit init`` spec (a path, or the parsed JSON object): its ``parameters``
    keys and ``repeat`` expansions become patterns, in file order (parameters, then repeats).
    Returns (rules, the spec's seed or None)."""
    origin = "rules"
    if isinstance(spec, (str, os.PathLike)):
        origin = os.fspath(spec)
        with open(spec, "r", encoding="utf-8") as f:
            spec = json.load(f)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{origin}: expected a JSON object")
    for k in spec:
        if k not in ("seed", "dtype", "parameters", "repeat", "comment"):
            raise ValueError(f"{origin}: unknown top-level field {k!r} (seed, dtype, parameters, repeat, comment)")
    out: List[Tuple[str, Dict[str, Any]]] = []
    for name, r in dict(spec.get("parameters", {})).items():
        out.append((name, _check_rule(name, r, origin)))
    for rep in spec.get("repeat", []):
        if not isinstance(rep, Mapping) or not {"count", "name", "parameters"} <= set(rep):
            raise ValueError(f"{origin}: repeat: each entry needs count, name (with {{i}}) and parameters")
        if "{i}" not in rep["name"]:
            raise ValueError(f"{origin}: repeat: name {rep['name']!r} has no {{i}}")
        for i in range(int(rep["count"])):
            prefix = rep["name"].replace("{i}", str(i))
            for name, r in rep["parameters"].items():
                out.append((prefix + "." + name, _check_rule(prefix + "." + name, r, origin)))
    seed = spec.get("seed")
    return out, (int(seed) if seed is not None else None)


def _normalize_rules(rules) -> Tuple[List[Tuple[str, Dict[str, Any]]], Optional[int]]:
    if rules is None:
        return [], None
    if isinstance(rules, (str, os.PathLike)):
        return load_rules(rules)
    if isinstance(rules, Mapping):
        if "parameters" in rules and isinstance(rules.get("parameters"), Mapping) and "scheme" not in rules:
            return load_rules(rules)  # a parsed spec object
        return [(p, _check_rule(p, r, "rules")) for p, r in rules.items()], None
    raise TypeError(f"rules: expected a dict of glob pattern -> scheme dict, or a spec file path, got {type(rules).__name__}")


def _match(rules: Sequence[Tuple[str, Dict[str, Any]]], name: str) -> Optional[Dict[str, Any]]:
    for pattern, rule in rules:
        if fnmatch.fnmatchcase(name, pattern):
            return rule
    return None


# ---- PyTorch's reset_parameters as schemes -----------------------------------------------------------

def _fan_in_torch(shape: Sequence[int]) -> int:
    rf = 1
    for e in shape[2:]:
        rf *= int(e)
    return int(shape[1]) * rf


def _bound_uniform(bound: float) -> Dict[str, Any]:
    return {"scheme": "uniform", "low": -bound, "high": bound}


def default_scheme(module: torch.nn.Module, local_name: str, shape: Sequence[int], *, gate_bias: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """The scheme PyTorch's own ``reset_parameters`` / ``reset_running_stats`` gives the tensor
    ``local_name`` of ``module`` (a direct parameter or buffer of it), or None when paraminit has no
    rule for it. ``shape`` is the tensor's global shape.

    Linear, Bilinear, Conv/ConvTranspose 1d/2d/3d (any groups): weight kaiming_uniform(a=sqrt(5)),
    i.e. U(+-1/sqrt(fan_in)); bias U(+-1/sqrt(fan_in)) with the weight's fan_in. Embedding /
    EmbeddingBag: N(0, 1), the padding_idx row zero. LayerNorm, GroupNorm, RMSNorm, BatchNorm,
    InstanceNorm: weight ones, bias zeros; running_mean zeros, running_var ones, num_batches_tracked 0.
    RNN/LSTM/GRU (and the cells): every tensor U(+-1/sqrt(hidden_size)); with ``gate_bias=v``,
    bias_ih is paraminit's gate_bias (forget gate of an LSTM, update gate z of a GRU = v, others 0)
    and bias_hh zeros. MultiheadAttention: in_proj (or q/k/v_proj) xavier_uniform, in_proj_bias and
    out_proj.bias zeros, bias_k / bias_v xavier_normal, out_proj.weight Linear's. PReLU: its ``init``.
    """
    nn = torch.nn
    m = module
    if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):  # Linear covers NonDynamicallyQuantizableLinear
        w = m.weight
        wshape = tuple(w.shape) if w is not None else tuple(shape)
        if local_name == "weight":
            return {"scheme": "kaiming_uniform", "a": math.sqrt(5)}
        if local_name == "bias":
            fan_in = _fan_in_torch(wshape) if len(wshape) >= 2 else 0
            return _bound_uniform(1 / math.sqrt(fan_in) if fan_in > 0 else 0.0)
        return None
    if isinstance(m, nn.Bilinear) and local_name in ("weight", "bias"):
        return _bound_uniform(1 / math.sqrt(m.weight.shape[1]))
    if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and local_name == "weight":
        r: Dict[str, Any] = {"scheme": "normal", "mean": 0.0, "std": 1.0}
        if m.padding_idx is not None:
            r["_padding_idx"] = int(m.padding_idx) % int(shape[0])
        return r
    norms = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())
    if isinstance(m, norms):
        return {"weight": {"scheme": "ones"}, "bias": {"scheme": "zeros"}, "running_mean": {"scheme": "zeros"},
                "running_var": {"scheme": "ones"}, "num_batches_tracked": {"scheme": "zeros"}}.get(local_name)
    if isinstance(m, (nn.RNNBase, nn.RNNCellBase)):
        h = m.hidden_size
        if gate_bias is not None and local_name.startswith("bias_"):
            layout = "torch_lstm" if isinstance(m, (nn.LSTM, nn.LSTMCell)) else "torch_gru" if isinstance(m, (nn.GRU, nn.GRUCell)) else None
            if layout is not None:
                if local_name.startswith("bias_ih"):
                    return {"scheme": "gate_bias", "layout": layout, "value": float(gate_bias), "others": 0.0}
                return {"scheme": "zeros"}
        return _bound_uniform(1.0 / math.sqrt(h) if h > 0 else 0.0)
    if isinstance(m, nn.MultiheadAttention):
        if local_name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            return {"scheme": "xavier_uniform"}
        if local_name == "in_proj_bias":
            return {"scheme": "zeros"}
        if local_name in ("bias_k", "bias_v"):
            return {"scheme": "xavier_normal"}
        return None
    if isinstance(m, nn.PReLU) and local_name == "weight":
        return {"scheme": "constant", "value": float(m.init)}
    return None


def _mha_out_proj_bias(parent: Optional[torch.nn.Module], child_name: str, local_name: str) -> bool:
    # MultiheadAttention's _reset_parameters zeroes out_proj.bias (when it has in_proj_bias)
    return (isinstance(parent, torch.nn.MultiheadAttention) and child_name == "out_proj" and local_name == "bias"
            and parent.in_proj_bias is not None)


# ---- expected and measured statistics (tools/check.cpp) ---------------------------------------------

def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _fans(shape: Sequence[int], layout: str) -> Tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"fans of a shape of rank {len(shape)}: a fan-based scheme needs rank >= 2")
    if layout == "jax":
        i, o = len(shape) - 2, len(shape) - 1
    elif layout == "torch":
        i, o = 1, 0
    else:
        raise ValueError(f"unknown layout {layout!r} (torch, jax)")
    rf = 1
    for d, e in enumerate(shape):
        if d not in (i, o):
            rf *= int(e)
    return int(shape[i]) * rf, int(shape[o]) * rf


_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
          "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
          "selu": 0.75}


def expected_stats(rule: Mapping[str, Any], shape: Sequence[int], sharded: bool = False) -> Optional[Tuple[float, float, bool]]:
    """(mean, std, exact) of a whole parameter of ``shape`` under ``rule``, from the scheme's
    formula (the same as ``paraminit init``'s expected std, tools/check.cpp), or None where there is
    no expectation (structured values on a shard, output_bias, variance_parameter)."""
    s = rule["scheme"]
    g = rule.get
    numel = 1
    for e in shape:
        numel *= int(e)
    layout = g("layout", "torch")

    def fan(mode: str) -> float:
        fi, fo = _fans(shape, layout)
        return {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2}[mode]

    if s in ("constant", "zeros", "ones", "relu_bias"):
        v = g("value", 0.0) if s == "constant" else 1.0 if s == "ones" else g("value", 0.1) if s == "relu_bias" else 0.0
        return float(v), 0.0, True
    if s == "uniform":
        lo, hi = g("low", 0.0), g("high", 1.0)
        return (lo + hi) / 2, (hi - lo) / math.sqrt(12.0), False
    if s == "normal":
        return g("mean", 0.0), g("std", 1.0), False
    if s == "trunc_normal":
        m, sd = g("mean", 0.0), g("std", 1.0)
        a, b = (g("low", m - 2 * sd) - m) / sd, (g("high", m + 2 * sd) - m) / sd
        z = _Phi(b) - _Phi(a)
        d = (_phi(a) - _phi(b)) / z
        return m + sd * d, sd * math.sqrt(1 + (a * _phi(a) - b * _phi(b)) / z - d * d), False
    if s in ("lecun_uniform", "lecun_normal"):
        return 0.0, math.sqrt(1.0 / fan("fan_in")), False
    if s.startswith("glorot") or s.startswith("xavier"):
        gain = g("gain", 1.0)
        return 0.0, math.sqrt(gain * gain * 2.0 / (fan("fan_in") + fan("fan_out"))), False
    if s.startswith("he_") or s.startswith("kaiming"):
        nl = g("nonlinearity", "leaky_relu")
        slope = g("a", g("negative_slope", 0.0))
        gain = math.sqrt(2.0 / (1 + slope * slope)) if nl == "leaky_relu" else _GAINS.get(nl)
        if gain is None:
            gain = float(_pi.calculate_gain(nl))
        return 0.0, math.sqrt(gain * gain / fan(g("mode", "fan_in"))), False
    if s == "variance_scaling":
        return 0.0, math.sqrt(g("scale", 1.0) / fan(g("mode", "fan_in"))), False
    if s == "fan_in_uniform":
        m = int(g("fan_in", 0))
        return 0.0, math.sqrt(1.0 / (3.0 * (m if m > 0 else fan("fan_in")))), False
    if s == "sparse":
        sd = g("std", 0.01)
        axis = int(g("unit_axis", 0)) % len(shape)
        return 0.0, math.sqrt(sd * sd * int(g("k", 15)) * int(shape[axis]) / numel), False
    if s == "sparse_fraction":
        sd, rows = g("std", 0.01), int(shape[0])
        return 0.0, math.sqrt(sd * sd * (rows - math.ceil(g("sparsity", 0.9) * rows)) / rows), False
    if s == "orthogonal":
        bd = int(g("batch_dims", 0))
        rows = int(shape[bd])
        cols = 1
        for e in shape[bd + 1:]:
            cols *= int(e)
        gain = g("gain", 1.0)
        return 0.0, math.sqrt(gain * gain / max(rows, cols)), False
    if s == "delta_orthogonal":
        gain = g("gain", 1.0)
        return 0.0, math.sqrt(gain * gain * int(shape[1]) / numel), False
    if sharded:
        return None
    if s in ("eye", "dirac", "gate_bias"):
        hi, lo = g("gain", 1.0), 0.0
        if s == "eye":
            frac = min(shape[0], shape[1]) / numel
        elif s == "dirac":
            groups = int(g("groups", 1))
            frac = groups * min(shape[0] // groups, shape[1]) / numel
        else:
            layout_g = g("layout", "torch_lstm")
            blocks = (8 if layout_g == "cudnn_lstm" else 6) if layout_g.startswith("cudnn") else (4 if "lstm" in layout_g else 3)
            frac, hi, lo = 1.0 / blocks, g("value", 1.0), g("others", 0.0)
        return lo + frac * (hi - lo), abs(hi - lo) * math.sqrt(frac * (1 - frac)), True
    return None


# The 5-sigma bound on a sample std is asymptotic (it uses the sample's 4th moment): with a handful of
# values it means nothing (2 values: m4 = s^4, a bound of 0). Random tensors (or shards) with fewer
# values than this are not checked ("-"); constants are checked exactly at any size.
_MIN_CHECKED = 32

_REL = {torch.bfloat16: 1.0 / 128, torch.float16: 1.0 / 1024, torch.float32: 1e-6, torch.float64: 1e-12}


def _measure(t: torch.Tensor) -> Tuple[float, float, float, int]:
    """mean, std (population) and 4th central moment of t's values: two passes accumulated in double
    (the sum reads the tensor once; the central moments go through one float temporary per chunk)."""
    flat = t.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        return 0.0, 0.0, 0.0, 0
    mean = float(flat.sum(dtype=torch.float64)) / n
    s2 = s4 = 0.0
    for c in flat.split(1 << 20):
        d = c.sub(mean) if c.dtype in (torch.float32, torch.float64) else c.float().sub_(mean)
        d.square_()
        s2 += float(d.sum(dtype=torch.float64))
        d.square_()
        s4 += float(d.sum(dtype=torch.float64))
    return mean, math.sqrt(s2 / n), s4 / n, n


def _within(exp: Tuple[float, float, bool], mean: float, std: float, m4: float, n: int, dtype) -> bool:
    """|measured std - expected std| within 5 sigma of the sample std's sampling error
    (sigma^2 ~ (mu4 - s^4) / (4 s^2 N)) plus the dtype's relative rounding (tools/check.cpp)."""
    e_mean, e_std, exact = exp
    b = _REL.get(dtype, 1e-6) * (e_std + abs(e_mean)) + 1e-300
    if not exact and n > 0 and std > 0:
        b += 5 * math.sqrt(max(0.0, m4 - std ** 4) / n) / (2 * std)
    return abs(std - e_std) <= b


# ---- the report ---------------------------------------------------------------------------------------

@dataclass
class ReportRow:
    name: str                     # qualified name (the stream's name)
    shape: Tuple[int, ...]        # the local shape written by this process
    global_shape: Tuple[int, ...]  # the whole parameter's shape
    dtype: str
    scheme: str
    fields: Dict[str, Any]        # the scheme's fields, as a spec would give them
    mean: float                   # measured on the local part (nan when not measured)
    std: float
    expected_std: Optional[float]  # None: no expectation
    ok: Optional[bool]            # None: not checked
    ms: float
    window: Optional[Tuple[Tuple[int, int], ...]] = None  # per-dim (start, extent) when a shard
    buffer: bool = False

    def spec_entry(self) -> Dict[str, Any]:
        """This parameter as a ``paraminit init`` spec entry (global shape, scheme, its fields)."""
        d: Dict[str, Any] = {"shape": list(self.global_shape), "scheme": self.scheme}
        d.update({k: v for k, v in self.fields.items() if not k.startswith("_")})
        if self.dtype != "f32":
            d["dtype"] = self.dtype
        return d


def _shape_text(s: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(e)) for e in s) + ("," if len(s) == 1 else "") + ")"


class Report(list):
    """The rows of an init_module call (one per parameter or buffer written, sorted by name).
    ``str(report)`` is the table ``paraminit init`` prints (tools/report.cpp):
    ``| name | shape | dtype | scheme | mean | std | expected std | ok | ms |``, the shape being the
    local (shard) shape and the statistics those of the local part."""

    seed: int = 0

    @property
    def ok(self) -> bool:
        return all(r.ok is not False for r in self)

    @property
    def failed(self) -> List[str]:
        return [r.name for r in self if r.ok is False]

    def to_spec(self, seed: Optional[int] = None) -> Dict[str, Any]:
        """A ``paraminit init`` spec with the same names, global shapes and schemes (rows whose
        scheme has no spec equivalent, e.g. Embedding's padding row, are marked in "comment")."""
        params = {}
        for r in self:
            if r.dtype not in ("f32", "f64", "f16", "bf16"):
                continue
            e = r.spec_entry()
            if "_padding_idx" in r.fields:
                e["comment"] = f"padding_idx {r.fields['_padding_idx']} is zero in init_module"
            params[r.name] = e
        return {"seed": int(self.seed if seed is None else seed), "dtype": "f32", "parameters": params}

    def __str__(self) -> str:
        lines = ["| name | shape | dtype | scheme | mean | std | expected std | ok | ms |",
                 "|---|---|---|---|---:|---:|---:|---|---:|"]
        for r in self:
            exp = "-" if r.expected_std is None else f"{r.expected_std:.6g}"
            ok = "-" if r.ok is None else "yes" if r.ok else "NO"
            lines.append(f"| {r.name} | {_shape_text(r.shape)} | {r.dtype} | {r.scheme} | {r.mean:.6g} | {r.std:.6g} | {exp} | {ok} | {r.ms:.1f} |")
        n = sum(1 for _ in self)
        elems = sum(math.prod(r.shape) for r in self)
        lines.append("")
        lines.append(f"{n} tensors, {elems} elements" + (f"; measured std outside its bound: {' '.join(self.failed)}" if self.failed else ""))
        return "\n".join(lines)

    __repr__ = list.__repr__


# ---- sharding: the block of the whole a local tensor is ----------------------------------------------

def _is_dtensor(t) -> bool:
    try:
        from torch.distributed.tensor import DTensor
    except Exception:  # pragma: no cover - torch without distributed
        return False
    return isinstance(t, DTensor)


def dtensor_block(t) -> Optional[List[Tuple[int, int]]]:
    """For a DTensor: per tensor dim, (start, extent) of this rank's local shard within the global
    tensor, from its device_mesh and placements (torch.chunk semantics per mesh dim, mesh dims applied
    in order, so two mesh dims on one tensor dim nest), or None when this rank is not in the mesh.
    Replicate (and the rank's coordinate on it) leaves the dim whole. Partial and _StridedShard are
    errors: a partial parameter has no values of its own, a strided shard is not a block."""
    from torch.distributed.tensor import Replicate, Shard
    mesh = t.device_mesh
    coord = mesh.get_coordinate()
    if coord is None:
        return None
    block = [(0, int(e)) for e in t.shape]
    for mdim, pl in enumerate(t.placements):
        if isinstance(pl, Replicate):
            continue
        if type(pl) is not Shard and not (isinstance(pl, Shard) and type(pl).__name__ == "Shard"):
            raise ValueError(f"paraminit.torch: placement {pl!r} is not supported (Shard(d) and Replicate are)")
        d = pl.dim % max(1, t.dim())
        start, length = block[d]
        n = mesh.size(mdim)
        chunk = (length + n - 1) // n
        s = min(length, chunk * coord[mdim])
        e = min(length, s + chunk)
        block[d] = (start + s, e - s)
    return block


# ---- filling one tensor --------------------------------------------------------------------------------

def _call(t: torch.Tensor, rule: Mapping[str, Any], seed: int, name: str, window, context) -> None:
    """The core fill of rule's scheme on tensor t (a contiguous torch tensor), as `paraminit init`
    runs a spec parameter (tools/spec.cpp apply): the same defaults, the key key_for(seed, name)."""
    s = rule["scheme"]
    g = rule.get
    kw: Dict[str, Any] = {"window": window}
    if context is not None:
        kw["context"] = context
    rk = dict(kw, seed=seed, name=name)
    if s == "constant":
        return _pi.constant_(t, g("value", 0.0), **kw)
    if s == "zeros":
        return _pi.zeros_(t, **kw)
    if s == "ones":
        return _pi.ones_(t, **kw)
    if s == "relu_bias":
        return _pi.relu_bias_(t, g("value", 0.1), **kw)
    if s == "uniform":
        return _pi.uniform_(t, g("low", 0.0), g("high", 1.0), **rk)
    if s == "normal":
        return _pi.normal_(t, g("mean", 0.0), g("std", 1.0), **rk)
    if s == "trunc_normal":
        m, sd = g("mean", 0.0), g("std", 1.0)
        return _pi.trunc_normal_(t, m, sd, g("low", m - 2 * sd), g("high", m + 2 * sd), **rk)
    lay = {"layout": g("layout")} if "layout" in rule else {}
    if s == "lecun_uniform":
        return _pi.lecun_uniform_(t, **lay, **rk)
    if s == "lecun_normal":
        return _pi.lecun_normal_(t, truncated=g("truncated", False), **lay, **rk)
    if s in ("glorot_uniform", "xavier_uniform"):
        return _pi.xavier_uniform_(t, g("gain", 1.0), **lay, **rk)
    if s in ("glorot_normal", "xavier_normal"):
        tr = {"truncated": g("truncated")} if "truncated" in rule else {}
        return _pi.xavier_normal_(t, g("gain", 1.0), **tr, **lay, **rk)
    if s in ("he_uniform", "kaiming_uniform", "he_normal", "kaiming_normal"):
        if "a" in rule and "negative_slope" in rule:
            raise ValueError(f"{name}: give negative_slope or its PyTorch name a, not both")
        a = g("a", g("negative_slope", 0.0))
        tr = {"truncated": g("truncated")} if "truncated" in rule else {}
        fn = _pi.kaiming_uniform_ if "uniform" in s else _pi.kaiming_normal_
        return fn(t, a, g("mode", "fan_in"), g("nonlinearity", "leaky_relu"), **tr, **lay, **rk)
    if s == "variance_scaling":
        opt = {k: g(k) for k in ("mode", "distribution") if k in rule}
        return _pi.variance_scaling_(t, g("scale", 1.0), **opt, **lay, **rk)
    if s == "fan_in_uniform":
        fi = g("fan_in", 0)
        return _pi.fan_in_uniform_(t, fi if fi else None, **lay, **rk)
    if s == "eye":
        return _pi.eye_(t, g("gain", 1.0), **kw)
    if s == "dirac":
        return _pi.dirac_(t, g("groups", 1), gain=g("gain", 1.0), **kw)
    if s == "sparse":
        opt = {k: g(k) for k in ("std", "values", "unit_axis") if k in rule}
        return _pi.sparse_k_(t, g("k", 15), **opt, **rk)
    if s == "sparse_fraction":
        return _pi.sparse_(t, g("sparsity", 0.9), g("std", 0.01), **rk)
    if s == "orthogonal":
        opt = {k: g(k) for k in ("batch_dims", "path") if k in rule}
        return _pi.orthogonal_(t, g("gain", 1.0), **opt, **rk)
    if s == "delta_orthogonal":
        opt = {k: g(k) for k in ("allow_even", "path") if k in rule}
        return _pi.delta_orthogonal_(t, g("gain", 1.0), **opt, **rk)
    if s == "gate_bias":
        return _pi.gate_bias_(t, layout=g("layout", "torch_lstm"), value=g("value", 1.0), others=g("others", 0.0), **kw)
    if s == "output_bias":
        opt = {k: g(k) for k in ("activation", "centered") if k in rule}
        return _pi.output_bias_(t, list(g("stats", [])), **opt, **kw)
    if s == "variance_parameter":
        opt = {"variances": list(g("variances"))} if "variances" in rule else {}
        return _pi.variance_parameter_(t, g("kind", "variance"), **opt, **kw)
    raise ValueError(f"{name}: unknown scheme {s!r}")


def _post(local: torch.Tensor, rule: Mapping[str, Any], block: Sequence[Tuple[int, int]]) -> None:
    # Embedding's padding row (global row p of dim 0) is zero, wherever the shard holds it.
    p = rule.get("_padding_idx")
    if p is not None and local.dim() >= 1:
        s0, n0 = block[0]
        if s0 <= p < s0 + n0:
            local[p - s0].zero_()


def _fill_block(local: torch.Tensor, global_shape: Sequence[int], block: Sequence[Tuple[int, int]], rule: Mapping[str, Any],
                seed: int, name: str, context) -> None:
    """Fill ``local``, the block ``block`` (per dim (start, extent)) of a parameter of
    ``global_shape``, with the bits of that block of the whole.

    One sharded dim d: the core's window (d, start, global_shape[d]) directly, no copy. Two or more
    sharded dims (e.g. Shard(0) x Shard(1) on a 2-D mesh): the core's window is one dimension, so the
    block is filled through a temporary that holds the window of one sharded dim w (the one with
    the smallest local fraction) at the global extent of every other dim, and the block is copied
    out of it. Extra memory: element-wise schemes use slabs along w of at most max(64 MiB, the
    block's bytes); schemes that need the whole matrix per call (orthogonal, delta_orthogonal,
    sparse, sparse_fraction) take the whole window of w in one temporary (local extent along w x
    the global extents of the others) -- for a Shard(0) x Shard(1) block of an (R, C) weight on an
    (a, b) mesh, R/a x C elements, i.e. b times the block."""
    if local.numel() == 0:
        return
    sharded = [d for d, (s, n) in enumerate(block) if (s, n) != (0, int(global_shape[d]))]
    work = local if local.is_contiguous() else torch.empty_like(local, memory_format=torch.contiguous_format)
    if not sharded:
        _call(work, rule, seed, name, None, context)
    elif len(sharded) == 1:
        d = sharded[0]
        _call(work, rule, seed, name, (d, block[d][0], int(global_shape[d])), context)
    else:
        w = min(sharded, key=lambda d: block[d][1] / int(global_shape[d]))
        ws, wn = block[w]
        per_unit = local.element_size()
        for d, e in enumerate(global_shape):
            if d != w:
                per_unit *= int(e)
        if rule["scheme"] in _WHOLE_SCHEMES:
            step = wn
        else:
            step = max(1, min(wn, max(_SLAB_BYTES, local.numel() * local.element_size()) // max(1, per_unit)))
        others = tuple(slice(s, s + n) if d != w else slice(None) for d, (s, n) in enumerate(block))
        for off in range(0, wn, step):
            k = min(step, wn - off)
            tshape = [int(e) for e in global_shape]
            tshape[w] = k
            tmp = torch.empty(tshape, dtype=local.dtype, device=local.device)
            _call(tmp, rule, seed, name, (w, ws + off, int(global_shape[w])), context)
            dst = [slice(None)] * local.dim()
            dst[w] = slice(off, off + k)
            work[tuple(dst)].copy_(tmp[others])
    _post(work, rule, block)
    if work is not local:
        local.copy_(work)


def fill_(tensor, rule: Mapping[str, Any], *, seed: int, name: str, window=None, context=None):
    """Fill ``tensor`` in place with ``rule`` (a scheme dict with the fields of a ``paraminit init``
    spec parameter) from the stream key_for(seed, name). A DTensor is filled on its local shard
    (through its mesh and placements); a plain tensor may be declared a window of a larger
    parameter, ``window=(dim, start, global_extent)`` (tensor parallelism without DTensor).
    Returns the tensor."""
    rule = _check_rule("fill_", rule, "rule")
    with torch.no_grad():
        local, gshape, block = _local_and_block(tensor, window)
        if block is not None:
            _fill_block(local, gshape, block, rule, seed, name, context)
    return tensor


def _local_and_block(t, window):
    """(the local torch tensor to write, the global shape, the block) of t."""
    if _is_dtensor(t):
        if window is not None:
            raise ValueError("window= is for plain tensors; a DTensor's window comes from its placements")
        local = t.to_local().detach()
        block = dtensor_block(t)
        return local, tuple(int(e) for e in t.shape), block
    local = t.detach()
    shape = [int(e) for e in local.shape]
    block = [(0, e) for e in shape]
    if window is not None:
        d, start, gext = (int(x) for x in window)
        d %= max(1, len(shape))
        if not (0 <= start and start + shape[d] <= gext):
            raise ValueError(f"window {tuple(window)}: [start, start + {shape[d]}) is not inside [0, {gext})")
        block[d] = (start, shape[d])
        shape[d] = gext
    return local, tuple(shape), block


# ---- init_module ------------------------------------------------------------------------------------------

def _canonical(name: str) -> str:
    parts = [p for p in name.split(".") if p not in _WRAPPER_COMPONENTS]
    return ".".join(parts)


def _is_meta(t) -> bool:
    return t is not None and t.device.type == "meta"


@dataclass
class _Plan:
    name: str
    tensor: Any
    rule: Dict[str, Any]
    buffer: bool


def init_module(module: torch.nn.Module, seed: Optional[int], rules=None, device=None, *,
                gate_bias: Optional[float] = None, windows: Optional[Mapping[str, Tuple[int, int, int]]] = None,
                measure: bool = True, context=None) -> Report:
    """Initialize every parameter of ``module`` (and the buffers PyTorch's reset_parameters /
    reset_running_stats set: BatchNorm's running_mean, running_var, num_batches_tracked) in place,
    each by its qualified name: tensor ``name`` gets paraminit's stream key_for(seed, name).

    rules: None; a dict {glob pattern: scheme dict} where a scheme dict has the fields of a
    ``paraminit init`` spec parameter (``{"scheme": "normal", "std": 0.02}``; "shape", if given,
    must equal the parameter's global shape; "dtype", "shard_dim", "comment" are ignored); or a
    spec file path (or its parsed object): its "parameters" keys (and "repeat" expansions) are the
    patterns, its "seed" is used only when ``seed`` is None. Patterns are fnmatch globs matched
    against the whole qualified name; the FIRST matching pattern in the dict's order wins, and any
    matching rule overrides the default. Default rules: PyTorch's reset_parameters (see
    default_scheme); a parameter that no rule and no default covers is an error naming it, raised
    before anything is written.

    device: a module with tensors on the ``meta`` device is first materialized with
    ``module.to_empty(device=device or "cpu")`` (a module not on meta is not moved); tied
    parameters, which to_empty unties, are tied again.

    DTensor parameters (FSDP2, tensor parallel) are filled on this rank's local shard only, with no
    communication. ``windows={pattern: (dim, start, global_extent)}`` declares plain tensors to be
    windows of larger parameters (tensor parallelism without DTensor).

    gate_bias: None (PyTorch's uniform biases), or the forget-gate (LSTM) / update-gate (GRU) bias:
    bias_ih gets paraminit's gate_bias with that value, bias_hh zeros.

    Names: the wrapper components "_orig_mod" (torch.compile), "_checkpoint_wrapped_module" and
    "_fsdp_wrapped_module" are dropped from the name that keys the stream, so a wrapped module gets
    the bits of the bare one. A tied parameter (one tensor under several names) is initialized once,
    under the smallest of its names (sorted, so independent of registration order), by the default
    rule of that name's module unless a rule matches any of its names.

    measure: compute each tensor's mean/std and check it against the scheme's expected std (the
    5-sigma bound of ``paraminit init``; random tensors of fewer than 32 values on this process are
    not checked, the bound being asymptotic); False skips the statistics (the report then has nan and
    "-"). Returns a Report.
    """
    rules_list, spec_seed = _normalize_rules(rules)
    if seed is None:
        seed = spec_seed
    if seed is None:
        raise ValueError("init_module: seed is None and the rules give no seed")
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"init_module: seed {seed} is not a 64-bit unsigned integer")
    window_rules = list((windows or {}).items())

    # 1. plan every tensor (no writes yet): the rule of each, errors collected
    plans: List[_Plan] = []
    unknown: List[str] = []
    was_meta: List[str] = []
    # every alias of each tensor (tied parameters have several names); the tensor's name is the
    # smallest of them, so it depends neither on registration order nor on which module owns it
    aliases: Dict[int, List[Tuple[str, torch.nn.Module, str, str, Optional[torch.nn.Module], str]]] = {}
    modules = dict(module.named_modules(remove_duplicate=False))
    for mname, mod in modules.items():
        parent_name, _, child = mname.rpartition(".")
        parent = modules.get(parent_name) if mname else None
        for kind, items in (("param", mod._parameters.items()), ("buffer", mod._buffers.items())):
            for local_name, t in items:
                if t is None:
                    continue
                qual = _canonical(f"{mname}.{local_name}" if mname else local_name)
                aliases.setdefault(id(t), []).append((qual, mod, local_name, kind, parent, child))
    tied = []
    for entries in aliases.values():
        entries.sort(key=lambda e: e[0])
        if len(entries) > 1:
            tied.append(entries)
        qual, mod, local_name, kind, parent, child = entries[0]
        if any(e[0] == entries[0][0] for e in entries[1:]):
            entries = [entries[0]] + [e for e in entries[1:] if e[0] != entries[0][0]]
        t = getattr(mod, local_name)
        rule = None
        for pattern, r in rules_list:  # first pattern matching any of its names
            if any(fnmatch.fnmatchcase(e[0], pattern) for e in entries):
                rule = r
                break
        if rule is None:
            if _mha_out_proj_bias(parent, child, local_name):
                rule = {"scheme": "zeros"}
            else:
                rule = default_scheme(mod, local_name, tuple(t.shape), gate_bias=gate_bias)
        if rule is None:
            if kind == "param":
                unknown.append(f"{qual} ({type(mod).__name__}.{local_name}, shape {tuple(t.shape)})")
            elif _is_meta(t):
                was_meta.append(qual)
            continue
        if "shape" in rule and list(rule["shape"]) != list(t.shape):
            raise ValueError(f"init_module: {qual}: the rule's shape {list(rule['shape'])} is not the parameter's {list(t.shape)}")
        plans.append(_Plan(qual, (mod, local_name, kind), rule, kind == "buffer"))
    if unknown:
        raise ValueError("init_module: no rule for parameter(s) " + ", ".join(unknown) +
                         ": add a rule, e.g. rules={'<name or glob>': {'scheme': 'normal', 'std': 0.02}}")
    if was_meta:
        raise ValueError("init_module: buffer(s) " + ", ".join(was_meta) + " are on the meta device and have no rule: "
                         "to_empty would leave them uninitialized; add a rule (e.g. {'scheme': 'zeros'}) or compute them after init")
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"init_module: two tensors share the name(s) {dup} once wrapper components are dropped")

    # 2. materialize a meta module
    if any(_is_meta(t) for t in list(module.parameters()) + list(module.buffers())):
        module.to_empty(device=device if device is not None else "cpu")
        # to_empty gives each module its own new tensor: tie the aliases again to the first name's
        for entries in tied:
            _, mod0, n0, kind0, _, _ = entries[0]
            t0 = getattr(mod0, n0)
            for _, mod, n, kind, _, _ in entries[1:]:
                (mod._parameters if kind == "param" else mod._buffers)[n] = t0

    # 3. fill, sorted by name (as paraminit init)
    report = Report()
    report.seed = seed
    plans.sort(key=lambda p: p.name)
    with torch.no_grad():
        for p in plans:
            mod, local_name, kind = p.tensor
            t = getattr(mod, local_name)
            t0 = time.perf_counter()
            window = None
            for pat, win in window_rules:
                if fnmatch.fnmatchcase(p.name, pat):
                    window = win
                    break
            local, gshape, block = _local_and_block(t, window)
            dtype_name = _DTYPE_NAMES.get(local.dtype, str(local.dtype).replace("torch.", ""))
            if block is None:  # this rank is not in the DTensor's mesh
                local_shape: Tuple[int, ...] = (0,)
            else:
                local_shape = tuple(int(e) for e in local.shape)
                if local.dtype in _DTYPE_NAMES:
                    _fill_block(local, gshape, block, p.rule, seed, p.name, context)
                elif p.rule["scheme"] in ("zeros", "ones", "constant") and not local.dtype.is_complex:
                    # integer buffers (num_batches_tracked): not a paraminit dtype; the constant by torch
                    local.fill_(1 if p.rule["scheme"] == "ones" else p.rule.get("value", 0))
                else:
                    raise TypeError(f"init_module: {p.name}: dtype {local.dtype} is not f32, f64, f16 or bf16")
            ms = (time.perf_counter() - t0) * 1e3
            sharded = block is not None and any((s, n) != (0, int(gshape[d])) for d, (s, n) in enumerate(block))
            fields = {k: v for k, v in p.rule.items() if k not in _RULE_EXTRA}
            exp = None
            try:
                exp = expected_stats(p.rule, gshape, sharded)
            except ValueError:
                exp = None
            mean = std = float("nan")
            ok: Optional[bool] = None
            if measure and block is not None:
                mean, std, m4, n = _measure(local)
                if exp is not None and local.dtype in _DTYPE_NAMES and (n >= _MIN_CHECKED if not exp[2] else n > 1):
                    ok = _within(exp, mean, std, m4, n, local.dtype)
            report.append(ReportRow(p.name, local_shape, tuple(int(e) for e in gshape), dtype_name, p.rule["scheme"], fields,
                                    mean, std, None if exp is None else exp[1], ok, ms,
                                    tuple(block) if sharded else None, p.buffer))
    return report
