"""Compiled column-by-column draws for BoundaryProposal (the conditionals of tnddm.mcmc.boundary).

Per sample and column c: a right pass R_r(a, alpha) = sum_x V(a, x) w_r(x) sum_beta G_r[alpha, x, beta]
R_{r+1}(x, beta) over the rows, then a left pass drawing x_r from
u(x) = V(x_{r-1}, x) w_r(x) sum_beta (Lv G_r[:, x, :])_beta R_{r+1}(x, beta), floored and normalised;
w_r(x) = exp(a[c, r, x] + log H(x_{c-1,r}, x)) (tabulated by site_tables). Cost O(W d chi^2) per column and sample.
The environment cores of all (c, r) are packed in one flat array (pack_environments).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


def pack_environments(envs):
    """(data, offsets (L, W), shapes (L, W, 3), chi_max) of the cores envs[c][r]."""
    L, W = len(envs), len(envs[0])
    offsets = np.zeros((L, W), dtype=np.int64)
    shapes = np.zeros((L, W, 3), dtype=np.int64)
    parts, pos = [], 0
    for c in range(L):
        for r in range(W):
            G = np.ascontiguousarray(envs[c][r], dtype=np.float64)
            offsets[c, r], shapes[c, r] = pos, G.shape
            parts.append(G.ravel())
            pos += G.size
    chi = int(max(shapes[:, :, 0].max(), shapes[:, :, 2].max()))
    return np.concatenate(parts), offsets, shapes, chi


def site_tables(a, logH):
    """w[c, r, p, x] = exp(a[c, r, x] + log H(p, x) - max_x) (p: the drawn x_{c-1,r}; p = 0 for c = 0)."""
    L, W, d = a.shape
    t = np.repeat(a[:, :, None, :], d, axis=2)
    if L > 1:
        t[1:] += logH
    return np.exp(t - t.max(axis=3, keepdims=True))


@njit(cache=True, parallel=True)
def draw_columns(data, offsets, shapes, chi, wt, V, uniforms, forced, use_forced, floor, X, logq):
    """Fill X (n, L*W) and logq (n,) by column-by-column draws (or forced evaluations); wt = site_tables."""
    n = X.shape[0]
    L, W, d = wt.shape[0], wt.shape[1], wt.shape[3]
    for s in prange(n):
        R = np.zeros((W + 1, d, chi))
        T = np.zeros((d, chi))
        M = np.zeros((d, chi))
        Lv = np.zeros(chi)
        w = np.zeros((W, d))
        u = np.zeros(d)
        total = 0.0
        for c in range(L):
            for r in range(W):  # site weights with the couplings to the drawn column c - 1
                p = X[s, (c - 1) * W + r] if c > 0 else 0
                for x in range(d):
                    w[r, x] = wt[c, r, p, x]
            for x in range(d):
                R[W, x, 0] = 1.0
            for r in range(W - 1, -1, -1):  # right sums within the column
                cl, cr = shapes[c, r, 0], shapes[c, r, 2]
                off = offsets[c, r]
                for x in range(d):
                    for al in range(cl):
                        acc = 0.0
                        base = off + (al * d + x) * cr
                        for be in range(cr):
                            acc += data[base + be] * R[r + 1, x, be]
                        T[x, al] = acc * w[r, x]
                big = 0.0
                if r > 0:
                    for p in range(d):
                        for al in range(cl):
                            acc = 0.0
                            for x in range(d):
                                acc += V[c, r - 1, p, x] * T[x, al]
                            R[r, p, al] = acc
                            if abs(acc) > big:
                                big = abs(acc)
                else:
                    for al in range(cl):
                        acc = 0.0
                        for x in range(d):
                            acc += T[x, al]
                        R[0, 0, al] = acc
                        if abs(acc) > big:
                            big = abs(acc)
                if big > 0.0:
                    for p in range(d):
                        for al in range(cl):
                            R[r, p, al] /= big
            Lv[0] = 1.0
            prev = 0
            for r in range(W):  # left pass: draw the rows
                cl, cr = shapes[c, r, 0], shapes[c, r, 2]
                off = offsets[c, r]
                top = 0.0
                for x in range(d):
                    for be in range(cr):
                        M[x, be] = 0.0
                    for al in range(cl):
                        la = Lv[al]
                        if la != 0.0:
                            base = off + (al * d + x) * cr
                            for be in range(cr):
                                M[x, be] += la * data[base + be]
                    acc = 0.0
                    for be in range(cr):
                        acc += M[x, be] * R[r + 1, x, be]
                    acc *= w[r, x]
                    if r > 0:
                        acc *= V[c, r - 1, prev, x]
                    u[x] = acc
                    if acc > top:
                        top = acc
                norm = 0.0
                for x in range(d):
                    if u[x] < floor * top:
                        u[x] = floor * top
                    norm += u[x]
                if norm <= 0.0:
                    for x in range(d):
                        u[x] = 1.0
                    norm = d
                idx = c * W + r
                if use_forced:
                    xr = forced[s, idx]
                else:
                    target = uniforms[s, idx] * norm
                    xr = d - 1
                    cum = 0.0
                    for x in range(d):
                        cum += u[x]
                        if target < cum:
                            xr = x
                            break
                X[s, idx] = xr
                total += np.log(u[xr] / norm)
                big = 0.0
                for be in range(cr):
                    Lv[be] = M[xr, be]
                    if abs(Lv[be]) > big:
                        big = abs(Lv[be])
                if big > 0.0:
                    for be in range(cr):
                        Lv[be] /= big
                prev = xr
        logq[s] = total
