#!/usr/bin/env python3
"""Generate kernels/erfinv_coeffs.hpp: piecewise polynomial coefficients for erfinv.

The library computes erfinv(y) = y * E(w) with w = -ln((1-y)(1+y)) (taken in log form for
tail probabilities), where

    E(w) = erfinv(y) / y,   y = sqrt(-expm1(-w)),   E(0) = sqrt(pi)/2,   0 <= w <= 700.

E is approximated piecewise, separately for float (f32) and double (f64). Piece k covers
w in [lo_k, lo_{k+1}); its variable is v = w (kind 0) or v = sqrt(w) (kind 1), and the
polynomial is p_k(t) = c[0]*t^d + ... + c[d] in t = v - center_k (Horner with fma).

Method (mpmath only, 50 significant digits):
  1. E(w) is computed by solving ln erfc(x) = ln(1-y) = -w - log1p(y) for x with Halley's
     method (asymptotic start value, 2-4 steps), so it stays exact out to w = 700 where
     1-y ~ 1e-304; E = x / y. Spot checks against mpmath.erfinv at 150/400 digits and the
     defining equation at w = 700 run first.
  2. Per piece, the relative-error minimax polynomial (weight 1/E) is found with a discrete
     Remez exchange on a Chebyshev-distributed grid in v (Chebyshev basis in the scaled
     variable s = (v - mid)/half), then converted to monomials in s.
  3. Rounding to float/double: the polynomial is re-expanded in t = v - center and rounded
     from the highest power down; the rounding error d of power k is pushed into the lower
     powers so that the net change is d * (monic Chebyshev polynomial of degree k on the
     piece), the smallest possible. The errors of the two lowest powers cannot be absorbed
     that way (p(0) = c[d] exactly), so the center is chosen for them: a few thousand
     dyadic centers near the middle of the v-range (<= 16 significant bits for f32, so they
     are exact floats) are screened by how close the exact value and slope at the center
     lie to representable numbers; the best ones are rounded in full, trying both
     neighbours for the three lowest powers, and scored on a coarse grid.
  4. The error max |p(t)/E - 1| of the rounded coefficients (exact evaluation) is measured
     on 3000 points per piece (2001 Chebyshev-distributed incl. both endpoints + 999
     uniform) and must meet the target (f32 1.5e-8, f64 3e-17), else the script exits 1.
     For information it also prints the error of an emulated fma-Horner evaluation in the
     target precision (t rounded, one rounding per fma).

Header: C++17 constexpr arrays at namespace scope, C99 hex-float literals (exact). The arrays
carry PI_TABLE (kernels/hd.hpp): __device__ in nvcc's device pass, plain in the host pass,
because nvcc does not allow run-time indexing of a namespace-scope constexpr array in device code.

Rerun (from the repository root; about 2 minutes, single-threaded):
    python3 tools/gen_erfinv_coeffs.py            # writes kernels/erfinv_coeffs.hpp
    python3 tools/gen_erfinv_coeffs.py -o FILE    # write elsewhere
The piece layouts are the F32_LAYOUT / F64_LAYOUT tables below (boundaries in w units).
"""

import argparse
import os
import sys
import time

import mpmath as mp
from mpmath import mpf

mp.mp.dps = 50

# (lo, kind, degree); each piece ends where the next starts, the last one at W_MAX.
W_MAX = 700
F32_LAYOUT = [          # sum of degrees 33 (all pieces are evaluated branch-free)
    (0, 0, 9),
    (5.25, 1, 9),
    (17, 1, 8),
    (84, 1, 7),
]
F64_LAYOUT = [          # the common range w < 3 gets the cheapest piece
    (0, 0, 17),
    (3, 1, 18),
    (8, 1, 18),
    (18, 1, 18),
    (45, 1, 18),
    (170, 1, 18),
]
TARGET = {"f32": mpf("1.5e-8"), "f64": mpf("3e-17")}
PREC = {"f32": 24, "f64": 53}

