"""paraminit.torch inside torch.distributed (gloo, CPU), with no communication during init.

Two spawned groups (2 and 4 processes, torch.multiprocessing with a deadline) each run every
scenario once; rank 0 all-gathers the initialized parameters *after* init and saves them, and every
rank counts the collectives that ran *during* init. The tests compare the gathered parameters bit
for bit with init_module of the unsharded model in this process, and check the counts are zero
(with a positive control: the same counter sees an all_reduce and a DTensor all-gather).

Scenarios: DTensor Shard(0); Shard(1) (Replicate for vectors); uneven shards with empty ones
(torch.chunk semantics) on Shard(0) and Shard(-1); a 2x2 mesh with Shard(0) x Shard(1), with one
tensor dim sharded by both mesh dims (Shard(0), Shard(0)), and (Replicate, Shard(1)); FSDP2
(fully_shard) on a model built on meta. Orthogonal rules on some sharded weights (each rank computes
the whole Q and keeps its part), gate_bias and an Embedding padding row on uneven shards.
"""
import os
import socket
import time
from datetime import timedelta

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)
pytest.importorskip("torch.distributed.tensor")
pt = pytest.importorskip("paraminit.torch")
from torch import nn  # noqa: E402

import _torch_models as M  # noqa: E402

pytestmark = pytest.mark.distributed

SEED = 20240613
DEADLINE_S = 150  # per spawned group; the whole suite takes far less (see the report)
RULES = {
    "h.0.mlp.c_fc.weight": {"scheme": "orthogonal", "gain": 1.0},  # (128, 32)
    "h.1.attn.in_proj_weight": {"scheme": "orthogonal", "gain": 2.0},  # (96, 32)
    "h.1.mlp.c_proj.weight": {"scheme": "trunc_normal", "std": 0.02},
}


class Uneven(nn.Module):
    """Extents that no world size divides: chunks of unequal size and empty chunks."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(7, 5)
        self.emb = nn.Embedding(3, 6, padding_idx=1)
        self.lstm = nn.LSTM(3, 3)
        self.q = nn.Linear(5, 9, bias=False)
        self.ln = nn.LayerNorm(5)


UNEVEN_RULES = {"q.weight": {"scheme": "orthogonal", "gain": 1.0}}


def gpt():
    return M.TinyGPT(tied=False)


# name -> (model factory, rules, gate_bias, worlds, placement codes of a parameter of rank nd, or "fsdp2")
SCENARIOS = {
    "shard0": (gpt, RULES, None, (2, 4), lambda nd: ["S0"]),
    "shard1": (gpt, RULES, None, (2, 4), lambda nd: ["S1"] if nd >= 2 else ["R"]),
    "uneven_shard0": (Uneven, UNEVEN_RULES, 1.0, (2, 4), lambda nd: ["S0"]),
    "uneven_shard_last": (Uneven, UNEVEN_RULES, 1.0, (4,), lambda nd: ["S-1"]),
    "mesh2x2": (gpt, RULES, None, (4,), lambda nd: ["S0", "S1"] if nd >= 2 else ["S0", "R"]),
    "mesh2x2_same_dim": (gpt, RULES, None, (4,), lambda nd: ["S0", "S0"]),
    "mesh2x2_replicate_shard": (Uneven, UNEVEN_RULES, 1.0, (4,), lambda nd: ["R", "S1"] if nd >= 2 else ["S0", "S0"]),
    "mesh2x2_uneven": (Uneven, UNEVEN_RULES, 1.0, (4,), lambda nd: ["S1", "S0"] if nd >= 2 else ["R", "S0"]),
    "fsdp2": (gpt, RULES, None, (2, 4), "fsdp2"),
    "fsdp2_tied": (M.TinyGPT, RULES, None, (2,), "fsdp2"),  # lm_head.weight is wte.weight
}


# ---- the collective counter -------------------------------------------------------------------------

_DIST_FUNCS = ("all_reduce", "all_gather", "all_gather_into_tensor", "all_gather_object", "broadcast",
               "broadcast_object_list", "reduce", "reduce_scatter", "reduce_scatter_tensor", "all_to_all",
               "all_to_all_single", "barrier", "monitored_barrier", "send", "recv", "isend", "irecv", "scatter",
               "gather", "gather_object", "scatter_object_list", "batch_isend_irecv", "_reduce_scatter_base",
               "_all_gather_base")
_COLLECTIVE_NAMESPACES = ("c10d", "_c10d_functional", "c10d_functional", "_c10d_functional_autograd")


class CollectiveCounter:
    """Counts collectives two ways while active: every torch.distributed collective function called
    from Python (wrapped), and every c10d / functional-collective operator dispatched (a
    TorchDispatchMode sees the ops that DTensor, FSDP2 and funcol run from C++ too)."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self
        self.calls = []

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func.namespace in _COLLECTIVE_NAMESPACES:
                    counter.calls.append(str(func))
                return func(*args, **(kwargs or {}))

        self._mode = Mode()
        self._saved = []

    def __enter__(self):
        import torch.distributed.distributed_c10d as c10d

        for mod in (dist, c10d):
            for name in _DIST_FUNCS:
                f = getattr(mod, name, None)
                if f is None:
                    continue

                def wrapped(*a, __f=f, __n=name, **k):
                    self.calls.append("torch.distributed." + __n)
                    return __f(*a, **k)

                self._saved.append((mod, name, f))
                setattr(mod, name, wrapped)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        for mod, name, f in reversed(self._saved):
            setattr(mod, name, f)
        self._saved.clear()
        return False


