"""paraminit.torch.init_module on single-process modules: PyTorch's reset_parameters as default rules
(every tensor within the 5-sigma bound of its scheme), bits independent of construction order and
of torch's RNG, rules by glob and from a spec file, meta materialization, windows."""
import json
import math

import pytest

torch = pytest.importorskip("torch")
pt = pytest.importorskip("paraminit.torch")
from torch import nn  # noqa: E402

import _torch_models as M  # noqa: E402


def bits(t):
    t = t.detach().contiguous()
    return t.view({8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}[t.element_size()]) if t.is_floating_point() else t


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(bits(a), bits(b))


def state_bits_equal(m1, m2):
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert s1.keys() == s2.keys()
    bad = [k for k in s1 if not same_bits(s1[k], s2[k])]
    assert not bad, f"different bits: {bad}"


MODELS = {"gpt": M.TinyGPT, "encoder": M.EncoderNet, "conv": M.ConvNet, "rnn": M.RNNs}


def five_sigma_mean(row, t):
    """|measured mean - expected mean| <= 5 * expected std / sqrt(N) (+ rounding): the sample mean's bound."""
    exp = pt.expected_stats(row.fields | {"scheme": row.scheme}, row.global_shape)
    n = t.numel()
    return abs(row.mean - exp[0]) <= 5 * exp[1] / math.sqrt(n) + 1e-6 * (exp[1] + abs(exp[0])) + 1e-12


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_defaults_within_5_sigma(kind):
    """Every tensor's measured std is within 5 sigma of its scheme's expected std: |s - sigma| <=
    5 sqrt((m4 - s^4) / N) / (2 s) + the dtype's relative rounding (paraminit init's bound), and its
    mean within 5 sigma / sqrt(N) of the expected mean; constants exact. Random tensors of fewer
    than 32 values are not checked (the bound is asymptotic)."""
    m = MODELS[kind]()
    report = pt.init_module(m, 1234)
    assert report.ok, str(report)
    tensors = dict(m.named_parameters(remove_duplicate=False)) | dict(m.named_buffers())
    assert {id(tensors[r.name]) for r in report} == {id(t) for t in tensors.values()}, "every tensor written"
    assert len(report) == len({id(t) for t in tensors.values()}), "and once"
    for r in report:
        t = tensors[r.name]
        if not t.is_floating_point():
            assert int(t) == 0  # num_batches_tracked
            continue
        assert r.expected_std is not None, r
        assert r.ok is True or (r.ok is None and t.numel() < 32), r  # tiny random tensors: not checked
        if t.numel() > 1:
            assert five_sigma_mean(r, t), r


def test_defaults_are_pytorchs_distributions():
    """The default schemes have PyTorch's reset_parameters bounds: U(+-1/sqrt(fan_in)) for Linear /
    Conv weights and biases, U(+-1/sqrt(hidden)) for RNNs, xavier_uniform for MHA in_proj, N(0, 1)
    embeddings; checked against the extremes torch's own init reaches."""
    m = M.ConvNet()
    pt.init_module(m, 5)
    for mod in (m.conv1, m.conv2, m.conv1d, m.conv3d, m.up, m.fc):
        w = mod.weight
        fan_in = w.shape[1] * math.prod(w.shape[2:])
        b = 1 / math.sqrt(fan_in)
        for t in (w, mod.bias):
            assert t.abs().max() <= b
        assert w.abs().max() > 0.9 * b  # >= 96 values: near the bound
    r = M.RNNs()
    pt.init_module(r, 5)
    for name, t in r.lstm.named_parameters():
        assert t.abs().max() <= 1 / math.sqrt(20), name
    g = M.TinyGPT()
    rep = {row.name: row for row in pt.init_module(g, 5)}
    w = g.h[0].attn.in_proj_weight
    assert w.abs().max() <= math.sqrt(6 / (w.shape[0] + w.shape[1]))
    assert rep["h.0.attn.in_proj_weight"].scheme == "xavier_uniform"
    assert rep["h.0.attn.in_proj_bias"].scheme == "zeros" and rep["h.0.attn.out_proj.bias"].scheme == "zeros"
    assert rep["h.0.attn.out_proj.weight"].scheme == "kaiming_uniform"
    assert rep["wpe.weight"].scheme == "normal" and rep["wpe.weight"].expected_std == 1.0
    assert "wte.weight" not in rep, "a tied parameter is written once, under the smallest of its names"
    assert rep["lm_head.weight"].scheme == "kaiming_uniform"
    rep = {row.name: row for row in pt.init_module(g, 5, {"wte.weight": {"scheme": "normal", "std": 0.02}})}
    assert rep["lm_head.weight"].expected_std == 0.02, "a rule for any of a tied tensor's names applies"


