"""Exact discrete diffusion of a probability MPS under product Markov-jump noise.

Forward marginal:  P_t(y) = sum_x P_0(x) prod_i K_t[y_i, x_i]            (same bond dimension)
Bayes channel:     P(x_s = x | x_t = y) = P_s(x) prod_i K_{t|s}[y_i, x_i] / P_t(y)
Discrete score:    s_t(x)_{i,b} = P_t(x with x_i <- b) / P_t(x)
Reverse rates:     R_t(x -> x^{i<-b}) = beta(t) Q[x_i, b] s_t(x)_{i,b}
The reverse process is Markov, so a reverse path on any grid T = t_0 > ... > t_K is exact and its
log-probability is log P_T(x_{t_0}) + sum_k log P(x_{t_{k+1}} | x_{t_k}).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_configs, check_batch_size, check_int, check_nonnegative_int, check_time, check_time_grid
from ._deprecation import warn_deprecated
from ._memory import check_allocation
from .mps.base import MPSBase
from .noise import Noise
from .rng import as_generator


class Diffusion:
    """A data distribution P_0 (probability MPS over d states) noised by `noise` (d_out states).

    Forward marginals, exact denoising, reverse paths, scores and reverse rates (module docstring).

    Args:
        model: the data distribution P_0, a probability MPS (ProbMPS, SparseMPS or BornMPS).
        noise: the single-site noise (tnddm.noise), acting on the model's d states.
    """

    def __init__(self, model: MPSBase, noise: Noise):
        if not isinstance(model, MPSBase):
            raise ValueError(f"model must be a probability MPS (ProbMPS or SparseMPS); got {type(model).__name__}")
        if not isinstance(noise, Noise):
            raise ValueError(f"noise must be a tnddm.noise.Noise; got {type(noise).__name__}")
        if model.d != noise.d:
            raise ValueError(f"noise acts on d = {noise.d} data states but the model has d = {model.d}")
        self.model = model
        self.noise = noise
        self.n_sites = model.n_sites
        self.d_out = noise.d_out
        self._marginals: dict[float, MPSBase] = {}

    def __repr__(self) -> str:
        return f"Diffusion(model={self.model!r}, noise={self.noise!r})"

    # ---- marginals and transitions ----------------------------------------------------------
    def marginal(self, t) -> MPSBase:
        """P_t as an MPS over d_out states (P_0 embedded when t = 0; the model itself where K_t is the identity,
        so that it keeps its own samplers).

        Args:
            t: time (>= 0; inf for the noise's stationary law).
        """
        t = check_time(t)
        if t not in self._marginals:
            K = self.noise.propagator(t)[:, : self.noise.d]
            identity = K.shape[0] == K.shape[1] and np.array_equal(K, np.eye(K.shape[0]))
            self._marginals[t] = self.model if identity else self.model.emit(K)
            if len(self._marginals) > 16:
                self._marginals.pop(next(iter(self._marginals)))
        return self._marginals[t]

    def forward(self, X, t, s: float = 0.0, seed=None) -> np.ndarray:
        """Noise configurations X (at time s) to time t.

        Args:
            X: configurations (n, N) at time s.
            t: end time.
            s: start time.
            seed: int, SeedSequence or Generator.
        """
        return self.noise.forward(X, t, s, seed=seed)

    def _channel_tilts(self, Y, t, s):
        t, s = check_time(t, "t"), check_time(s, "s")
        if s > t:
            raise ValueError(f"s must not exceed t; got s = {s} > t = {t}")
        Y = as_configs(Y, self.n_sites, self.d_out, name="Y")
        K = self.noise.propagator(t, s)
        return Y, K[Y]  # (n, N, d_out): K_{t|s}[y_i, x]

    def posterior(self, y, t, s: float = 0.0) -> MPSBase:
        """The (unnormalised) MPS of P(x_s = x | x_t = y) for one configuration y.

        Args:
            y: one configuration (N,) at time t.
            t: the later time.
            s: the earlier time (s <= t).
        """
        Y, tilts = self._channel_tilts(y, t, s)
        if Y.shape[0] != 1:
            raise ValueError(f"y must be one configuration; got {Y.shape[0]}")
        return self.marginal(s).tilt(tilts[0])

    def denoise(self, Y, t, s: float = 0.0, seed=None, batch_size=None, progress=False, return_log_prob=False,
                return_log_prior=None):
        """Exact samples x_s ~ P(x_s | x_t = y), one per row of Y, with their log-probabilities.

        Args:
            Y: configurations (n, N) at time t, one sample drawn per row.
            t: the later time.
            s: the earlier time (s <= t).
            seed: int, SeedSequence or Generator.
            batch_size: samples per kernel call (default: the MPS's own).
            progress: show a progress bar.
            return_log_prob: also return the untilted log P_s(x_s) (free from the dense sampling kernel; the same
                flag as MPSBase.sample).
            return_log_prior: deprecated spelling of return_log_prob.

        Returns:
            (X_s, log P(x_s | x_t = y)), or (X_s, log P(x_s | x_t), log P_s(x_s)) with return_log_prob.
        """
        if return_log_prior is not None:
            warn_deprecated("Diffusion.denoise(return_log_prior=...)", "return_log_prob=...")
            return_log_prob = return_log_prob or bool(return_log_prior)
        batch_size = check_batch_size(batch_size)
        Y = as_configs(Y, self.n_sites, self.d_out, name="Y")
        check_allocation(Y.size * (8 * self.d_out + 16), f"the denoising tilts and samples of {Y.shape[0]} rows")
        Y, tilts = self._channel_tilts(Y, t, s)
        return self.marginal(s).sample(Y.shape[0], seed=seed, tilts=tilts, batch_size=batch_size, progress=progress,
                                       return_log_prob=return_log_prob)

    def log_transition(self, Xs, Y, t, s: float = 0.0) -> np.ndarray:
        """log P(x_s | x_t = y) for paired rows of Xs and Y (-inf where impossible).

        Args:
            Xs: configurations (n, N) at time s.
            Y: configurations (n, N) at time t.
            t: the later time.
            s: the earlier time (s <= t).
        """
        Y, tilts = self._channel_tilts(Y, t, s)
        Xs = as_configs(Xs, self.n_sites, self.d_out, name="Xs")
        if Xs.shape[0] != Y.shape[0]:
            raise ValueError(f"Xs and Y must have the same number of rows; got {Xs.shape[0]} and {Y.shape[0]}")
        Ps = self.marginal(s)
        onehot = np.zeros_like(tilts)
        np.put_along_axis(onehot, Xs[:, :, None], 1.0, axis=2)
        sign_x, log_x = Ps._contract(tilts * onehot)
        _, log_y = Ps._contract(tilts)
        with np.errstate(invalid="ignore"):  # -inf - (-inf) where y itself is impossible; those rows are -inf
            return np.where(sign_x > 0, log_x - log_y, -np.inf)

    def reverse_conditionals(self, Xs, Y, t, s: float = 0.0) -> np.ndarray:
        """Autoregressive conditionals of the exact reverse kernel along paired rows, shape (n, N, d_out):

            c[r, i, b] = P(x_{s,i} = b | x_{s,<i} = Xs[r, <i], x_t = Y[r]),
            P(x_s | x_t = y) ∝ P_s(x_s) prod_i K_{t|s}[y_i, x_{s,i}],

        so log P(Xs | Y) = sum_i log c[r, i, Xs[r, i]]. One left and one right sweep of P_s.

        Args:
            Xs: configurations (n, N) at time s.
            Y: configurations (n, N) at time t.
            t: the later time.
            s: the earlier time (s <= t).
        """
        Y, tilts = self._channel_tilts(Y, t, s)
        Xs = as_configs(Xs, self.n_sites, self.d_out, name="Xs")
        if Xs.shape[0] != Y.shape[0]:
            raise ValueError(f"Xs and Y must have the same number of rows; got {Xs.shape[0]} and {Y.shape[0]}")
        return self.marginal(s).conditionals(Xs, tilts)

    # ---- exact reverse paths ----------------------------------------------------------------
    def reverse_path(self, n: int, times, seed=None, start=None):
        """Exact reverse paths on the grid times[0] = T > ... > times[-1].

        By default the path is drawn forwards, which gives the same path law at the cost of one
        exact sample: x_{t_K} ~ P_{t_K}, then x_{t_k} ~ K_{t_k|t_{k+1}}(. | x_{t_{k+1}}) up the grid.
        start: configurations at time T (n rows); the path is then drawn backwards by exact
        denoising, x_{t_{k+1}} ~ P(. | x_{t_k}).

        Args:
            n: number of paths (ignored when start is given).
            times: strictly decreasing grid T = times[0] > ... > times[-1] >= 0.
            seed: int, SeedSequence or Generator.
            start: optional configurations (n, N) at time T.

        Returns:
            (paths of shape (n, len(times), N), exact log-probability of each whole path).
        """
        times = check_time_grid(times)
        rng = as_generator(seed)
        if start is None:
            n = check_nonnegative_int(n, "n")
            paths = np.empty((n, len(times), self.n_sites), dtype=np.int64)
            paths[:, -1], _ = self.marginal(times[-1]).sample(n, seed=rng)
            for k in range(len(times) - 2, -1, -1):
                paths[:, k] = self.noise.forward(paths[:, k + 1], times[k], times[k + 1], seed=rng)
            return paths, self.log_path_prob(paths, times)
        x = as_configs(start, self.n_sites, self.d_out, name="start")
        n = x.shape[0]
        logp = self.marginal(times[0]).log_prob(x)
        paths = np.empty((n, len(times), self.n_sites), dtype=np.int64)
        paths[:, 0] = x
        for k in range(1, len(times)):
            x, lp = self.denoise(x, times[k - 1], times[k], seed=rng)
            paths[:, k] = x
            logp = logp + lp
        return paths, logp

    def generate(self, n: int, T: float, steps: int = 1, seed=None, progress: bool = False):
        """Generative diffusion: x_T ~ P_T exactly, then `steps` exact denoising steps on a uniform grid to 0.

        The returned samples are exact samples of P_0 (whatever T and steps). Each denoising step
        conditions the MPS on every sample (per-sample environments, O(N chi d) per sample and step).

        Args:
            n: number of samples.
            T: the noise time at which x_T ~ P_T is drawn.
            steps: denoising steps of the uniform grid from T to 0.
            seed: int, SeedSequence or Generator.
            progress: show progress bars.

        Returns:
            (X_0, log P_0(X_0)).
        """
        T = check_time(T, "T")
        steps = check_int(steps, "steps", 1)
        n = check_nonnegative_int(n, "n")
        check_allocation(8 * (steps + 1), f"a time grid of {steps} steps")
        check_allocation(n * self.n_sites * (8 * self.d_out + 24), f"denoising {n} samples of {self.n_sites} sites")
        rng = as_generator(seed)
        x, _ = self.marginal(T).sample(n, seed=rng, progress=progress)
        if T > 0:
            times = np.linspace(T, 0.0, int(steps) + 1)
            grid = zip(times[:-1], times[1:])
            if progress:
                from tqdm.auto import tqdm

                grid = tqdm(list(grid), desc="denoising", unit="step")
            for t_from, t_to in grid:
                x, _ = self.denoise(x, t_from, t_to, seed=rng)
        return x, self.model.log_prob(x)

    def log_path_prob(self, paths, times) -> np.ndarray:
        """Exact log-probability of reverse paths (n, len(times), N) under the true process.

        The reverse path law is the forward (noising) path law read backwards, so with
        t_0 = T > ... > t_K:  log p = log P_{t_K}(x_K) + sum_k sum_i log K_{t_k|t_{k+1}}[x_{k,i}, x_{k+1,i}].
        One MPS evaluation per path; the rest are single-site propagators.

        Args:
            paths: (n, len(times), N) configurations along the grid.
            times: the strictly decreasing grid.
        """
        times = check_time_grid(times)
        paths = np.asarray(paths)
        if paths.ndim != 3 or paths.shape[1] != len(times):
            raise ValueError(f"paths must have shape (n, {len(times)}, {self.n_sites}); got {paths.shape}")
        paths = as_configs(paths.reshape(-1, paths.shape[-1]), self.n_sites, self.d_out, name="paths").reshape(paths.shape)
        logp = self.marginal(times[-1]).log_prob(paths[:, -1])
        with np.errstate(divide="ignore"):
            for k in range(len(times) - 1):
                logK = np.log(self.noise.propagator(times[k], times[k + 1]))  # [y at t_k, x at t_{k+1}]
                logp = logp + logK[paths[:, k], paths[:, k + 1]].sum(axis=1)
        return logp

    # ---- scores and reverse rates -----------------------------------------------------------
    def score(self, X, t) -> np.ndarray:
        """s_t(x)_{i,b} = P_t(x with x_i <- b) / P_t(x), shape (n, N, d_out); entry x_i is 1.

        Args:
            X: configurations (n, N) over the d_out noised states.
            t: time.
        """
        X = as_configs(X, self.n_sites, self.d_out)
        return self.marginal(t).ratios(X)

    def reverse_rates(self, X, t) -> np.ndarray:
        """Jump rates of the exact reverse process, R[n, i, b] = beta(t) Q[x_i, b] s_t(x)_{i,b}; 0 at b = x_i.

        Args:
            X: configurations (n, N) over the d_out noised states.
            t: time.
        """
        X = as_configs(X, self.n_sites, self.d_out)
        s = self.score(X, t)
        Qt = self.noise.rates(t)  # Qt[y, x] = rate x -> y
        rates = Qt[X] * s  # Qt[x_i, b]: forward rate b -> x_i
        np.put_along_axis(rates, X[:, :, None], 0.0, axis=2)
        return rates