# ---- the workers -------------------------------------------------------------------------------------

def _placements(codes):
    from torch.distributed.tensor import Replicate, Shard

    return [Replicate() if c == "R" else Shard(int(c[1:])) for c in codes]


def _shard_model(model, mesh, placements_of):
    """Every parameter becomes a DTensor with uninitialized local storage, built from local shapes
    that torch itself computes (compute_local_shape_and_global_offset), with no communication."""
    from torch.distributed.tensor import DTensor
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for mod in list(model.modules()):
        for name, p in list(mod._parameters.items()):
            if p is None:
                continue
            pl = _placements(placements_of(p.dim()))
            local_shape, _ = compute_local_shape_and_global_offset(tuple(p.shape), mesh, pl)
            local = torch.full(local_shape, float("nan"), dtype=p.dtype)
            dt = DTensor.from_local(local, mesh, pl, run_check=False, shape=p.shape, stride=p.stride())
            setattr(mod, name, nn.Parameter(dt, requires_grad=p.requires_grad))
    return model


def _worker(rank, world, port, out):
    import paraminit
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor

    torch.set_num_threads(1)
    if hasattr(paraminit, "set_num_threads"):
        paraminit.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=60))
    try:
        mesh1 = init_device_mesh("cpu", (world,))
        mesh2 = init_device_mesh("cpu", (2, world // 2), mesh_dim_names=("dp", "tp")) if world == 4 else None
        results = {}
        for name, (factory, rules, gate_bias, worlds, placements_of) in SCENARIOS.items():
            if world not in worlds:
                continue
            if placements_of == "fsdp2":
                from torch.distributed.fsdp import fully_shard

                with torch.device("meta"):
                    model = factory()
                for block in model.h:
                    fully_shard(block, mesh=mesh1)
                fully_shard(model, mesh=mesh1)
            else:
                mesh = mesh2 if name.startswith("mesh2x2") else mesh1
                model = _shard_model(factory(), mesh, placements_of)
            dist.barrier()
            with CollectiveCounter() as counter:
                report = pt.init_module(model, SEED, rules, device="cpu", gate_bias=gate_bias)
            failed = report.failed
            local_shapes = {r.name: r.shape for r in report}
            full = {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().clone() for k, v in model.state_dict().items()}
            calls = [None] * world
            dist.all_gather_object(calls, counter.calls)
            shapes = [None] * world
            dist.all_gather_object(shapes, local_shapes)
            results[name] = {"tensors": full, "calls": calls, "local_shapes": shapes, "failed": failed, "report": str(report)}
        # positive control: the counter sees a collective from Python and one DTensor runs in C++
        with CollectiveCounter() as control:
            dist.all_reduce(torch.ones(1))
            from torch.distributed.tensor import Shard, distribute_tensor

            distribute_tensor(torch.ones(world, 2), mesh1, [Shard(0)]).full_tensor()
        results["_control"] = control.calls
        if rank == 0:
            torch.save(results, os.path.join(out, f"world{world}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_group(world, out):
    import torch.multiprocessing as mp

    t0 = time.monotonic()
    ctx = mp.start_processes(_worker, args=(world, _free_port(), str(out)), nprocs=world, join=False, start_method="spawn")
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() - t0 > DEADLINE_S:
                pytest.fail(f"the {world}-process group did not finish within {DEADLINE_S} s")
    finally:
        for p in ctx.processes:  # only the processes this test started
            if p.is_alive():
                p.kill()
                p.join(5)
    return torch.load(os.path.join(out, f"world{world}.pt")), time.monotonic() - t0


_GROUPS = {}


@pytest.fixture(scope="module")
def groups(tmp_path_factory):
    def get(world):
        if world not in _GROUPS:  # once per world, failed or not: a failure is not respawned per test
            try:
                _GROUPS[world] = _run_group(world, tmp_path_factory.mktemp(f"world{world}"))
            except BaseException as e:  # noqa: BLE001 - reported by every test of that world
                _GROUPS[world] = e
        if isinstance(_GROUPS[world], BaseException):
            pytest.fail(f"the {world}-process group failed: {_GROUPS[world]}")
        return _GROUPS[world][0]

    return get


def _bits(t):
    return t.contiguous().view(torch.int32) if t.dtype == torch.float32 else t


CASES = [(w, n) for n, s in SCENARIOS.items() for w in s[3]]


@pytest.mark.parametrize("world,scenario", CASES, ids=[f"{w}ranks-{n}" for w, n in CASES])
def test_gathered_shards_equal_single_process_init(groups, world, scenario):
    res = groups(world)[scenario]
    factory, rules, gate_bias, _, _ = SCENARIOS[scenario]
    ref = factory()
    pt.init_module(ref, SEED, rules, gate_bias=gate_bias)
    expected = ref.state_dict()
    got = res["tensors"]
    assert got.keys() == expected.keys()
    bad = [k for k in expected if not torch.equal(_bits(got[k]), _bits(expected[k]))]
    assert not bad, f"{scenario} on {world} ranks: different bits in {bad}"
    assert all(calls == [] for calls in res["calls"]), f"collectives during init: {res['calls']}"
    assert not res["failed"], f"rank 0's measured std outside its bound: {res['report']}"


@pytest.mark.parametrize("world", [2, 4])
def test_collective_counter_sees_collectives(groups, world):
    """The counter is not blind: an all_reduce and a DTensor all-gather are counted."""
    calls = groups(world)["_control"]
    assert "torch.distributed.all_reduce" in calls
    assert any("all_gather" in c for c in calls if not c.startswith("torch.distributed.")), calls


def test_uneven_shards_include_empty_ones(groups):
    """Uneven on 4 ranks: Embedding (3, 6) on Shard(0) gives 1, 1, 1, 0 rows; Linear (5, 7) 2, 2, 1, 0."""
    shapes = groups(4)["uneven_shard0"]["local_shapes"]
    assert [s["emb.weight"] for s in shapes] == [(1, 6), (1, 6), (1, 6), (0, 6)]
    assert [s["fc.weight"] for s in shapes] == [(2, 7), (2, 7), (1, 7), (0, 7)]
    shapes = groups(4)["mesh2x2"]["local_shapes"]
    assert [s["h.0.mlp.c_fc.weight"] for s in shapes] == [(64, 16)] * 4


def test_dtensor_block_matches_torchs_offsets():
    """dtensor_block's windows agree with torch's own compute_local_shape_and_global_offset on
    uneven and nested placements (no process group needed: a fake mesh coordinate)."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import _compute_local_shape_and_global_offset

    class FakeMesh:
        def __init__(self, shape, coord):
            self.shape, self.coord = shape, coord

        def get_coordinate(self):
            return list(self.coord)

        def size(self, d):
            return self.shape[d]

    class FakeDT:
        def __init__(self, shape, mesh, placements):
            self.shape, self.device_mesh, self.placements = shape, mesh, placements

        def dim(self):
            return len(self.shape)

    for gshape in [(7, 5), (3, 9), (10, 10), (1, 4)]:
        for pls in [[Shard(0), Shard(1)], [Shard(0), Shard(0)], [Shard(1), Shard(1)], [Replicate(), Shard(1)], [Shard(1), Shard(0)]]:
            for mshape in [(2, 2), (3, 2), (2, 3)]:
                for c0 in range(mshape[0]):
                    for c1 in range(mshape[1]):
                        blk = pt.dtensor_block(FakeDT(gshape, FakeMesh(mshape, (c0, c1)), pls))
                        shape, off = _compute_local_shape_and_global_offset(gshape, mshape, [c0, c1], pls)
                        assert tuple(n for _, n in blk) == tuple(shape), (gshape, pls, mshape, c0, c1)
                        assert all(n == 0 or s == o for (s, n), o in zip(blk, off)), (gshape, pls, mshape, c0, c1, blk, off)
    from torch.distributed.tensor import Partial
    from torch.distributed.tensor.placement_types import _StridedShard

    for bad in (Partial(), _StridedShard(0, split_factor=2)):
        with pytest.raises(ValueError, match="not supported"):
            pt.dtensor_block(FakeDT((4, 4), FakeMesh((2, 2), (0, 1)), [Shard(1), bad]))
