#!/usr/bin/env bash
# paraminit's two set-up commands (see README):
#   tools/dev.sh main   build (installing missing Debian packages), then run the throughput table
#   tools/dev.sh test   build, then run every test (CTest; GPU tests skip without a device)
# Environment: BUILD_DIR (default build), PARAMINIT_CUDA (AUTO|ON|OFF, default AUTO), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in main|test) ;; *) echo "usage: tools/dev.sh main|test" >&2; exit 2 ;; esac

build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"

# Debian packages the build needs; installed only when absent.
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
[ -f /usr/include/gtest/gtest.h ] || need+=(libgtest-dev)
if [ "${#need[@]}" -gt 0 ]; then
  echo "dev.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPARAMINIT_CUDA="${PARAMINIT_CUDA:-AUTO}" >/dev/null
cmake --build "$build_dir" -j "$jobs"

if [ "$mode" = main ]; then
  "$build_dir/bench/paraminit_bench"
  if command -v python3 >/dev/null 2>&1; then python3 bench/peers.py || true; fi
else
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
fi
