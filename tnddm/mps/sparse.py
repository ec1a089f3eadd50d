"""Sparse (automaton) probability MPS: at most k non-zeros per (left state, symbol) core row.

Core i maps (left state a, symbol y) to k entries (next state b, weight w):
A_i[y][a, b] = sum_j W[a, y, j] [nxt[a, y, j] == b]. With k = 1 this is a weighted deterministic
automaton (the exact Fredkin and Ising-cylinder MPS): a sample costs O(N d) after one O(N chi d)
environment sweep, whatever the bond dimension. Noising a k = 1 automaton gives k = d (each noisy
symbol y may come from any clean symbol x); sampling then follows the latent path exactly and the
log-probability of the visible configuration is one extra contraction. A noised automaton is an
EmittedMPS: its contractions run on the clean cores with tilts w K, and its expanded k = d cores are
built only for sampling.
"""
from __future__ import annotations

import numba
import numpy as np

from .._checks import as_configs
from . import _markov_kernels as mkern
from . import _sparse_kernels as kern
from .base import EmissionMixin, MPSBase, check_emission
from .dense import ProbMPS
from .numerics import rescale_cores


class SparseMPS(MPSBase):
    """Probability MPS with sparse automaton cores (see module docstring).

    next_states: list of N int arrays (chi_{i-1}, d) or (chi_{i-1}, d, k) of next states.
    weights:     list of N non-negative float arrays of the same shapes (0 marks a missing entry).
    table_dtype: precision of the sampling tables of binary automata in the Markov gauge (float64, the
                 default, or float32: half the memory); see sample_table_bound. Contractions and log_prob
                 are float64 in both cases.
    The right bond of site i is the left bond of site i + 1 (the last is 1).
    """

    def __init__(self, next_states, weights, table_dtype=np.float64):
        if len(next_states) != len(weights) or len(weights) == 0:
            raise ValueError("next_states and weights must be non-empty lists of equal length")
        nxt_list, W_list = [], []
        for i, (nx, W) in enumerate(zip(next_states, weights)):
            nx = np.asarray(nx)
            W = np.asarray(W, dtype=float)
            if W.ndim == 2:
                W, nx = W[:, :, None], nx[:, :, None]
            if W.ndim != 3 or nx.shape != W.shape:
                raise ValueError(
                    f"next_states[{i}] and weights[{i}] must have equal shapes (chi_left, d[, k]); got {nx.shape} and {W.shape}"
                )
            if not np.all(np.isfinite(W)) or np.any(W < 0):
                raise ValueError(f"weights[{i}] must be finite and non-negative")
            nxt_list.append(nx.astype(np.int64))
            W_list.append(W)
        N = len(W_list)
        d = W_list[0].shape[1]
        k = max(W.shape[2] for W in W_list)
        chis = [W.shape[0] for W in W_list] + [1]
        if chis[0] != 1:
            raise ValueError(f"weights[0] must have one left state; got {chis[0]}")
        for i in range(N):
            if W_list[i].shape[1] != d:
                raise ValueError(f"weights[{i}] has {W_list[i].shape[1]} symbols; expected d = {d}")
            if W_list[i].shape[2] < k:  # pad to a common k
                pad = k - W_list[i].shape[2]
                W_list[i] = np.concatenate([W_list[i], np.zeros(W_list[i].shape[:2] + (pad,))], axis=2)
                nxt_list[i] = np.concatenate([nxt_list[i], np.zeros(nxt_list[i].shape[:2] + (pad,), np.int64)], axis=2)
            nx = np.where(W_list[i] > 0, nxt_list[i], 0)
            if nx.size and (nx.min() < 0 or nx.max() >= chis[i + 1]):
                raise ValueError(f"next_states[{i}] must lie in 0..{chis[i + 1] - 1} where the weight is non-zero")
            nxt_list[i] = np.ascontiguousarray(nx)
            W_list[i] = np.ascontiguousarray(W_list[i])
        W_list, self.log_scale = rescale_cores(W_list)  # weights near 1e308 or subnormal: exact powers of two
        self.next_states = nxt_list
        self.weights = W_list
        self.n_sites, self.d, self.k = N, d, k
        self._chis = tuple(chis)
        self.table_dtype = _check_table_dtype(table_dtype)
        # Markov gauge: every row sums to 1 (or is dead), so every right environment is constant
        sums = [W.sum(axis=(1, 2)) for W in W_list]
        self._markov = all(np.all((np.abs(t - 1) < 1e-12) | (t == 0)) for t in sums)

    # ---- storage primitives ---------------------------------------------------------------
    @property
    def bond_dims(self):
        return self._chis

    @property
    def is_automaton(self) -> bool:
        """True when every (state, symbol) row has at most one entry (k = 1)."""
        return self.k == 1

    def dense_cores(self):
        cores = []
        for i, (nx, W) in enumerate(zip(self.next_states, self.weights)):
            cl, d, k = W.shape
            A = np.zeros((cl, d, self._chis[i + 1]))
            a_idx = np.repeat(np.arange(cl), d * k)
            y_idx = np.tile(np.repeat(np.arange(d), k), cl)
            np.add.at(A, (a_idx, y_idx, nx.ravel()), W.ravel())
            cores.append(A)
        return cores

    def to_dense_mps(self):
        """The same distribution with dense cores (a ProbMPS); only for moderate bond dimension."""
        P = ProbMPS(self.dense_cores())
        P.log_scale += self.log_scale
        return P

    def tilt(self, weights):
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.n_sites, self.d):
            raise ValueError(f"weights must have shape ({self.n_sites}, {self.d}); got {w.shape}")
        out = SparseMPS(self.next_states, [W * w[i][None, :, None] for i, W in enumerate(self.weights)])
        out.log_scale += self.log_scale
        return out

    def emit(self, K) -> "EmittedMPS":
        """The MPS of sum_x P(x) prod_i K[y_i, x_i] over y (K of shape (d_out, d), non-negative)."""
        return EmittedMPS(self, K)

    def _transfer_right(self, i, r, w):
        n = max(r.shape[0], w.shape[0])
        out = np.empty((n, self._chis[i]))
        kern.transfer_right(self.next_states[i], self.weights[i], np.ascontiguousarray(r), np.ascontiguousarray(w), out)
        return out

    def _transfer_left(self, i, l, w):
        n = max(l.shape[0], w.shape[0])
        out = np.empty((n, self._chis[i + 1]))
        kern.transfer_left(self.next_states[i], self.weights[i], np.ascontiguousarray(l), np.ascontiguousarray(w), out)
        return out

    def _site_values(self, i, l, r):
        n = max(l.shape[0], r.shape[0])
        out = np.empty((n, self.d))
        kern.site_values(self.next_states[i], self.weights[i], np.ascontiguousarray(l), np.ascontiguousarray(r), out)
        return out

    def _flat_cores(self):
        """(next states, weights, core offsets, environment offsets, chis) flattened for the block kernels."""
        return self._cached("flat_cores", self._build_flat_cores)

    def _build_flat_cores(self):
        sizes = [W.size for W in self.weights]
        core_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        env_off = np.concatenate([[0], np.cumsum(self._chis)]).astype(np.int64)
        nxt = np.concatenate([nx.ravel() for nx in self.next_states])
        W = np.concatenate([W.ravel() for W in self.weights])
        return nxt, W, core_off, env_off, np.asarray(self._chis, dtype=np.int64)

    def _right_sweep_block(self, tilts, store: bool, logr=None):
        """Per-sample right environments (kernel right_sweep_blocks, one call for the whole chain).

        Returns (sign, log|value|) of the full contractions and, if store, the normalised
        environments stacked as (sum_i chi_i, n) for the sampling kernel; logr (n, N + 1), if given,
        receives the log factors removed from each environment.
        """
        n = tilts.shape[0]
        nxt, W, core_off, env_off, chis = self._flat_cores()
        R = np.empty((int(env_off[-1]), n)) if store else np.zeros((1, 1))
        sign, logv = np.empty(n), np.empty(n)
        kern.right_sweep_blocks(nxt, W, core_off, chis, env_off, self.d, self.k, np.ascontiguousarray(tilts), R,
                                sign, logv, _block(n, int(chis.max())), np.zeros((0, 1)) if logr is None else logr)
        return sign, logv, (R if store else None)

    def _all_site_values(self, left_tilts, right_tilts):
        """MPSBase._all_site_values by the block kernels, in chunks of samples (right stack <= 512 MB)."""
        N, d = self.n_sites, self.d
        ones = np.ones((1, N, d))
        lw = ones if left_tilts is None else left_tilts
        rw = ones if right_tilts is None else right_tilts
        n = max(lw.shape[0], rw.shape[0])
        nxt, W, core_off, env_off, chis = self._flat_cores()
        values, logl, logr = np.empty((n, N, d)), np.empty((n, N + 1)), np.empty((n, N + 1))
        chunk = int(max(1, min(n, _STACK_FLOATS // int(env_off[-1]))))
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            rows = lambda w: np.ascontiguousarray(np.broadcast_to(w, (n, N, d))[a:b])  # noqa: E731
            _, _, R = self._right_sweep_block(rows(rw), store=True, logr=logr[a:b])
            kern.left_pass_site_values(nxt, W, core_off, chis, env_off, d, self.k, rows(lw), R, values[a:b],
                                       logl[a:b], _block(b - a, int(chis.max())))
        return values, logl, logr

    def _contract(self, tilts=None):
        if tilts is None or tilts.shape[0] < 4:
            return super()._contract(tilts)
        sign, logv, _ = self._right_sweep_block(tilts, store=False)
        return sign, logv

    def log_prob(self, X):
        """Normalised log P(x); for automata (k = 1) one O(N) pass along each deterministic path."""
        if self.k > 1:
            return super().log_prob(X)
        X = as_configs(X, self.n_sites, self.d)
        nxt, W, core_off, _, _ = self._flat_cores()
        out = np.empty(X.shape[0])
        kern.path_log_weight(nxt, W, core_off, self.d, X, out)
        return out - self._log_z()

    def astype(self, table_dtype) -> "SparseMPS":
        """The same MPS whose Markov-gauge sampler reads tables of another precision (float32 or float64)."""
        out = SparseMPS.__new__(SparseMPS)
        out.__dict__.update(self.__dict__)
        out._reset_caches()  # the binary tables depend on table_dtype (the other caches are rebuilt as they were)
        out.table_dtype = _check_table_dtype(table_dtype)
        return out

    @property
    def sample_table_bound(self) -> float:
        """max over x of |log q(x) - log P(x)|, q the law the binary Markov sampler draws from (0 otherwise).

        Each site's table stores the smaller of the two conditional probabilities rounded to
        table_dtype and to the uniforms' grid 2^-52 (relative error <= 2^-24 in float32 for
        probabilities >= 2^-29). The bound is sum_i max_{a, x} |log q_i(x | a) - log p_i(x | a)| over the
        tables' actual values, evaluated in float64. The sampler returns log q itself (float64
        arithmetic on the tables' values); table_log_prob(X) evaluates it for given configurations.
        """
        if not (self._samples_from_seeds() and self.d == 2):
            return 0.0
        table, table_off = self._binary_tables()[:2]
        total = 0.0
        for i, W in enumerate(self.weights):
            p0 = W[:, 0, 0] / np.where(W[:, :, 0].sum(axis=1) > 0, W[:, :, 0].sum(axis=1), 1.0)
            s = table[table_off[i]:table_off[i + 1]].astype(np.float64)
            q0 = np.where(s >= 0, np.minimum(s, 1.0), 1.0 + s)  # s < 0 stores -P(x = 1)
            worst = 0.0
            for q, p in ((q0, p0), (1.0 - q0, 1.0 - p0)):
                live = p > 0
                if np.any(live):
                    worst = max(worst, float(np.abs(np.log(q[live]) - np.log(p[live])).max()))
            total += worst
        return total

    def _default_batch(self, per_sample: bool) -> int:
        """Binary Markov automata: 2^16 samples per kernel call (blocks of 4096 per thread); else MPSBase's."""
        if not per_sample and self._samples_from_seeds() and self.d == 2:
            return 2**16
        return super()._default_batch(per_sample)

    def _samples_from_seeds(self) -> bool:
        """Automata in the Markov gauge sample with in-kernel uniforms (transition probabilities, no environments)."""
        return self._markov and self.k == 1 and self.d <= 127  # the kernel buffers states as int8

    def _binary_tables(self):
        """(table, table_off, nxt, nxt_off, masks) of the binary Markov kernel (tnddm.mps._markov_kernels).

        Sites whose next states are the shift register (2 a + x) mod chi_{i+1}, chi_{i+1} a power of
        two (finite-range models), store no next-state table.
        """
        return self._cached("binary_tables", self._build_binary_tables)

    def _build_binary_tables(self):
        tables, nxts, nxt_off, masks, off = [], [], [], [], 0
        for i, (nx, W) in enumerate(zip(self.next_states, self.weights)):
            W, nx = W[:, :, 0], nx[:, :, 0]
            total = W.sum(axis=1)
            total = np.where(total > 0, total, 1.0)
            tables.append(mkern.signed_table(W[:, 0] / total, W[:, 1] / total, self.table_dtype))
            chi_next = self._chis[i + 1]
            shift = (2 * np.arange(W.shape[0])[:, None] + np.arange(2)[None, :]) % chi_next
            if chi_next & (chi_next - 1) == 0 and np.all((nx == shift) | (W == 0)):
                nxt_off.append(-1)
            else:
                nxt_off.append(off)
                nxts.append(nx.ravel())
                off += nx.size
            masks.append(chi_next - 1)
        table_off = np.concatenate([[0], np.cumsum([t.size for t in tables])]).astype(np.int64)
        nxt = np.concatenate(nxts) if nxts else np.zeros(1, dtype=np.int64)
        return (np.concatenate(tables), table_off, nxt, np.asarray(nxt_off, dtype=np.int64),
                np.asarray(masks, dtype=np.int64))

    def table_log_prob(self, X) -> np.ndarray:
        """log q(x) of the law the sampler draws from (equal to log_prob but for binary Markov automata,
        whose float32 tables give |log q - log P| <= sample_table_bound); -inf where q(x) = 0."""
        if not (self._samples_from_seeds() and self.d == 2):
            return self.log_prob(X)
        X = as_configs(X, self.n_sites, self.d)
        out = np.empty(X.shape[0])
        mkern.path_log_q(*self._binary_tables(), X, out)
        return out

    def _logw(self):
        def build():
            with np.errstate(divide="ignore"):
                return np.log(self._flat_cores()[1])

        return self._cached("log_weights", build)

    def _sample_chunk_seeded(self, seeds, X, logp):
        """Markov-gauge sampling with one SplitMix64 stream per sample; fills X, logp.

        d = 2: the blocked kernel on signed threshold tables (mkern.sample_binary_markov, log q of its
        tables); d > 2: kern.sample_markov_seeded on the float64 transition probabilities.
        """
        if self.d == 2:
            mkern.sample_binary_markov(*self._binary_tables(), seeds, X, logp, mkern.block_size(seeds.size))
            return
        nxt, W, core_off, _, _ = self._flat_cores()
        kern.sample_markov_seeded(nxt, W, self._logw(), core_off, self.d, self.n_sites, seeds, X, logp)

    def _sample_chunk(self, u, tilts, log_weight=None):
        nxt, W, core_off, env_off, _ = self._flat_cores()
        n = u.shape[0]
        if tilts is None:
            R = self._cached("shared_right", lambda: np.concatenate([r[0] for r in self._right_envs()[0]])[:, None])
            w = np.ones((1, self.n_sites, self.d))
        else:
            w = np.ascontiguousarray(tilts)
            if n == 1:  # >= 2 columns selects the kernel's per-sample path
                w, u = np.repeat(w, 2, axis=0), np.repeat(u, 2, axis=0)
            R = self._right_sweep_block(w, store=True)[2]
        X = np.empty(u.shape, dtype=np.int64)
        logp = np.empty(u.shape[0])
        use_r = tilts is not None or not self._markov  # Markov-gauge cores: all right environments are equal
        kern.sample_paths(nxt, W, core_off, self.d, self.k, R, env_off, w, np.ascontiguousarray(u), X, logp, use_r)
        X, logp = X[:n], logp[:n]
        if np.any(np.isnan(logp)):
            raise ValueError("zero total weight while sampling: the (tilted) distribution is not normalisable")
        if self.k > 1:  # the latent path's probability is not that of X: contract
            wt = np.ones((1, self.n_sites, self.d)) if tilts is None else tilts
            onehot = np.zeros((n, self.n_sites, self.d))
            np.put_along_axis(onehot, X[:, :, None], 1.0, axis=2)
            lx = self._contract(wt * onehot)[1]
            logp = lx - self._contract(wt)[1]
        return X, logp


class EmittedMPS(EmissionMixin, SparseMPS):
    """A sparse MPS seen through a per-site channel: P_K(y) = sum_x P(x) prod_i K[y_i, x_i], K (d_out, d).

    This is how a noised model P_t = P_0 under the noise propagator is stored. Every contraction
    (environments, site values, log-probabilities, ratios, conditionals) runs on the clean cores with
    tilts w K (tnddm.mps.views): the environments are the same vectors, with d_out / d times fewer
    entries to visit. The noised automaton's own cores, in which each clean entry (a, x, j) becomes
    d_out entries (a, y, (x, j)) of weight K[y, x] W[a, x, j], are built on first use (the automaton
    sampler, dense forms, tilts).
    """

    def __init__(self, clean: SparseMPS, K):
        self.clean, self.K = clean, check_emission(K, clean.d)
        self.n_sites, self.d = clean.n_sites, self.K.shape[0]
        self.log_scale = clean.log_scale
        self._chis = clean.bond_dims
        self.table_dtype = clean.table_dtype

    def _expand(self):
        return self._cached("expanded", self._build_expanded)

    def _build_expanded(self):
        nxts, Ws = [], []
        for nx, W in zip(self.clean.next_states, self.clean.weights):
            cl, d, k = W.shape
            Ws.append((self.K[None, :, :, None] * W[:, None, :, :]).reshape(cl, self.d, d * k))
            nxts.append(np.broadcast_to(nx[:, None, :, :], (cl, self.d, d, k)).reshape(cl, self.d, d * k))
        expanded = SparseMPS(*_drop_empty_entries(nxts, Ws))
        return expanded.next_states, expanded.weights, expanded.k, expanded._markov

    next_states = property(lambda self: self._expand()[0])
    weights = property(lambda self: self._expand()[1])
    k = property(lambda self: self._expand()[2])
    _markov = property(lambda self: self._expand()[3])

    def _right_sweep_block(self, tilts, store: bool, logr=None):
        return self.clean._right_sweep_block(np.ascontiguousarray(tilts @ self.K), store, logr)


def _check_table_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"table_dtype must be float32 or float64; got {dtype!r}")
    return dt


_STACK_FLOATS = 2**26  # right-environment stack per chunk of samples (512 MB)


def _block(n: int, chi_max: int) -> int:
    """Samples per thread block of the sweep kernels.

    Enough blocks for the threads, and the block's two environment buffers (2 x chi_max x block
    floats) small enough to stay in cache: measured on bond 4096, blocks of 8-16 samples run 2-3x
    faster than blocks of 4 or 32.
    """
    per_thread = -(-n // numba.get_num_threads())
    return int(max(1, min(64, per_thread, max(8, 2**16 // max(1, chi_max)))))


def _drop_empty_entries(nxts, Ws):
    """Move non-zero entries first in each row and cut k to the largest row count."""
    k = max(1, max(int((W > 0).sum(axis=2).max()) for W in Ws))
    out_n, out_W = [], []
    for nx, W in zip(nxts, Ws):
        order = np.argsort(W <= 0, axis=2, kind="stable")[:, :, :k]
        out_W.append(np.take_along_axis(W, order, axis=2))
        out_n.append(np.take_along_axis(nx, order, axis=2))
    return out_n, out_W
