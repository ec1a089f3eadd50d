"""numba kernel for batched dense autoregressive sampling: one sample per loop iteration.

The cores are stored transposed and zero-padded, AT[i, x, c, a] = A_i[a, x, c] with shape
(N, d, chi_max, chi_max), so every matrix-vector product is a run of contiguous dot products
(vectorised by LLVM). For each sample the left vector l stays in cache for the whole chain:

    q_x = w_i[x] l A_i[x] r_{i+1},   x ~ q / sum(q) (inverse CDF with u[s, i]),
    l <- l A_i[x] / (l A_i[x] r_{i+1}),   logp += log(q_x / sum(q)).

Shared right environment: l A_i[x] r_{i+1} = l . B[i, x] with B[i, x, a] = (A_i[x] r_{i+1})[a]
precomputed, so only the chosen product l A_i[x] is formed (2 chi^2 flops per site).
Per-sample environments R[s, i] (conditional sampling): all d products are formed.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, fastmath=True, cache=True)
def sample_dense(AT, B, R, tilts, u, signed, X, logp, block=64):
    """Fill X (n, N) and logp (n,); R has shape (n, N + 1, chi_max) or (1, 1, 1) when B is used.

    Samples are processed in blocks (one block per thread at a time) with the site loop outside
    the sample loop, so each core is read from memory once per block and stays in cache.
    Returns the number of samples that met a negative (signed MPS) or zero conditional weight.
    """
    n, N = u.shape
    d = AT.shape[1]
    chi = AT.shape[2]
    per_sample_r = R.shape[0] > 1
    per_sample_w = tilts.shape[0] > 1
    bad = np.zeros(n, dtype=np.int64)
    zero = AT[0, 0, 0, 0] * 0  # matrix-vector products in the cores' precision (float32 or float64)
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
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
                ws = s if per_sample_w else 0
                tot = 0.0
                absum = 0.0
                for x in range(d):
                    acc = 0.0
                    if per_sample_r:
                        for c in range(chi):
                            vc = zero
                            for a in range(chi):
                                vc += l[a] * AT[i, x, c, a]
                            v[x, c] = vc
                            acc += vc * R[s, i + 1, c]
                    else:
                        for a in range(chi):
                            acc += l[a] * B[i, x, a]
                    raw[x] = acc
                    qx = acc * tilts[ws, i, x]
                    absum += abs(qx)
                    if qx < 0.0:
                        if signed and qx < -1e-9 * absum:
                            bad[s] = 1
                        qx = 0.0
                    q[x] = qx
                    tot += qx
                if not tot > 0.0:
                    bad[s] = 1
                    continue
                target = u[s, i] * tot
                cum = 0.0
                sel = 0
                for x in range(d):
                    if q[x] > 0.0:
                        sel = x
                        cum += q[x]
                        if cum > target:
                            break
                X[s, i] = sel
                logp[s] += np.log(q[sel] / tot)
                inv = 1.0 / raw[sel]
                if per_sample_r:
                    for c in range(chi):
                        l[c] = v[sel, c] * inv
                else:
                    for c in range(chi):
                        vc = zero
                        for a in range(chi):
                            vc += l[a] * AT[i, sel, c, a]
                        v[0, c] = vc * inv
                    for c in range(chi):
                        l[c] = v[0, c]
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
