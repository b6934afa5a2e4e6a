"""numpy transcriptions of the quantization papers, independent of the C++.

gptq(): Frantar et al. 2022, Algorithm 1 with lazy batch updates, written
after the authors' reference `GPTQ.fasterquant` (damping, dead columns,
act-order permutation, groups found at their first column or fixed up
front with static groups, upper Cholesky factor of H^-1). The grid is
qopt's: symmetric maps the largest-magnitude value to the most negative
code (f16 scale), asymmetric spans [min(x,0), max(x,0)] with an integer
zero point (f16 scale).

nf4_levels(): QLoRA (Dettmers et al. 2023) appendix E construction.
"""
import math

import numpy as np


def _f16(x):
    return float(np.float32(np.float16(np.float32(x))))


def find_params(x, bits, sym, clip=1.0):
    """x: [rows, n] -> scale [rows], zero [rows] (float32 arithmetic)."""
    x = x.astype(np.float32)
    rows = x.shape[0]
    scale = np.ones(rows, np.float32)
    zero = np.zeros(rows, np.float32)
    maxq = 2 ** bits - 1
    for r in range(rows):
        v = x[r]
        lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
        if sym:
            ext = float(v[np.argmax(np.abs(v))])
            d = _f16(np.float32(ext) * np.float32(clip) / np.float32(-(2 ** (bits - 1))))
            scale[r] = d if d != 0 else 1.0
            zero[r] = 2 ** (bits - 1)
        else:
            lo, hi = np.float32(lo) * np.float32(clip), np.float32(hi) * np.float32(clip)
            s = _f16((hi - lo) / np.float32(maxq))
            if s == 0:
                scale[r], zero[r] = 1.0, 0.0
            else:
                scale[r] = s
                zero[r] = min(max(np.rint(-lo / np.float32(s)), 0), maxq)
    return scale, zero


def quantize(w, scale, zero, bits):
    maxq = 2 ** bits - 1
    q = np.clip(np.rint(w.astype(np.float32) / scale) + zero, 0, maxq)
    return ((q - zero) * scale).astype(np.float32)


def rtn(w, bits, group, sym):
    out = np.empty_like(w, dtype=np.float32)
    cols = w.shape[1]
    starts = group_starts(cols, group)
    for g, (a, b) in enumerate(starts):
        s, z = find_params(w[:, a:b], bits, sym)
        out[:, a:b] = quantize(w[:, a:b], s[:, None], z[:, None], bits)
    return out


def group_starts(cols, group):
    """qopt's groups: width `group`, the last one absorbing the remainder."""
    if group <= 0:
        return [(0, cols)]
    n = max(1, cols // group)
    return [(g * group, cols if g == n - 1 else (g + 1) * group) for g in range(n)]


def gptq(w, h, bits, group=0, sym=True, act_order=False, static_groups=False,
         percdamp=0.01, blocksize=128):
    w = w.astype(np.float64).copy()
    h = h.astype(np.float64).copy()
    rows, cols = w.shape
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    groups = group_starts(cols, group)
    group_of = np.zeros(cols, np.int64)
    for g, (a, b) in enumerate(groups):
        group_of[a:b] = g
    params = {}
    if group <= 0 or static_groups:
        for g, (a, b) in enumerate(groups):
            params[g] = find_params(w[:, a:b], bits, sym)
    perm = np.arange(cols)
    if act_order:
        perm = np.argsort(-np.diag(h), kind="stable")
        w = w[:, perm]
        h = h[perm][:, perm]
    position = np.empty(cols, np.int64)
    position[perm] = np.arange(cols)
    damp = percdamp * np.mean(np.diag(h))
    h[np.diag_indices(cols)] += damp
    hinv = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: H^-1 = U^T U
    q = np.zeros_like(w)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        w1 = w[:, i1:i2].copy()
        err1 = np.zeros((rows, count))
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(count):
            col = perm[i1 + i]
            g = group_of[col]
            if g not in params:  # first column of the group: from W as it is now
                a, b = groups[g]
                params[g] = find_params(w[:, position[a:b]], bits, sym)
            s, z = params[g]
            wc = w1[:, i]
            qc = quantize(wc.astype(np.float32), s, z, bits).astype(np.float64)
            q[:, i1 + i] = qc
            e = (wc - qc) / hinv1[i, i]
            w1[:, i:] -= np.outer(e, hinv1[i, i:])
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    out = np.empty_like(q)
    out[:, perm] = q
    return out.astype(np.float32)


def _norm_ppf(p):
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def nf4_levels(offset=0.9677083):
    pos = [_norm_ppf(p) for p in np.linspace(offset, 0.5, 9)[:-1]]
    neg = [-_norm_ppf(p) for p in np.linspace(offset, 0.5, 8)[:-1]]
    v = np.array(sorted(pos + neg + [0.0]))
    return v / v.max()