N_FIT = 1201      # Remez grid (Chebyshev-distributed in v, endpoints included)
N_CHECK = 2001    # final check: this many Chebyshev-distributed points in v ...
N_CHECK_UNI = 999  # ... plus this many uniformly spaced interior points
N_COARSE = 201    # grid used while choosing the center / rounding
CENTER_BITS = {"f32": 16, "f64": 40}  # significant bits allowed in a center
N_SCREEN = 4000   # center candidates screened per piece (cheap test on the lowest 2 coefs)
N_CENTERS = {"f32": 40, "f64": 30}  # best screened centers that are fully rounded + scored
N_BRANCH = 3      # lowest powers for which both roundings are tried
N_FINAL = 4       # best candidates re-measured on the full check grid


# ----------------------------------------------------------------------------------------
# The function
# ----------------------------------------------------------------------------------------
_E_CACHE = {}


def E(w):
    """E(w) = erfinv(y)/y with y = sqrt(1 - exp(-w)), to the working precision."""
    w = mpf(w)
    if w == 0:
        return mp.sqrt(mp.pi) / 2
    r = _E_CACHE.get(w)
    if r is not None:
        return r
    tol = mpf(10) ** (-(mp.mp.dps + 15))
    with mp.workdps(mp.mp.dps + 25):
        y = mp.sqrt(-mp.expm1(-w))
        lq = -w - mp.log1p(y)          # ln(1 - y), exact even when 1 - y ~ 1e-304
        L = -lq
        if L > 1:                       # erfc(x) ~ exp(-x^2) / (x sqrt(pi))
            x = mp.sqrt(L - mp.log(mp.sqrt(mp.pi * L)))
        else:                           # erfinv(y) ~ sqrt(pi)/2 * y
            x = mp.sqrt(mp.pi) / 2 * y
        sp2 = mp.sqrt(mp.pi) / 2
        for _ in range(60):
            # f(x) = ln erfc(x) - ln q;  f' = -1/g;  f'' = (2 x g - 1)/g^2, g = erfc e^{x^2} sqrt(pi)/2
            ec = mp.erfc(x)
            f = mp.log(ec) - lq
            g = ec * sp2 * mp.exp(x * x)
            fp = -1 / g
            fpp = (2 * x * g - 1) / (g * g)
            dx = -(f / fp) / (1 - f * fpp / (2 * fp * fp))
            x += dx
            if abs(dx) <= x * tol:
                break
        else:
            raise RuntimeError("E(%s) did not converge" % w)
        r = x / y
    r = +r
    _E_CACHE[w] = r
    return r


def self_check():
    # against mpmath.erfinv at high precision (moderate w, where erfinv is well conditioned)
    for ws in ("1e-6", "0.3", "1", "2.5", "7", "15"):
        w = mpf(ws)
        with mp.workdps(150):
            y = mp.sqrt(-mp.expm1(-w))
            ref = mp.erfinv(y) / y
        assert abs(E(w) / ref - 1) < mpf(10) ** -45, ws
    # standard normal quantiles Phi^{-1}(1-q) = sqrt(2) erfinv(1-2q), w = -ln(4q(1-q))
    # (references: mpmath.erfinv at 400 digits)
    known = [("1e-10", "6.3613409024040562047"),
             ("1e-100", "21.273453560965324295"),
             ("1e-300", "37.047096299361199237")]
    for qs, zs in known:
        q = mpf(qs)
        w = -mp.log(4 * q * (1 - q))
        z = mp.sqrt(2) * (1 - 2 * q) * E(w)
        assert abs(z / mpf(zs) - 1) < mpf("1e-19"), (qs, z)
    # w = 700: the defining equation erfc(x) = 1 - y holds to working precision
    w = mpf(W_MAX)
    y = mp.sqrt(-mp.expm1(-w))
    x = y * E(w)
    assert abs(mp.log(mp.erfc(x)) - (-w - mp.log1p(y))) < mpf(10) ** -45
    return x


