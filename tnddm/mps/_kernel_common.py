"""numba helpers shared by the dense and sparse kernels and the sweeps."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def inverse_cdf(q, target):
    """The first x whose cumulative weight sum_{y <= x} q[y] exceeds target (among q[x] > 0)."""
    return inverse_cdf_at(q, 0, q.shape[0], target)


@njit(cache=True, inline="always")
def inverse_cdf_at(w, base, d, target):
    """inverse_cdf of the row w[base:base + d], read in place.

    Hot loops call this rather than slicing: a slice is a new array view whose reference count
    numba updates atomically, and threads sharing the parent array then contend for that counter
    (measured: the Markov-gauge kernel gained nothing from a second thread).
    """
    cum = 0.0
    sel = 0
    for x in range(d):
        if w[base + x] > 0.0:
            sel = x
            cum += w[base + x]
            if cum > target:
                break
    return sel


@njit(parallel=True, cache=True)
def normalise_rows_inplace(v, logs):
    """v[s] <- v[s] / sum_a |v[s, a]|, logs[s] = log of that sum (-inf and v[s] unchanged if it is 0)."""
    n, m = v.shape
    for s in prange(n):
        tot = 0.0
        for a in range(m):
            tot += abs(v[s, a])
        if tot > 0.0:
            inv = 1.0 / tot
            for a in range(m):
                v[s, a] *= inv
            logs[s] = np.log(tot)
        else:
            logs[s] = -np.inf
