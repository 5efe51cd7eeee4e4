#!/usr/bin/env python3
"""Independent references for tests/gain_test.cpp: E[f(z)^2] for z ~ N(0, 1) by mpmath's
tanh-sinh quadrature at 40 significant digits, split at every kink, and the gain 1/sqrt of it.

Run: python3 tools/gain_references.py   (needs mpmath; prints the C++ table the test holds)
"""
import mpmath as mp

mp.mp.dps = 40
SQRT2PI = mp.sqrt(2 * mp.pi)


def softplus(x):
    return mp.log1p(mp.exp(x))


ACTS = {
    "sigmoid": (lambda x: 1 / (1 + mp.exp(-x)), []),
    "tanh": (mp.tanh, []),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), [0]),
    "gelu": (lambda x: x * mp.ncdf(x), []),
    "gelu_tanh": (lambda x: x / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))), []),
    "silu": (lambda x: x / (1 + mp.exp(-x)), []),
    "mish": (lambda x: x * mp.tanh(softplus(x)), []),
    "softplus": (softplus, []),
    "softsign": (lambda x: x / (1 + abs(x)), [0]),
    "hardswish": (lambda x: x * min(max(x + 3, 0), 6) / 6, [-3, 3]),
    "hardsigmoid": (lambda x: min(max(x + 3, 0), 6) / 6, [-3, 3]),
}


def second_moment(f, kinks):
    pts = [-mp.inf] + [mp.mpf(k) for k in kinks] + [mp.inf]
    g = lambda z: f(z) ** 2 * mp.exp(-z * z / 2) / SQRT2PI
    return mp.quad(g, pts)


for name, (f, kinks) in ACTS.items():
    m = second_moment(f, kinks)
    print('    {"%s", %s, %s},' % (name, mp.nstr(m, 20), mp.nstr(1 / mp.sqrt(m), 20)))
