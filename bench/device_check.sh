#!/usr/bin/env bash
# The one device script (shared/DESIGN.md section 7), for a machine with a CUDA GPU:
#   1. build for sm_90 only (fast),
#   2. run the gpu-labelled tests (GPU bits == CPU bits, > 2^31 elements, graph capture, ...),
#   3. run the GPU fill table against cudaMemsetAsync and cuRAND's host API, and torch.nn.init
#      when PyTorch is installed, in the same run,
#   4. print a short summary last.
# Sized for under 5 minutes of device time. Usage: bench/device_check.sh [build-dir]
set -uo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-device}"
export PATH="/usr/local/cuda/bin:$PATH"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader || true

echo "== build (sm_90)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARAMINIT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" 2>&1 | tail -3 || exit 1

echo "== gpu tests"
ctest --test-dir "$build" -L gpu --output-on-failure 2>&1 | tail -25
gpu_rc=${PIPESTATUS[0]}

echo "== cpu tests (same build)"
ctest --test-dir "$build" -L cpu -j 8 2>&1 | tail -3

echo "== GPU fills, 2^30 elements (f64: 2^29)"
"$build/bench/paraminit_bench" --device cuda --elements $((1 << 30)) --reps 9 | tee /tmp/pi_gpu_table.txt
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  python3 bench/peers.py --device cuda --elements $((1 << 30)) --reps 9 | tee -a /tmp/pi_gpu_table.txt
else
  echo "(torch with CUDA not installed: no torch.nn.init row)"
fi

echo
echo "== summary (fraction of cudaMemsetAsync bandwidth; targets: f32 uniform >= 85%, f32 normal >= 60%, bf16 uniform >= 70%, sparse >= 60%)"
grep -E "\| gpu \| (uniform|normal|trunc_normal|curand|sparse)" /tmp/pi_gpu_table.txt | awk -F'|' '{printf "%-28s %-5s %8s G elem/s %6s\n", $3, $4, $7, $9}'
echo "orthogonal (targets vs torch.nn.init.orthogonal_: 8192^2 1.5x, 65536x4096 3x faster):"
grep -E "orthogonal" /tmp/pi_gpu_table.txt | grep -E "\| (gpu|cuda) \|"
echo "calibration on the device (vs its cuBLAS GEMMs alone):"
grep -E "\| gpu \| (layer_statistics|calibrate_lsuv)" /tmp/pi_gpu_table.txt
echo "gpu tests: $([ "$gpu_rc" = 0 ] && echo passed || echo FAILED)   elapsed: $(( $(date +%s) - t0 )) s"
exit "$gpu_rc"
