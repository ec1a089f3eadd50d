"""Samplers of Gaussian (VP) diffusion of spins, against the exact oracle tnddm.gaussian.GaussianDiffusion.

Step from t to s < t with a = a_t, a' = a_s, b, b' likewise, ratio alpha = a / a' and the exact
posterior mean m = E[s | x_t] from the oracle (Tweedie: score = (a m - x) / b^2):
- ddpm (Ho et al. 2020, ancestral): x_s ~ N(a'(1 - alpha^2)/b^2 m + alpha b'^2/b^2 x_t, b'^2 (1 - alpha^2)/b^2).
- ode / ddim (Song et al. 2021, eta = 0; the exponential integrator of the probability-flow ODE):
  x_s = a' m + b' (x_t - a m) / b.
- euler_maruyama on the reverse SDE dx = [-beta x / 2 - beta score] dt + sqrt(beta) dW (reverse time):
  x_s = x_t + h (beta x_t / 2 + beta score) + sqrt(beta h) xi, with xi standard normal, or
  Rademacher noise (+-1, matched mean and variance; Choi and Fan, arXiv:2506.08337), or a
  deliberately mis-scaled Rademacher noise (+-noise_scale).
The output x_delta is rounded to spins (x > 0 -> state 1) and compared with pi.
"""
from __future__ import annotations

import numpy as np

from ..gaussian import GaussianDiffusion
from ..goodness_of_fit import config_index
from ..rng import as_generator

GAUSSIAN_SAMPLERS = ("ddpm", "ode", "euler_maruyama", "rademacher")


def vp_grid(steps: int, T: float = 1.0, delta: float = 1e-3) -> np.ndarray:
    """steps + 1 uniform times from T down to delta (> 0: b_0 = 0 is singular)."""
    if int(steps) != steps or steps < 1 or not 0 < delta < T:
        raise ValueError(f"need steps >= 1 and 0 < delta < T; got steps = {steps}, delta = {delta}, T = {T}")
    return np.linspace(T, delta, int(steps) + 1)


def sample_gaussian(name: str, gd: GaussianDiffusion, n: int, times, seed=None, noise_scale: float = 1.0,
                    exact_start: bool = True) -> np.ndarray:
    """Run a Gaussian sampler on the decreasing grid; return rounded states (n, N) in {0, 1}.

    exact_start: x_T ~ p_T exactly (else standard normal, the VP prior).
    """
    if name not in GAUSSIAN_SAMPLERS:
        raise ValueError(f"sampler must be one of {GAUSSIAN_SAMPLERS}; got {name!r}")
    times = np.asarray(times, dtype=float)
    rng = as_generator(seed)
    x = gd.sample_marginal(n, times[0], seed=rng) if exact_start else rng.standard_normal((n, gd.n_sites))
    for t, s in zip(times[:-1], times[1:]):
        a, b = gd.coefficients(t)
        a2, b2 = gd.coefficients(s)
        if name in ("ddpm", "ode"):
            m = gd.posterior_mean(x, t)
            if name == "ode":
                x = a2 * m + b2 * (x - a * m) / b
            else:
                alpha2 = (a / a2) ** 2
                mean = a2 * (1 - alpha2) / b**2 * m + (a / a2) * b2**2 / b**2 * x
                x = mean + np.sqrt(b2**2 * (1 - alpha2) / b**2) * rng.standard_normal(x.shape)
        else:
            h = t - s
            beta = float(gd.schedule.beta(t))
            if name == "euler_maruyama":
                xi = rng.standard_normal(x.shape)
            else:
                xi = noise_scale * (2.0 * rng.integers(0, 2, size=x.shape) - 1)
            x = x + h * (0.5 * beta * x + beta * gd.score(x, t)) + np.sqrt(beta * h) * xi
    return (x > 0).astype(np.int64)


def rounded_tv(samples, pi_dense) -> float:
    """TV between the empirical law of rounded samples and the exact law pi (enumerable N)."""
    emp = np.bincount(config_index(samples, 2), minlength=pi_dense.size) / len(samples)
    return float(0.5 * np.abs(emp - pi_dense).sum())
