#!/usr/bin/env python3
"""The peers of paraminit's throughput table, in the same run, at the same thread count.

Peers: PyTorch 2.x (torch.Tensor.uniform_/normal_, nn.init.trunc_normal_, fill_, nn.init.orthogonal_,
nn.init.sparse_), JAX on the CPU (jax.random.uniform/normal/truncated_normal, jit-compiled, with
jax_threefry_partitionable on; compile time excluded from the median and printed on its own row),
and NumPy's Generator (single-threaded: NumPy has no threaded generator, which its header says).

Like for like: the peers run with the thread count of paraminit's table (--threads, default: the
count its header printed, else every core). torch gets torch.set_num_threads(T); the process is
pinned to T cores (os.sched_setaffinity) before JAX starts, so XLA's CPU client sizes its pool to T.
Each header prints both sides' thread counts.

Each peer row prints paraminit's time per element / the peer's time per element from the same run
(--paraminit-table: the markdown that `paraminit bench` printed): below 1, paraminit is faster; that
ratio is what RESULTS.md quotes, not the absolute figures, which move from run to run. The orthogonal
rows on the CPU time paraminit through its Python package when it is installed, alternately with
torch in this process (the VM's speed drifts between the table's minute and the peer's).

Usage: bench/peers.py [--paraminit-table FILE] [--elements N] [--reps R] [--device cpu|cuda] [--threads T]
Missing packages are reported as rows and skipped.
"""
import argparse
import os
import re
import time


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def timed(fn, reps, sync=None):
    t0 = time.perf_counter()
    fn()  # warm-up: allocation, first-touch, lazy initialization
    if sync:
        sync()
    if time.perf_counter() - t0 > 2.0:
        reps = min(reps, 3)  # a slow peer: the median of 3 keeps the main job in minutes
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        out.append(time.perf_counter() - t0)
    return median(out)


def read_table(path):
    """paraminit bench's markdown: {(fill, dtype): seconds per element}, {shape: seconds}, threads."""
    fills, ortho, threads = {}, {}, None
    if not path or not os.path.exists(path):
        return fills, ortho, threads
    with open(path) as f:
        for line in f:
            m = re.search(r"(\d+) elements, (\d+) threads", line)
            if m and threads is None:
                threads = int(m.group(2))
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 5 or cells[0] not in ("cpu", "cuda"):
                continue
            try:
                if cells[1] == "orthogonal":
                    ortho[cells[3]] = float(cells[4])
                else:
                    fills[(cells[1], cells[2])] = float(cells[4]) * 1e-3 / float(cells[3])
            except ValueError:
                pass
    return fills, ortho, threads


class Table:
    def __init__(self, fills):
        self.fills = fills
        self.ratios = []  # (peer, fill, dtype, ratio)

    @staticmethod
    def header(title):
        print(f"\n{title}")
        print("| device | peer | fill | dtype | elements | median ms | G elem/s | paraminit ms (same n) | paraminit / peer |")
        print("|---|---|---|---|---:|---:|---:|---:|---:|")

    def row(self, device, peer, fill, dtype, n, sec, ours=None):
        """ours: paraminit's (fill, dtype) key in its table; the ratio is per element."""
        pi = self.fills.get((ours or fill, dtype))
        pi_ms = f"{pi * n * 1e3:.3f}" if pi else "-"
        ratio = f"{pi * n / sec:.3f}" if pi else "-"
        if pi:
            self.ratios.append((peer, fill, dtype, pi * n / sec))
        print(f"| {device} | {peer} | {fill} | {dtype} | {n} | {sec * 1e3:.3f} | {n / sec / 1e9:.3f} | {pi_ms} | {ratio} |",
              flush=True)


def numpy_peers(tab, n, reps):
    try:
        import numpy as np
    except ImportError:
        print("| cpu | numpy | - | - | - | not installed | | | |")
        return
    tab.header(f"NumPy {np.__version__} Generator (PCG64): 1 thread (NumPy's generators are single-threaded), "
               f"median of {reps}")
    rng = np.random.default_rng(1)
    for dt, name in ((np.float32, "f32"), (np.float64, "f64")):
        out = np.empty(n, dtype=dt)
        tab.row("cpu", "numpy Generator.random", "uniform", name, n, timed(lambda: rng.random(out=out, dtype=dt), reps))
        tab.row("cpu", "numpy Generator.standard_normal", "normal", name, n,
                timed(lambda: rng.standard_normal(out=out, dtype=dt), reps))