@pytest.mark.parametrize("kind", ["gpt", "conv", "rnn"])
def test_same_bits_in_another_construction_order(kind):
    """Submodules registered in the opposite order (same names), and torch's RNG in another state:
    the same bits, because each tensor's stream is key_for(seed, its qualified name)."""
    torch.manual_seed(1)
    a = MODELS[kind]()
    torch.manual_seed(2)
    b = MODELS[kind](reverse=True)
    assert [n for n, _ in a.named_parameters()] != [n for n, _ in b.named_parameters()]
    pt.init_module(a, 99)
    torch.manual_seed(3)
    pt.init_module(b, 99)
    state_bits_equal(a, b)
    c = MODELS[kind]()
    pt.init_module(c, 100)
    assert not torch.equal(dict(a.named_parameters())[next(iter(dict(a.named_parameters())))],
                           dict(c.named_parameters())[next(iter(dict(c.named_parameters())))]), "another seed, other values"


def test_meta_device_materialized():
    """A module built on meta is materialized (to_empty) on the device asked for and filled there,
    with the bits of the same module built on the CPU."""
    with torch.device("meta"):
        m = M.TinyGPT()
        c = M.ConvNet()
    assert m.wte.weight.is_meta
    pt.init_module(m, 3, device="cpu")
    pt.init_module(c, 3)
    assert all(p.device.type == "cpu" for p in list(m.parameters()) + list(c.parameters()) + list(c.buffers()))
    ref, cref = M.TinyGPT(), M.ConvNet()
    pt.init_module(ref, 3)
    pt.init_module(cref, 3)
    state_bits_equal(m, ref)
    state_bits_equal(c, cref)
    assert m.lm_head.weight is m.wte.weight, "tying survives to_empty"


def test_rules_by_glob_first_match_wins():
    m = M.TinyGPT()
    rules = {
        "h.*.mlp.c_fc.weight": {"scheme": "normal", "std": 0.02},
        "h.*.mlp.*.weight": {"scheme": "normal", "std": 0.5},  # also matches c_fc: the first one wins
        "*.bias": {"scheme": "zeros"},
        "wpe.weight": {"scheme": "trunc_normal", "std": 0.01, "low": -0.02, "high": 0.02},
    }
    rep = {r.name: r for r in pt.init_module(m, 8, rules)}
    assert rep["h.0.mlp.c_fc.weight"].fields == {"std": 0.02} and rep["h.1.mlp.c_fc.weight"].expected_std == 0.02
    assert rep["h.0.mlp.c_proj.weight"].expected_std == 0.5
    assert all(float(p.detach().abs().max()) == 0 for n, p in m.named_parameters() if n.endswith(".bias"))
    assert float(m.wpe.weight.detach().abs().max()) <= 0.02
    assert rep["h.0.attn.in_proj_weight"].scheme == "xavier_uniform", "no rule: the default"
    assert all(r.ok is not False for r in rep.values())
    # the bits of a rule are those of the core fill by the name
    w = torch.empty(128, 32)
    import paraminit
    paraminit.normal_(w, 0.0, 0.02, seed=8, name="h.0.mlp.c_fc.weight")
    assert same_bits(w, m.h[0].mlp.c_fc.weight)


