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

from ._kernel_common import inverse_cdf


@njit(cache=True, inline="always")
def _draw(q, absum, signed, u):
    """x ~ q / sum(q) by inverse CDF with the uniform u; returns (x, log(q_x / sum q)).

    Negative weights (rounding of a signed MPS) are clipped to 0 in place; x = -1 flags a weight
    below -1e-9 * absum on a signed MPS, or a zero total: the (tilted) MPS is not a distribution.
    """
    tot = 0.0
    bad = False
    for x in range(q.shape[0]):
        if q[x] < 0.0:
            bad = bad or (signed and q[x] < -1e-9 * absum)
            q[x] = 0.0
        tot += q[x]
    if bad or not tot > 0.0:
        return -1, 0.0
    k = inverse_cdf(q, u * tot)
    return k, np.log(q[k] / tot)


@njit(cache=True, inline="always")
def _dots8(row, V, p0, p1, p2, p3, p4, p5, p6, p7):
    """Eight dot products row . V[p_k] sharing each load of row (a small matrix-matrix product)."""
    z = row[0] * 0
    a0 = z; a1 = z; a2 = z; a3 = z; a4 = z; a5 = z; a6 = z; a7 = z  # noqa: E702
    for a in range(row.shape[0]):
        w = row[a]
        a0 += V[p0, a] * w
        a1 += V[p1, a] * w
        a2 += V[p2, a] * w
        a3 += V[p3, a] * w
        a4 += V[p4, a] * w
        a5 += V[p5, a] * w
        a6 += V[p6, a] * w
        a7 += V[p7, a] * w
    return a0, a1, a2, a3, a4, a5, a6, a7


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
                absum = 0.0
                for x in range(d):
                    acc = 0.0
                    for a in range(chi):
                        acc += L[s, a] * B[i, x, a]
                    absum += abs(acc)
                    q[x] = acc
                k, lq = _draw(q, absum, signed, u[s0 + s, i])
                if k < 0:
                    bad[s0 + s] = 1
                    continue
                X[s0 + s, i] = k
                logp[s0 + s] += lq
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
                        a0, a1, a2, a3, a4, a5, a6, a7 = _dots8(AT[i, x, c], L, p0, p1, p2, p3, p4, p5, p6, p7)
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
def sample_conditional(AT, R, tilts, u, signed, X, logp, logw, block=64):
    """Sampling with per-sample tilts (n, N, d) and right environments R (n, N + 1, chi); fills X, logp.

    logw[s] receives log of the untilted weight A_1[x_1] ... A_N[x_N] of the drawn x: each step
    divides l A_i[x] by raw = l A_i[x] r_{i+1} and l_N = 1 at the end, so that weight is prod raw.

    All d products l A_i[x] are formed (the right environments differ per sample), eight samples
    sharing each row of A_i[x] (see _dots8). Returns the number of samples that met a negative
    (signed MPS) or zero conditional weight.
    """
    n, N = u.shape
    d = AT.shape[1]
    chi = AT.shape[2]
    bad = np.zeros(n, dtype=np.int64)
    for blk in prange((n + block - 1) // block):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        L = np.zeros((m, chi), dtype=AT.dtype)
        L[:, 0] = 1.0
        V = np.empty((m, d, chi), dtype=AT.dtype)
        live = np.empty(m, dtype=np.int64)
        q = np.empty(d)
        raw = np.empty(d)
        for s in range(m):
            logp[s0 + s] = 0.0
            logw[s0 + s] = 0.0
        for i in range(N):
            cnt = 0
            for s in range(m):
                if not bad[s0 + s]:
                    live[cnt] = s
                    cnt += 1
            for x in range(d):  # V[s, x] = l_s A_i[x]
                j = 0
                while j < cnt:
                    if j + 7 < cnt:
                        p0, p1, p2, p3 = live[j], live[j + 1], live[j + 2], live[j + 3]
                        p4, p5, p6, p7 = live[j + 4], live[j + 5], live[j + 6], live[j + 7]
                        for c in range(chi):
                            v0, v1, v2, v3, v4, v5, v6, v7 = _dots8(AT[i, x, c], L, p0, p1, p2, p3, p4, p5, p6, p7)
                            V[p0, x, c] = v0
                            V[p1, x, c] = v1
                            V[p2, x, c] = v2
                            V[p3, x, c] = v3
                            V[p4, x, c] = v4
                            V[p5, x, c] = v5
                            V[p6, x, c] = v6
                            V[p7, x, c] = v7
                        j += 8
                    else:
                        p0 = live[j]
                        for c in range(chi):
                            vc = AT[0, 0, 0, 0] * 0
                            for a in range(chi):
                                vc += L[p0, a] * AT[i, x, c, a]
                            V[p0, x, c] = vc
                        j += 1
            for jj in range(cnt):
                s = live[jj]
                absum = 0.0
                for x in range(d):
                    acc = 0.0
                    for c in range(chi):
                        acc += V[s, x, c] * R[s0 + s, i + 1, c]
                    raw[x] = acc
                    q[x] = acc * tilts[s0 + s, i, x]
                    absum += abs(q[x])
                k, lq = _draw(q, absum, signed, u[s0 + s, i])
                if k < 0:
                    bad[s0 + s] = 1
                    continue
                X[s0 + s, i] = k
                logp[s0 + s] += lq
                logw[s0 + s] += np.log(raw[k])
                inv = 1.0 / raw[k]
                for c in range(chi):
                    L[s, c] = V[s, k, c] * inv
    return bad.sum()


@njit(parallel=True, fastmath=True, cache=True)
def right_sweep_dense(A2, tilts, R, sign, logv, block=64):
    """Per-sample right environments r_i = sum_x w_i[x] A_i[x] r_{i+1}, renormalised at each site.

    A2[i, x, a, c] = A_i[a, x, c] (zero-padded). Entries with w_i[x] = 0 are skipped, so one-hot
    tilts (log_prob) cost one matrix-vector product per site. R: (n, N + 1, chi) receives the
    normalised environments when it has n rows (pass a (1, 1, 1) array to skip storing);
    sign[s] and logv[s] receive the sign and log|.| of the full contraction. Samples run in blocks
    with the site loop outside, eight samples sharing each row of A_i[x] (see _dots8).
    """
    N, d, chi = A2.shape[0], A2.shape[1], A2.shape[2]
    n = sign.shape[0]
    store = R.shape[0] == n and R.shape[1] == N + 1
    per_sample_w = tilts.shape[0] > 1
    for blk in prange((n + block - 1) // block):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        r = np.zeros((m, chi), dtype=A2.dtype)
        nr = np.zeros((m, chi), dtype=A2.dtype)
        acc_log = np.zeros(m)
        live = np.empty(m, dtype=np.int64)
        for s in range(m):
            r[s, 0] = 1.0
            if store:
                for a in range(chi):
                    R[s0 + s, N, a] = r[s, a]
        for i in range(N - 1, -1, -1):
            nr[:, :] = 0.0
            for x in range(d):
                cnt = 0
                for s in range(m):
                    if tilts[s0 + s if per_sample_w else 0, i, x] != 0.0:
                        live[cnt] = s
                        cnt += 1
                j = 0
                while j < cnt:
                    if j + 7 < cnt:
                        p0, p1, p2, p3 = live[j], live[j + 1], live[j + 2], live[j + 3]
                        p4, p5, p6, p7 = live[j + 4], live[j + 5], live[j + 6], live[j + 7]
                        for a in range(chi):
                            v0, v1, v2, v3, v4, v5, v6, v7 = _dots8(A2[i, x, a], r, p0, p1, p2, p3, p4, p5, p6, p7)
                            nr[p0, a] += tilts[s0 + p0 if per_sample_w else 0, i, x] * v0
                            nr[p1, a] += tilts[s0 + p1 if per_sample_w else 0, i, x] * v1
                            nr[p2, a] += tilts[s0 + p2 if per_sample_w else 0, i, x] * v2
                            nr[p3, a] += tilts[s0 + p3 if per_sample_w else 0, i, x] * v3
                            nr[p4, a] += tilts[s0 + p4 if per_sample_w else 0, i, x] * v4
                            nr[p5, a] += tilts[s0 + p5 if per_sample_w else 0, i, x] * v5
                            nr[p6, a] += tilts[s0 + p6 if per_sample_w else 0, i, x] * v6
                            nr[p7, a] += tilts[s0 + p7 if per_sample_w else 0, i, x] * v7
                        j += 8
                    else:
                        p0 = live[j]
                        wx = tilts[s0 + p0 if per_sample_w else 0, i, x]
                        for a in range(chi):
                            vc = A2[0, 0, 0, 0] * 0
                            for c in range(chi):
                                vc += A2[i, x, a, c] * r[p0, c]
                            nr[p0, a] += wx * vc
                        j += 1
            for s in range(m):
                norm = 0.0
                for a in range(chi):
                    norm += abs(nr[s, a])
                if norm == 0.0 or acc_log[s] == -np.inf:
                    acc_log[s] = -np.inf
                    for a in range(chi):
                        r[s, a] = 0.0
                else:
                    acc_log[s] += np.log(norm)
                    for a in range(chi):
                        r[s, a] = nr[s, a] / norm
                if store:
                    for a in range(chi):
                        R[s0 + s, i, a] = r[s, a]
        for s in range(m):
            sign[s0 + s] = np.sign(r[s, 0])
            logv[s0 + s] = acc_log[s]
