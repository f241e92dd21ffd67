#!/usr/bin/env python3
"""Error in ulps of exp_accurate4 (shaders/lib/reduce.wgsl) and of e^(2y) from it, emulated in
float32 with numpy (no fused multiply-adds): the figures quoted by exp_twice4's comment and by
docs/performance.md's MLKD section.

    python3 scripts/exp-squared-ulps.py     # needs numpy

Prints max and rms ulp errors over 2 million y in [-40, 0] for e^y, e^(2y) as exp_accurate4(2y),
as exp_accurate4(y) squared, and as exp_twice4 (2^(2k) (1 + s (2 + s)))."""
import numpy as np

f = np.float32
COEFFS = [0.008375039324124844, 1 / 24, 0.16666416194554487, 0.5, 1.0000000376062754]


def parts(x):
    """2^k and s with e^x = 2^k (1 + s), as exp_parts4."""
    x = x.astype(f)
    k = np.round(x * f(1.4426950408889634))
    r = (x - k * f(0.693145751953125)) - k * f(1.4286068203094173e-6)
    p = np.full_like(x, f(1 / 720))
    for c in COEFFS:
        p = (f(c) + r * p).astype(f)
    return (2.0 ** k).astype(f), (r * p).astype(f)


def exp_accurate(x):
    two_k, s = parts(x)
    return ((f(1) + s) * two_k).astype(f)


def report(name, got, want):
    keep = want > 1e-37
    ulps = ((got.astype(np.float64) - want) / np.spacing(want.astype(f)).astype(np.float64))[keep]
    print(f"{name:<34} max {np.abs(ulps).max():.2f} ulp, rms {np.sqrt((ulps ** 2).mean()):.3f}")


y = (-np.random.default_rng(1).random(2_000_000) * 40).astype(f)
once = np.exp(y.astype(np.float64))
twice = np.exp(2 * y.astype(np.float64))
report("exp_accurate4(y)", exp_accurate(y), once)
report("exp_accurate4(2y)", exp_accurate(2 * y), twice)
e = exp_accurate(y)
report("exp_accurate4(y)^2", (e * e).astype(f), twice)
two_k, s = parts(y)
square = (f(1) + (s * (f(2) + s)).astype(f)).astype(f)
report("exp_twice4: 2^2k (1 + s (2 + s))", (square * (two_k * two_k)).astype(f), twice)