# ----------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------
def chebT(s, n):
    T = [mpf(1), s]
    for _ in range(2, n):
        T.append(2 * s * T[-1] - T[-2])
    return T[:n]


def remez(f, B, wgt, n, iters=40, ref=None):
    """Discrete weighted minimax: min over a of max_i |wgt_i (f_i - sum_j a_j B_i[j])|.

    B[i] is the list of the n basis function values at grid point i (a Haar system on the
    grid). Returns (a, max weighted error, final reference)."""
    N = len(f)
    if ref is None or len(ref) != n + 1:
        ref = sorted(set(int(round((N - 1) * i / n)) for i in range(n + 1)))
    best = None
    for _ in range(iters):
        A = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for r, k in enumerate(ref):
            Bk = B[k]
            for j in range(n):
                A[r, j] = Bk[j]
            A[r, n] = (-1) ** r / wgt[k]
            rhs[r] = f[k]
        sol = mp.lu_solve(A, rhs)
        a = [sol[j] for j in range(n)]
        lev = abs(sol[n])
        err = [(f[i] - mp.fdot(a, B[i])) * wgt[i] for i in range(N)]
        emax = max(abs(e) for e in err)
        if best is None or emax < best[1]:
            best = (a, emax, ref)
        if emax <= lev * (1 + mpf("1e-6")):
            break
        # exchange: one extremum per sign run, then thin out to n+1 keeping alternation
        ext = []
        i = 0
        while i < N:
            sg = err[i] >= 0
            bi = i
            while i < N and (err[i] >= 0) == sg:
                if abs(err[i]) > abs(err[bi]):
                    bi = i
                i += 1
            ext.append(bi)
        while len(ext) > n + 1:
            vals = [abs(err[k]) for k in ext]
            if len(ext) == n + 2:
                ext.pop(0 if vals[0] < vals[-1] else -1)
                continue
            i = min(range(len(ext)), key=vals.__getitem__)
            if i == 0 or i == len(ext) - 1:
                ext.pop(i)
            else:
                j = i - 1 if vals[i - 1] < vals[i + 1] else i + 1
                for q in sorted((i, j), reverse=True):
                    ext.pop(q)
        if len(ext) < n + 1:
            break
        ref = ext
    return best


def binom(n, k):
    return mp.binomial(n, k)


class Piece:
    def __init__(self, lo, hi, kind, deg):
        self.lo, self.hi, self.kind, self.deg = mpf(lo), mpf(hi), kind, deg
        self.va, self.vb = (self.lo, self.hi) if kind == 0 else (mp.sqrt(self.lo), mp.sqrt(self.hi))
        self.mid = (self.va + self.vb) / 2
        self.half = (self.vb - self.va) / 2

    def w_of(self, v):
        return v if self.kind == 0 else v * v

    def grid(self, n_cheb, n_uni=0):
        vs = [self.mid - self.half * mp.cos(mp.pi * i / (n_cheb - 1)) for i in range(n_cheb)]
        vs[0], vs[-1] = self.va, self.vb
        if n_uni:
            vs += [self.va + (self.vb - self.va) * i / (n_uni + 1) for i in range(1, n_uni + 1)]
            vs.sort()
        return vs


def fit_piece(pc):
    """Exact (unrounded) minimax; returns ascending power-series coefficients in s."""
    vs = pc.grid(N_FIT)
    f = [E(pc.w_of(v)) for v in vs]
    wgt = [1 / x for x in f]
    B = [chebT((v - pc.mid) / pc.half, pc.deg + 1) for v in vs]
    a, err, _ = remez(f, B, wgt, pc.deg + 1)
    # Chebyshev -> monomials in s
    n = pc.deg + 1
    Tm = cheb_monomials(n)
    b = [mpf(0)] * n
    for j in range(n):
        for i, c in enumerate(Tm[j]):
            b[i] += a[j] * c
    return b, err


