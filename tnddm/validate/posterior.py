"""Exact per-site posteriors for outside solvers, stable for every time including t = infinity.

For an observed y at time t and s < t, the exact reverse kernel is
    P(x_s = x | x_t = y) ∝ P_s(x) prod_i K_{t|s}[y_i, x_i],
an MPS tilted site by site. Its single-site marginals p(x_s^i = b | x_t = y) come from one left
and one right sweep of the whole batch. Only the shape of each tilt row K_{t|s}[y_i, .] matters
(a constant factor per site cancels), so the rows are built in closed form and rescaled to a
maximum of 1: nothing underflows, and t = inf is the limit.

Time convention (flow_matching's mixture paths). Mask and Flip noise are mixtures
    K_{t|0} = kappa_t I + (1 - kappa_t) pi 1^T    (on the data states),
with pi the source law (the mask state; uniform over d states) and
    Mask: kappa_t = exp(-rate sigma(t)),   Flip: kappa_t = exp(-d rate sigma(t) / (d - 1)).
kappa_t is the probability that a site still shows its data value without having been resampled
(flow_matching's scheduler alpha_t, with flow time running from source kappa = 0 to data
kappa = 1). tnddm time t = infinity is kappa = 0; t = 0 is kappa = 1.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .._checks import as_configs
from ..diffusion import Diffusion
from ..noise import Constant, Flip, Mask, Noise


def _check_t(t, name="t") -> float:
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a time in [0, inf]; got {t!r}") from None
    if np.isnan(t) or t < 0:
        raise ValueError(f"{name} must be a time in [0, inf]; got {t}")
    return t


def _dsigma(noise: Noise, t: float, s: float) -> float:
    """sigma(t) - sigma(s), inf when t = inf."""
    return np.inf if np.isinf(t) else noise.sigma(t) - noise.sigma(s)


def kappa(noise: Noise, t) -> float:
    """Mixture weight kappa_t of Mask or Flip noise (see module docstring); t in [0, inf].

    Args:
        noise (Noise): a tnddm.noise.Mask or tnddm.noise.Flip.
        t (float): tnddm time (inf gives 0).
    """
    t = _check_t(t)
    return _kappa_of_dsigma(noise, _dsigma(noise, t, 0.0) if t > 0 else 0.0)


def _kappa_of_dsigma(noise, ds) -> float:
    if isinstance(noise, Mask):
        return float(np.exp(-noise.rate * ds))
    if isinstance(noise, Flip):
        return float(np.exp(-noise.d * noise.rate * ds / (noise.d - 1)))
    raise ValueError(f"noise must be Mask or Flip for a mixture weight kappa; got {type(noise).__name__}")


def time_of_kappa(noise: Noise, k) -> float:
    """The tnddm time t with kappa_t = k (inverse of `kappa`): 0 at k = 1, inf at k = 0.

    Args:
        noise (Noise): a Mask or Flip noise; its schedule's sigma is inverted (closed form for Constant,
            else root finding, sigma being non-decreasing).
        k (float): mixture weight in [0, 1].
    """
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"kappa must be a number in [0, 1]; got {k!r}") from None
    if not 0.0 <= k <= 1.0:
        raise ValueError(f"kappa must lie in [0, 1]; got {k}")
    if not isinstance(noise, (Mask, Flip)):
        raise ValueError(f"noise must be Mask or Flip for a mixture weight kappa; got {type(noise).__name__}")
    if k == 0.0:
        return np.inf
    if k == 1.0:
        return 0.0
    scale = noise.rate if isinstance(noise, Mask) else noise.d * noise.rate / (noise.d - 1)
    target = -np.log(k) / scale
    if isinstance(noise.schedule, Constant):
        return float(target)
    hi = 1.0
    while noise.sigma(hi) < target:
        hi *= 2.0
        if hi > 1e12:
            raise ValueError(f"kappa = {k} is not reached by the noise schedule")
    return float(brentq(lambda u: noise.sigma(u) - target, 0.0, hi, xtol=1e-15, rtol=1e-15))


def tilt_table(noise: Noise, t, s: float = 0.0, d_in: int | None = None, kappa_value=None) -> np.ndarray:
    """Rows T[y, x] ∝ K_{t|s}[y, x], each rescaled to maximum 1, shape (d_out, d_in).

    Mask (r = exp(-rate (sigma_t - sigma_s))): a data value y gives the indicator of x = y; the mask
    gives 1 - r on data states and 1 on the mask. Flip / mixtures: 1 at x = y and
    (1 - kappa) / (1 - kappa + d kappa) elsewhere. Other noise: K_{t|s} rows rescaled (t = inf:
    rows of ones, the stationary limit). A row of zeros means y cannot be observed.

    Args:
        noise (Noise): the noise process.
        t (float): time of the observation, 0 <= s <= t <= inf.
        s (float): earlier time.
        d_in (int): number of states x of the tilted law (noise.d at s = 0, else noise.d_out).
        kappa_value (float): the mixture weight kappa_{t|s} itself instead of t (Mask and Flip only).
    """
    d_out = noise.d_out
    d_in = (noise.d if s == 0 else d_out) if d_in is None else int(d_in)
    one_minus_r = None
    if kappa_value is None:
        t, s = _check_t(t, "t"), _check_t(s, "s")
        if s > t:
            raise ValueError(f"s must not exceed t; got s = {s} > t = {t}")
        if isinstance(noise, (Mask, Flip)):
            ds = _dsigma(noise, t, s)
            kappa_value = _kappa_of_dsigma(noise, ds)
            if isinstance(noise, Mask):
                one_minus_r = 1.0 if np.isinf(ds) else float(-np.expm1(-noise.rate * ds))
    if isinstance(noise, Mask):
        T = np.zeros((d_out, d_in))
        T[np.arange(noise.d), np.arange(noise.d)] = 1.0
        T[noise.mask_state, : noise.d] = 1.0 - float(kappa_value) if one_minus_r is None else one_minus_r
        if d_in > noise.d:
            T[noise.mask_state, noise.mask_state] = 1.0
        return _rescale(T)
    if isinstance(noise, Flip):
        k, d = float(kappa_value), noise.d
        off = (1.0 - k) / (1.0 - k + d * k)
        return np.where(np.eye(d, dtype=bool), 1.0, off)[:, :d_in]
    if np.isinf(t):
        return np.ones((d_out, d_in))
    return _rescale(np.array(noise.propagator(t, s))[:, :d_in])


def _rescale(T):
    m = T.max(axis=1, keepdims=True)
    return np.where(m > 0, T / np.where(m > 0, m, 1.0), 0.0)


class PosteriorOracle:
    """Batched exact posteriors of a Diffusion for outside solvers.

        data_posterior:    p(x_0^i = b | x_t = y),  shape (n, N, d)     (the x-prediction of solvers)
        reverse_marginals: p(x_s^i = b | x_t = y),  shape (n, N, d_out) (the exact reverse kernel's marginals)

    Both for t in [0, inf], from one pair of sweeps per batch (rows processed `batch_size` at a time).

    Args:
        diffusion (Diffusion): the tnddm.Diffusion (model P_0 and noise).
        batch_size (int): rows per sweep (memory n * N * chi per batch).
    """

    def __init__(self, diffusion: Diffusion, batch_size: int = 4096):
        if not isinstance(diffusion, Diffusion):
            raise ValueError(f"diffusion must be a tnddm.Diffusion; got {type(diffusion).__name__}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        self.diffusion, self.noise, self.batch_size = diffusion, diffusion.noise, int(batch_size)
        self.n_sites, self.d, self.d_out = diffusion.n_sites, diffusion.noise.d, diffusion.d_out
        self.evaluations = 0

    def __repr__(self) -> str:
        return (f"PosteriorOracle(model={self.diffusion.model!r}, noise={self.noise!r}, batch_size={self.batch_size}, "
                f"evaluations={self.evaluations})")

    def kappa(self, t) -> float:
        """kappa_t of the diffusion's Mask or Flip noise (probability of still showing the data value)."""
        return kappa(self.noise, t)

    def time_of_kappa(self, k) -> float:
        """The tnddm time t with kappa_t = k."""
        return time_of_kappa(self.noise, k)

    def data_posterior(self, Y, t=None, *, kappa=None, pad: bool = False, impossible: str = "raise") -> np.ndarray:
        """p(x_0^i = b | x_t = Y) = marginals of P_0(x) prod_i K_t[y_i, x_i] / P_t(y), shape (n, N, d).

        Args:
            Y (array): observed configurations (n, N) over the noise's d_out states.
            t (float): tnddm time in [0, inf] (give t or kappa).
            kappa (float): flow_matching's kappa_t in [0, 1] instead of t (Mask and Flip noise).
            pad (bool): return shape (n, N, d_out) with zeros on the extra (mask) states.
            impossible (str): what rows Y of probability zero get: "raise" (a ValueError) or "uniform"
                (the uniform law on the data states; what a solver that reached such a state needs).
        """
        if impossible not in ("raise", "uniform"):
            raise ValueError(f"impossible must be 'raise' or 'uniform'; got {impossible!r}")
        if (t is None) == (kappa is None):
            raise ValueError("give exactly one of t and kappa")
        if kappa is not None:
            try:
                kappa = float(kappa)
            except (TypeError, ValueError):
                raise ValueError(f"kappa must be a number in [0, 1]; got {kappa!r}") from None
            if not 0.0 <= kappa <= 1.0:
                raise ValueError(f"kappa must lie in [0, 1]; got {kappa}")
            if not isinstance(self.noise, (Mask, Flip)):
                raise ValueError(f"kappa needs Mask or Flip noise; got {type(self.noise).__name__}")
            table = tilt_table(self.noise, None, 0.0, self.d, kappa_value=kappa)
        else:
            table = tilt_table(self.noise, t, 0.0, self.d)
        out = self._marginals(self.diffusion.model, Y, table, impossible)
        if pad and self.d_out > self.d:
            out = np.concatenate([out, np.zeros(out.shape[:2] + (self.d_out - self.d,))], axis=2)
        return out

    def reverse_marginals(self, Y, t, s) -> np.ndarray:
        """p(x_s^i = b | x_t = Y) for 0 <= s <= t <= inf, shape (n, N, d_out).

        Args:
            Y (array): observed configurations (n, N) at time t.
            t (float): time of the observation (inf allowed).
            s (float): earlier time (finite).
        """
        t, s = _check_t(t, "t"), _check_t(s, "s")
        if s > t:
            raise ValueError(f"s must not exceed t; got s = {s} > t = {t}")
        if np.isinf(s):
            raise ValueError("s must be finite")
        if s == 0:
            return self.data_posterior(Y, t, pad=True)
        return self._marginals(self.diffusion.marginal(s), Y, tilt_table(self.noise, t, s, self.d_out))

    def _marginals(self, P, Y, table, impossible="raise"):
        """Tilted marginals for each row of Y; repeated rows (common for solvers) are computed once."""
        self.evaluations += 1
        Y = as_configs(Y, self.n_sites, self.d_out, name="Y")
        if Y.shape[0] > 1 and self.n_sites * np.log2(self.d_out) < 62:  # rows as integers: a fast unique
            codes = Y @ (self.d_out ** np.arange(self.n_sites - 1, -1, -1, dtype=np.int64))
            _, first, inv = np.unique(codes, return_index=True, return_inverse=True)
            if first.size < Y.shape[0]:
                return self._unique_marginals(P, Y[first], table, impossible)[np.asarray(inv).reshape(-1)]
        return self._unique_marginals(P, Y, table, impossible)

    def _unique_marginals(self, P, Y, table, impossible):
        out = np.empty(Y.shape + (table.shape[1],))
        for a in range(0, Y.shape[0], self.batch_size):
            w = table[Y[a : a + self.batch_size]]
            vals, _, _ = P._all_site_values(w, w)
            m = np.clip(vals * w, 0.0, None)
            norm = m.sum(axis=2, keepdims=True)
            bad = np.flatnonzero(~np.all(norm[:, :, 0] > 0, axis=1))
            if bad.size and impossible == "raise":
                raise ValueError(f"Y holds configurations of probability zero at this time (e.g. "
                                 f"{Y[a + bad[0]].tolist()}): their posterior is undefined")
            m[bad], norm[bad] = 1.0, table.shape[1]
            out[a : a + self.batch_size] = m / norm
        return out