def test_rules_from_spec_file(tmp_path):
    spec = {
        "seed": 77,
        "parameters": {"wte.weight": {"shape": [50, 32], "scheme": "normal", "std": 0.02},
                       "ln_f.*": {"scheme": "ones"}},
        "repeat": [{"count": 2, "name": "h.{i}", "parameters": {
            "attn.in_proj_weight": {"shape": [96, 32], "scheme": "orthogonal", "gain": 1.0},
            "mlp.c_proj.weight": {"shape": [32, 128], "scheme": "he_normal", "mode": "fan_out", "nonlinearity": "relu"}}}],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    a, b = M.TinyGPT(), M.TinyGPT()
    rep = pt.init_module(a, None, str(path))  # seed None: the spec's
    assert rep.seed == 77 and rep.ok, str(rep)
    rows = {r.name: r for r in rep}
    assert rows["ln_f.bias"].scheme == "ones" and rows["h.1.attn.in_proj_weight"].scheme == "orthogonal"
    q = a.h[1].attn.in_proj_weight.double()
    assert torch.allclose(q.T @ q, torch.eye(32, dtype=torch.float64), atol=1e-4)
    pt.init_module(b, 77, spec)  # the parsed object; an explicit seed
    state_bits_equal(a, b)
    bad = dict(spec, parameters={"wte.weight": {"shape": [51, 32], "scheme": "normal"}})
    with pytest.raises(ValueError, match="shape"):
        pt.init_module(M.TinyGPT(), 1, bad)
    with pytest.raises(ValueError, match="not a field of scheme normal"):
        pt.init_module(M.TinyGPT(), 1, {"wte.weight": {"scheme": "normal", "gain": 2}})
    with pytest.raises(ValueError, match="unknown scheme"):
        pt.init_module(M.TinyGPT(), 1, {"wte.weight": {"scheme": "gaussian"}})


def test_report_to_spec_roundtrip(tmp_path):
    """Report.to_spec() is a paraminit init spec with the same names and schemes: as rules it gives
    the same bits (what bench/python_bench.py hands to the CLI)."""
    a, b = M.ConvNet(), M.ConvNet()
    spec = pt.init_module(a, 4).to_spec()
    assert spec["seed"] == 4 and spec["parameters"]["conv1.weight"] == {"shape": [16, 3, 3, 3], "scheme": "kaiming_uniform", "a": math.sqrt(5)}
    spec["parameters"] = {k: v for k, v in spec["parameters"].items() if not k.endswith("num_batches_tracked")}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    pt.init_module(b, None, tmp_path / "s.json")
    state_bits_equal(a, b)


def test_report_prints_the_cli_table():
    m = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    rep = pt.init_module(m, 0)
    lines = str(rep).splitlines()
    assert lines[0] == "| name | shape | dtype | scheme | mean | std | expected std | ok | ms |"
    assert lines[1] == "|---|---|---|---|---:|---:|---:|---|---:|"
    assert lines[2].startswith("| 0.bias | (3,) | f32 | uniform | ")
    assert [r.name for r in rep] == ["0.bias", "0.weight", "1.bias", "1.weight"]
    r = rep[1]
    assert r.shape == (3, 4) and r.expected_std == pytest.approx(1 / math.sqrt(3 * 4))


def test_unknown_module_is_an_error_naming_the_parameter():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.full((4,), 7.0))

    m = nn.Sequential(nn.Linear(4, 4), Scale())
    before = m[0].weight.clone()
    with pytest.raises(ValueError, match=r"1\.gamma \(Scale\.gamma"):
        pt.init_module(m, 1)
    assert torch.equal(before, m[0].weight) and float(m[1].gamma.detach()[0]) == 7.0, "nothing written"
    rep = pt.init_module(m, 1, {"*.gamma": {"scheme": "constant", "value": 0.5}})
    assert float(m[1].gamma.detach().sum()) == 2.0 and rep.ok


