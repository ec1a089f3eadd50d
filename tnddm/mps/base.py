"""Algorithms shared by every probability MPS, written against four storage primitives.

A probability MPS is P(x) = A_1[x_1] ... A_N[x_N] in the 1-norm sense: Z = sum_x P(x) is the
contraction with the all-ones vector on every site. Subclasses store the cores (dense, sparse
automaton, or a Born MPS whose A_i[x] = B_i[x] (x) B_i[x] act on chi x chi matrices) and implement,
for batches of environment vectors and per-site weights ("tilts") w:

    _transfer_right(i, r, w) = sum_x w[x] A_i[x] r          (n, chi_{i+1}) -> (n, chi_i)
    _transfer_left(i, l, w)  = sum_x w[x] l A_i[x]          (n, chi_i)     -> (n, chi_{i+1})
    _site_values(i, l, r)[x] = l A_i[x] r                   -> (n, d)
    _sample_chunk(u, tilts, log_weight=None) -> (X, log P(X | tilts)); may fill log_weight with log P~(X)

The first three are required; _sample_chunk, tilt and emit have generic versions written on them
(an exact left-to-right sampler, and the views of tnddm.mps.views), which subclasses replace with
faster storage-specific ones.

Every environment is renormalised after each step (divided by the sum of its absolute values) and
the logarithm of the factor is accumulated, so N = 10^4 sites neither underflows nor overflows.
A core whose largest entry lies far outside 1 (near 1e308, or subnormal) would still overflow or lose
its precision inside one step, so the constructors store it multiplied by an exact power of two
(rescale_cores) and keep the log of the removed factor in `log_scale`: the law, log_prob and samples
are unchanged, and log_norm() / log_contract() add log_scale back.
A batch dimension of size 1 broadcasts against n.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_configs, as_tilts, check_batch_size, check_nonnegative_int
from .._memory import check_allocation
from ..rng import as_generator


LOG2 = float(np.log(2.0))


def rescale_cores(arrays, dtype=np.float64, power: int = 1) -> tuple[list, float]:
    """Cores whose largest |entry| lies outside [2^-L, 2^L] multiplied by an exact power of two (largest
    entry then in [1/2, 1)); L = maxexp / (4 power) of dtype, i.e. 2^256 for float64 1-norm cores and
    2^128 for Born cores (power = 2: the weights are their squares). Other cores are returned as they are.

    Returns (cores, log_scale): log_scale is the log of the factor removed from the weights. Exact (no
    rounding), so the law is unchanged, and products inside one contraction step neither overflow (cores
    near 1e308) nor lose their precision (subnormal cores).
    """
    limit = np.finfo(dtype).maxexp // (4 * power)
    out, log_scale = [], 0.0
    for A in arrays:
        m = float(np.max(np.abs(A))) if A.size else 0.0
        if m > 0 and np.isfinite(m):
            e = int(np.frexp(m)[1])  # m = f 2^e with f in [1/2, 1)
            if abs(e) > limit:
                A = np.ascontiguousarray(np.ldexp(A, -e), dtype=A.dtype)
                log_scale += power * e * LOG2
        out.append(A)
    return out, log_scale


def normalise_rows(v: np.ndarray, inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Divide each row by the sum of its absolute values; return (rows, log of the factors).

    An all-zero row stays zero and its log factor is -inf (the contraction is exactly zero).
    inplace: v may be overwritten (large float64 blocks are then normalised by a numba kernel).
    """
    if inplace and v.ndim == 2 and v.size >= 4096 and v.dtype == np.float64 and v.flags.c_contiguous and v.flags.writeable:
        from ._kernel_common import normalise_rows_inplace

        logs = np.empty(v.shape[0])
        normalise_rows_inplace(v, logs)
        return v, logs
    s = np.abs(v).sum(axis=1)
    ok = s > 0
    safe = np.where(ok, s, 1.0)
    with np.errstate(divide="ignore"):
        logs = np.where(ok, np.log(safe), -np.inf)
    return v / safe[:, None], logs


