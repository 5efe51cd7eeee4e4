#!/usr/bin/env python3
"""Writes tests/data/fixture.safetensors with Python's safetensors package (the reference writer),
for tests/safetensors_test.cpp. The values are small exact numbers the test spells out again.

Run: python3 tools/make_safetensors_fixture.py   (needs safetensors and numpy)
"""
import os

import numpy as np
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "tests", "data", "fixture.safetensors")
tensors = {
    "layer.weight": (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5),  # 0, 0.5, ..., 2.5
    "layer.bias": np.array([1.0, -2.0, 0.25], dtype=np.float64),
    "half": np.array([[1.5, -0.125], [65504.0, 0.0]], dtype=np.float16),
    "steps": np.array([7, 8], dtype=np.int64),
    "empty": np.zeros((0, 4), dtype=np.float32),
}
save_file(tensors, out, metadata={"format": "np", "writer": "safetensors.numpy"})
print("wrote", out, os.path.getsize(out), "bytes")
