"""Blocked sampling kernel for binary (d = 2) automata in the Markov gauge.

Each site's table holds one number per left state a, the probability of the less likely symbol
stored with a sign that names it:

    s_i[a] = +P(x = 0 | a)   if P(x = 0 | a) <= P(x = 1 | a)  (or P(x = 1 | a) = 0: s = +1)
    s_i[a] = -P(x = 1 | a)   otherwise (a negative number, never -0.0)

With t = |s| and a uniform u: small = (u < t), x = small XOR (s >= 0), and the probability of the
drawn symbol is q = t if small else 1 - t, both exact in float64 from the table's value (float32
or float64). The less likely symbol keeps the table's relative precision, the other one
(probability >= 1/2) loses nothing, so |log q - log p| <= 2^-24 (1 + 2^-24) per site in float32.

The uniforms are u = k / 2^52 from the top 52 bits of SplitMix64 outputs z_i = mix(seed + (i + 1)
gamma), one counter-based stream per sample (the stream of tnddm.mps._sparse_kernels'
sample_markov_seeded). P(u < t) = t exactly for every table value t >= 2^-29 in float32 (t is a
multiple of 2^-52); below that the law is off by less than 2^-52 absolute.

Samples are walked site-major in blocks, so a site's table is read once per block and stays in
cache (streamed in order, one line per 64 bytes, while the previous site is drawn: `_touch`); the lane loop is branch-free (selects only) so LLVM vectorises it. log q is accumulated as
a product with a power-of-two rescaling (exact in the exponent) and one log per sample at the end.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .._uniforms import GOLDEN, ONE_BITS, mix64

LN2 = float(np.log(2.0))
GRID = 2.0**-52  # resolution of the uniforms
TOUCH_BYTES = 1 << 20  # tables up to 1 MiB are streamed in before their site (measured: W = 12, 16 faster; W = 20 untested)


@njit(parallel=True, cache=True)
def sample_binary_markov(table, table_off, nxt, nxt_off, masks, seeds, X, logp, block=4096, tile=16):
    """Exact samples of a binary Markov-gauge automaton; fills X (n, N) (any integer dtype) and logp (n,).

    Args:
        table: signed threshold tables of all sites, concatenated (see module docstring); float32 or
            float64, every |value| a multiple of 2^-52 (signed_table rounds them).
        table_off: (N + 1,) offsets of each site's table in `table`.
        nxt: next states, concatenated as nxt[nxt_off[i] + 2 a + x]; unused for shift sites.
        nxt_off: (N,) offsets into nxt, or -1 for a shift-register site, whose next state is
            (2 a + x) & masks[i] (the automata of finite-range models).
        masks: (N,) bit masks of the shift-register sites (chi_{i+1} - 1).
        seeds: (n,) uint64, one SplitMix64 stream per sample.
        X, logp: outputs; logp[s] = sum_i log q_i(x_i) in float64.
        block, tile: samples per block (one thread's lanes; see block_size), sites per write-out tile
            (at most 16: the running product of q >= 2^-52 stays normal over 16 sites between
            renormalisations).
    """
    n = seeds.shape[0]
    n_blocks = (n + block - 1) // block
    for blk in prange(n_blocks):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        _sample_block(table, table_off, nxt, nxt_off, masks, seeds[s0:s0 + m], X[s0:s0 + m], logp[s0:s0 + m], tile)


@njit(cache=True)
def _sample_block(table, table_off, nxt, nxt_off, masks, seeds, X, logp, tile):
    """One block of sample_binary_markov: lanes = samples, sites outermost (three loops per site:
    uniforms and the table gather, then the branch-free draw that LLVM vectorises)."""
    m, N = X.shape
    ctr = seeds.copy()
    state = np.zeros(m, dtype=np.int64)
    prod = np.ones(m)
    expo = np.zeros(m)
    ubits = np.empty(m, dtype=np.uint64)
    uf = ubits.view(np.float64)
    sv = np.empty(m, dtype=table.dtype)
    buf = np.empty((tile, m), dtype=np.int8)
    for i0 in range(0, N, tile):
        i1 = min(N, i0 + tile)
        for i in range(i0, i1):
            toff = table_off[i]
            if i + 1 < N and (table_off[i + 2] - table_off[i + 1]) * table.itemsize <= TOUCH_BYTES:
                prod[0] *= _touch(table, table_off[i + 1], table_off[i + 2])  # the next site's table, in order
            for j in range(m):
                c = ctr[j] + GOLDEN
                ctr[j] = c
                ubits[j] = (mix64(c) >> np.uint64(12)) | ONE_BITS
            for j in range(m):
                sv[j] = table[toff + state[j]]
            row = buf[i - i0]
            noff = nxt_off[i]
            if noff < 0:
                mask = masks[i]
                for j in range(m):
                    s = np.float64(sv[j])
                    t = abs(s)
                    sm = np.int64(uf[j] - 1.0 < t)
                    x = sm ^ np.int64(s >= 0.0)
                    prod[j] *= (1.0 - t) + np.float64(sm) * (2.0 * t - 1.0)  # t if sm else 1 - t, exactly
                    row[j] = x
                    state[j] = ((state[j] << 1) | x) & mask
            else:
                for j in range(m):
                    s = np.float64(sv[j])
                    t = abs(s)
                    sm = np.int64(uf[j] - 1.0 < t)
                    x = sm ^ np.int64(s >= 0.0)
                    prod[j] *= (1.0 - t) + np.float64(sm) * (2.0 * t - 1.0)
                    row[j] = x
                for j in range(m):
                    state[j] = nxt[noff + 2 * state[j] + row[j]]
        for j in range(m):
            mant, e = math.frexp(prod[j])
            prod[j] = mant
            expo[j] += e
            for i in range(i0, i1):
                X[j, i] = buf[i - i0, j]
    for j in range(m):
        logp[j] = np.log(prod[j]) + expo[j] * LN2


@njit(cache=True, inline="always")
def _touch(table, lo, hi):
    """Read table[lo:hi] one cache line at a time (a sequential stream the hardware prefetcher follows);
    returns 1.0. Gathering a 32 KB float64 table at random rows straight from L3 stalls on every miss;
    reading it in order first made the Ising 64 x 12 kernel 1.3-1.5x faster on a 2-core AVX2 AMD EPYC
    (float64 tables; 1.1-1.3x in float32; paired benchmark rounds). The sum's product with 0.0 keeps the reads (IEEE: not foldable)."""
    acc = 0.0
    for k in range(lo, hi, max(1, 64 // table.itemsize)):
        acc += table[k]
    return 1.0 + acc * 0.0


def block_size(n: int) -> int:
    """Lanes per block: 4096 (measured on Ising 64 x 12: 4096 > 1024 > 256 by 10-40 %; each site's table is
    then read once per 4096 draws), fewer when n is small so that every thread gets a block."""
    return int(max(256, min(4096, -(-n // numba.get_num_threads()))))


@njit(cache=True)
def path_log_q(table, table_off, nxt, nxt_off, masks, X, out):
    """out[s] = sum_i log q_i(X[s, i] | a_i) along each row's path: the log-probability the sampler reports.

    -inf where a symbol of probability 0 appears.
    """
    n, N = X.shape
    for s in range(n):
        a = 0
        acc = 0.0
        for i in range(N):
            x = X[s, i]
            v = np.float64(table[table_off[i] + a])
            t = abs(v)
            small_symbol = 0 if v >= 0.0 else 1
            q = t if x == small_symbol else 1.0 - t
            if q <= 0.0:
                acc = -np.inf
                break
            acc += np.log(q)
            a = ((a << 1) | x) & masks[i] if nxt_off[i] < 0 else nxt[nxt_off[i] + 2 * a + x]
        out[s] = acc


def signed_table(p0: np.ndarray, p1: np.ndarray, dtype) -> np.ndarray:
    """Signed threshold table of rows with probabilities (p0, p1) (see module docstring).

    s = +t if P(x = 0) is the smaller (t = P(x = 0)), else -t (t = P(x = 1)); t is rounded to the
    table's precision and then to the uniforms' grid k 2^-52 (a no-op for float32 values >= 2^-29),
    so that P(u < t) = t holds exactly. A row whose x = 1 has probability 0 after rounding stores +1.

    Args:
        p0, p1: arrays of P(x = 0 | a), P(x = 1 | a) summing to 1 (both 0 for a dead state).
        dtype: float32 or float64.
    """
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    small0 = p0 <= p1
    t = np.where(small0, p0, p1).astype(dtype).astype(np.float64)
    t = np.round(t / GRID) * GRID
    out = np.where(small0, t, -t)
    out[(t == 0) & ~small0] = 1.0
    return out.astype(dtype)
