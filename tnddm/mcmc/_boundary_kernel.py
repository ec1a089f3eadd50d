"""Compiled column-by-column draws for BoundaryProposal (the conditionals of tnddm.mcmc.boundary).

Per sample and column c: a right pass R_r(a, alpha) = sum_x V(a, x) w_r(x) sum_beta G_r[alpha, x, beta]
R_{r+1}(x, beta) over the rows, then a left pass drawing x_r from
u(x) = V(x_{r-1}, x) w_r(x) sum_beta (Lv G_r[:, x, :])_beta R_{r+1}(x, beta), floored and normalised;
w_r(x) = exp(a[c, r, x] + log H(x_{c-1,r}, x)) (tabulated by site_tables). Cost O(W d chi^2) per column and sample.

Two kernels draw the same conditionals with the same rule (x = the number of states whose cumulative
floored weight lies below uniform * norm; log q accumulated in a running product flushed every FLUSH rows):
- draw_columns: any bond; the environment cores of all (c, r) packed in one flat array (pack_environments).
- small_kernel(d, chi): cores padded to a bond chi in SMALL_BONDS (pad_environments), d and chi
  compile-time constants, so that the loops over states and bonds unroll and every loop over the samples
  of a block vectorises; the left pass reuses the right pass's T_r(x, alpha) = w_r(x) sum_beta
  G_r[alpha, x, beta] R_{r+1}(x, beta), u(x) = V(x_{r-1}, x) sum_alpha Lv(alpha) T_r(x, alpha), and updates
  Lv <- Lv G_r[:, x_r, :] for the drawn x_r only; rescalings are folded into the next product. 1.6-1.7x
  faster than draw_columns at chi_b = 4 (python -m benchmarks.boundary_kernel); compiled once per (d, chi),
  cached on disk.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from .._uniforms import uniform53


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


FLUSH = 16  # rows between flushes of the running product of conditionals into log q


@njit(cache=True, parallel=True)
def draw_columns(data, offsets, shapes, chi, wt, V, seeds, forced, use_forced, floor, block, X, logq):
    """Fill X (n, L*W) and logq (n,) by column-by-column draws (or forced evaluations); wt = site_tables.

    Blocks of `block` samples are processed site-major (the innermost loops run over the samples of a
    block, contiguous in memory); sample s draws row i with uniform53(seeds[s], i) (tnddm._uniforms); forced
    is given site-major, shape (L*W, n).
    """
    n = X.shape[0]
    L, W, d = wt.shape[0], wt.shape[1], wt.shape[3]
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        B = min(block, n - s0)
        R = np.zeros((W + 1, d, chi, B))
        T = np.zeros((d, chi, B))
        M = np.zeros((d, chi, B))
        Lv = np.zeros((chi, B))
        w = np.zeros((W, d, B))
        u = np.zeros((d, B))
        top = np.zeros(B)
        norm = np.zeros(B)
        big = np.zeros(B)
        target = np.zeros(B)
        cum = np.zeros(B)
        prod = np.ones(B)
        total = np.zeros(B)
        xs = np.zeros((L * W, B), dtype=np.int64)
        for c in range(L):
            for r in range(W):  # site weights with the couplings to the drawn column c - 1 (selects, vectorised)
                for x in range(d):
                    if c == 0:
                        for b in range(B):
                            w[r, x, b] = wt[c, r, 0, x]
                    else:
                        for p in range(d):
                            v = wt[c, r, p, x]
                            for b in range(B):
                                w[r, x, b] = v if xs[(c - 1) * W + r, b] == p else w[r, x, b]
            for x in range(d):
                for b in range(B):
                    R[W, x, 0, b] = 1.0
            for r in range(W - 1, -1, -1):  # right sums within the column
                cl, cr = shapes[c, r, 0], shapes[c, r, 2]
                off = offsets[c, r]
                for x in range(d):
                    for al in range(cl):
                        base = off + (al * d + x) * cr
                        for b in range(B):
                            T[x, al, b] = 0.0
                        for be in range(cr):
                            g = data[base + be]
                            if g != 0.0:
                                for b in range(B):
                                    T[x, al, b] += g * R[r + 1, x, be, b]
                        for b in range(B):
                            T[x, al, b] *= w[r, x, b]
                for b in range(B):
                    big[b] = 0.0
                if r > 0:
                    for p in range(d):
                        for al in range(cl):
                            for b in range(B):
                                R[r, p, al, b] = 0.0
                            for x in range(d):
                                v = V[c, r - 1, p, x]
                                for b in range(B):
                                    R[r, p, al, b] += v * T[x, al, b]
                            for b in range(B):
                                big[b] = max(big[b], abs(R[r, p, al, b]))
                    np_ = d
                else:
                    for al in range(cl):
                        for b in range(B):
                            R[0, 0, al, b] = 0.0
                        for x in range(d):
                            for b in range(B):
                                R[0, 0, al, b] += T[x, al, b]
                        for b in range(B):
                            big[b] = max(big[b], abs(R[0, 0, al, b]))
                    np_ = 1
                for b in range(B):
                    big[b] = 1.0 / big[b] if big[b] > 0.0 else 1.0
                for p in range(np_):
                    for al in range(cl):
                        for b in range(B):
                            R[r, p, al, b] *= big[b]
            for b in range(B):
                Lv[0, b] = 1.0
            for r in range(W):  # left pass: draw the rows
                cl, cr = shapes[c, r, 0], shapes[c, r, 2]
                off = offsets[c, r]
                idx = c * W + r
                for x in range(d):
                    for be in range(cr):
                        for b in range(B):
                            M[x, be, b] = 0.0
                    for al in range(cl):
                        base = off + (al * d + x) * cr
                        for be in range(cr):
                            g = data[base + be]
                            if g != 0.0:
                                for b in range(B):
                                    M[x, be, b] += g * Lv[al, b]
                    for b in range(B):
                        u[x, b] = 0.0
                    for be in range(cr):
                        for b in range(B):
                            u[x, b] += M[x, be, b] * R[r + 1, x, be, b]
                    for b in range(B):
                        u[x, b] *= w[r, x, b]
                if r > 0:  # vertical factor to the drawn row above (a select per state, vectorised)
                    for x in range(d):
                        for p in range(d):
                            v = V[c, r - 1, p, x]
                            for b in range(B):
                                u[x, b] *= v if xs[idx - 1, b] == p else 1.0
                for b in range(B):
                    top[b] = 0.0
                    norm[b] = 0.0
                for x in range(d):
                    for b in range(B):
                        top[b] = max(top[b], u[x, b])
                for x in range(d):
                    for b in range(B):
                        u[x, b] = max(u[x, b], floor * top[b])
                        norm[b] += u[x, b]
                for b in range(B):
                    if not norm[b] > 0.0:  # an all-zero row (or NaN): uniform conditional
                        for x in range(d):
                            u[x, b] = 1.0
                        norm[b] = d
                if use_forced:
                    for b in range(B):
                        xs[idx, b] = forced[idx, s0 + b]
                else:  # x = number of states whose cumulative weight lies below the uniform target
                    for b in range(B):
                        target[b] = uniform53(seeds[s0 + b], idx) * norm[b]
                        cum[b] = 0.0
                        xs[idx, b] = 0
                    for x in range(d - 1):
                        for b in range(B):
                            cum[b] += u[x, b]
                            xs[idx, b] += target[b] >= cum[b]
                for b in range(B):
                    big[b] = 0.0
                for x in range(d):
                    for b in range(B):
                        prod[b] *= u[x, b] / norm[b] if xs[idx, b] == x else 1.0
                for be in range(cr):
                    for b in range(B):
                        Lv[be, b] = 0.0
                    for x in range(d):
                        for b in range(B):
                            Lv[be, b] = M[x, be, b] if xs[idx, b] == x else Lv[be, b]
                    for b in range(B):
                        big[b] = max(big[b], abs(Lv[be, b]))
                for b in range(B):
                    big[b] = 1.0 / big[b] if big[b] > 0.0 else 1.0
                for be in range(cr):
                    for b in range(B):
                        Lv[be, b] *= big[b]
                if r % FLUSH == FLUSH - 1 or r == W - 1:  # conditionals >= floor / d: no underflow within FLUSH rows
                    for b in range(B):
                        total[b] += np.log(prod[b])
                        prod[b] = 1.0
        for b in range(B):
            logq[s0 + b] = total[b] + np.log(prod[b])
            for i in range(L * W):
                X[s0 + b, i] = xs[i, b]


SMALL_BONDS = (4, 8)  # padded bonds with a specialised kernel (compiled once each; at 16 it is no faster)
SMALL_STATES = 2     # ... for d <= SMALL_STATES (Ising; Potts uses draw_columns)
SMALL_BLOCK = 32     # samples per block, a compile-time constant too (fewer samples use draw_columns)


def small_bond(chi: int, d: int) -> int | None:
    """The padded bond of small_kernel for cores of largest bond chi and d states, or None (use draw_columns)."""
    if d > SMALL_STATES:
        return None
    return next((b for b in SMALL_BONDS if b >= chi), None)


def pad_environments(envs, chi: int, d: int) -> np.ndarray:
    """E[c, r, alpha, x, beta] (L, W, chi, d, chi): the cores envs[c][r] zero-padded to bond chi."""
    L, W = len(envs), len(envs[0])
    E = np.zeros((L, W, chi, d, chi))
    for c in range(L):
        for r in range(W):
            G = envs[c][r]
            E[c, r, : G.shape[0], :, : G.shape[2]] = G
    return E


@functools.lru_cache(maxsize=None)
def small_kernel(d: int, chi: int):
    """The column-by-column kernel with d states and padded bond chi as compile-time constants (module docstring).

    Arguments of the returned kernel(E, wt, V, seeds, forced, use_forced, floor, first, last, X, logq):
        E: pad_environments (L, W, chi, d, chi); wt: site_tables (L, W, d, d); V: vertical factors (L, W-1, d, d);
        seeds: (n,) uint64, sample s draws site i with uniform53(seeds[s], i) (tnddm._uniforms); forced:
        site-major (L*W, n); floor: the conditional floor; first, last: the blocks of
        SMALL_BLOCK samples to run (a last partial block computes padding lanes and writes only its samples);
        X (n, L*W), logq (n,): filled.
    """
    D, CHI, B = int(d), int(chi), SMALL_BLOCK

    @njit(cache=True, nogil=True, fastmath={"contract"})
    def kernel(E, wt, V, seeds, forced, use_forced, floor, first, last, X, logq):
        """Blocks first..last-1 of SMALL_BLOCK samples, serially (threads run disjoint ranges of blocks)."""
        n = X.shape[0]
        L, W = wt.shape[0], wt.shape[1]
        for blk in range(first, last):
            s0 = blk * B
            R = np.zeros((D, CHI, B))          # right sum R_{r+1} within the column (scaled by rs)
            T = np.zeros((W, D, CHI, B))       # w_r(x) (G_r R_{r+1})(x, alpha), kept for the left pass
            Lv = np.zeros((CHI, B))
            Ln = np.zeros((CHI, B))
            u = np.zeros((D, B))
            w = np.zeros((D, B))
            rs = np.zeros(B)  # 1 / max |R| (folded into the next T: no separate rescaling pass)
            ls = np.zeros(B)  # 1 / max |Lv| (folded into the next Lv)
            U = np.zeros(B)
            F = np.zeros(B, dtype=np.int64)
            prod = np.ones(B)
            total = np.zeros(B)
            xs = np.zeros((W, B), dtype=np.int64)    # column c
            prev = np.zeros((W, B), dtype=np.int64)  # column c - 1
            for c in range(L):
                for x in range(D):
                    for be in range(CHI):
                        for b in range(B):
                            R[x, be, b] = 1.0 if be == 0 else 0.0
                for b in range(B):
                    rs[b] = 1.0
                for r in range(W - 1, -1, -1):  # right pass: T_r, then R_r = V_{r-1} T_r
                    for x in range(D):  # site weights given the drawn neighbour in column c - 1 (a select)
                        for b in range(B):
                            v = wt[c, r, 0, x]
                            for p in range(1, D):
                                v = wt[c, r, p, x] if prev[r, b] == p else v
                            w[x, b] = v * rs[b]
                    for x in range(D):
                        for al in range(CHI):
                            for b in range(B):
                                acc = 0.0
                                for be in range(CHI):
                                    acc += E[c, r, al, x, be] * R[x, be, b]
                                T[r, x, al, b] = w[x, b] * acc
                    if r > 0:
                        for p in range(D):
                            for al in range(CHI):
                                for b in range(B):
                                    acc = 0.0
                                    for x in range(D):
                                        acc += V[c, r - 1, p, x] * T[r, x, al, b]
                                    R[p, al, b] = acc
                        for b in range(B):
                            m = 0.0
                            for p in range(D):
                                for al in range(CHI):
                                    m = max(m, abs(R[p, al, b]))
                            rs[b] = 1.0 / m if m > 0.0 else 1.0
                for al in range(CHI):
                    for b in range(B):
                        Lv[al, b] = 1.0 if al == 0 else 0.0
                for b in range(B):
                    ls[b] = 1.0
                for r in range(W):  # left pass: draw the rows
                    i = c * W + r
                    for b in range(B):
                        s = min(s0 + b, n - 1)
                        U[b] = uniform53(seeds[s], i) if not use_forced else 0.0
                        F[b] = forced[i, s] if use_forced else 0
                    for x in range(D):
                        for b in range(B):
                            acc = 0.0
                            for al in range(CHI):
                                acc += Lv[al, b] * T[r, x, al, b]
                            if r > 0:  # vertical factor to the drawn row above (a select)
                                v = V[c, r - 1, 0, x]
                                for p in range(1, D):
                                    v = V[c, r - 1, p, x] if xs[r - 1, b] == p else v
                                acc *= v
                            u[x, b] = acc
                    for b in range(B):
                        top = 0.0
                        for x in range(D):
                            top = max(top, u[x, b])
                        norm = 0.0
                        for x in range(D):
                            norm += max(u[x, b], floor * top)
                        ok = norm > 0.0  # an all-zero row (or NaN): uniform conditional
                        if use_forced:
                            k = F[b]
                        else:
                            target = U[b] * (norm if ok else D)
                            cum = 0.0
                            k = 0
                            for x in range(D - 1):
                                cum += max(u[x, b], floor * top) if ok else 1.0
                                k += target >= cum
                        uk = 0.0
                        for x in range(D):
                            uk = max(u[x, b], floor * top) if k == x else uk
                        prod[b] *= uk / norm if ok else 1.0 / D
                        xs[r, b] = k
                    for be in range(CHI):  # Lv <- ls Lv G_r[:, x_r, :] (a select of the drawn state)
                        for b in range(B):
                            acc = 0.0
                            k = xs[r, b]
                            for al in range(CHI):
                                g = E[c, r, al, 0, be]
                                for x in range(1, D):
                                    g = E[c, r, al, x, be] if k == x else g
                                acc += Lv[al, b] * g
                            Ln[be, b] = acc * ls[b]
                    Lv, Ln = Ln, Lv
                    for b in range(B):
                        m = 0.0
                        for be in range(CHI):
                            m = max(m, abs(Lv[be, b]))
                        ls[b] = 1.0 / m if m > 0.0 else 1.0
                    if r % FLUSH == FLUSH - 1 or r == W - 1:  # conditionals >= floor / d: no underflow within FLUSH rows
                        for b in range(B):
                            total[b] += np.log(prod[b])
                            prod[b] = 1.0
                for r in range(W):
                    for b in range(B):
                        prev[r, b] = xs[r, b]
                for b in range(min(B, n - s0)):
                    for r in range(W):
                        X[s0 + b, c * W + r] = xs[r, b]
            for b in range(min(B, n - s0)):
                logq[s0 + b] = total[b]

    return kernel
