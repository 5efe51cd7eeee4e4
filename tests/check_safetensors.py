#!/usr/bin/env python3
"""Python's safetensors package reads the file paraminit wrote (tests/safetensors_test.cpp,
WritesTheFileForThePythonCheck) and checks every value. Exit 77 (skipped) without the package."""
import sys

try:
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file
except ImportError:
    print("safetensors or numpy not installed: skipped")
    sys.exit(77)

path = sys.argv[1]
t = load_file(path)
expect = np.arange(24, dtype=np.float64) / 8 - 1
assert t["x"].dtype == np.float32 and t["x"].shape == (2, 3, 4), t["x"]
assert np.array_equal(t["x"].reshape(-1), expect.astype(np.float32))
assert t["y"].dtype == np.float64 and np.array_equal(t["y"], expect)
assert t["h"].dtype == np.float16 and t["h"].shape == (3, 2)
assert np.array_equal(t["h"].reshape(-1), (np.arange(6) / 4).astype(np.float16))
with safe_open(path, framework="numpy") as f:
    assert f.metadata() == {"source": "paraminit"}, f.metadata()
print("python safetensors read", path, "ok")
