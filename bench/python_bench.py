#!/usr/bin/env python3
"""The Python package's benchmark rows (issue 13), printed as Markdown.

(a) Python call overhead: median microseconds of one ``paraminit.uniform_`` call on a 1-element f32
    torch tensor, against ``paraminit._core._direct_call_seconds`` (the same fill called directly
    from C++ in this process). Target: under 5 us of overhead.
(b) ``paraminit.torch.init_module`` of GPT-2 small (124 M parameters, f32, CPU, built on meta)
    against the sum of the same fills called from C++ -- ``paraminit init --spec S --compare-fills``
    on a spec with the same names, shapes and schemes, written from the init_module report -- and
    against PyTorch's own ``reset_parameters`` on the same module at the same thread count
    (``torch.set_num_threads``). Target: init_module within 1.2x of the C++ fills.

Medians of ``--reps`` (default 5, at least 3) interleaved runs, at 1 thread and at every core. The C++ program has no thread
option (its context takes every core): its 1-thread figure is taken under ``taskset -c 0`` (its
threads then share one core), noted in the row.

usage: python bench/python_bench.py [--cli BUILD/paraminit] [--reps 3] [--threads 1,N]
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

import paraminit
import paraminit.torch as pt


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(d, 3 * d)
        self.attn.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(d, 4 * d)
        self.mlp.c_proj = nn.Linear(4 * d, d)


class GPT2(nn.Module):
    """GPT-2 small's parameters with PyTorch's layouts (Linear (out, in)); lm_head tied to wte."""

    def __init__(self, vocab=50257, ctx=1024, d=768, layers=12):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(vocab, d)
        self.transformer.wpe = nn.Embedding(ctx, d)
        self.transformer.h = nn.ModuleList([Block(d) for _ in range(layers)])
        self.transformer.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight


def median_of(fn, reps):
    xs = []
    for _ in range(reps):
        xs.append(fn())
    return statistics.median(xs)


def call_overhead(reps):
    t = torch.empty(1)
    n = 20000

    def batch(**kw):
        def run():
            t0 = time.perf_counter()
            for _ in range(n):
                paraminit.uniform_(t, -1.0, 1.0, seed=1, **kw)
            return (time.perf_counter() - t0) / n
        return run

    for _ in range(2000):  # warm up
        paraminit.uniform_(t, seed=1)
    py = median_of(batch(), max(reps, 5))
    py_named = median_of(batch(name="transformer.h.0.mlp.c_fc.weight"), max(reps, 5))
    direct = paraminit._core._direct_call_seconds(n)
    print("| call | median us per call | direct C++ call us | overhead us | target |")
    print("|---|---:|---:|---:|---|")
    for label, s in (("paraminit.uniform_(t, seed=1), 1-element torch f32", py),
                     ("the same with name= (stream from the name's hash)", py_named)):
        ov = (s - direct) * 1e6
        print(f"| {label} | {s * 1e6:.2f} | {direct * 1e6:.2f} | {ov:.2f} | < 5 us: {'yes' if ov < 5 else 'NO'} |")


def cli_fills_once(cli, spec_path, threads, ncores):
    """The program's 'fills alone' seconds for the spec (one run); whether it ran under taskset."""
    out = os.path.join(tempfile.gettempdir(), f"python_bench_{os.getpid()}.safetensors")
    cmd = [cli, "init", "--spec", spec_path, "--out", out, "--compare-fills", "--quiet", "--device", "cpu"]
    pinned = threads < ncores and shutil.which("taskset") is not None
    if pinned:
        cmd = ["taskset", "-c", ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:threads])] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        os.remove(out)
    except OSError:
        pass
    if r.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    m = re.search(r"fills alone: ([0-9.]+) s", r.stdout)
    if not m:
        raise RuntimeError(f"no 'fills alone' line in: {r.stdout}")
    return float(m.group(1)), pinned


