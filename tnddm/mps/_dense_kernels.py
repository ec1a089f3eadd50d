"""numba kernels for batched dense autoregressive sampling.

The cores are stored transposed and zero-padded, AT[i, x, c, a] = A_i[a, x, c] with shape
(N, d, chi_max, chi_max), so every matrix-vector product is a run of contiguous dot products
(vectorised by LLVM). Samples are processed in blocks with the site loop outside the sample loop,
so each core is read from memory once per block and stays in cache:

    q_x = w_i[x] l A_i[x] r_{i+1},   x ~ q / sum(q) (inverse CDF with u[s, i]),
    l <- l A_i[x] / (l A_i[x] r_{i+1}),   logp += log(q_x / sum(q)).

sample_shared (unconditional): l A_i[x] r_{i+1} = l . B[i, x] with B[i, x, a] = (A_i[x] r_{i+1})[a]
precomputed, so only the chosen product l A_i[x] is formed (2 chi^2 flops per site); the samples of
a block that chose the same x are updated eight at a time, so each row of A_i[x] loaded from cache
serves eight dot products (a small matrix-matrix product instead of matrix-vector products).
sample_conditional: per-sample environments R[s, i] (conditional sampling); all d products are formed.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _choose(q, target):
    """Inverse CDF: the first x whose cumulative weight exceeds target (among q[x] > 0)."""
    cum = 0.0
    sel = 0
    for x in range(q.shape[0]):
        if q[x] > 0.0:
            sel = x
            cum += q[x]
            if cum > target:
                break
    return sel


@njit(cache=True, inline="always")
def _clip_weight(qx, absum, signed):
    """(weight, bad): negative weights are clipped to 0, and flag a signed MPS beyond rounding."""
    if qx < 0.0:
        return 0.0, signed and qx < -1e-9 * absum
    return qx, False


@njit(parallel=True, fastmath=True, cache=True)
def sample_shared(AT, B, u, signed, X, logp, block=64):
    """Unconditional sampling with the shared right environments B; fills X (n, N) and logp (n,).

    Returns the number of samples that met a negative (signed MPS) or zero conditional weight.
    """
    n, N = u.shape
    d = AT.shape[1]
    chi = AT.shape[2]
    bad = np.zeros(n, dtype=np.int64)
    zero = AT[0, 0, 0, 0] * 0  # products in the cores' precision (float32 or float64)
    for blk in prange((n + block - 1) // block):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        L = np.zeros((m, chi), dtype=AT.dtype)
        L2 = np.zeros((m, chi), dtype=AT.dtype)
        L[:, 0] = 1.0
        sel = np.zeros(m, dtype=np.int64)
        inv = np.zeros(m)
        order = np.empty(m, dtype=np.int64)
        start = np.zeros(d + 1, dtype=np.int64)
        q = np.empty(d)
        for s in range(m):
            logp[s0 + s] = 0.0
        for i in range(N):
            for x in range(d + 1):
                start[x] = 0
            n_live = 0
            for s in range(m):
                if bad[s0 + s]:
                    continue
                tot = 0.0
                absum = 0.0
                for x in range(d):
                    acc = 0.0
                    for a in range(chi):
                        acc += L[s, a] * B[i, x, a]
                    absum += abs(acc)
                    q[x] = acc
                for x in range(d):
                    q[x], neg = _clip_weight(q[x], absum, signed)
                    if neg:
                        bad[s0 + s] = 1
                    tot += q[x]
                if not tot > 0.0 or bad[s0 + s]:
                    bad[s0 + s] = 1
                    continue
                k = _choose(q, u[s0 + s, i] * tot)
                X[s0 + s, i] = k
                logp[s0 + s] += np.log(q[k] / tot)
                inv[s] = 1.0 / q[k]
                sel[s] = k
                start[k + 1] += 1
                n_live += 1
            # counting sort of the live samples by chosen symbol
            for x in range(d):
                start[x + 1] += start[x]
            for s in range(m):
                if not bad[s0 + s]:
                    order[start[sel[s]]] = s
                    start[sel[s]] += 1
            j = 0
            while j < n_live:
                x = sel[order[j]]
                if j + 7 < n_live and sel[order[j + 7]] == x:  # eight samples share each row of A_i[x]
                    p0, p1, p2, p3 = order[j], order[j + 1], order[j + 2], order[j + 3]
                    p4, p5, p6, p7 = order[j + 4], order[j + 5], order[j + 6], order[j + 7]
                    for c in range(chi):
                        a0 = zero; a1 = zero; a2 = zero; a3 = zero  # noqa: E702
                        a4 = zero; a5 = zero; a6 = zero; a7 = zero  # noqa: E702
                        for a in range(chi):
                            w = AT[i, x, c, a]
                            a0 += L[p0, a] * w
                            a1 += L[p1, a] * w
                            a2 += L[p2, a] * w
                            a3 += L[p3, a] * w
                            a4 += L[p4, a] * w
                            a5 += L[p5, a] * w
                            a6 += L[p6, a] * w
                            a7 += L[p7, a] * w
                        L2[p0, c] = a0 * inv[p0]
                        L2[p1, c] = a1 * inv[p1]
                        L2[p2, c] = a2 * inv[p2]
                        L2[p3, c] = a3 * inv[p3]
                        L2[p4, c] = a4 * inv[p4]
                        L2[p5, c] = a5 * inv[p5]
                        L2[p6, c] = a6 * inv[p6]
                        L2[p7, c] = a7 * inv[p7]
                    j += 8
                else:
                    p0 = order[j]
                    for c in range(chi):
                        a0 = zero
                        for a in range(chi):
                            a0 += L[p0, a] * AT[i, x, c, a]
                        L2[p0, c] = a0 * inv[p0]
                    j += 1
            L, L2 = L2, L
    return bad.sum()


@njit(parallel=True, fastmath=True, cache=True)
def sample_conditional(AT, R, tilts, u, signed, X, logp, block=64):
    """Sampling with per-sample tilts (n, N, d) and right environments R (n, N + 1, chi); fills X, logp.

    Returns the number of samples that met a negative (signed MPS) or zero conditional weight.
    """
    n, N = u.shape
    d = AT.shape[1]
    chi = AT.shape[2]
    bad = np.zeros(n, dtype=np.int64)
    zero = AT[0, 0, 0, 0] * 0
    for blk in prange((n + block - 1) // block):
        s0 = blk * block
        s1 = min(n, s0 + block)
        L = np.zeros((s1 - s0, chi), dtype=AT.dtype)
        L[:, 0] = 1.0
        v = np.empty((d, chi), dtype=AT.dtype)
        q = np.empty(d)
        raw = np.empty(d)
        for s in range(s0, s1):
            logp[s] = 0.0
        for i in range(N):
            for s in range(s0, s1):
                if bad[s]:
                    continue
                l = L[s - s0]
                absum = 0.0
                for x in range(d):
                    acc = 0.0
                    for c in range(chi):
                        vc = zero
                        for a in range(chi):
                            vc += l[a] * AT[i, x, c, a]
                        v[x, c] = vc
                        acc += vc * R[s, i + 1, c]
                    raw[x] = acc
                    q[x] = acc * tilts[s, i, x]
                    absum += abs(q[x])
                tot = 0.0
                for x in range(d):
                    q[x], neg = _clip_weight(q[x], absum, signed)
                    if neg:
                        bad[s] = 1
                    tot += q[x]
                if not tot > 0.0 or bad[s]:
                    bad[s] = 1
                    continue
                k = _choose(q, u[s, i] * tot)
                X[s, i] = k
                logp[s] += np.log(q[k] / tot)
                inv = 1.0 / raw[k]
                for c in range(chi):
                    l[c] = v[k, c] * inv
    return bad.sum()


@njit(parallel=True, fastmath=True, cache=True)
def right_sweep_dense(A2, tilts, R, sign, logv):
    """Per-sample right environments r_i = sum_x w_i[x] A_i[x] r_{i+1}, renormalised at each site.

    A2[i, x, a, c] = A_i[a, x, c] (zero-padded). Entries with w_i[x] = 0 are skipped, so one-hot
    tilts (log_prob) cost one matrix-vector product per site. R: (n, N + 1, chi) receives the
    normalised environments when it has n rows (pass a (1, 1, 1) array to skip storing);
    sign[s] and logv[s] receive the sign and log|.| of the full contraction.
    """
    N, d, chi = A2.shape[0], A2.shape[1], A2.shape[2]
    n = sign.shape[0]
    store = R.shape[0] == n and R.shape[1] == N + 1
    per_sample_w = tilts.shape[0] > 1
    for s in prange(n):
        s = np.int64(s)
        ws = s if per_sample_w else np.int64(0)
        r = np.zeros(chi, dtype=A2.dtype)
        nr = np.empty(chi, dtype=A2.dtype)
        r[0] = 1.0
        acc_log = 0.0
        if store:
            for a in range(chi):
                R[s, N, a] = r[a]
        for i in range(N - 1, -1, -1):
            for a in range(chi):
                nr[a] = 0.0
            for x in range(d):
                wx = tilts[ws, i, x]
                if wx == 0.0:
                    continue
                for a in range(chi):
                    vc = A2[0, 0, 0, 0] * 0
                    for c in range(chi):
                        vc += A2[i, x, a, c] * r[c]
                    nr[a] += wx * vc
            norm = 0.0
            for a in range(chi):
                norm += abs(nr[a])
            if norm == 0.0:
                acc_log = -np.inf
                for a in range(chi):
                    r[a] = 0.0
            else:
                acc_log += np.log(norm)
                for a in range(chi):
                    r[a] = nr[a] / norm
            if store:
                for a in range(chi):
                    R[s, i, a] = r[a]
        sign[s] = np.sign(r[0])
        logv[s] = acc_log
