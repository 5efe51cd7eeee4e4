#!/usr/bin/env bash
# paraminit's two set-up commands (see README):
#   tools/dev.sh main   build (installing missing Debian packages), set up the Python environment
#                       (.venv from python/requirements.txt) and install the package paraminit into it,
#                       then run the main job: paraminit init of the default model (against one pwrite
#                       of its bytes), paraminit load of it, the throughput table and its peers
#                       (PyTorch 2.x, JAX, NumPy at the same thread count), the Python package's rows
#   tools/dev.sh test   build, set up the Python environment and package, then run every test (CTest;
#                       GPU tests skip without a device), the Python package's tests (pytest, with
#                       torch.distributed on 2 and 4 processes), then the sanitizer builds: every test
#                       again under AddressSanitizer + UBSan with the CUDA sources running on the
#                       emulated device (label emulated), and the thread pool and concurrency tests
#                       under ThreadSanitizer
# Environment: BUILD_DIR (default build), PARAMINIT_CUDA (AUTO|ON|OFF, default AUTO), JOBS,
#              PARAMINIT_SANITIZERS=0 to skip the sanitizer builds (a quick local run),
#              PARAMINIT_PYTHON=0 to skip the Python environment, package, tests and peers,
#              VENV (default .venv) for the Python environment.
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
want_python="${PARAMINIT_PYTHON:-1}"
if [ "$want_python" != 0 ]; then
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "dev.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# The Python environment: a virtual environment with the pinned packages of python/requirements.txt
# (nanobind, scikit-build-core, pytest, NumPy, safetensors, PyTorch 2.x, JAX; about 6 GB, a few
# minutes on a fresh machine), made once and brought up to date when the file changes. The CTest
# check of our safetensors files runs with it too.
venv="${VENV:-.venv}"
py_args=()
if [ "$want_python" != 0 ]; then
  stamp="$venv/.requirements.txt"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s python/requirements.txt "$stamp"; then
    echo "dev.sh: setting up the Python environment $venv (python/requirements.txt)" >&2
    t0=$SECONDS
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r python/requirements.txt
    cp python/requirements.txt "$stamp"
    echo "dev.sh: Python environment ready in $((SECONDS - t0)) s" >&2
  fi
  py_args=(-DPython3_EXECUTABLE="$PWD/$venv/bin/python")
elif command -v python3 >/dev/null 2>&1; then
  py_args=(-DPython3_EXECUTABLE="$(command -v python3)")
fi

if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPARAMINIT_CUDA="${PARAMINIT_CUDA:-AUTO}" "${py_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"

# The Python package, built by pip from this tree (pyproject.toml: scikit-build-core + nanobind; its
# build folder build-py/ is kept, so a second install recompiles only what changed). CPU-only unless
# a GPU is visible (the CUDA build of the module adds minutes and nothing here could run it).
if [ "$want_python" != 0 ]; then
  py_cuda=OFF
  if [ "${PARAMINIT_CUDA:-AUTO}" = ON ] || { [ "${PARAMINIT_CUDA:-AUTO}" = AUTO ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
    py_cuda=ON
  fi
  PARAMINIT_CUDA="$py_cuda" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps .
fi

if [ "$mode" = main ]; then
  # The main job: the built-in default model (GPT-2 small + conv net + LSTM) initialized into a
  # safetensors file with one checked row per parameter, that file loaded back, then the throughput
  # table of every fill and dtype and the peers.
  rm -f "$build_dir/paraminit_model.safetensors"  # time writing the model, not freeing the previous one
  "$build_dir/paraminit" init --out "$build_dir/paraminit_model.safetensors" --compare-fills --compare-write |
    tee "$build_dir/init_run.txt"
  # One run is noisy on a shared machine: four more (--quiet), each against its own limit; the median.
  ratio() { sed -n 's/.*init total \/ pwrite = \([0-9.]*\).*/\1/p'; }
  ratios=("$(ratio <"$build_dir/init_run.txt")")
  rep="$build_dir/paraminit_model_rep.safetensors"
  for _ in 1 2 3 4; do
    rm -f "$rep"
    ratios+=("$("$build_dir/paraminit" init --quiet --out "$rep" --compare-write | ratio)")
  done
  rm -f "$rep"
  mapfile -t sorted < <(printf '%s\n' "${ratios[@]}" | sort -g)
  echo "init total / (pwrite + fsync), this run and 4 more: ${ratios[*]}; median ${sorted[2]} (issue 14: <= 1.3)"
  "$build_dir/paraminit" load "$build_dir/paraminit_model.safetensors"
  "$build_dir/paraminit" bench | tee "$build_dir/bench_table.md"
  # What bounds uniform f32 on this CPU in the same minutes: clock, vector issue rate, memset.
  "$build_dir/bench/paraminit_core_limits"
  if [ "$want_python" != 0 ]; then
    # The peers at paraminit's thread count, each row with paraminit's time / the peer's, then the
    # Python package's own rows (call overhead, init_module of GPT-2 small against C++ and torch).
    "$venv/bin/python" bench/peers.py --paraminit-table "$build_dir/bench_table.md"
    "$venv/bin/python" bench/python_bench.py --cli "$build_dir/paraminit"
  fi
else
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
  if [ "$want_python" != 0 ]; then
    # The Python package: bits against the C++ program, errors, windows, init_module, and
    # torch.distributed (gloo) on 2 and 4 processes.
    PARAMINIT_CLI="$PWD/$build_dir/paraminit" "$venv/bin/python" -m pytest -q python/tests
  fi
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
