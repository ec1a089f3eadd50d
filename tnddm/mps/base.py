"""MPSBase: the contract every probability-MPS storage implements, and the algorithms written on it.

A probability MPS is P(x) = A_1[x_1] ... A_N[x_N] in the 1-norm sense: Z = sum_x P(x) is the
contraction with the all-ones vector on every site. A storage (dense cores, sparse automaton, a Born
MPS whose A_i[x] = B_i[x] (x) B_i[x] act on chi x chi matrices, sampling tables, a view) subclasses
MPSBase and fulfils the contract below; everything else (log_z, log_prob, marginals,
conditionals, ratios, expectation values, sample / iter_samples, to_dense, to_quimb, and through
them tnddm.Diffusion) is written once, here, on that contract.

Attributes every storage sets in its constructor: n_sites (N), d (states per site) and log_scale
(default 0: the log of the exact power of two removed from extreme cores, see rescale_cores).

Required primitives (abstract: a subclass that misses one cannot be instantiated). Environments come
in batches (n, m) with m = env_dims[i]; tilts w (n, d) are per-site weights; a batch dimension of
size 1 broadcasts against n:

    bond_dims                  (chi_0, ..., chi_N), chi_0 = chi_N = 1: the bonds of the stored network
    _transfer_right(i, r, w) = sum_x w[x] A_i[x] r          (n, env_dims[i + 1]) -> (n, env_dims[i])
    _transfer_left(i, l, w)  = sum_x w[x] l A_i[x]          (n, env_dims[i])     -> (n, env_dims[i + 1])
    _site_values(i, l, r)[x] = l A_i[x] r                   -> (n, d)
    dense_cores()              the 1-norm cores A_i as dense arrays (env_dims[i], d, env_dims[i + 1])

Optional fast paths (a default here, written on the primitives; override for speed, same results):

    env_dims                   sizes of the environment vectors = bonds of dense_cores(); default
                               bond_dims (a Born MPS: chi_i^2)
    _contract(tilts)           (sign, log|sum_x P(x) prod_i w_i[x_i]|) per tilt row: one right sweep
    _all_site_values(lw, rw)   site values from one left and one right sweep
    log_prob(X), ratios(X)     by contractions
    _sample_chunk(u, tilts, log_weight=None) -> (X, log P(X | tilts)): exact left-to-right sampler
                               drawing x_i = F^{-1}(u_i); may fill log_weight with log P~(X)
    _samples_from_seeds()      False; True makes sample() call _sample_chunk_seeded instead
    _sample_chunk_seeded(seeds, X, logp)  fills X, logp from one 64-bit seed per sample; default:
                               each sample's N uniforms from Generator(seed), then _sample_chunk
    _default_batch(per_sample) samples per kernel call
    tilt(w), emit(K)           the views Tilted / Emitted below (storages return their own cores)
    _log_z()                   log Z of the stored cores by one contraction (cached)
    check_nonnegative(atol)    on dense_cores()

Caches are owned by the base: every instance starts with an empty cache (MPSBase.__new__ calls
_reset_caches(), so no constructor resets anything), subclasses keep derived data (kernel layouts,
shared environments, log Z) through self._cached(key, build), and a copy that changes what the
data derive from calls _reset_caches().

Every environment is renormalised after each step (divided by the sum of its absolute values) and
the logarithm of the factor is accumulated, so N = 10^4 sites neither underflows nor overflows.
A core whose largest entry lies far outside 1 (near 1e308, or subnormal) would still overflow or lose
its precision inside one step, so the constructors store it multiplied by an exact power of two
(rescale_cores) and keep the log of the removed factor in `log_scale`: the law, log_prob and samples
are unchanged, and log_z() / log_contract() add log_scale back.

Views (the default tilt / emit, defined here since they are part of the base's defaults; also
importable from tnddm.mps.views):
Emitted: P_K(y) = sum_x P(x) prod_i K[y_i, x_i] (a noised model, K (d_out, d) non-negative). Every
         contraction is one of P with tilts w K, and site values map back by K^T:
             sum_y w[y] A^K_i[y] = sum_x (w K)[x] A_i[x],   l A^K_i[y] r = sum_x K[y, x] l A_i[x] r.
Tilted:  P(x) prod_i v_i[x_i] (v (N, d) non-negative): tilts w -> w v_i, site values times v_i.
Both sample with the generic sampler; EmissionMixin is shared with the sparse EmittedMPS, which keeps
its fast automaton sampler.
"""
from __future__ import annotations