def test_meta_buffer_without_rule_is_an_error():
    class WithMask(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.register_buffer("mask", torch.ones(3, 3), persistent=False)

    with torch.device("meta"):
        m = WithMask()
    with pytest.raises(ValueError, match="mask"):
        pt.init_module(m, 1)
    pt.init_module(m, 1, {"mask": {"scheme": "ones"}})
    assert float(m.mask.sum()) == 9


def test_embedding_padding_row_and_gate_bias():
    e = M.EncoderNet()
    pt.init_module(e, 2)
    assert float(e.emb.weight.detach()[0].abs().sum()) == 0 and float(e.emb.weight.detach()[1].abs().sum()) > 0
    r = M.RNNs()
    rep = {x.name: x for x in pt.init_module(r, 2, gate_bias=1.0)}
    b = r.lstm.bias_ih_l1_reverse.detach()
    assert torch.equal(b[20:40], torch.ones(20)) and float(b[:20].abs().sum()) == 0 and float(b[40:].abs().sum()) == 0
    assert float(r.lstm.bias_hh_l0.detach().abs().sum()) == 0
    g = r.gru.bias_ih_l0.detach()  # r, z, n: the update gate z
    assert torch.equal(g[16:32], torch.ones(16)) and float(g[:16].abs().sum()) == 0
    assert rep["gru.bias_ih_l0"].scheme == "gate_bias" and rep["gru.bias_ih_l0"].ok
    assert rep["lstm.weight_ih_l0"].scheme == "uniform"


def test_windows_tensor_parallel_without_dtensor():
    """Megatron-style shards as plain tensors: windows=(dim, start, global_extent) make the shards of
    a column/row-parallel Linear concatenate to the unsharded init, orthogonal included."""
    whole = nn.Linear(12, 10)
    rules = {"q.weight": {"scheme": "orthogonal", "gain": 2.0}}
    pt.init_module(whole, 6)
    col = [nn.Linear(12, 5) for _ in range(2)]  # weight (5, 12): rows 5r..5r+5 of (10, 12)
    row = [nn.Linear(4, 10) for _ in range(3)]  # weight (10, 4): cols 4r..4r+4
    for r, m in enumerate(col):
        pt.init_module(m, 6, windows={"weight": (0, 5 * r, 10), "bias": (0, 5 * r, 10)})
    for r, m in enumerate(row):
        # the bias of a row-parallel Linear is whole on each rank; the fan_in is the global one
        pt.init_module(m, 6, windows={"weight": (1, 4 * r, 12)},
                       rules={"bias": {"scheme": "uniform", "low": -1 / math.sqrt(12), "high": 1 / math.sqrt(12)}})
    assert same_bits(torch.cat([m.weight for m in col], 0), whole.weight)
    assert same_bits(torch.cat([m.bias for m in col], 0), whole.bias)
    assert same_bits(torch.cat([m.weight for m in row], 1), whole.weight)
    q = nn.Module()
    q.q = nn.Linear(6, 8, bias=False)
    pt.init_module(q, 6, rules)
    parts = []
    for r in range(3):  # uneven column shards 2, 2, 2 of 6; and rows 3, 5 of 8
        p = nn.Module()
        p.q = nn.Linear(2, 8, bias=False)
        pt.init_module(p, 6, rules, windows={"q.weight": (1, 2 * r, 6)})
        parts.append(p.q.weight)
    assert same_bits(torch.cat(parts, 1), q.q.weight)
    t1, t2 = torch.empty(3, 6), torch.empty(5, 6)
    pt.fill_(t1, rules["q.weight"], seed=6, name="q.weight", window=(0, 0, 8))
    pt.fill_(t2, rules["q.weight"], seed=6, name="q.weight", window=(0, 3, 8))
    assert same_bits(torch.cat([t1, t2]), q.q.weight)


@pytest.mark.parametrize("scheme", [{"scheme": "normal", "std": 0.3}, {"scheme": "kaiming_uniform", "a": 2.0},
                                    {"scheme": "orthogonal", "gain": 1.5}, {"scheme": "trunc_normal", "std": 1.0}])
def test_block_sharded_along_two_dims(monkeypatch, scheme):
    """A block sharded along two tensor dims (a 2-D mesh's Shard(0) x Shard(1)) gets the bits of that
    block of the whole, through the slab temporary; slabs forced small so several are used."""
    monkeypatch.setattr(pt, "_SLAB_BYTES", 64)
    shape = (9, 7, 3)
    whole = torch.empty(shape)
    pt.fill_(whole, scheme, seed=3, name="w")
    for r0, n0, r1, n1 in [(0, 5, 0, 4), (5, 4, 4, 3), (2, 3, 1, 5), (8, 1, 6, 1)]:
        local = torch.empty(n0, n1, 3)
        pt._fill_block(local, shape, [(r0, n0), (r1, n1), (0, 3)], pt._check_rule("s", scheme, "t"), 3, "w", None)
        assert same_bits(local, whole[r0:r0 + n0, r1:r1 + n1]), (r0, n0, r1, n1)
    nc = torch.empty(7, 9).t()  # a non-contiguous local tensor: filled through a contiguous copy
    pt.fill_(nc, scheme, seed=3, name="v")
    ref = torch.empty(9, 7)
    pt.fill_(ref, scheme, seed=3, name="v")
    assert same_bits(nc.contiguous(), ref)


def test_dtypes_and_wrapper_names():
    a = nn.Sequential(nn.Linear(8, 8)).to(torch.bfloat16)
    b = nn.Sequential(nn.Linear(8, 8)).double()
    assert pt.init_module(a, 1).ok and pt.init_module(b, 1).ok
    assert a[0].weight.dtype == torch.bfloat16
    inner = nn.Sequential(nn.Linear(4, 4))
    wrapper = nn.Module()
    wrapper._orig_mod = nn.Sequential(nn.Linear(4, 4))  # as torch.compile names it
    pt.init_module(inner, 1)
    rep = pt.init_module(wrapper, 1)
    assert [r.name for r in rep] == ["0.bias", "0.weight"]
    assert same_bits(wrapper._orig_mod[0].weight, inner[0].weight)


def test_bits_equal_the_program_on_the_reports_spec(cli_run):
    """init_module and `paraminit init` on the spec its report writes (same names, shapes, schemes,
    seed) give the same bits: the Python path adds nothing to the values."""
    m = nn.Module()
    m.gpt = M.TinyGPT()
    m.conv = M.ConvNet()
    m.rnn = M.RNNs()
    rules = {"gpt.h.0.mlp.c_fc.weight": {"scheme": "orthogonal", "gain": 1.5},
             "gpt.h.1.mlp.c_proj.weight": {"scheme": "trunc_normal", "std": 0.02},
             "conv.conv1.weight": {"scheme": "he_normal", "mode": "fan_out", "nonlinearity": "relu"},
             "gpt.wpe.weight": {"scheme": "sparse", "k": 3}}
    report = pt.init_module(m, 31337, rules, gate_bias=1.0)
    spec = report.to_spec()
    got = cli_run(spec, "torch_module_report")
    tensors = dict(m.named_parameters(remove_duplicate=False)) | dict(m.named_buffers())
    assert set(got) == set(spec["parameters"])
    bad = [k for k in got if not same_bits(got[k], tensors[k])]
    assert not bad, f"init_module and the program differ in {bad}"


@pytest.mark.gpu
def test_meta_module_on_cuda_has_the_cpu_bits():
    """A meta module materialized on the GPU and filled there has the CPU's bits (element-wise
    schemes; orthogonal agrees to a tolerance only, so none here); skips without a GPU."""
    with torch.device("meta"):
        g = M.TinyGPT()
        c = M.ConvNet()
    pt.init_module(g, 11, device="cuda")
    pt.init_module(c, 11, device="cuda")
    assert g.wte.weight.is_cuda and c.bn1.running_var.is_cuda
    ref_g, ref_c = M.TinyGPT(), M.ConvNet()
    pt.init_module(ref_g, 11)
    pt.init_module(ref_c, 11)
    state_bits_equal(g.cpu(), ref_g)
    state_bits_equal(c.cpu(), ref_c)
