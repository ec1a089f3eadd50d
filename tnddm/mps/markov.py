"""Binary automata in the Markov gauge stored as their sampling tables only.

An exact model of binary spins whose energy couples each site to sites at most r earlier (the 2D
Ising model on an L x W cylinder: r = W) is an automaton whose state before site i is the shift
register of the last m_i = min(i, r) spins. In the Markov gauge its cores are the conditional
probabilities p_i(x | a); sampling needs only those, one number per (site, state):

    log R_N = 0,  log R_i(a) = logaddexp_x (lw_i(a, x) + log R_{i+1}(a')),  a' = (2 a + x) mod 2^m_{i+1}
    p_i(x | a) = exp(lw_i(a, x) + log R_{i+1}(a') - log R_i(a)),   log Z = log R_0(0),

with the pair log-weights lw_i(a, x) = f_i s + sum_k c_{i,k} s_{i-k}(a) s (s = 2 x - 1, s_{i-k}(a) the
spin k sites back, bit k - 1 of a). The sweep keeps two vectors log R and writes each site's
signed threshold table (tnddm.mps._markov_kernels: the smaller probability, signed by its
symbol) in float32: 4 bytes per (site, state) instead of the ~80 of a full SparseMPS, so the
L = 40, W = 20 cylinder (2^20 states, 800 sites) takes 3.3 GB.

The MPS *is* the law q of its tables: sample and log_prob return log q exactly (float64
arithmetic on the tables' values), and |log q - log p| <= sample_table_bound (about N 2^-24 at
most; measured values are ~100x smaller). log_z is the float64 log Z of the exact model.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_configs
from .._memory import check_allocation
from . import _markov_kernels as mkern
from . import _sparse_kernels as kern
from .base import MPSBase
from .sparse import SparseMPS


@njit(parallel=True, cache=True, error_model="numpy")
def _pair_sweep_site(m, m_next, dist, coup, field, log_r_next, log_r, table, t0, round_f32, err):
    """One site of the right sweep (module docstring): fills log_r (2^m,), table[t0 : t0 + 2^m] and
    err[a] >= max_x |log q(x | a) - log p(x | a)| of the stored value (the bound |log(1 + e)| <= e / (1 - e)
    of the relative errors e of both probabilities)."""
    mask = (1 << m_next) - 1
    for a in prange(1 << m):
        v0 = -field
        v1 = field
        for k in range(dist.shape[0]):
            if dist[k] > 0:
                sk = 2.0 * ((a >> (dist[k] - 1)) & 1) - 1.0
                v0 -= coup[k] * sk
                v1 += coup[k] * sk
        v0 += log_r_next[(a << 1) & mask]
        v1 += log_r_next[((a << 1) | 1) & mask]
        small0 = v0 <= v1
        hi = v1 if small0 else v0
        lo = v0 if small0 else v1
        if hi == -np.inf:
            log_r[a] = -np.inf
            table[t0 + a] = 1.0
            err[a] = 0.0
            continue
        lr = hi + np.log1p(np.exp(lo - hi))
        log_r[a] = lr
        ps = np.exp(lo - lr)  # the smaller probability, to full relative precision
        t = np.float64(np.float32(ps)) if round_f32 else ps
        t = np.rint(t * 4503599627370496.0) / 4503599627370496.0  # the uniforms' grid 2^-52
        if small0:
            table[t0 + a] = t
        else:
            table[t0 + a] = -t if t > 0.0 else 1.0
        e = 0.0
        if ps > 0.0:
            e = max(abs(t - ps) / ps, abs(t - ps) / (1.0 - ps))
        err[a] = e / (1.0 - e) if e < 1.0 else np.inf


class MarkovTableMPS(MPSBase):
    """A binary (d = 2) shift-register automaton in the Markov gauge, stored as signed threshold tables.

    Build with from_pair_couplings. See the module docstring for the law, the storage and the accuracy.

    Args:
        table: concatenated signed tables (float32 or float64), sum_i chi_i entries.
        table_off: (N + 1,) offsets of the sites' tables.
        chis: bond dimensions (chi_0, ..., chi_N), powers of two with chi_0 = chi_N = 1.
        log_z: log Z of the exact model the tables were computed from (float64).
    """

    d = 2

    def __init__(self, table, table_off, chis, log_z: float = 0.0):
        self.table = np.ascontiguousarray(table)
        self.table_off = np.asarray(table_off, dtype=np.int64)
        self._chis = tuple(int(c) for c in chis)
        self.n_sites = len(self._chis) - 1
        if self.table.dtype not in (np.float32, np.float64) or self.table_off[-1] != self.table.size:
            raise ValueError("table must be float32 or float64 with table_off[-1] == table.size")
        if any(c & (c - 1) for c in self._chis) or self._chis[0] != 1 or self._chis[-1] != 1:
            raise ValueError(f"chis must be powers of two starting and ending with 1; got {self._chis[:4]}...")
        self.table_dtype = self.table.dtype
        self.exact_log_z = float(log_z)
        self._nxt = np.zeros(1, dtype=np.int64)
        self._nxt_off = np.full(self.n_sites, -1, dtype=np.int64)
        self._masks = np.asarray([c - 1 for c in self._chis[1:]], dtype=np.int64)

    @classmethod
    def from_pair_couplings(cls, n_sites: int, r: int, dist, coup, field, dtype=np.float32) -> "MarkovTableMPS":
        """Tables of pi(x) ∝ exp(sum_i [f_i s_i + sum_k c_{i,k} s_{i - dist_{i,k}} s_i]), s = 2 x - 1.

        Args:
            n_sites: N.
            r: range; every dist_{i,k} <= min(i, r).
            dist: (N, K) int distances of the earlier sites coupled to site i (0: no coupling).
            coup: (N, K) log-weight couplings c_{i,k} (beta J for the Ising model).
            field: (N,) log-weight fields f_i (beta h).
            dtype: table precision, float32 (default) or float64.
        """
        N, r = int(n_sites), int(r)
        dist = np.asarray(dist, dtype=np.int64).reshape(N, -1)
        coup = np.asarray(coup, dtype=np.float64).reshape(N, -1)
        field = np.broadcast_to(np.asarray(field, dtype=np.float64), (N,))
        if N < 1 or r < 0:
            raise ValueError(f"need n_sites >= 1 and r >= 0; got {n_sites}, {r}")
        ms = [min(i, r) for i in range(N)] + [0]
        if np.any(dist > np.asarray(ms[:N])[:, None]) or np.any(dist < 0):
            raise ValueError("dist must lie in 0..min(i, r) at site i")
        if not (np.all(np.isfinite(coup)) and np.all(np.isfinite(field))):
            raise ValueError("coup and field must be finite")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {dtype!r}")
        chis = [1 << m for m in ms]
        table_off = np.concatenate([[0], np.cumsum(chis[:N])]).astype(np.int64)
        check_allocation(int(table_off[-1]) * dtype.itemsize + 2 * 8 * max(chis),
                         f"Markov tables of {N} sites with up to {max(chis)} states ({dtype.name})")
        table = np.empty(int(table_off[-1]), dtype=dtype)
        err = np.empty(max(chis))
        log_r_next = np.zeros(1)
        bound = 0.0
        for i in range(N - 1, -1, -1):
            log_r = np.empty(chis[i])
            _pair_sweep_site(ms[i], ms[i + 1], dist[i], coup[i], float(field[i]), log_r_next, log_r, table,
                             int(table_off[i]), dtype == np.float32, err)
            bound += float(err[:chis[i]].max())
            log_r_next = log_r
        log_z = float(log_r_next[0])
        if not np.isfinite(log_z):
            raise ValueError("the model has no allowed configuration (Z = 0)")
        out = cls(table, table_off, chis, log_z)
        out.sample_table_bound = bound
        return out

    # ---- sampling ----------------------------------------------------------------------------
    def _log_z(self) -> float:
        """0: the tables are normalised conditionals."""
        return 0.0

    def _samples_from_seeds(self) -> bool:
        return True

    def _sample_chunk_seeded(self, seeds, X, logp):
        mkern.sample_binary_markov(self.table, self.table_off, self._nxt, self._nxt_off, self._masks, seeds, X, logp,
                                   mkern.block_size(seeds.size))

    def _default_batch(self, per_sample: bool) -> int:
        return 2**16 if not per_sample else super()._default_batch(per_sample)

    def log_prob(self, X) -> np.ndarray:
        """log q(x) of the tables' law (the law sampled), one O(N) pass per configuration."""
        X = as_configs(X, self.n_sites, 2)
        out = np.empty(X.shape[0])
        mkern.path_log_q(self.table, self.table_off, self._nxt, self._nxt_off, self._masks, X, out)
        return out

    table_log_prob = log_prob

    #: max over x of |log q(x) - log p(x)|: sum over sites of the largest error of a stored conditional,
    #: measured by from_pair_couplings against the float64 conditionals (nan when built otherwise)
    sample_table_bound = float("nan")

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)

    # ---- storage primitives (decoded per site: for the generic algorithms of MPSBase) -----------
    @property
    def bond_dims(self):
        return self._chis

    def _site_core(self, i):
        """(next states (chi_i, 2, 1), probabilities (chi_i, 2, 1)) of site i, decoded from its table."""
        s = self.table[self.table_off[i]:self.table_off[i + 1]].astype(np.float64)
        q0 = np.where(s >= 0, np.minimum(s, 1.0), 1.0 + s)
        W = np.stack([q0, 1.0 - q0], axis=1)[:, :, None]
        a = np.arange(s.size)
        nxt = ((2 * a[:, None] + np.arange(2)[None, :]) & self._masks[i])[:, :, None]
        return np.ascontiguousarray(nxt), np.ascontiguousarray(W)

    def _transfer_right(self, i, r, w):
        nxt, W = self._site_core(i)
        out = np.empty((max(r.shape[0], w.shape[0]), self._chis[i]))
        kern.transfer_right(nxt, W, np.ascontiguousarray(r), np.ascontiguousarray(w), out)
        return out

    def _transfer_left(self, i, l, w):
        nxt, W = self._site_core(i)
        out = np.empty((max(l.shape[0], w.shape[0]), self._chis[i + 1]))
        kern.transfer_left(nxt, W, np.ascontiguousarray(l), np.ascontiguousarray(w), out)
        return out

    def _site_values(self, i, l, r):
        nxt, W = self._site_core(i)
        out = np.empty((max(l.shape[0], r.shape[0]), 2))
        kern.site_values(nxt, W, np.ascontiguousarray(l), np.ascontiguousarray(r), out)
        return out

    def to_sparse(self):
        """The same law q as a SparseMPS (float64 cores of the tables' values; moderate sizes only)."""
        cores = [self._site_core(i) for i in range(self.n_sites)]
        return SparseMPS([c[0] for c in cores], [c[1] for c in cores])

    def dense_cores(self):
        return self.to_sparse().dense_cores()

    def tilt(self, weights):
        return self.to_sparse().tilt(weights)