def torch_peers(tab, torch, device, n, reps, threads):
    sync = torch.cuda.synchronize if device == "cuda" else None
    tab.header(f"PyTorch {torch.__version__} on {device}: {torch.get_num_threads()} threads "
               f"(torch.set_num_threads), paraminit {threads}; median of {reps}")
    dev = torch.device(device)
    for dt, name in ((torch.float32, "f32"), (torch.float64, "f64"), (torch.float16, "f16"), (torch.bfloat16, "bf16")):
        t = torch.empty(n, dtype=dt, device=dev)
        tab.row(device, "torch fill_", "constant", name, n, timed(lambda: t.fill_(0.5), reps, sync))
        tab.row(device, "torch uniform_", "uniform", name, n, timed(lambda: t.uniform_(-0.05, 0.05), reps, sync))
        tab.row(device, "torch normal_", "normal", name, n, timed(lambda: t.normal_(0, 0.02), reps, sync))
        # trunc_normal_ runs at a few M elements/s outside f32: a quarter of the elements (per element
        # against paraminit's row, which is throughput-bound either way)
        tn = t if dt == torch.float32 else t.narrow(0, 0, n // 4)
        tab.row(device, "torch nn.init.trunc_normal_", "trunc_normal", name, tn.numel(),
                timed(lambda: torch.nn.init.trunc_normal_(tn, 0, 0.02, -0.04, 0.04), reps, sync))
        del t
    if device == "cpu":  # sparse_ is a Python loop over columns: minutes at 4096^2; per element against 4096^2
        w = torch.empty(1024, 1024)
        tab.row(device, "torch nn.init.sparse_ 0.9 (1024x1024)", "sparse_fraction 0.9", "f32", 1024 * 1024,
                timed(lambda: torch.nn.init.sparse_(w, 0.9, 0.01), 1), ours="sparse_fraction 0.9 4096x4096")


ORTHO_SHAPES = {"cpu": ((2048, 2048), (16384, 1024)), "cuda": ((8192, 8192), (65536, 4096))}


def interleaved(fn_a, fn_b, reps, sync=None):
    """Medians of fn_a and fn_b timed alternately (a, b, a, b, ...) after one warm-up each: on a VM
    whose speed drifts from minute to minute, both sides see the same minutes."""
    for fn in (fn_a, fn_b):
        fn()
    ta, tb = [], []
    for _ in range(reps):
        for fn, out in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            if sync:
                sync()
            out.append(time.perf_counter() - t0)
    return median(ta), median(tb)


def orthogonal_peers(ortho, torch, device, threads):
    # paraminit's side: the Python package (the same library) timed alternately with torch in this
    # process where it is installed on the CPU; else the figure of paraminit's table.
    pm = None
    if device == "cpu":
        try:
            import paraminit as pm
            ctx = pm.Context.cpu(threads)
        except (ImportError, AttributeError):
            pm = None
    how = "interleaved with paraminit's Python package in this process" if pm else "paraminit from its table"
    print(f"\nOrthogonal: torch {torch.__version__} nn.init.orthogonal_ ({torch.get_num_threads()} threads; "
          f"paraminit {threads}), {how}, median of 5")
    print("| device | peer | dtype | shape | median s | paraminit s | paraminit / peer |")
    print("|---|---|---|---|---:|---:|---:|")
    sync = torch.cuda.synchronize if device == "cuda" else None
    out = []
    for rows, cols in ORTHO_SHAPES[device]:
        w = torch.empty(rows, cols, device=device)
        shape = f"{rows}x{cols}"
        if pm:
            v = torch.empty(rows, cols)
            sec, ours = interleaved(lambda: torch.nn.init.orthogonal_(w), lambda: pm.orthogonal_(v, seed=1, context=ctx), 5)
        else:
            sec = timed(lambda: torch.nn.init.orthogonal_(w), 3, sync)
            ours = ortho.get(shape)
        ratio = ours / sec if ours else None
        out.append((shape, ratio))
        print(f"| {device} | torch nn.init.orthogonal_ | f32 | {shape} | {sec:.3f} | "
              f"{f'{ours:.3f}' if ours else '-'} | {f'{ratio:.3f}' if ratio else '-'} |", flush=True)
    return out


def jax_peers(tab, n, reps):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("\n| cpu | jax | - | - | - | not installed | | | |")
        return
    jax.config.update("jax_threefry_partitionable", True)
    cores = len(os.sched_getaffinity(0))
    tab.header(f"JAX {jax.__version__} on {jax.devices()[0].platform}: XLA's CPU pool on {cores} cores (the process "
               f"is pinned), threefry partitionable; jit, timed to block_until_ready, median of {reps}")
    key = jax.random.key(1)
    fns = {
        "uniform": lambda dt: lambda k: jax.random.uniform(k, (n,), dt, -0.05, 0.05),
        "normal": lambda dt: lambda k: jax.random.normal(k, (n,), dt) * jnp.asarray(0.02, dt),
        "trunc_normal": lambda dt: lambda k: jax.random.truncated_normal(k, -2.0, 2.0, (n,), dt) * jnp.asarray(0.02, dt),
    }
    compile_s = []
    for dt, name in ((jnp.float32, "f32"), (jnp.float16, "f16"), (jnp.bfloat16, "bf16")):
        for fill, make in fns.items():
            t0 = time.perf_counter()
            compiled = jax.jit(make(dt)).lower(key).compile()
            compile_s.append(time.perf_counter() - t0)
            tab.row("cpu", f"jax.random.{'truncated_normal' if fill == 'trunc_normal' else fill}", fill, name, n,
                    timed(lambda: compiled(key).block_until_ready(), reps))
    print(f"(JAX compile, excluded above: median {median(compile_s) * 1e3:.0f} ms per function, "
          f"{sum(compile_s):.2f} s for {len(compile_s)}; f64 needs jax_enable_x64 and is not run)")


def summary(tab, ortho_ratios):
    """The targets of issue 14 against the ratios of this run."""
    print("\nTargets (issue 14), from this run's ratios (paraminit time / peer time; smaller is faster):")
    print("| target | measured | met |")
    print("|---|---|---|")
    torch_r = {(f, d): r for p, f, d, r in tab.ratios if p.startswith("torch") and "sparse" not in p}
    for fill, need in (("uniform", 1 / 3), ("normal", 1 / 3), ("trunc_normal", 1 / 10)):
        for d in ("f32", "f64", "f16", "bf16"):
            if (fill, d) in torch_r:
                need_d = 1 / 10 if d == "bf16" else need
                r = torch_r[(fill, d)]
                print(f"| {fill} {d} >= {1 / need_d:.0f}x faster than torch | {1 / r:.1f}x | {'yes' if r <= need_d else 'NO'} |")
    for shape, r in ortho_ratios:
        need = 1.0 if shape in ("2048x2048", "8192x8192") else 0.5
        if r is not None:
            print(f"| orthogonal {shape} <= {need}x torch's time | {r:.2f}x | {'yes' if r <= need else 'NO'} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paraminit-table", default=None, help="the markdown `paraminit bench` printed in this run")
    ap.add_argument("--elements", type=int, default=1 << 26)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="default: the thread count of paraminit's table")
    ap.add_argument("--no-orthogonal", action="store_true")
    a = ap.parse_args()
    fills, ortho, table_threads = read_table(a.paraminit_table)
    threads = a.threads or table_threads or os.cpu_count() or 1
    if a.device == "cpu" and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if threads < len(cpus):
            os.sched_setaffinity(0, cpus[:threads])  # before torch and JAX size their pools
    n = a.elements
    tab = Table(fills)
    print(f"\nPeers: {n} elements; paraminit's table ran with {table_threads or '?'} threads"
          f"{'' if a.paraminit_table else ' (no table given: no ratios)'}")
    if a.device == "cpu":
        numpy_peers(tab, n, a.reps)
    ortho_ratios = []
    try:
        import torch
        torch.set_num_threads(threads)
        torch_peers(tab, torch, a.device, n, a.reps, threads)
        if not a.no_orthogonal:
            ortho_ratios = orthogonal_peers(ortho, torch, a.device, threads)
    except ImportError:
        print(f"\n| {a.device} | torch | - | - | - | not installed | | | |")
    if a.device == "cpu":
        jax_peers(tab, n, a.reps)
    summary(tab, ortho_ratios)


if __name__ == "__main__":
    main()