def shift_to_center(b, pc, center):
    """p(v) = sum b_j s^j, s = (v - mid)/half = s0 + t/half  ->  ascending coefficients in t."""
    s0 = (center - pc.mid) / pc.half
    n = len(b)
    c = []
    for k in range(n):
        acc = mpf(0)
        for j in range(k, n):
            acc += b[j] * binom(j, k) * s0 ** (j - k)
        c.append(acc / pc.half ** k)
    return c


def horner_exact(c_asc, t):
    acc = mpf(0)
    for ck in reversed(c_asc):
        acc = acc * t + ck
    return acc


def neighbours(x, bits):
    """The two numbers with `bits` significant bits that bracket x (one if x is such)."""
    if x == 0:
        return [x]
    _, e = mp.frexp(x)
    scale = mpf(2) ** (e - bits)
    lo = mp.floor(x / scale) * scale
    return [lo] if lo == x else [lo, lo + scale]


def round_nearest(x, bits):
    with mp.workprec(bits):
        return +x


def cheb_monomials(n):
    """Monomial coefficients (ascending) of T_0..T_{n-1}."""
    Tm = [[mpf(1)], [mpf(0), mpf(1)]]
    for j in range(2, n):
        nxt = [mpf(0)] * (j + 1)
        for i, c in enumerate(Tm[j - 1]):
            nxt[i + 1] += 2 * c
        for i, c in enumerate(Tm[j - 2]):
            nxt[i] -= c
        Tm.append(nxt)
    return Tm[:n]


def rounded_variants(c, M, bits, K):
    """Round ascending coefficients c (in t) to `bits` bits, highest power first. The rounding
    error d of power k is compensated in the lower powers by subtracting d*(t^k - M_k(t)),
    M_k = monic Chebyshev polynomial of degree k on the piece's t-interval, so the net change
    is d*M_k, the smallest degree-k perturbation. Powers >= K are rounded to nearest; for
    powers < K both neighbours are tried. Returns the list of (up to) 2^K variants."""
    def comp(c, k, r):
        c = list(c)
        dlt = r - c[k]
        c[k] = r
        for j in range(k):
            c[j] += dlt * M[k][j]
        return c

    d = len(c) - 1
    for k in range(d, K - 1, -1):
        c = comp(c, k, round_nearest(c[k], bits))
    out = [c]
    for k in range(min(K, d + 1) - 1, -1, -1):
        out = [comp(v, k, r) for v in out for r in neighbours(v[k], bits)]
    return out


def horner_fma_err(c, center, vs, fv, bits):
    """Informational: max relative error when t = v - center is rounded and Horner runs with
    one rounding per fma in the target precision (v itself taken exact)."""
    worst = mpf(0)
    for v, e in zip(vs, fv):
        t = round_nearest(v - center, bits)
        acc = c[-1]
        for ck in reversed(c[:-1]):
            acc = round_nearest(acc * t + ck, bits)
        worst = max(worst, abs(acc / e - 1))
    return worst


def measure(c, pc, center, vs, fv):
    worst, where = mpf(-1), None
    for v, e in zip(vs, fv):
        rel = abs(horner_exact(c, v - center) / e - 1)
        if rel > worst:
            worst, where = rel, v
    return worst, pc.w_of(where)


