"""Score oracles: the only interface approximate samplers see.

A score oracle provides, for a batch X (n, N) of states at time t, the ratios
s_t(x)_{i,b} = P_t(x with x_i <- b) / P_t(x) (shape (n, N, d_out)), plus the noise process. The
exact reverse rates follow: R_t(x -> x^{i<-b}) = beta(t) Q[x_i, b] s_t(x)_{i,b}. ExactOracle wraps
tnddm.Diffusion; CallableOracle wraps any user function score(X, t) (e.g. a learned score), so
every sampler and metric works unchanged with it. Both count score evaluations.

Argument order: states first, then times, as in Diffusion: score(X, t), reverse_rates(X, t),
denoiser_marginals(X, t, s), ExactOracle.exact_marginals(Y, t, s). The old order, times first ((t, X) or
(t, s, X), detected by type: see tnddm._deprecation.states_first), still works for one release, with a
DeprecationWarning.
"""
from __future__ import annotations

import inspect

import numpy as np

from .._deprecation import states_first, warn_deprecated
from ..diffusion import Diffusion
from ..noise import Noise


def _time_first(fn) -> bool:
    """True for a user callable written in the old order (t, X, ...): its first parameter is named t."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name in ("t", "time")


class ScoreOracle:
    """Base class: subclasses implement _score(X, t); `evaluations` counts calls (NFE)."""

    noise: Noise
    n_sites: int
    _score_time_first = False  # a subclass whose _score is written in the old order (t, X)

    def __init__(self):
        self.evaluations = 0

    @property
    def d_out(self) -> int:
        return self.noise.d_out

    def __repr__(self) -> str:
        what = getattr(self, "_repr_source", lambda: "")()
        return (f"{type(self).__name__}({what}n_sites={getattr(self, 'n_sites', '?')}, "
                f"noise={getattr(self, 'noise', None)!r}, evaluations={self.evaluations})")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        hook = cls.__dict__.get("_score")
        cls._score_time_first = _time_first(hook) if hook is not None else getattr(cls, "_score_time_first", False)
        if hook is not None and cls._score_time_first:
            warn_deprecated(f"{cls.__name__}._score(t, X)", "_score(X, t) (states first)")

    def score(self, X, t) -> np.ndarray:
        """Score ratios s_t(x)_{i,b} = P_t(x^{i<-b}) / P_t(x), shape (n, N, d_out); one evaluation.

        Args:
            X: states (n, N) at time t.
            t: time.
        """
        X, t = states_first(X, t, where=f"{type(self).__name__}.score")
        self.evaluations += 1
        X = np.asarray(X)
        return self._score(float(t), X) if self._score_time_first else self._score(X, float(t))

    def reverse_rates(self, X, t, score=None) -> np.ndarray:
        """R[n, i, b] = beta(t) Q[x_i, b] s_t(x)_{i,b} (0 at b = x_i), from one score evaluation.

        Args:
            X: states (n, N) at time t.
            t: time.
            score: s_t(X) when already evaluated (no new evaluation is made).
        """
        X, t = states_first(X, t, where=f"{type(self).__name__}.reverse_rates")
        X = np.asarray(X)
        rates = self.noise.rates(t)[X] * (self.score(X, t) if score is None else score)
        np.put_along_axis(rates, X[:, :, None], 0.0, axis=2)
        return np.clip(rates, 0.0, None)

    def denoiser_marginals(self, X, t, s, score=None) -> np.ndarray:
        """Per-site Tweedie marginals q_i(b | x_t) ∝ [exp(-(sigma_t - sigma_s) Q) s_t(x)_{i,.}]_b K_{t|s}[x_i, b].

        Exact per-site marginals of the reverse kernel P(x_s | x_t) when the score is exact.

        Args:
            X: states (n, N) at time t.
            t: the later time.
            s: the earlier time.
            score: s_t(X) when already evaluated (no new evaluation is made).
        """
        X, t, s = states_first(X, t, s, where=f"{type(self).__name__}.denoiser_marginals")
        X = np.asarray(X)
        inv = np.linalg.inv(self.noise.propagator(t, s))  # exp(-(sigma_t - sigma_s) Q)
        back = np.einsum("bc,nic->nib", inv, self.score(X, t) if score is None else score)
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

    def _repr_source(self) -> str:
        return f"model={self.diffusion.model!r}, "

    def _score(self, X, t):
        return self.diffusion.score(X, t)

    def exact_marginals(self, Y, t, s) -> np.ndarray:
        """Per-site marginals of the exact reverse kernel P(x_s | x_t = y), shape (n, N, d_out).

        Stable for every t (tilt rows built in closed form; see tnddm.validate.PosteriorOracle). The old order
        exact_marginals(t, s, Y) still works for one release, with a DeprecationWarning.

        Args:
            Y: states (n, N) at time t.
            t: the later time.
            s: the earlier time, s < t.
        """
        from .posterior import PosteriorOracle

        Y, t, s = states_first(Y, t, s, where=f"{type(self).__name__}.exact_marginals", states="Y")
        if getattr(self, "_posterior", None) is None:
            self._posterior = PosteriorOracle(self.diffusion)
        return self._posterior.reverse_marginals(Y, t, s)


class CallableOracle(ScoreOracle):
    """A user score function score_fn(X, t) -> (n, N, d_out) with the noise it was trained for.

    A function whose first parameter is named `t` (the old order score_fn(t, X)) is still called that way for
    one release, with a DeprecationWarning.

    Args:
        score_fn: the score function, score_fn(X, t) with X of shape (n, N).
        noise: the noise it was trained for.
        n_sites: N.
    """

    def __init__(self, score_fn, noise: Noise, n_sites: int):
        super().__init__()
        if not callable(score_fn):
            raise ValueError("score_fn must be callable as score_fn(X, t)")
        self.fn, self.noise, self.n_sites = score_fn, noise, int(n_sites)
        self._fn_time_first = _time_first(score_fn)
        if self._fn_time_first:
            warn_deprecated("CallableOracle with score_fn(t, X)", "score_fn(X, t) (states first)")

    def _repr_source(self) -> str:
        return f"score_fn={getattr(self.fn, '__qualname__', type(self.fn).__name__)}, "

    def _score(self, X, t):
        out = np.asarray(self.fn(t, X) if self._fn_time_first else self.fn(X, t), dtype=float)
        if out.shape != X.shape + (self.d_out,):
            raise ValueError(f"score_fn must return shape {X.shape + (self.d_out,)}; got {out.shape}")
        return out

