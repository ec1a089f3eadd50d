"""numba kernel: in-place row normalisation of environment blocks (the hot step of every sweep)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


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
