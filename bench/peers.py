#!/usr/bin/env python3
"""Peers of paraminit_bench in the same run: NumPy and PyTorch fills of the same size, when installed.

Prints rows in the format of paraminit_bench's table (G elements/s, medians). Missing packages are
reported and skipped. PyTorch runs with the same number of threads as paraminit's context
(--threads, default: every core, as paraminit's default CPU context); NumPy's generators are
single-threaded, which the headers say. Usage:
bench/peers.py [--elements N] [--reps R] [--device cpu|cuda] [--threads T]
"""
import argparse
import os
import time


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def timed(fn, reps, sync=None):
    fn()
    if sync:
        sync()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        out.append(time.perf_counter() - t0)
    return median(out)


def row(device, what, dtype, n, bytes_per, sec):
    print(f"| {device} | {what} | {dtype} | {n} | {sec * 1e3:.3f} | {n / sec / 1e9:.3f} | "
          f"{n * bytes_per / sec / 1e9:.2f} | - |", flush=True)


ORTHO_SHAPES = {"cpu": ((2048, 2048), (16384, 1024)), "cuda": ((8192, 8192), (65536, 4096))}


def ortho_header(title):
    print(f"\n{title}")
    print("| device | orthogonal | dtype | shape | median s |")
    print("|---|---|---|---|---:|")


def orthogonal_numpy(reps):
    """PyTorch's algorithm in NumPy (its bundled LAPACK): normal draw, QR, sign of diag(R)."""
    import numpy as np
    rng = np.random.default_rng(1)
    ortho_header(f"Orthogonal peers: numpy {np.__version__} (median of 3)")
    for rows, cols in ORTHO_SHAPES["cpu"]:
        def run():
            a = rng.standard_normal((rows, cols), dtype=np.float32)
            if rows < cols:
                a = a.T
            q, r = np.linalg.qr(a)
            q *= np.sign(np.diag(r))
            return q.T if rows < cols else q
        print(f"| cpu | numpy qr + sign | f32 | {rows}x{cols} | {timed(run, 3):.3f} |", flush=True)


def orthogonal_torch(torch, device):
    sync = torch.cuda.synchronize if device == "cuda" else None
    ortho_header(f"Orthogonal peers: torch {torch.__version__} nn.init.orthogonal_ (median of 3, "
                 f"{torch.get_num_threads()} threads)")
    for rows, cols in ORTHO_SHAPES[device]:
        w = torch.empty(rows, cols, device=device)
        sec = timed(lambda: torch.nn.init.orthogonal_(w), 3, sync)
        print(f"| {device} | torch nn.init.orthogonal_ | f32 | {rows}x{cols} | {sec:.3f} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=1 << 26)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads of the peers (paraminit's context: every core by default)")
    a = ap.parse_args()
    n = a.elements
    print(f"\nPeers: {n} elements, median of {a.reps}; paraminit's table ran with {a.threads} threads, "
          f"torch runs with {a.threads} (torch.set_num_threads), numpy with 1 (its generators are single-threaded)")
    print("| device | fill | dtype | elements | median ms | G elem/s | GB/s | of limit |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    if a.device == "cpu":
        try:
            import numpy as np
            rng = np.random.default_rng(1)
            out = np.empty(n, dtype=np.float32)
            row("cpu", f"numpy {np.__version__} random (Generator.random)", "f32", n, 4,
                timed(lambda: rng.random(out=out, dtype=np.float32), a.reps))
            row("cpu", "numpy standard_normal", "f32", n, 4,
                timed(lambda: rng.standard_normal(out=out, dtype=np.float32), a.reps))
        except ImportError:
            print("| cpu | numpy | - | - | not installed | | | |")
        orthogonal_numpy(a.reps)
    try:
        import torch
    except ImportError:
        print(f"| {a.device} | torch | - | - | not installed | | | |")
        return
    torch.set_num_threads(a.threads)  # like for like: torch's default here is 1 thread on 2 cores
    orthogonal_torch(torch, a.device)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else None
    w = torch.empty(1024, 1024, device=dev)
    if a.device == "cpu":  # sparse_ is a Python loop over columns: 6.5 minutes at 4096^2 here
        row(a.device, "torch nn.init.sparse_ 0.9 1024x1024", "f32", 1024 * 1024, 4,
            timed(lambda: torch.nn.init.sparse_(w, 0.9, 0.01), 1, sync))
    for dt, name, size in ((torch.float32, "f32", 4), (torch.bfloat16, "bf16", 2)):
        t = torch.empty(n, dtype=dt, device=dev)
        row(a.device, f"torch {torch.__version__} ({torch.get_num_threads()} threads) uniform_", name, n, size, timed(lambda: t.uniform_(-0.05, 0.05), a.reps, sync))
        row(a.device, "torch normal_", name, n, size, timed(lambda: t.normal_(0, 0.02), a.reps, sync))
        row(a.device, "torch nn.init.trunc_normal_", name, n, size,
            timed(lambda: torch.nn.init.trunc_normal_(t, 0, 0.02, -0.04, 0.04), a.reps, sync))


if __name__ == "__main__":
    main()
