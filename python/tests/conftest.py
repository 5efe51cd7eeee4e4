"""Shared fixtures of the paraminit package tests.

The bit-identity tests compare the Python calls with an independent path: the C++ program
`paraminit init --spec spec.json --out f.safetensors [--world-size W --rank R]` built from the same
tree (tools/cmd_init.cpp). It is found through the environment variable PARAMINIT_CLI, else at
<repo>/build/paraminit (what the README's test command builds first); without it those tests skip
and say so.
"""
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli_path():
    env = os.environ.get("PARAMINIT_CLI")
    if env:
        return pathlib.Path(env)
    return REPO / "build" / "paraminit"


@pytest.fixture(scope="session")
def cli():
    """The paraminit program, or a skip that says how to build it."""
    p = _cli_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.skip(
            f"the paraminit program is not at {p}: build it (cmake -S . -B build && "
            "cmake --build build --target paraminit_cli) or set PARAMINIT_CLI"
        )
    return p


def run_cli(cli_path, spec, workdir, tag, world=1, rank=0):
    """Runs `paraminit init` on `spec` (a dict) and returns {name: torch tensor} of its output."""
    from safetensors.torch import load_file

    workdir = pathlib.Path(workdir)
    spec_file = workdir / f"{tag}.json"
    out = workdir / f"{tag}.safetensors"
    spec_file.write_text(json.dumps(spec))
    cmd = [str(cli_path), "init", "--spec", str(spec_file), "--out", str(out), "--device", "cpu", "--quiet"]
    if world > 1:
        cmd += ["--world-size", str(world), "--rank", str(rank)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    # 3 is the program's statistical verdict on small tensors (a measured std outside its bound),
    # not an error: the bits are what these tests compare.
    assert r.returncode in (0, 3), f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return load_file(str(out))


@pytest.fixture(scope="session")
def cli_run(cli, tmp_path_factory):
    """cli_run(spec, tag, world=1, rank=0) -> {name: tensor}, cached per tag for the session."""
    cache = {}
    workdir = tmp_path_factory.mktemp("cli")

    def go(spec, tag, world=1, rank=0):
        key = (tag, world, rank)
        if key not in cache:
            cache[key] = run_cli(cli, spec, workdir, f"{tag}_w{world}_r{rank}", world, rank)
        return cache[key]

    return go


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    import paraminit

    return paraminit.cuda_built() and torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="no CUDA device, or paraminit built without CUDA (PARAMINIT_CUDA=ON)")
    if any("gpu" in item.keywords for item in items) and not cuda_available():
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip_gpu)
