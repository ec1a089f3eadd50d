"""numba kernels for sparse (automaton) cores.

A sparse core holds, for each left state a and symbol y, k entries (next state nxt[a, y, j],
weight W[a, y, j]); A[y][a, b] = sum_j W[a, y, j] [nxt[a, y, j] == b]. Padding entries have weight 0.
A batch axis of size 1 broadcasts against n.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .._uniforms import GOLDEN, mix64
from ._kernel_common import inverse_cdf_at


@njit(parallel=True, cache=True)
def transfer_right(nxt, W, r, w, out):
    """out[s, a] = sum_{y, j} w[s, y] W[a, y, j] r[s, nxt[a, y, j]]."""
    n, cl = out.shape
    d, k = W.shape[1], W.shape[2]
    for s in prange(n):
        s = np.int64(s)
        rs = s if r.shape[0] > 1 else np.int64(0)
        ws = s if w.shape[0] > 1 else np.int64(0)
        for a in range(cl):
            acc = 0.0
            for y in range(d):
                wy = w[ws, y]
                if wy == 0.0:
                    continue
                part = 0.0
                for j in range(k):
                    part += W[a, y, j] * r[rs, nxt[a, y, j]]
                acc += wy * part
            out[s, a] = acc


@njit(parallel=True, cache=True)
def transfer_left(nxt, W, l, w, out):
    """out[s, b] = sum_{a, y, j: nxt[a, y, j] = b} l[s, a] w[s, y] W[a, y, j]."""
    n, cr = out.shape
    cl, d, k = W.shape
    for s in prange(n):
        s = np.int64(s)
        ls = s if l.shape[0] > 1 else np.int64(0)
        ws = s if w.shape[0] > 1 else np.int64(0)
        for b in range(cr):
            out[s, b] = 0.0
        for a in range(cl):
            la = l[ls, a]
            if la == 0.0:
                continue
            for y in range(d):
                f = la * w[ws, y]
                if f == 0.0:
                    continue
                for j in range(k):
                    out[s, nxt[a, y, j]] += f * W[a, y, j]


@njit(parallel=True, cache=True)
def site_values(nxt, W, l, r, out):
    """out[s, y] = sum_{a, j} l[s, a] W[a, y, j] r[s, nxt[a, y, j]]."""
    n, d = out.shape
    cl, k = W.shape[0], W.shape[2]
    for s in prange(n):
        s = np.int64(s)
        ls = s if l.shape[0] > 1 else np.int64(0)
        rs = s if r.shape[0] > 1 else np.int64(0)
        for y in range(d):
            acc = 0.0
            for a in range(cl):
                la = l[ls, a]
                if la == 0.0:
                    continue
                for j in range(k):
                    acc += la * W[a, y, j] * r[rs, nxt[a, y, j]]
            out[s, y] = acc


@njit(parallel=True, cache=True)
def sample_paths(nxt_flat, W_flat, core_off, d, k, R, env_off, tilts, u, X, logp, use_r=True, block=256):
    """Autoregressive sampling of latent paths (state, symbol, entry) site by site.

    R: normalised right environments stacked as (sum_i chi_i, n) (or (sum chi, 1) when shared);
    use_r=False skips them when they are all ones (cores in the Markov gauge, no tilts).

    At site i in state a, entry (y, j) is chosen with probability
    w_i[y] W[a, y, j] r_{i+1}[nxt[a, y, j]] / (sum over entries); O(d k) per site and sample.
    Samples go in blocks with the site loop outside, so a site's table is read once per block.
    logp receives the log-probability of the latent path (equal to log P(x) when k = 1), or
    nan if a site had zero total weight.
    """
    n, N = u.shape
    per_sample_r = R.shape[1] > 1
    per_sample_w = tilts.shape[0] > 1
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        s1 = min(n, s0 + block)
        state = np.zeros(s1 - s0, dtype=np.int64)
        for s in range(s0, s1):
            logp[s] = 0.0
        for i in range(N):
            roff = env_off[i + 1]
            for s in range(s0, s1):
                lp = logp[s]
                if np.isnan(lp):
                    continue
                rs = s if per_sample_r else 0
                ts = s if per_sample_w else 0
                base = core_off[i] + state[s - s0] * d * k
                tot = 0.0
                for e in range(d * k):
                    q = W_flat[base + e] * tilts[ts, i, e // k]
                    if use_r:
                        q *= R[roff + nxt_flat[base + e], rs]
                    tot += q
                if not tot > 0.0:
                    logp[s] = np.nan
                    continue
                target = u[s, i] * tot
                cum = 0.0
                sel = -1
                qsel = 0.0
                for e in range(d * k):
                    q = W_flat[base + e] * tilts[ts, i, e // k]
                    if use_r:
                        q *= R[roff + nxt_flat[base + e], rs]
                    if q > 0.0:
                        sel = e
                        qsel = q
                        cum += q
                        if cum > target:
                            break
                X[s, i] = sel // k
                logp[s] = lp + np.log(qsel / tot)
                state[s - s0] = nxt_flat[base + sel]


def warm_up() -> None:
    """Compile the kernels once (they are cached on disk afterwards)."""
    nxt = np.zeros((1, 2, 1), dtype=np.int64)
    W = np.ones((1, 2, 1))
    v = np.ones((1, 1))
    w = np.ones((1, 2))
    transfer_right(nxt, W, v, w, np.empty((1, 1)))
    transfer_left(nxt, W, v, w, np.empty((1, 1)))
    site_values(nxt, W, v, v, np.empty((1, 2)))


__all__ = ["transfer_right", "transfer_left", "site_values", "sample_paths", "numba"]


@njit(parallel=True, fastmath=True, cache=True)
def transfer_right_block(nxt, W, r, w, out):
    """out[a, s] = sum_{y, j} w[s, y] W[a, y, j] r[nxt[a, y, j], s] (samples innermost, contiguous).

    r: (chi_{i+1}, n), w: (n, d), out: (chi_i, n). Each core entry is read once per block of samples.
    """
    cl, n = out.shape
    d, k = W.shape[1], W.shape[2]
    for a in prange(cl):
        for s in range(n):
            out[a, s] = 0.0
        for y in range(d):
            for j in range(k):
                wt = W[a, y, j]
                if wt == 0.0:
                    continue
                b = nxt[a, y, j]
                for s in range(n):
                    out[a, s] += wt * w[s, y] * r[b, s]


@njit(cache=True)
def path_log_weight(nxt_flat, W_flat, core_off, d, X, out):
    """log of the product of weights along the deterministic path of each row of X (k = 1 automata).

    a_0 = 0, a_{i+1} = nxt[a_i, x_i]; out[s] = sum_i log W[a_i, x_i] (-inf if a weight is 0).
    """
    n, N = X.shape
    for s in range(n):
        a = 0
        acc = 0.0
        for i in range(N):
            e = core_off[i] + a * d + X[s, i]
            wt = W_flat[e]
            if wt <= 0.0:
                acc = -np.inf
                break
            acc += np.log(wt)
            a = nxt_flat[e]
        out[s] = acc


@njit(parallel=True, cache=True)
def normalise_columns(r, logs):
    """Divide each column of r (chi, n) by the sum of its absolute values; logs[s] += log(sum) (-inf if 0)."""
    chi, n = r.shape
    norms = np.zeros(n)
    for a in range(chi):
        for s in range(n):
            norms[s] += abs(r[a, s])
    for s in prange(n):
        if norms[s] > 0.0:
            logs[s] += np.log(norms[s])
        else:
            logs[s] = -np.inf
            norms[s] = 1.0
    for a in prange(chi):
        for s in range(n):
            r[a, s] /= norms[s]


@njit(cache=True, inline="always")
def _renormalise_into(src, dst, rows, m, norms, logs):
    """dst[:rows, t] = src[:rows, t] / sum_a |src[a, t]| for each of m samples, adding the log factor to
    logs[t] (-inf, and dst = 0, when the column is all zero)."""
    for t in range(m):
        norms[t] = 0.0
    for a in range(rows):
        for t in range(m):
            norms[t] += abs(src[a, t])
    for t in range(m):
        if norms[t] > 0.0:
            logs[t] += np.log(norms[t])
        else:
            logs[t] = -np.inf
            norms[t] = 1.0
    for a in range(rows):
        for t in range(m):
            dst[a, t] = src[a, t] / norms[t]


@njit(parallel=True, fastmath=True, cache=True)
def right_sweep_blocks(nxt_flat, W_flat, core_off, chis, env_off, d, k, tilts, R, sign, logv, block, logr):
    """Per-sample right environments for the whole chain in one call, blocks of samples in parallel.

    r_i[a, s] = sum_{y,j} w_i[s, y] W[a,y,j] r_{i+1}[nxt[a,y,j], s], renormalised per sample; each
    thread sweeps all sites for one block of samples (samples innermost, contiguous). R, when it
    has n columns, receives the normalised environments stacked as (sum_i chi_i, n); logr, when it
    has n rows, receives the log of the factor removed between r_N and r_i at [s, i].
    """
    n = sign.shape[0]
    N = chis.shape[0] - 1
    chi_max = chis.max()
    store = R.shape[1] == n and R.shape[0] == env_off[-1]
    store_logs = logr.shape[0] == n
    per_sample_w = tilts.shape[0] > 1
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        r = np.zeros((chi_max, m))
        nr = np.zeros((chi_max, m))
        norms = np.zeros(m)
        logs = np.zeros(m)
        for t in range(m):
            r[0, t] = 1.0
            if store:
                R[env_off[N], s0 + t] = 1.0
            if store_logs:
                logr[s0 + t, N] = 0.0
        for i in range(N - 1, -1, -1):
            cl = chis[i]
            for a in range(cl):
                for t in range(m):
                    nr[a, t] = 0.0
                base = core_off[i] + a * d * k
                for y in range(d):
                    for j in range(k):
                        e = base + y * k + j
                        wt = W_flat[e]
                        if wt == 0.0:
                            continue
                        b = nxt_flat[e]
                        for t in range(m):
                            ws = s0 + t if per_sample_w else 0
                            nr[a, t] += wt * tilts[ws, i, y] * r[b, t]
            _renormalise_into(nr, r, cl, m, norms, logs)
            if store_logs:
                for t in range(m):
                    logr[s0 + t, i] = logs[t]
            if store:
                off = env_off[i]
                for a in range(cl):
                    for t in range(m):
                        R[off + a, s0 + t] = r[a, t]
        for t in range(m):
            sign[s0 + t] = np.sign(r[0, t])
            logv[s0 + t] = logs[t]


@njit(cache=True, inline="always")
def _splitmix64(state):
    """One SplitMix64 step (tnddm._uniforms): returns (new state, 64-bit output)."""
    state = state + GOLDEN
    return state, mix64(state)


@njit(parallel=True, cache=True)
def sample_markov_seeded(nxt_flat, W_flat, logW_flat, core_off, d, N, seeds, X, logp, block=2048, tile=32):
    """Sampling of a k = 1 automaton in the Markov gauge (rows of W are probabilities, no tilts):
    x_i = inverse CDF of W[a, .] at a uniform, a <- nxt[a, x_i], logp += log W[a, x_i]. Each
    sample's uniforms come from its own SplitMix64 stream seeded by seeds[s].

    Saves generating and reading an (n, N) array of uniforms; seeds come from the caller's numpy
    Generator (one 64-bit seed per sample), so results depend only on that Generator. Samples go
    in blocks with the site loop outside, so a site's table stays in cache for the block; the
    states of `tile` sites are collected (site-major, contiguous writes) in a small int8 buffer and
    then written to X (n, N) sample-major, so X needs no transposed copy afterwards.
    """
    n = seeds.shape[0]
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        rng_state = seeds[s0:s0 + m].copy()
        state = np.zeros(m, dtype=np.int64)
        lp = np.zeros(m)
        buf = np.empty((tile, m), dtype=np.int8)
        for i0 in range(0, N, tile):
            i1 = min(N, i0 + tile)
            for i in range(i0, i1):
                off = core_off[i]
                for j in range(m):
                    st, z = _splitmix64(rng_state[j])
                    rng_state[j] = st
                    target = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                    base = off + state[j] * d
                    sel = inverse_cdf_at(W_flat, base, d, target)
                    buf[i - i0, j] = sel
                    lp[j] += logW_flat[base + sel]
                    state[j] = nxt_flat[base + sel]
            for j in range(m):
                for i in range(i0, i1):
                    X[s0 + j, i] = buf[i - i0, j]
        for j in range(m):
            logp[s0 + j] = lp[j]


@njit(parallel=True, fastmath=True, cache=True)
def left_pass_site_values(nxt_flat, W_flat, core_off, chis, env_off, d, k, tilts, R, values, logl, block):
    """Site values of every site along one left sweep, against stored right environments.

    With l_0 = e_0 and l_{i+1}[b] ∝ sum_{a,y,j: nxt = b} l_i[a] w_i[s, y] W[a,y,j] (renormalised per
    sample, log of the removed factor accumulated in logl[s, i + 1]):
        values[s, i, y] = sum_{a,j} l_i[a] W[a,y,j] R_{i+1}[nxt[a,y,j], s]
    (untilted at site i). R is the (sum_i chi_i, n) stack of right_sweep_blocks. Blocks of samples
    run in parallel, samples innermost.
    """
    n = values.shape[0]
    N = chis.shape[0] - 1
    chi_max = chis.max()
    per_sample_w = tilts.shape[0] > 1
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        l = np.zeros((chi_max, m))
        nl = np.zeros((chi_max, m))
        vals = np.zeros((m, d))
        norms = np.zeros(m)
        logs = np.zeros(m)
        for t in range(m):
            l[0, t] = 1.0
            logl[s0 + t, 0] = 0.0
        for i in range(N):
            cl, cr = chis[i], chis[i + 1]
            roff = env_off[i + 1]
            for b in range(cr):
                for t in range(m):
                    nl[b, t] = 0.0
            for t in range(m):
                for y in range(d):
                    vals[t, y] = 0.0
            for a in range(cl):
                live = False
                for t in range(m):
                    if l[a, t] != 0.0:
                        live = True
                        break
                if not live:
                    continue
                base = core_off[i] + a * d * k
                for y in range(d):
                    for j in range(k):
                        e = base + y * k + j
                        wt = W_flat[e]
                        if wt == 0.0:
                            continue
                        b = nxt_flat[e]
                        for t in range(m):
                            ws = s0 + t if per_sample_w else 0
                            f = wt * l[a, t]
                            vals[t, y] += f * R[roff + b, s0 + t]
                            nl[b, t] += f * tilts[ws, i, y]
            for t in range(m):
                for y in range(d):
                    values[s0 + t, i, y] = vals[t, y]
            _renormalise_into(nl, l, cr, m, norms, logs)
            for t in range(m):
                logl[s0 + t, i + 1] = logs[t]