def gpt2_rows(cli, reps, thread_counts, seed=1234):
    with torch.device("meta"):
        model = GPT2()
    report = pt.init_module(model, seed, measure=False)  # materializes on the CPU (first touch)
    nparams = sum(math.prod(r.global_shape) for r in report)
    spec = report.to_spec()
    spec_path = os.path.join(tempfile.gettempdir(), f"python_bench_gpt2_{os.getpid()}.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    ncores = len(os.sched_getaffinity(0))
    print(f"\nGPT-2 small: {len(report)} tensors, {nparams / 1e6:.1f} M parameters, f32, CPU; "
          f"medians of {reps}; spec for the C++ fills: {spec_path}")
    print("| threads | init_module s | with to_empty from meta s | with measured stats s | C++ fills alone s | "
          "init_module / C++ fills | torch reset_parameters s | init_module / torch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    saved_torch, saved_pi = torch.get_num_threads(), paraminit.get_num_threads()
    try:
        for T in thread_counts:
            paraminit.set_num_threads(T)
            torch.set_num_threads(T)

            def init_warm():
                t0 = time.perf_counter()
                pt.init_module(model, seed, measure=False)
                return time.perf_counter() - t0

            def init_meta():
                with torch.device("meta"):
                    m = GPT2()
                t0 = time.perf_counter()
                pt.init_module(m, seed, measure=False)
                dt = time.perf_counter() - t0
                del m
                return dt

            def init_measured():
                t0 = time.perf_counter()
                pt.init_module(model, seed, measure=True)
                return time.perf_counter() - t0

            def torch_reset():
                t0 = time.perf_counter()
                with torch.no_grad():
                    for mod in model.modules():
                        if hasattr(mod, "reset_parameters"):
                            mod.reset_parameters()
                return time.perf_counter() - t0

            # interleaved, so that a busy machine slows both sides of a ratio alike
            runs = {"warm": [], "meta": [], "measured": [], "torch": [], "fills": []}
            pinned = False
            for _ in range(reps):
                runs["warm"].append(init_warm())
                if cli:
                    f, pinned = cli_fills_once(cli, spec_path, T, ncores)
                    runs["fills"].append(f)
                runs["torch"].append(torch_reset())
                runs["meta"].append(init_meta())
                runs["measured"].append(init_measured())
            warm, meta, measured, ref = (statistics.median(runs[k]) for k in ("warm", "meta", "measured", "torch"))
            fills = statistics.median(runs["fills"]) if runs["fills"] else None
            fills_txt = "-" if fills is None else f"{fills:.3f}" + (" (taskset)" if pinned else "")
            ratio = "-" if fills is None else f"{warm / fills:.2f}"
            print(f"| {T} | {warm:.3f} | {meta:.3f} | {measured:.3f} | {fills_txt} | {ratio} | {ref:.3f} | {warm / ref:.2f} |")
            sys.stdout.flush()
    finally:
        paraminit.set_num_threads(saved_pi)
        torch.set_num_threads(saved_torch)
    print("init_module: on the materialized module (memory already touched), measure=False; 'with to_empty' "
          "builds on meta and includes materialization (first touch of the memory); 'with measured stats' "
          "adds the report's mean/std (two passes in double).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default=None, help="the paraminit program (default: build/paraminit if present)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1 and every core)")
    a = ap.parse_args()
    reps = max(3, a.reps)
    cli = os.path.abspath(a.cli) if a.cli else None
    if cli is None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        cand = os.path.join(here, "build", "paraminit")
        cli = cand if os.access(cand, os.X_OK) else None
    ncores = len(os.sched_getaffinity(0))
    threads = [int(x) for x in a.threads.split(",")] if a.threads else sorted({1, ncores})
    print(f"paraminit {paraminit.__version__}, torch {torch.__version__}, {ncores} cores available")
    call_overhead(reps)
    gpt2_rows(cli, reps, threads)


if __name__ == "__main__":
    main()