import abc

import numpy as np

from .._checks import as_configs, as_tilts, check_batch_size, check_nonnegative_int
from .._deprecation import warn_deprecated
from .._memory import check_allocation
from .._uniforms import seeds as stream_seeds
from ..rng import as_generator
from .numerics import (
    LOG2,
    SAMPLE_DTYPES,
    draw,  # noqa: F401  (deprecated name of draw_from_weights, old import path)
    draw_from_weights,
    normalise_rows,
    rescale_cores,
    sample_dtype,
)

__all__ = ["MPSBase", "Tilted", "Emitted", "EmissionMixin", "check_emission",
           # re-exported from tnddm.mps.numerics (their old home)
           "LOG2", "SAMPLE_DTYPES", "draw_from_weights", "normalise_rows", "rescale_cores", "sample_dtype"]


class MPSBase(abc.ABC):
    """Interface and shared algorithms of probability MPS (the contract is in the module docstring)."""

    n_sites: int
    d: int
    #: log of the power of two removed from extreme cores at construction (see rescale_cores); 0 normally
    log_scale: float = 0.0

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._reset_caches()
        return self

    # ---- caches (owned by the base) -------------------------------------------------------
    def _reset_caches(self) -> None:
        """Drop every cached derived quantity (called on creation and by copies that change the storage)."""
        self._caches = {}

    def _cached(self, key: str, build):
        """The cached value of key, built by build() on first use."""
        caches = self._caches
        if key not in caches:
            caches[key] = build()
        return caches[key]

    # ---- required storage primitives ----------------------------------------------------
    @property
    @abc.abstractmethod
    def bond_dims(self) -> tuple[int, ...]:
        """(chi_0, ..., chi_N) with chi_0 = chi_N = 1: the bond dimensions of the stored network."""

    @abc.abstractmethod
    def _transfer_right(self, i, r, w):
        """sum_x w[x] A_i[x] r for a batch r (n, env_dims[i + 1]) and tilts w (n, d) -> (n, env_dims[i])."""

    @abc.abstractmethod
    def _transfer_left(self, i, l, w):
        """sum_x w[x] l A_i[x] for a batch l (n, env_dims[i]) and tilts w (n, d) -> (n, env_dims[i + 1])."""

    @abc.abstractmethod
    def _site_values(self, i, l, r):
        """l A_i[x] r for every x: (n, d)."""

    @abc.abstractmethod
    def dense_cores(self) -> list[np.ndarray]:
        """The 1-norm cores as dense arrays (env_dims[i], d, env_dims[i + 1])."""

    # ---- optional fast paths (defaults on the primitives) ---------------------------------
    @property
    def env_dims(self) -> tuple[int, ...]:
        """Sizes of the environment vectors of the primitives (the bonds of dense_cores()); bond_dims by default."""
        return self.bond_dims

    def _sample_chunk(self, u, tilts, log_weight=None):
        """Exact samples of the tilted law with their log-probabilities; where the kernel has it for
        free, also fill log_weight (n,) with the untilted unnormalised log P~(X) (else leave it).

        Generic version on the storage primitives: right environments, then one left pass drawing
        x_i = F^{-1}(u_i) from c_i(b) ∝ w_i[b] l_i A_i[b] r_{i+1}; log P = sum_i log c_i(x_i).
        """
        n, N, d = u.shape[0], self.n_sites, self.d
        w = np.ones((1, N, d)) if tilts is None else tilts
        R, _ = self._right_envs(w)
        l = np.ones((1, 1))
        X = np.empty((n, N), dtype=np.int64)
        logp = np.zeros(n)
        rows = np.arange(n)
        for i in range(N):
            weight = np.clip(np.broadcast_to(self._site_values(i, l, R[i + 1]) * w[:, i], (n, d)), 0.0, None)
            x, logc = draw_from_weights(weight, u[:, i])
            X[:, i] = x
            logp += logc
            step = np.zeros((n, d))
            step[rows, x] = 1.0
            l, _ = normalise_rows(self._transfer_left(i, l, step * w[:, i]), inplace=True)
        return X, logp

    def _sample_chunk_seeded(self, seeds, X, logp):
        """Unconditional samples from one 64-bit seed per sample into X, logp (used when _samples_from_seeds()).

        Default: sample s reads its N uniforms from np.random.default_rng(seeds[s]), then _sample_chunk.
        Storages whose kernels draw their own uniforms (Markov-gauge automata) override it.
        """
        u = np.empty((seeds.size, self.n_sites))
        for s, seed in enumerate(seeds):
            u[s] = np.random.default_rng(int(seed)).random(self.n_sites)
        X[:], logp[:] = self._sample_chunk(u, None)

    def tilt(self, weights) -> "MPSBase":
        """The MPS of P(x) prod_i w_i[x_i] (unnormalised); weights shape (N, d). Default: a view."""
        return Tilted(self, weights)

    def emit(self, K) -> "MPSBase":
        """The MPS of sum_x P(x) prod_i K[y_i, x_i] over y (K (d_out, d) non-negative). Default: a view."""
        return Emitted(self, K)

    # ---- sweeps -------------------------------------------------------------------------
    def _right_envs(self, tilts=None):
        """Normalised right environments r_i = sum_x w_i[x] A_i[x] r_{i+1}, r_N = 1.

        Returns (envs, log_scales) where envs[i] has shape (n, chi_i) for i = 0..N and
        log_scales[i] (n,) is the log of the factor removed between r_N and r_i.
        """
        N = self.n_sites
        ones = np.ones((1, self.d))
        envs = [None] * (N + 1)
        logs = [None] * (N + 1)
        r = np.ones((1, 1))
        acc = np.zeros(1)
        envs[N], logs[N] = r, acc
        for i in range(N - 1, -1, -1):
            w = ones if tilts is None else tilts[:, i]
            r, ls = normalise_rows(self._transfer_right(i, r, w), inplace=True)
            acc = acc + ls
            envs[i], logs[i] = r, acc
        return envs, logs

    def _left_envs(self, tilts=None):
        """Normalised left environments l_i = l_{i-1} sum_x w_i[x] A_i[x]; envs[i] after site i-1."""
        N = self.n_sites
        ones = np.ones((1, self.d))
        envs = [None] * (N + 1)
        logs = [None] * (N + 1)
        l = np.ones((1, 1))
        acc = np.zeros(1)
        envs[0], logs[0] = l, acc
        for i in range(N):
            w = ones if tilts is None else tilts[:, i]
            l, ls = normalise_rows(self._transfer_left(i, l, w), inplace=True)
            acc = acc + ls
            envs[i + 1], logs[i + 1] = l, acc
        return envs, logs

    def _contract(self, tilts=None) -> tuple[np.ndarray, np.ndarray]:
        """sum_x P(x) prod_i w_i[x_i] for a batch of tilts, as (sign, log|value|), each (n,)."""
        N = self.n_sites
        ones = np.ones((1, self.d))
        r = np.ones((1, 1))
        acc = np.zeros(1)
        for i in range(N - 1, -1, -1):
            w = ones if tilts is None else tilts[:, i]
            r, ls = normalise_rows(self._transfer_right(i, r, w), inplace=True)
            acc = acc + ls
        return np.sign(r[:, 0]), acc

    # ---- public interface ---------------------------------------------------------------
    def log_z(self) -> float:
        """log Z with Z = sum_x P(x) (of the cores as given: log_scale included)."""
        return self._log_z() + self.log_scale

    def log_norm(self) -> float:
        """Deprecated name of log_z (one name for log Z: MPS, tnddm.learn.nll.log_z and the lattice models)."""
        warn_deprecated(f"{type(self).__name__}.log_norm()", "log_z()")
        return self.log_z()

    def _log_z(self) -> float:
        """log Z of the stored cores (without log_scale): the normaliser of every internal contraction."""
        return self._cached("log_z", self._compute_log_z)

    def _compute_log_z(self) -> float:
        """One contraction of the stored cores; ValueError if they are not a distribution."""
        sign, logz = self._contract()
        s, lz = float(sign[0]), float(logz[0])
        if not (s > 0 and np.isfinite(lz)):
            if s == 0 or lz == -np.inf:
                why = "Z = 0: every configuration has zero weight"
            elif s < 0:
                why = "Z < 0: the (signed) cores do not contract to a distribution"
            else:
                why = f"Z is not a finite number (sign {s}, log|Z| {lz})"
            raise ValueError(f"the MPS is not a distribution: {why}")
        return lz

    def log_contract(self, tilts) -> np.ndarray:
        """log sum_x P(x) prod_i w_i[x_i] (unnormalised) for non-negative tilts (N, d) or (n, N, d)."""
        w = as_tilts(tilts, self.n_sites, self.d)
        if np.any(w < 0):
            raise ValueError("tilts must be non-negative for a log contraction; use expect_product")
        sign, logv = self._contract(w)
        return np.where(sign > 0, logv + self.log_scale, -np.inf)

    def log_prob(self, X) -> np.ndarray:
        """Normalised log P(x) for a batch X of shape (n, N); -inf where P(x) = 0."""
        X = as_configs(X, self.n_sites, self.d)
        if X.shape[0] == 0:
            return np.zeros(0)
        tilts = np.zeros((X.shape[0], self.n_sites, self.d))
        np.put_along_axis(tilts, X[:, :, None], 1.0, axis=2)
        sign, logv = self._contract(tilts)
        return np.where(sign > 0, logv - self._log_z(), -np.inf)

    def prob(self, X) -> np.ndarray:
        """Normalised P(x) for a batch X."""
        return np.exp(self.log_prob(X))

    def _all_site_values(self, left_tilts, right_tilts):
        """values[s, i, x] = l_i A_i[x] r_{i+1} for every site from one left and one right sweep.

        l_i is the left environment under left_tilts (sites < i), r_{i+1} the right one under
        right_tilts (sites > i), both normalised; logl[s, i] and logr[s, i] (shape (n, N + 1)) are
        the logs of the factors removed from l_i and r_i. Tilts (n or 1, N, d) or None (all ones).
        """
        L, Llog = self._left_envs(left_tilts)
        R, Rlog = self._right_envs(right_tilts)
        n = max(L[-1].shape[0], R[0].shape[0])
        values = np.stack([np.broadcast_to(self._site_values(i, L[i], R[i + 1]), (n, self.d))
                           for i in range(self.n_sites)], axis=1)
        stack = lambda logs: np.stack([np.broadcast_to(v, (n,)) for v in logs], axis=1)  # noqa: E731
        return values, stack(Llog), stack(Rlog)

    def marginals(self, tilts=None) -> np.ndarray:
        """Single-site marginals P(x_i = a), shape (N, d).

        With tilts (n, N, d): the marginals of each tilted law P(x) prod_i w_i[x_i] / norm,
        shape (n, N, d), from one left and one right sweep of the whole batch.
        """
        w = None if tilts is None else as_tilts(tilts, self.n_sites, self.d)
        out, _, _ = self._all_site_values(w, w)
        if w is not None:
            out = out * w
        out = np.clip(out, 0.0, None)
        out = out / out.sum(axis=2, keepdims=True)
        return out[0] if tilts is None else out

    def conditionals(self, X, tilts=None) -> np.ndarray:
        """Autoregressive conditionals along given configurations, shape (n, N, d):

            c[s, i, b] = P(x_i = b | x_{<i} = X[s, <i]),   P(x) ∝ P(x) prod_i w_i[x_i] when tilted,

        the distributions the left-to-right sampler draws from, so log P(X[s]) = sum_i log c[s, i, X[s, i]].
        Tilts (N, d) shared or (n, N, d) one row per configuration. One left and one right sweep.
        Needs `P(X_{<i}) > 0` for every prefix.
        """
        X = as_configs(X, self.n_sites, self.d)
        w = np.ones((1, self.n_sites, self.d)) if tilts is None else as_tilts(tilts, self.n_sites, self.d)
        if w.shape[0] not in (1, X.shape[0]):
            raise ValueError(f"tilts must have 1 or n = {X.shape[0]} rows; got {w.shape[0]}")
        onehot = np.zeros(X.shape + (self.d,))
        np.put_along_axis(onehot, X[:, :, None], 1.0, axis=2)
        values, _, _ = self._all_site_values(w * onehot, w)
        out = np.clip(values * w, 0.0, None)
        norm = out.sum(axis=2, keepdims=True)
        bad = np.flatnonzero(np.any(~(norm[:, :, 0] > 0), axis=1))
        if bad.size:
            raise ValueError(f"X rows {bad[:10].tolist()} have a prefix of probability zero; conditionals undefined")
        return out / norm

    def two_site_marginal(self, i: int, j: int) -> np.ndarray:
        """Joint marginal P(x_i = a, x_j = b), shape (d, d), for sites i != j."""
        N, d = self.n_sites, self.d
        for name, v in (("i", i), ("j", j)):
            if not 0 <= int(v) < N:
                raise ValueError(f"{name} must be a site index in 0..{N - 1}; got {v}")
        if i == j:
            raise ValueError(f"i and j must differ; got i = j = {i}")
        if i > j:
            return self.two_site_marginal(j, i).T
        L, _ = self._left_envs()
        R, _ = self._right_envs()
        l, acc = normalise_rows(self._transfer_left(i, np.repeat(L[i], d, axis=0), np.eye(d)), inplace=True)
        ones = np.ones((1, d))
        for k in range(i + 1, j):
            l, ls = normalise_rows(self._transfer_left(k, l, ones), inplace=True)
            acc = acc + ls
        vals = self._site_values(j, l, R[j + 1])
        finite = np.isfinite(acc)
        scale = np.where(finite, np.exp(acc - acc[finite].max()), 0.0)
        joint = np.clip(vals * scale[:, None], 0.0, None)
        return joint / joint.sum()

    def expect_product(self, functions) -> float:
        """`<prod_i f_i(x_i)>` for real per-site functions, given as an (N, d) array of values.

        Sites that should not contribute take f_i = 1. A dict {site: values} is accepted too.
        """
        N, d = self.n_sites, self.d
        if isinstance(functions, dict):
            f = np.ones((N, d))
            for site, vals in functions.items():
                if not 0 <= int(site) < N:
                    raise ValueError(f"functions has site {site} outside 0..{N - 1}")
                f[int(site)] = vals
        else:
            f = functions
        w = as_tilts(f, N, d, name="functions")
        sign, logv = self._contract(w)
        return float(sign[0] * np.exp(logv[0] - self._log_z()))

    def expect_site(self, values) -> np.ndarray:
        """`<f(x_i)>` at every site for one function f given by its d values."""
        values = np.asarray(values, dtype=float)
        if values.shape != (self.d,):
            raise ValueError(f"values must have shape ({self.d},); got {values.shape}")
        return self.marginals() @ values

    def ratios(self, X) -> np.ndarray:
        """All single-site ratios P(x with x_i <- b) / P(x), shape (n, N, d), in one pair of sweeps.

        Needs P(x) > 0; raises ValueError naming the rows where P(x) = 0.
        """
        X = as_configs(X, self.n_sites, self.d)
        onehot = np.zeros(X.shape + (self.d,))
        np.put_along_axis(onehot, X[:, :, None], 1.0, axis=2)
        values, logl, logr = self._all_site_values(onehot, onehot)
        total = logl[:, -1]  # log P~(x): the final left environment is the scalar 1 after normalisation
        bad = ~np.isfinite(total)
        if np.any(bad):
            raise ValueError(f"X rows {np.flatnonzero(bad)[:10].tolist()} have probability zero; ratios undefined")
        return values * np.exp(logl[:, :-1] + logr[:, 1:] - total[:, None])[:, :, None]

    def sample(self, n: int, seed=None, tilts=None, batch_size: int | None = None, progress: bool = False,
               return_log_prob: bool = False, dtype=None):
        """Exact independent samples and their exact log-probabilities.

        Without tilts: X ~ P / Z. With tilts w (N, d) shared or (n, N, d) one row per sample:
        X ~ P(x) prod_i w_i[x_i] / normaliser, and the log-probability is under that law.
        Returns (X, logp), X of shape (n, N). The result depends only on the seed, not on
        batch_size (each sample consumes N uniforms in order), nor on dtype.

        Args:
            n: number of samples.
            seed: int, SeedSequence or Generator.
            tilts: None, (N, d) shared or (n, N, d) per-sample non-negative site weights.
            batch_size: samples per kernel call (default: the storage's own).
            progress: show a progress bar.
            return_log_prob: also return the untilted log P(X) (from the sampling kernel when it
                has it, else by log_prob).
            dtype: integer dtype of X; default sample_dtype(d): int8 for d <= 128, uint8 for
                d <= 256 (cast before arithmetic that can leave that range), int64 on request.
        """
        n = check_nonnegative_int(n, "n")
        plan = self._sampling_plan(n, seed, tilts, batch_size, return_log_prob)
        out_dtype = sample_dtype(self.d, dtype)
        N = self.n_sites
        check_allocation(n * (N * out_dtype.itemsize + 8 * (2 if return_log_prob else 1)),
                         f"{n} samples of {N} sites ({out_dtype.name}) and their log-probabilities")
        X = np.empty((n, N), dtype=out_dtype)
        logp = np.empty(n)
        log_weight = np.full(n, np.nan) if return_log_prob else None
        starts = range(0, n, plan["batch"])
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=len(starts), desc="sampling", unit="batch")
        for a in starts:
            b = min(a + plan["batch"], n)
            self._sample_rows(plan, a, b, X[a:b], logp[a:b], None if log_weight is None else log_weight[a:b])
        return (X, logp) if not return_log_prob else (X, logp, log_weight)

    def iter_samples(self, n: int, batch: int | None = None, seed=None, tilts=None, return_log_prob: bool = False,
                     dtype=None):
        """The samples of sample(n, seed, tilts) in chunks of `batch` rows, never all in memory at once.

        Yields (X, logp) (or (X, logp, log P) with return_log_prob) with X of shape (<= batch, N);
        concatenated, the chunks equal sample(n, seed=seed, tilts=tilts) for every batch size.

        Args:
            n: total number of samples.
            batch: rows per chunk (default: the storage's kernel batch).
            seed: as in sample.
            tilts: as in sample.
            return_log_prob: as in sample.
            dtype: as in sample.
        """
        n = check_nonnegative_int(n, "n")
        plan = self._sampling_plan(n, seed, tilts, batch, return_log_prob)
        out_dtype = sample_dtype(self.d, dtype)
        for a in range(0, n, plan["batch"]):
            b = min(a + plan["batch"], n)
            X = np.empty((b - a, self.n_sites), dtype=out_dtype)
            logp = np.empty(b - a)
            log_weight = np.full(b - a, np.nan) if return_log_prob else None
            self._sample_rows(plan, a, b, X, logp, log_weight)
            yield (X, logp) if not return_log_prob else (X, logp, log_weight)

    def _sampling_plan(self, n, seed, tilts, batch_size, return_log_prob) -> dict:
        """Checked arguments of sample / iter_samples: the model to sample (tilted once for shared
        tilts), per-sample tilts, the Generator, the batch and whether the kernel seeds itself."""
        batch_size = check_batch_size(batch_size)
        N, d = self.n_sites, self.d
        model, per_sample = self, None
        if tilts is not None:
            w = as_tilts(tilts, N, d)
            if np.any(w < 0):
                raise ValueError("tilts must be non-negative")
            dead = np.argwhere(~(w.sum(axis=2) > 0))
            if dead.size:
                row, site = dead[0]
                raise ValueError(f"tilts give zero weight to every state of site {site}"
                                 f"{f' in row {row}' if w.shape[0] > 1 else ''}: the tilted law is not normalisable")
            if w.shape[0] == 1:
                model = self.tilt(w[0])
            elif w.shape[0] == n:
                per_sample = w
            else:
                raise ValueError(f"tilts must have 1 or n = {n} rows; got {w.shape[0]}")
        return {"model": model, "per_sample": per_sample, "rng": as_generator(seed), "tilted": tilts is not None,
                "batch": batch_size or model._default_batch(per_sample is not None),
                "seeded": per_sample is None and model._samples_from_seeds(), "return_log_prob": return_log_prob}

    def _sample_rows(self, plan, a, b, X, logp, log_weight) -> None:
        """Rows a..b of a sampling plan into X, logp (and log_weight: the untilted log P) in place.

        Consumes the plan's Generator in order: b - a 64-bit seeds (seeded kernels) or (b - a, N) uniforms.
        """
        model, rng, N = plan["model"], plan["rng"], self.n_sites
        if plan["seeded"]:  # the kernel draws its own uniforms from one 64-bit seed per sample
            model._sample_chunk_seeded(stream_seeds(rng, b - a), X, logp)
        else:
            u = rng.random((b - a, N))
            w = None if plan["per_sample"] is None else plan["per_sample"][a:b]
            X[:], logp[:] = model._sample_chunk(u, w, log_weight)
        if plan["tilted"] and b > a and not np.all(logp > -np.inf):
            bad = a + np.flatnonzero(~(logp > -np.inf))
            raise ValueError(f"tilts give the sampled law zero total weight (rows {bad[:10].tolist()}): the tilted "
                             f"distribution is not normalisable")
        if log_weight is None:
            return
        if not plan["tilted"]:
            log_weight[:] = logp
            return
        if model is self and plan["per_sample"] is not None:  # the kernel's weights are those of this MPS
            missing = np.isnan(log_weight)
            log_weight[~missing] -= self._log_z()
        else:
            missing = np.ones(b - a, dtype=bool)
        if np.any(missing):
            log_weight[missing] = self.log_prob(X[missing])

    def _samples_from_seeds(self) -> bool:
        """True when unconditional sampling draws its uniforms inside the kernel (see _sample_chunk_seeded)."""
        return False

    def _default_batch(self, per_sample: bool) -> int:
        """Samples per chunk: per-sample environments hold sum(env_dims) floats each (budget 1 GiB)."""
        if per_sample:
            return int(max(2, min(4096, 2**27 // sum(self.env_dims))))
        return 8192

    # ---- dense forms --------------------------------------------------------------------
    def to_dense(self, max_states: int = 2**22) -> np.ndarray:
        """Normalised probability vector of length d**N (site 0 most significant); small N only."""
        N, d = self.n_sites, self.d
        if d**N > max_states:
            raise ValueError(f"to_dense needs d**N <= {max_states}; got d**N = {d}**{N}")
        v = np.ones((1, 1))
        for A in self.dense_cores():
            v = np.einsum("pa,axb->pxb", v, A).reshape(-1, A.shape[2])
        p = v[:, 0]
        return p / p.sum()

    def to_quimb(self):
        """quimb MatrixProductState with the same cores (1-norm weights, not amplitudes)."""
        import quimb.tensor as qtn

        cores = self.dense_cores()
        if len(cores) == 1:
            raise ValueError("quimb needs at least 2 sites")
        arrays = []
        for i, A in enumerate(cores):
            B = A.transpose(0, 2, 1)  # (l, r, p)
            if i == 0:
                B = B[0]
            elif i == len(cores) - 1:
                B = B[:, 0]
            arrays.append(B)
        return qtn.MatrixProductState(arrays, shape="lrp")

    def check_nonnegative(self, atol: float = 0.0) -> None:
        """Raise ValueError if a core has an entry below -atol."""
        for i, A in enumerate(self.dense_cores()):
            if A.min() < -atol:
                raise ValueError(f"core {i} has a negative entry ({A.min():.3g}); a probability MPS needs non-negative weights")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_sites={self.n_sites}, d={self.d}, max_bond={max(self.bond_dims)})"


# ---- views: the default tilt / emit ---------------------------------------------------------
class EmissionMixin:
    """Contractions of P_K on the clean model's storage (see module docstring); needs .clean and .K."""

    clean: MPSBase
    K: np.ndarray

    def _transfer_right(self, i, r, w):
        return self.clean._transfer_right(i, r, w @ self.K)

    def _transfer_left(self, i, l, w):
        return self.clean._transfer_left(i, l, w @ self.K)

    def _site_values(self, i, l, r):
        return self.clean._site_values(i, l, r) @ self.K.T

    def _all_site_values(self, left_tilts, right_tilts):
        ones = np.ones((1, self.n_sites, self.d))
        lw = ones if left_tilts is None else left_tilts
        rw = ones if right_tilts is None else right_tilts
        values, logl, logr = self.clean._all_site_values(lw @ self.K, rw @ self.K)
        return values @ self.K.T, logl, logr

    def log_prob(self, X):
        return MPSBase.log_prob(self, X)


def check_emission(K, d: int) -> np.ndarray:
    """K as a finite non-negative float matrix of shape (d_out, d), else ValueError."""
    K = np.asarray(K, dtype=float)
    if K.ndim != 2 or K.shape[1] != d or np.any(K < 0) or not np.all(np.isfinite(K)):
        raise ValueError(f"K must be a finite non-negative matrix of shape (d_out, {d}); got {K.shape}")
    return K


class Emitted(EmissionMixin, MPSBase):
    """P_K(y) = sum_x P(x) prod_i K[y_i, x_i] for any probability MPS P (see module docstring)."""

    def __init__(self, clean: MPSBase, K):
        self.clean, self.K = clean, check_emission(K, clean.d)
        self.n_sites, self.d = clean.n_sites, self.K.shape[0]
        self.log_scale = clean.log_scale

    @property
    def bond_dims(self):
        return self.clean.bond_dims

    @property
    def env_dims(self):
        return self.clean.env_dims

    def dense_cores(self):
        return [np.einsum("yx,axb->ayb", self.K, A) for A in self.clean.dense_cores()]

    def tilt(self, weights) -> "Tilted":
        return Tilted(self, weights)


class Tilted(MPSBase):
    """P(x) prod_i v_i[x_i] for any probability MPS P (see module docstring)."""

    def __init__(self, base: MPSBase, weights):
        v = np.asarray(weights, dtype=float)
        if v.shape != (base.n_sites, base.d) or np.any(v < 0) or not np.all(np.isfinite(v)):
            raise ValueError(f"weights must be finite and non-negative with shape ({base.n_sites}, {base.d}); got {v.shape}")
        self.base, self.v = base, v
        self.n_sites, self.d = base.n_sites, base.d
        self.log_scale = base.log_scale

    @property
    def bond_dims(self):
        return self.base.bond_dims

    @property
    def env_dims(self):
        return self.base.env_dims

    def _transfer_right(self, i, r, w):
        return self.base._transfer_right(i, r, w * self.v[i])

    def _transfer_left(self, i, l, w):
        return self.base._transfer_left(i, l, w * self.v[i])

    def _site_values(self, i, l, r):
        return self.base._site_values(i, l, r) * self.v[i]

    def _all_site_values(self, left_tilts, right_tilts):
        lw = self.v[None] if left_tilts is None else left_tilts * self.v
        rw = self.v[None] if right_tilts is None else right_tilts * self.v
        values, logl, logr = self.base._all_site_values(lw, rw)
        return values * self.v, logl, logr

    def dense_cores(self):
        return [A * self.v[i][None, :, None] for i, A in enumerate(self.base.dense_cores())]

    def tilt(self, weights) -> "Tilted":
        return Tilted(self.base, self.v * np.asarray(weights, dtype=float))