def center_candidates(pc, prec, b):
    """Centers near the middle of the v-range: dyadic numbers with at most CENTER_BITS
    significant bits, at most 10% of the half-width away from the middle. Ranked by how well
    the two lowest coefficients (value and slope of the exact polynomial at the center),
    whose rounding errors cannot be compensated, happen to sit on representable numbers."""
    bits = PREC[prec]
    mid, half = pc.mid, pc.half
    _, e = mp.frexp(mid)
    step = mpf(2) ** (e - CENTER_BITS[prec])
    base = mp.nint(mid / step)
    jmax = int(half * mpf("0.10") / step)
    stride = max(1, (2 * jmax + 1) // N_SCREEN)
    ranked = []
    for j in range(-jmax, jmax + 1, stride):
        center = (base + j) * step
        s0 = (center - mid) / half
        p0, p1 = mpf(0), mpf(0)
        for bj in reversed(b):
            p1 = p1 * s0 + p0
            p0 = p0 * s0 + bj
        p1 /= half
        score = (abs(p0 - round_nearest(p0, bits)) +
                 abs(p1 - round_nearest(p1, bits)) * half / 2) / p0
        ranked.append((score, center))
    ranked.sort(key=lambda x: x[0])
    return [c for _, c in ranked[:N_CENTERS[prec]]]


def build(prec, layout):
    bits = PREC[prec]
    pieces = []
    for i, (lo, kind, deg) in enumerate(layout):
        hi = layout[i + 1][0] if i + 1 < len(layout) else W_MAX
        pieces.append(Piece(lo, hi, kind, deg))
    results = []
    for pc in pieces:
        t0 = time.time()
        b, ferr = fit_piece(pc)
        n = pc.deg + 1
        Tm = cheb_monomials(n)
        # monic Chebyshev polynomials of the piece's interval, in s
        Ms = [[x * pc.half ** k / 2 ** max(k - 1, 0) for x in Tm[k]] for k in range(n)]
        vs_c = pc.grid(N_COARSE)
        w_c = [1 / E(pc.w_of(v)) for v in vs_c]
        K = min(N_BRANCH, n)
        scored = []
        for center in center_candidates(pc, prec, b):
            c = shift_to_center(b, pc, center)
            M = [shift_to_center(m, pc, center) for m in Ms]
            ts = [v - center for v in vs_c]
            variants = rounded_variants(c, M, bits, K)
            high = [horner_exact([mpf(0)] * K + variants[0][K:], t) for t in ts]
            for cr in variants:
                ec = max(abs((hv + horner_exact(cr[:K], t)) * wi - 1)
                         for hv, t, wi in zip(high, ts, w_c))
                scored.append((ec, center, cr))
        scored.sort(key=lambda x: x[0])
        vs_k = pc.grid(N_CHECK, N_CHECK_UNI)
        f_k = [E(pc.w_of(v)) for v in vs_k]
        best = None
        for ec, center, cr in scored[:N_FINAL]:
            err, wat = measure(cr, pc, center, vs_k, f_k)
            if best is None or err < best[0]:
                best = (err, wat, center, cr)
        err, wat, center, cr = best
        herr = horner_fma_err(cr, center, vs_k, f_k, bits)
        results.append(dict(piece=pc, center=center, coef=cr, err=err, fit_err=ferr,
                            npts=len(vs_k), at=wat, secs=time.time() - t0))
        print("  %s w in [%5s, %5s)  %-7s deg %2d  center %-14s minimax %.3g  rounded %.3g "
              "(max at w=%.4g; %d pts)  [%s fma-Horner %.2g]  %.1fs"
              % (prec, mp.nstr(pc.lo, 6), mp.nstr(pc.hi, 6),
                 "w" if pc.kind == 0 else "sqrt(w)", pc.deg, mp.nstr(center, 14),
                 float(ferr), float(err), float(wat), len(vs_k), prec, float(herr),
                 time.time() - t0), flush=True)
    return results


# ----------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------
def hexlit(x, prec):
    v = float(x)                       # exact: x already has <= 53 (24) significant bits
    assert mpf(v) == x
    if v == 0:
        return "0.0f" if prec == "f32" else "0.0"
    h = v.hex()                        # e.g. '-0x1.8000000000000p+1'
    mant, exp = h.split("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
        if mant.endswith("x1"):
            mant += ".0"
    s = mant + "p" + exp
    if prec == "f32":
        assert 1.1754943508222875e-38 <= abs(v) < 3.4e38
        return s + "f"
    return s


def declit(x, prec):
    return ("%.9g" if prec == "f32" else "%.17g") % float(x)


def emit(res32, res64, path):
    e32 = max(r["err"] for r in res32)
    e64 = max(r["err"] for r in res64)
    L = []
    L.append("// Generated by tools/gen_erfinv_coeffs.py -- do not edit.")
    L.append("// E(w) = erfinv(y)/y with w = -ln(1-y^2); piecewise polynomials, see the script.")
    L.append("// Measured approximation error (relative, coefficients as rounded): f32 <= %.2e, "
             "f64 <= %.2e." % (float(e32), float(e64)))
    L.append("#pragma once")
    L.append("// The arrays are PI_TABLE (kernels/hd.hpp): __device__ in nvcc's device pass, plain in the")
    L.append("// host pass, because device code cannot index a namespace-scope constexpr array.")
    L.append("#include \"hd.hpp\"")
    L.append("namespace paraminit { namespace kernels { namespace erfinv_tab {")
    for tag, res, ctype in (("F32", res32, "float"), ("F64", res64, "double")):
        prec = tag.lower()
        maxdeg = max(r["piece"].deg for r in res)
        L.append("")
        L.append("// %s: %s" % (prec, "; ".join(
            "w in [%s, %s) %s deg %d err %.2e" % (
                mp.nstr(r["piece"].lo, 6), mp.nstr(r["piece"].hi, 6),
                "w" if r["piece"].kind == 0 else "sqrt(w)", r["piece"].deg, float(r["err"]))
            for r in res)))
        L.append("constexpr int k%sPieces = %d;" % (tag, len(res)))
        L.append("constexpr int k%sMaxDegree = %d;" % (tag, maxdeg))
        L.append("PI_TABLE constexpr %s k%sLo[k%sPieces] = {%s};" % (
            ctype, tag, tag, ", ".join(hexlit(r["piece"].lo, prec) for r in res)))
        L.append("PI_TABLE constexpr int k%sKind[k%sPieces] = {%s};" % (
            tag, tag, ", ".join(str(r["piece"].kind) for r in res)))
        L.append("PI_TABLE constexpr %s k%sCenter[k%sPieces] = {%s};  // %s" % (
            ctype, tag, tag, ", ".join(hexlit(r["center"], prec) for r in res),
            ", ".join(declit(r["center"], prec) for r in res)))
        L.append("PI_TABLE constexpr %s k%sCoef[k%sPieces][k%sMaxDegree + 1] = {"
                 % (ctype, tag, tag, tag))
        for r in res:
            cs = list(reversed(r["coef"]))          # highest power first
            cs = [mpf(0)] * (maxdeg - r["piece"].deg) + cs
            L.append("    {")
            for x in cs:
                L.append("        %s,  // %s" % (hexlit(x, prec), declit(x, prec)))
            L.append("    },")
        L.append("};")
    L.append("")
    L.append("}}}  // namespace paraminit::kernels::erfinv_tab")
    with open(path, "w") as fh:
        fh.write("\n".join(L) + "\n")
    return e32, e64


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output",
                    default=os.path.join(here, "..", "kernels", "erfinv_coeffs.hpp"))
    args = ap.parse_args()
    t0 = time.time()
    x700 = self_check()
    print("E self-check ok; erfinv at w=700: %s" % mp.nstr(x700, 20), flush=True)
    res32 = build("f32", F32_LAYOUT)
    res64 = build("f64", F64_LAYOUT)
    ok = True
    for prec, res in (("f32", res32), ("f64", res64)):
        e = max(r["err"] for r in res)
        tot = sum(r["piece"].deg for r in res)
        good = e <= TARGET[prec]
        ok &= good
        print("%s: %d pieces, sum of degrees %d, max rel error %.3g (target %.3g) %s"
              % (prec, len(res), tot, float(e), float(TARGET[prec]), "OK" if good else "FAIL"))
    emit(res32, res64, os.path.normpath(args.output))
    print("wrote %s  (%.1fs)" % (os.path.normpath(args.output), time.time() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
