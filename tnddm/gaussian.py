"""Exact Gaussian (variance-preserving) diffusion of spin configurations drawn from an MPS.

Spins s_i = 2 x_i - 1 with x ~ pi (a probability MPS over {0, 1}^N) are noised as
x_t = a_t s + b_t z, z standard normal, a_t = exp(-sigma(t) / 2), b_t^2 = 1 - a_t^2. Then

    p_t(x) = prod_i N(x_i; 0, b^2) e^{-a^2 / (2 b^2)} * sum_s pi(s) exp(sum_i h_i s_i),  h_i = a x_i / b^2,

one MPS contraction with site weights exp(h_i s_i) (kept in [0, 1] as exp(h_i s_i - |h_i|) so
that no field overflows), and

    grad log p_t(x) = (a E[s | x] - x) / b^2,

with E[s_i | x] the magnetisations of pi tilted by the fields (one pair of sweeps for all sites).
The posterior P(s | x_t) = pi(s) exp(h . s) / norm is again an MPS and is sampled exactly.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_configs, check_time
from ._deprecation import warn_deprecated
from .mps.base import MPSBase
from .noise import Linear, make_schedule
from .rng import as_generator

SPINS = np.array([-1.0, 1.0])  # state 0 -> s = -1, state 1 -> s = +1


class GaussianDiffusion:
    """Variance-preserving Gaussian noise on the spins of a two-state probability MPS.

    schedule: beta(t) of the VP SDE (default: DDPM's linear beta from 0.1 to 20 on [0, 1]).
    """

    def __init__(self, model: MPSBase, schedule=None):
        if not isinstance(model, MPSBase) or model.d != 2:
            raise ValueError("model must be a probability MPS over two states (d = 2)")
        self.model = model
        self.n_sites = model.n_sites
        self.schedule = make_schedule(schedule) if schedule is not None else Linear(0.1, 20.0, 1.0)

    def coefficients(self, t) -> tuple[float, float]:
        """(a_t, b_t) with a_t = exp(-sigma(t)/2), b_t = sqrt(1 - a_t^2); needs t > 0."""
        t = check_time(t)
        if t <= 0:
            raise ValueError(f"t must be > 0 for Gaussian noise (b_0 = 0); got {t}")
        a = float(np.exp(-0.5 * self.schedule.sigma(t)))
        return a, float(np.sqrt(-np.expm1(-self.schedule.sigma(t))))

    def _points(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.n_sites or not np.all(np.isfinite(x)):
            raise ValueError(f"x must be a finite array of shape (n, {self.n_sites}); got {np.shape(x)}")
        return x

    def _tilts(self, x, t):
        """Site weights exp(h_i s - |h_i|) (n, N, 2) and the removed log factor sum_i |h_i|."""
        a, b = self.coefficients(t)
        h = a * x / b**2
        tilts = np.exp(h[:, :, None] * SPINS - np.abs(h)[:, :, None])
        return tilts, np.abs(h).sum(axis=1)

    # ---- forward process --------------------------------------------------------------
    def forward(self, X, t, seed=None) -> np.ndarray:
        """x_t = a_t s + b_t z for configurations X (n, N) of states {0, 1}."""
        X = as_configs(X, self.n_sites, 2)
        a, b = self.coefficients(t)
        z = as_generator(seed).standard_normal(X.shape)
        return a * SPINS[X] + b * z

    def marginal(self, t) -> "GaussianMarginal":
        """The law p_t of x_t, `p_t = sum_s pi(s) N(a_t s, b_t^2 I)`, with the verbs of the discrete
        Diffusion.marginal(t): `marginal(t).sample(n)` and `marginal(t).log_prob(x)` (and its exact mean and
        covariance).

        Args:
            t: time (> 0).
        """
        return GaussianMarginal(self, t)

    def sample_marginal(self, n: int, t, seed=None) -> np.ndarray:
        """Deprecated: marginal(t).sample(n, seed)[0] (the same points for the same seed)."""
        warn_deprecated("GaussianDiffusion.sample_marginal(n, t)", "GaussianDiffusion.marginal(t).sample(n)")
        return self.marginal(t).sample(n, seed=seed, compute_log_prob=False)[0]

    # ---- exact oracle -----------------------------------------------------------------
    def log_prob(self, x, t) -> np.ndarray:
        """Exact log p_t(x) for a batch (n, N)."""
        x = self._points(x)
        a, b = self.coefficients(t)
        tilts, shift = self._tilts(x, t)
        gauss = (-(x**2 + a**2) / (2 * b**2) - 0.5 * np.log(2 * np.pi * b**2)).sum(axis=1)
        return gauss + shift + self.model.log_contract(tilts) - self.model.log_z()

    def posterior_mean(self, x, t) -> np.ndarray:
        """E[s | x_t = x], shape (n, N), the magnetisations of pi tilted by h = a x / b^2."""
        x = self._points(x)
        tilts, _ = self._tilts(x, t)
        return self.model.marginals(tilts) @ SPINS

    def score(self, x, t) -> np.ndarray:
        """grad_x log p_t(x) = (a E[s | x] - x) / b^2, shape (n, N)."""
        x = self._points(x)
        a, b = self.coefficients(t)
        return (a * self.posterior_mean(x, t) - x) / b**2

    def denoise(self, x, t, seed=None):
        """Exact samples s ~ P(s | x_t = x), one per row, as states {0, 1}, with log-probabilities
        (Diffusion.denoise to s = 0).

        Args:
            x: points (n, N) at time t.
            t: time.
            seed: int, SeedSequence or Generator.
        """
        x = self._points(x)
        tilts, _ = self._tilts(x, t)
        return self.model.sample(x.shape[0], seed=seed, tilts=tilts)

    def sample_posterior(self, x, t, seed=None):
        """Deprecated name of denoise."""
        warn_deprecated("GaussianDiffusion.sample_posterior", "GaussianDiffusion.denoise")
        return self.denoise(x, t, seed=seed)


class GaussianMarginal:
    """The forward marginal of a GaussianDiffusion at time t > 0: x_t = a_t s + b_t z with s ~ pi (spins s = 2x - 1)
    and z standard normal, so

        p_t(x) = sum_s pi(s) prod_i N(x_i; a_t s_i, b_t^2),
        E[x_t] = a_t E_pi[s],   Cov[x_t] = a_t^2 Cov_pi[s] + b_t^2 I.

    Made by GaussianDiffusion.marginal(t); the Gaussian counterpart of the MPS that Diffusion.marginal(t)
    returns (sample, log_prob).

    Args:
        diffusion: the GaussianDiffusion.
        t: time (> 0).
    """

    def __init__(self, diffusion: GaussianDiffusion, t):
        self.a, self.b = diffusion.coefficients(t)  # checks t > 0
        self.diffusion, self.t = diffusion, float(t)
        self.n_sites = diffusion.n_sites

    def __repr__(self) -> str:
        return f"GaussianMarginal(t={self.t:g}, a={self.a:.6g}, b={self.b:.6g}, n_sites={self.n_sites})"

    def sample(self, n: int, seed=None, compute_log_prob: bool = True):
        """Exact samples of p_t (s ~ pi exactly, then x = a_t s + b_t z) and their exact log p_t(x).

        Args:
            n: number of samples.
            seed: int, SeedSequence or Generator.
            compute_log_prob: evaluate log p_t(x) (one tilted MPS contraction per sample); False returns
                None in its place when only the points are needed.

        Returns:
            (x, logp): points of shape (n, N) and log p_t(x) of shape (n,) (None without compute_log_prob).
        """
        rng = as_generator(seed)
        X, _ = self.diffusion.model.sample(n, seed=rng)
        x = self.diffusion.forward(X, self.t, seed=rng)
        return x, (self.log_prob(x) if compute_log_prob else None)

    def log_prob(self, x) -> np.ndarray:
        """Exact log p_t(x) for points x of shape (n, N) (GaussianDiffusion.log_prob(x, t)).

        Args:
            x: points (n, N).
        """
        return self.diffusion.log_prob(x, self.t)

    def mean(self) -> np.ndarray:
        """E[x_t] = a_t E_pi[s], shape (N,), from the single-site marginals of pi."""
        return self.a * (self.diffusion.model.marginals() @ SPINS)

    def covariance(self) -> np.ndarray:
        """Cov[x_t] = a_t^2 Cov_pi[s] + b_t^2 I, shape (N, N), exact from the two-site marginals of pi
        (N (N - 1) / 2 of them: O(N^3 chi^2) work, for moderate N)."""
        model, N = self.diffusion.model, self.n_sites
        m = model.marginals() @ SPINS
        ss = np.outer(SPINS, SPINS)
        second = np.eye(N)  # s_i^2 = 1
        for i in range(N):
            for j in range(i + 1, N):
                second[i, j] = second[j, i] = float(np.sum(model.two_site_marginal(i, j) * ss))
        return self.a**2 * (second - np.outer(m, m)) + self.b**2 * np.eye(N)
