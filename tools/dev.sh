#!/usr/bin/env bash
# paraminit's two set-up commands (see README):
#   tools/dev.sh main   build (installing missing Debian packages), then run the main job: paraminit init
#                       of the default model, paraminit load of it, the throughput table and its peers
#   tools/dev.sh test   build, then run every test (CTest; GPU tests skip without a device), then the
#                       sanitizer builds: every test again under AddressSanitizer + UBSan with the CUDA
#                       sources running on the emulated device (label emulated), and the thread pool
#                       and concurrency tests under ThreadSanitizer
# Environment: BUILD_DIR (default build), PARAMINIT_CUDA (AUTO|ON|OFF, default AUTO), JOBS,
#              PARAMINIT_SANITIZERS=0 to skip the sanitizer builds (a quick local run).
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
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)   # LAPACK for the CPU orthogonal family
[ -f /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)    # safetensors headers, model specs
# The main job's peers (bench/peers.py): NumPy and Debian's PyTorch; PARAMINIT_PEERS=0 skips them.
if [ "$mode" = main ] && [ "${PARAMINIT_PEERS:-1}" != 0 ] && ! /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  need+=(python3-torch)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "dev.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# The Python check of our safetensors files needs Python's safetensors package (from PyPI; the test
# is skipped without it).
py_args=()
if command -v python3 >/dev/null 2>&1; then
  py_args=(-DPython3_EXECUTABLE="$(command -v python3)")
  if [ "$mode" = test ] && ! python3 -c "import safetensors, numpy" >/dev/null 2>&1; then
    python3 -m pip install -q safetensors numpy >/dev/null 2>&1 || echo "dev.sh: pip install safetensors failed; its test will be skipped" >&2
  fi
fi

if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPARAMINIT_CUDA="${PARAMINIT_CUDA:-AUTO}" "${py_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"

if [ "$mode" = main ]; then
  # The main job: the built-in default model (GPT-2 small + conv net + LSTM) initialized into a
  # safetensors file with one checked row per parameter, that file loaded back, then the throughput
  # table of every fill and dtype and the peers.
  "$build_dir/paraminit" init --out "$build_dir/paraminit_model.safetensors" --compare-fills
  "$build_dir/paraminit" load "$build_dir/paraminit_model.safetensors"
  "$build_dir/paraminit" bench
  if [ "${PARAMINIT_PEERS:-1}" != 0 ]; then
    py=python3  # the interpreter that has torch (Debian's python3-torch lives in /usr/bin/python3)
    for cand in python3 /usr/bin/python3; do
      if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then py="$cand"; break; fi
    done
    if command -v "$py" >/dev/null 2>&1; then "$py" bench/peers.py || true; fi
  fi
else
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
  if [ "${PARAMINIT_SANITIZERS:-1}" != 0 ]; then
    # The same sources again, every target with ASan + UBSan (no recovery), CUDA drivers compiled as
    # C++ against the emulated device: every CPU test and every gpu test (as gpu_test_emulated), once
    # more. The huge (4 GiB) test ran above; it is not repeated under ASan.
    emu_dir="${build_dir}-emulated"
    cmake -S . -B "$emu_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARAMINIT_CUDA=EMULATE -DPARAMINIT_SANITIZE=ON \
          -DPARAMINIT_BUILD_BENCH=ON "${py_args[@]}" >/dev/null
    cmake --build "$emu_dir" -j "$jobs"
    ctest --test-dir "$emu_dir" --output-on-failure -j "$jobs" -LE huge
    # ThreadSanitizer: the thread pool (errors_test) and concurrent contexts (concurrency_test).
    tsan_dir="${build_dir}-tsan"
    cmake -S . -B "$tsan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARAMINIT_CUDA=OFF -DPARAMINIT_SANITIZE=thread \
          "${py_args[@]}" >/dev/null
    cmake --build "$tsan_dir" -j "$jobs" --target errors_test concurrency_test
    OPENBLAS_NUM_THREADS=1 ctest --test-dir "$tsan_dir" --output-on-failure -j "$jobs" -R '^(errors_test|concurrency_test)$'
  fi
fi