def draw(weight: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = F^{-1}(u) per row of non-negative weights (n, d), F the cumulative of c = weight / sum, and log c(x)."""
    total = weight.sum(axis=1)
    if not np.all(total > 0):
        raise ValueError("zero total weight while sampling: the (tilted) distribution is not normalisable")
    p = weight / total[:, None]
    x = np.minimum((np.cumsum(p, axis=1) < u[:, None]).sum(axis=1), weight.shape[1] - 1)
    return x, np.log(p[np.arange(x.size), x])


#: default integer dtype of samples by the number of states d: the first whose range holds 0..d-1
SAMPLE_DTYPES = ((128, np.int8), (256, np.uint8), (2**15, np.int16), (2**31, np.int32))


def sample_dtype(d: int, dtype=None) -> np.dtype:
    """The integer dtype of samples of d states: `dtype` if given (checked to hold 0..d-1), else the first
    of SAMPLE_DTYPES that does (int8 for d <= 128, uint8 for d <= 256), else int64.

    Args:
        d: number of states per site.
        dtype: None or an integer dtype (e.g. np.int64).
    """
    if dtype is None:
        return np.dtype(next((dt for limit, dt in SAMPLE_DTYPES if d <= limit), np.int64))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be an integer dtype such as np.int8 or np.int64; got {dtype!r}") from None
    if dt.kind not in "iu" or np.iinfo(dt).max < d - 1:
        raise ValueError(f"dtype must be an integer dtype holding the states 0..{d - 1}; got {dtype!r}")
    return dt


def one_hot(x: np.ndarray, d: int) -> np.ndarray:
    """(n,) states -> (n, d) indicator rows."""
    out = np.zeros((x.shape[0], d))
    out[np.arange(x.shape[0]), x] = 1.0
    return out


class MPSBase:
    """Interface and shared algorithms of probability MPS (see module docstring)."""

    n_sites: int
    d: int
    #: log of the power of two removed from extreme cores at construction (see rescale_cores); 0 normally
    log_scale: float = 0.0

    # ---- storage primitives (subclasses) ------------------------------------------------
    @property
    def bond_dims(self) -> tuple[int, ...]:
        """(chi_0, ..., chi_N) with chi_0 = chi_N = 1."""
        raise NotImplementedError

    def _transfer_right(self, i, r, w):
        raise NotImplementedError

    def _transfer_left(self, i, l, w):
        raise NotImplementedError

    def _site_values(self, i, l, r):
        raise NotImplementedError

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
            x, logc = draw(weight, u[:, i])
            X[:, i] = x
            logp += logc
            step = np.zeros((n, d))
            step[rows, x] = 1.0
            l, _ = normalise_rows(self._transfer_left(i, l, step * w[:, i]), inplace=True)
        return X, logp

    def tilt(self, weights) -> "MPSBase":
        """The MPS of P(x) prod_i w_i[x_i] (unnormalised); weights shape (N, d). Default: a view."""
        from .views import Tilted

        return Tilted(self, weights)

    def emit(self, K) -> "MPSBase":
        """The MPS of sum_x P(x) prod_i K[y_i, x_i] over y (K (d_out, d) non-negative). Default: a view."""
        from .views import Emitted

        return Emitted(self, K)

    def dense_cores(self) -> list[np.ndarray]:
        """Cores as dense arrays (chi_{i-1}, d, chi_i)."""
        raise NotImplementedError

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
    def log_norm(self) -> float:
        """log Z with Z = sum_x P(x) (of the cores as given: log_scale included)."""
        return self._log_z() + self.log_scale

    def _log_z(self) -> float:
        """log Z of the stored cores (without log_scale): the normaliser of every internal contraction."""
        if getattr(self, "_log_norm_cache", None) is None:
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
            self._log_norm_cache = lz
        return self._log_norm_cache

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
                "seeded": per_sample is None and model._samples_from_seeds(), "log_weight": return_log_prob}

    def _sample_rows(self, plan, a, b, X, logp, log_weight) -> None:
        """Rows a..b of a sampling plan into X, logp (and log_weight: the untilted log P) in place.

        Consumes the plan's Generator in order: b - a 64-bit seeds (seeded kernels) or (b - a, N) uniforms.
        """
        model, rng, N = plan["model"], plan["rng"], self.n_sites
        if plan["seeded"]:  # the kernel draws its own uniforms from one 64-bit seed per sample
            model._sample_chunk_seeded(rng.integers(0, 2**63, size=b - a, dtype=np.uint64), X, logp)
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
        """Samples per chunk: per-sample environments hold sum_i chi_i floats each (budget 1 GiB)."""
        if per_sample:
            return int(max(2, min(4096, 2**27 // sum(self.bond_dims))))
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
