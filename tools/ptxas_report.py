#!/usr/bin/env python3
"""A static report of the real device code: compiles each CUDA driver (cuda/*.cu) for sm_90 with
`-Xptxas -v`, and for every kernel prints registers per thread, stack frame, spills and the
occupancy they allow on an H200 (64K 32-bit registers, 2048 threads and 32 blocks per SM, 228 KiB
of shared memory). Exits 1 when a kernel spills registers or has a stack frame (local memory)
unless cuda/ptxas_exceptions.txt names it with a reason.

  tools/ptxas_report.py --nvcc /usr/local/cuda/bin/nvcc [--markdown]

Run by CTest (test ptxas_report) in builds with the CUDA toolkit; its table is in bench/RESULTS.md.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The library's device flags (CMakeLists.txt: PARAMINIT_CUDA_FP_FLAGS), sm_90 only.
FLAGS = ["-std=c++17", "-O3", "-DPARAMINIT_WITH_CUDA=1", "-fmad=false", "-prec-div=true", "-prec-sqrt=true",
         "-ftz=false", "-gencode", "arch=compute_90,code=sm_90", "-Xptxas", "-v"]
THREADS_PER_BLOCK = 256  # every launcher's block size (FillPolicy::kThreads, calibrate's kRowThreads)

# H200 (sm_90) limits per SM.
REGS_PER_SM, MAX_THREADS, MAX_BLOCKS, SMEM_PER_SM, REG_UNIT = 65536, 2048, 32, 228 * 1024, 256


def occupancy(regs, smem):
    warps = THREADS_PER_BLOCK // 32
    regs_per_warp = -(-max(regs, 1) * 32 // REG_UNIT) * REG_UNIT
    by_regs = (REGS_PER_SM // regs_per_warp) // warps
    by_smem = SMEM_PER_SM // smem if smem > 0 else MAX_BLOCKS
    blocks = min(by_regs, by_smem, MAX_BLOCKS, MAX_THREADS // THREADS_PER_BLOCK)
    return blocks, blocks * THREADS_PER_BLOCK / MAX_THREADS


def demangle(names):
    tool = shutil.which("c++filt")
    if not tool:
        return names
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return out if len(out) == len(names) else names


def short(name):
    name = re.sub(r"paraminit::(kernels::|detail::)?", "", name)
    name = re.sub(r"\(anonymous namespace\)::", "", name)
    return name if len(name) <= 150 else name[:147] + "..."


def kernels_of(nvcc, src):
    cmd = [nvcc] + FLAGS + ["-I" + os.path.join(ROOT, "include"), "-c", src, "-o", os.devnull]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit("ptxas_report: nvcc failed on " + src)
    found, cur = [], None
    for line in (res.stdout + res.stderr).splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            cur = {"mangled": m.group(1), "stack": 0, "spill_st": 0, "spill_ld": 0, "regs": 0, "smem": 0}
            found.append(cur)
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m:
            cur["regs"] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            cur["smem"] = int(s.group(1)) if s else 0
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nvcc", default=shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (for bench/RESULTS.md)")
    args = ap.parse_args()
    exceptions = []  # (regex, reason)
    path = os.path.join(ROOT, "cuda", "ptxas_exceptions.txt")
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#"):
                pattern, _, reason = line.partition("|")
                exceptions.append((re.compile(pattern.strip()), reason.strip()))
    rows, bad = [], []
    for f in sorted(os.listdir(os.path.join(ROOT, "cuda"))):
        if not f.endswith(".cu"):
            continue
        ks = kernels_of(args.nvcc, os.path.join(ROOT, "cuda", f))
        for k, name in zip(ks, demangle([k["mangled"] for k in ks])):
            blocks, occ = occupancy(k["regs"], k["smem"])
            rows.append((f, short(name), k, blocks, occ))
            if k["stack"] or k["spill_st"] or k["spill_ld"]:
                why = [r for p, r in exceptions if p.search(name)]
                if not why:
                    bad.append(f"{f}: {short(name)}: {k['stack']} bytes stack frame, {k['spill_st']}/{k['spill_ld']} bytes spilled")
    if args.markdown:
        print("| file | kernel | registers | stack | spills (st/ld) | smem | blocks/SM | occupancy |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for f, name, k, blocks, occ in rows:
            print(f"| {f} | `{name}` | {k['regs']} | {k['stack']} | {k['spill_st']}/{k['spill_ld']} | {k['smem']} | {blocks} | {occ:.0%} |")
    else:
        for f, name, k, blocks, occ in rows:
            print(f"{f:15} regs {k['regs']:3} stack {k['stack']:4} spill {k['spill_st']}/{k['spill_ld']} "
                  f"smem {k['smem']:5} occupancy {occ:4.0%}  {name}")
    print(f"ptxas_report: {len(rows)} kernels, {len(bad)} with spills or a stack frame and no stated reason")
    for b in bad:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
