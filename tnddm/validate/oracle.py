"""Score oracles: the only interface approximate samplers see.

A score oracle provides, for a batch X (n, N) of states at time t, the ratios
s_t(x)_{i,b} = P_t(x with x_i <- b) / P_t(x) (shape (n, N, d_out)), plus the noise process. The
exact reverse rates follow: R_t(x -> x^{i<-b}) = beta(t) Q[x_i, b] s_t(x)_{i,b}. ExactOracle wraps
tnddm.Diffusion; CallableOracle wraps any user function score(t, X) (e.g. a learned score), so
every sampler and metric works unchanged with it. Both count score evaluations.
"""
from __future__ import annotations

import numpy as np

from ..diffusion import Diffusion
from ..noise import Noise


class ScoreOracle:
    """Base class: subclasses implement _score(t, X); `evaluations` counts calls (NFE)."""

    noise: Noise
    n_sites: int

    def __init__(self):
        self.evaluations = 0

    @property
    def d_out(self) -> int:
        return self.noise.d_out

    def score(self, t, X) -> np.ndarray:
        self.evaluations += 1
        return self._score(float(t), np.asarray(X))

    def reverse_rates(self, t, X, score=None) -> np.ndarray:
        """R[n, i, b] = beta(t) Q[x_i, b] s_t(x)_{i,b} (0 at b = x_i), from one score evaluation.

        score: s_t(X) when already evaluated (no new evaluation is made)."""
        X = np.asarray(X)
        rates = self.noise.rates(t)[X] * (self.score(t, X) if score is None else score)
        np.put_along_axis(rates, X[:, :, None], 0.0, axis=2)
        return np.clip(rates, 0.0, None)

    def denoiser_marginals(self, t, s, X, score=None) -> np.ndarray:
        """Per-site Tweedie marginals q_i(b | x_t) ∝ [exp(-(sigma_t - sigma_s) Q) s_t(x)_{i,.}]_b K_{t|s}[x_i, b].

        Exact per-site marginals of the reverse kernel P(x_s | x_t) when the score is exact.
        score: s_t(X) when already evaluated (no new evaluation is made).
        """
        X = np.asarray(X)
        inv = np.linalg.inv(self.noise.propagator(t, s))  # exp(-(sigma_t - sigma_s) Q)
        back = np.einsum("bc,nic->nib", inv, self.score(t, X) if score is None else score)
        q = np.clip(back, 0.0, None) * self.noise.propagator(t, s)[X]  # K[x_i, b]
        return q / q.sum(axis=2, keepdims=True)


class ExactOracle(ScoreOracle):
    """Exact scores of a tnddm.Diffusion (one pair of environment sweeps per batch)."""

    def __init__(self, diffusion: Diffusion):
        super().__init__()
        if not isinstance(diffusion, Diffusion):
            raise ValueError(f"diffusion must be a tnddm.Diffusion; got {type(diffusion).__name__}")
        self.diffusion = diffusion
        self.noise = diffusion.noise
        self.n_sites = diffusion.n_sites

    def _score(self, t, X):
        return self.diffusion.score(X, t)

    def exact_marginals(self, t, s, Y) -> np.ndarray:
        """Per-site marginals of the exact reverse kernel P(x_s | x_t = y), shape (n, N, d_out).

        Stable for every t (tilt rows built in closed form; see tnddm.validate.PosteriorOracle).
        """
        from .posterior import PosteriorOracle

        if getattr(self, "_posterior", None) is None:
            self._posterior = PosteriorOracle(self.diffusion)
        return self._posterior.reverse_marginals(Y, t, s)


class CallableOracle(ScoreOracle):
    """A user score function score(t, X) -> (n, N, d_out) with the noise it was trained for."""

    def __init__(self, score_fn, noise: Noise, n_sites: int):
        super().__init__()
        if not callable(score_fn):
            raise ValueError("score_fn must be callable as score_fn(t, X)")
        self.fn, self.noise, self.n_sites = score_fn, noise, int(n_sites)

    def _score(self, t, X):
        out = np.asarray(self.fn(t, X), dtype=float)
        if out.shape != X.shape + (self.d_out,):
            raise ValueError(f"score_fn must return shape {X.shape + (self.d_out,)}; got {out.shape}")
        return out
