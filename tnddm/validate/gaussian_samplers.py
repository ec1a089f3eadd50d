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
- accel_sde, accel_ode: the accelerated stochastic and deterministic samplers of Li, Huang, Efimov,
  Wei, Chi and Chen (arXiv:2403.03852, ICML 2024; first announced in Li, Wei, Chen and Chi,
  arXiv:2306.09251 v1), in their discrete notation with bar-alpha_t = a_t^2 on our grid
  (see accel_sde_step and accel_ode_step). The hyphenated names accel-sde / accel-ode still work for one
  release, with a DeprecationWarning.
The output x_delta is rounded to spins (x > 0 -> state 1) and compared with pi.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_time_grid
from .._deprecation import alias
from ..divergences import empirical_tv
from ..gaussian import GaussianDiffusion
from ..goodness_of_fit import config_index
from ..rng import as_generator

GAUSSIAN_SAMPLERS = ("ddpm", "ode", "euler_maruyama", "rademacher", "accel_sde", "accel_ode")
#: deprecated spellings (one release): old name -> name
GAUSSIAN_ALIASES = {"accel-sde": "accel_sde", "accel-ode": "accel_ode"}


def gaussian_sampler_name(name, allowed=GAUSSIAN_SAMPLERS, what: str = "sampler") -> str:
    """The one options check of the Gaussian sampler names: `name` in `allowed` (deprecated aliases mapped)."""
    name = alias(GAUSSIAN_ALIASES, name, "the Gaussian sampler name")
    if not isinstance(name, str) or name not in allowed:
        raise ValueError(f"{what} must be one of {tuple(allowed)}; got {name!r}")
    return name


def vp_grid(steps: int, T: float = 1.0, delta: float = 1e-3) -> np.ndarray:
    """steps + 1 uniform times from T down to delta (> 0: b_0 = 0 is singular)."""
    if int(steps) != steps or steps < 1 or not 0 < delta < T:
        raise ValueError(f"need steps >= 1 and 0 < delta < T; got steps = {steps}, delta = {delta}, T = {T}")
    from .._memory import check_allocation
    from .grids import grid_bytes

    check_allocation(grid_bytes(int(steps)), f"a time grid of {int(steps)} steps")
    return np.linspace(T, delta, int(steps) + 1)


def li_grid(steps: int, c0: float = 2.0, c1: float = 4.0, schedule: object = None) -> np.ndarray:
    """steps + 1 decreasing times of a learning-rate schedule of the form used in the theory of Li, Wei, Chen, Chi
    (arXiv:2306.09251) and Li et al. (arXiv:2403.03852). With L = K + 1 noise levels for K steps:

        1 - alpha_1 = L^(-c0),  1 - alpha_{k+1} = (c1 log L / L) min(L^(-c0) (1 + c1 log L / L)^k, 1),

    bar-alpha_k = prod_{j <= k} alpha_j, and time t_k solves sigma(t_k) = -log bar-alpha_k for the VP
    schedule (default DDPM's linear beta from 0.1 to 20 on [0, 1]), k = 1..L. Returned from the noisiest
    time t_L down to t_1 > 0, which plays the role of delta.

    Unverified: this formula was transcribed from memory of the papers and has not been checked against
    their text (not available here). Their theory only asks c0 and c1 to be large enough; c0 = 2, c1 = 4
    are a choice. What could be checked is the authors' code (github.com/TimofeyEfimov/AcceleratedDiffusionSamplers):
    its experiments do not use this schedule but DDPM's discrete linear betas (1e-4 to 0.02, 1000 steps)
    with the DDIM code base's 'uniform' or 'quad' time skipping; see quad_grid.

    Args:
        steps: number of steps K >= 2.
        c0: exponent of the first step 1 - alpha_1 = (K + 1)^(-c0), > 0.
        c1: growth constant, > 0 with c1 log(K + 1) / (K + 1) < 1.
        schedule: the VP schedule that maps bar-alpha to time (tnddm.noise Schedule; Linear(0.1, 20, 1) by default).
    """
    from ..noise import Linear

    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer >= 2; got {steps!r}")
    if not c0 > 0 or not c1 > 0:
        raise ValueError(f"c0 and c1 must be > 0; got c0 = {c0}, c1 = {c1}")
    K = int(steps) + 1  # the papers' number of noise levels, L = steps + 1
    r = c1 * np.log(K) / K
    one_minus = np.empty(K)
    one_minus[0] = K ** (-c0)
    one_minus[1:] = r * np.minimum(K ** (-c0) * (1 + r) ** np.arange(1, K), 1.0)
    if np.any(one_minus >= 1):
        raise ValueError(f"c1 log K / K must be < 1 for a valid schedule; got {r:.3g} (lower c1 or raise steps)")
    sig = np.cumsum(-np.log1p(-one_minus))  # -log bar-alpha_k, increasing in k
    sched = schedule if schedule is not None else Linear(0.1, 20.0, 1.0)
    from scipy.optimize import brentq

    def invert(target):
        hi = 1.0
        while sched.sigma(hi) < target:
            hi *= 2
        return brentq(lambda t: float(sched.sigma(t)) - target, 0.0, hi, xtol=1e-15, rtol=1e-14)

    return np.array([invert(v) for v in sig[::-1]])


def quad_grid(steps: int, T: float = 0.8, delta: float = 1e-3) -> np.ndarray:
    """steps + 1 times delta + T (k / steps)^2, k = steps..0: quadratic time skipping, as in the code of Li et al.
    (arXiv:2403.03852; github.com/TimofeyEfimov/AcceleratedDiffusionSamplers, runners/diffusion.py, skip_type
    'quad', inherited from the DDIM code base), which its CIFAR-10 runs of the accelerated samplers use.

    There the grid is the set of indices int(linspace(0, sqrt(0.8 n), K)^2) of DDPM's n = 1000 discrete
    steps (linear betas 1e-4 to 0.02; index i has bar-alpha_i = prod_{j <= i} (1 - beta_j)), and the last
    step goes from index 0 to bar-alpha = 1. Here it is written in continuous time on tnddm's VP schedule
    Linear(0.1, 20, 1) (DDPM's betas as n -> infinity): index i -> time (i + 1) / n, so the grid runs from
    0.8 + delta down to delta = 1 / n. Differences from the authors' code: no integer truncation (at n = 1000
    it repeats indices beyond 28 steps), continuous instead of discrete bar-alpha (-log bar-alpha differs by
    up to 10 % at the first indices, under 1 % from index 100 on), and the run stops at delta (their last
    step, to bar-alpha = 1, needs the data-end step that the VP samplers here replace by early stopping).
    The authors' other option, 'uniform' (every (n // K)-th index), is tnddm's uniform grid vp_grid up to
    its start time.
    """
    if int(steps) != steps or steps < 1 or not 0 < delta or not T > 0:
        raise ValueError(f"need steps >= 1, T > 0 and delta > 0; got steps = {steps}, T = {T}, delta = {delta}")
    k = np.arange(int(steps), -1, -1)
    return delta + T * (k / int(steps)) ** 2


# The VP time grids by name (tnddm validate --noise gaussian --grid NAME): steps -> decreasing times.
GAUSSIAN_GRIDS = {"uniform": lambda steps, delta=1e-3: vp_grid(steps, delta=delta),
                  "li": lambda steps, delta=None: li_grid(steps),
                  "quad": lambda steps, delta=1e-3: quad_grid(steps, delta=delta)}


def accel_sde_step(x, score_fn, alpha: float, rng) -> np.ndarray:
    """One step of the accelerated stochastic sampler (Li et al., arXiv:2403.03852; the maps Phi_t, Psi_t as
    stated by the authors in their code repository, the paper's equation number not checked here):

        Y_t^+ = Phi_t(Y_t, Z_t)     = Y_t + sqrt((1 - alpha_t) / 2) Z_t,
        Y_t-1 = Psi_t(Y_t^+, Z_t^+) = (Y_t^+ + (1 - alpha_t) s_t(Y_t^+)) / sqrt(alpha_t) + sqrt((1 - alpha_t) / 2) Z_t^+,

    Z_t, Z_t^+ iid standard normal, s_t the score of X_t evaluated at the noisier point Y_t^+, and
    alpha_t = bar-alpha_t / bar-alpha_{t-1} = (a_t / a_s)^2 for a step from time t to s on our grid.
    score_fn(y) must return s_t(y).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1]; got {alpha}")
    c = np.sqrt((1.0 - alpha) / 2.0)
    y = x + c * rng.standard_normal(x.shape)
    return (y + (1.0 - alpha) * score_fn(y)) / np.sqrt(alpha) + c * rng.standard_normal(x.shape)


def accel_ode_step(x, eps, eps_prev, coef, coef_next, coef_prev) -> np.ndarray:
    """One step of the accelerated deterministic sampler (Li et al., arXiv:2403.03852; rule as stated by
    the authors in their code repository), with bar-alpha = a^2 and the noise prediction
    eps_t(x) = -sqrt(1 - bar-alpha_t) s_t(x) = (x - a_t m) / b_t:

        X(bar-a_{t-1}) = X(bar-a_t) / sqrt(alpha_t) + (sqrt(1 - bar-a_{t-1}) - sqrt(1 - bar-a_t) / sqrt(alpha_t)) eps_t(X_t)
            + sqrt(bar-a_{t-1}) / (bar-a_t - bar-a_{t+1})
              * (bar-a_t sqrt(1 - bar-a_{t-1}) / sqrt(bar-a_{t-1}) + arcsin sqrt(bar-a_{t-1})
                 - bar-a_t sqrt(1 - bar-a_t) / sqrt(bar-a_t) - arcsin sqrt(bar-a_t)) (eps_{t+1}(X_{t+1}) - eps_t(X_t)).

    The first line is DDIM (= the ode sampler); the second integrates the probability-flow ODE
    d(x / a)/d(b / a) = eps exactly with eps linear in bar-alpha through the current and the previous
    grid point (second order). coef = (a_t, b_t), coef_next = (a_s, b_s) of the target time s,
    coef_prev = (a, b) of the previous (noisier) grid time, eps_prev the noise prediction there; with
    eps_prev = None (first step) the step is DDIM. arcsin(a_s) - arcsin(a_t) is evaluated as
    arctan(b_t / a_t) - arctan(b_s / a_s) (the same number, no cancellation near a = 1).
    """
    (a, b), (a2, b2) = coef, coef_next
    x_next = (a2 / a) * x + (b2 - a2 * b / a) * eps
    if eps_prev is None:
        return x_next
    a0 = coef_prev[0]
    abar, abar0 = a**2, a0**2
    bracket = abar * (b2 / a2 - b / a) + (np.arctan(b / a) - np.arctan(b2 / a2))
    return x_next + a2 / (abar - abar0) * bracket * (eps_prev - eps)


def run_gaussian(name: str, gd: GaussianDiffusion, n: int, times, seed=None, noise_scale: float = 1.0,
                 exact_start: bool = True, start=None) -> np.ndarray:
    """Run a Gaussian sampler on the decreasing grid; return the continuous end points x_delta (n, N).

    exact_start: x_T ~ p_T exactly (else standard normal, the VP prior).
    start: given starting points x_T (n, N) instead (n is then ignored); with the same start and seed two
    grids are coupled (common x_T and, for Euler-Maruyama-type samplers, see coupled_end_points).
    """
    name = gaussian_sampler_name(name)
    times = check_time_grid(times, final_positive=True)
    rng = as_generator(seed)
    if start is not None:
        x = np.array(start, dtype=float, ndmin=2)
        if x.ndim != 2 or x.shape[1] != gd.n_sites or not np.all(np.isfinite(x)):
            raise ValueError(f"start must be a finite array of shape (n, {gd.n_sites}); got {np.shape(start)}")
    else:
        x = gd.marginal(times[0]).sample(n, seed=rng, compute_log_prob=False)[0] if exact_start \
            else rng.standard_normal((n, gd.n_sites))
    step = _GAUSSIAN_STEPS[name]
    state = {"gd": gd, "rng": rng, "noise_scale": noise_scale, "prev": None}  # prev: accel_ode's last (coef, eps)
    for t, s in zip(times[:-1], times[1:]):
        x = step(state, x, t, s)
    return x


def _ddpm(state, x, t, s):
    mean, std = gaussian_step("ddpm", state["gd"], x, t, s)
    return mean + std * state["rng"].standard_normal(x.shape)


def _ode(state, x, t, s):
    gd = state["gd"]
    (a, b), (a2, b2) = gd.coefficients(t), gd.coefficients(s)
    m = gd.posterior_mean(x, t)
    return a2 * m + b2 * (x - a * m) / b


def _accel_sde(state, x, t, s):
    gd = state["gd"]
    a, a2 = gd.coefficients(t)[0], gd.coefficients(s)[0]
    return accel_sde_step(x, lambda y: gd.score(y, t), (a / a2) ** 2, state["rng"])


def _accel_ode(state, x, t, s):
    gd, prev = state["gd"], state["prev"]
    (a, b), (a2, b2) = gd.coefficients(t), gd.coefficients(s)
    eps = (x - a * gd.posterior_mean(x, t)) / b
    x_new = accel_ode_step(x, eps, None if prev is None else prev[1], (a, b), (a2, b2), None if prev is None else prev[0])
    state["prev"] = ((a, b), eps)
    return x_new


def _euler_maruyama(state, x, t, s, xi=None):
    mean, std = gaussian_step("euler_maruyama", state["gd"], x, t, s)
    return mean + std * (state["rng"].standard_normal(x.shape) if xi is None else xi)


def _rademacher(state, x, t, s):
    xi = state["noise_scale"] * (2.0 * state["rng"].integers(0, 2, size=x.shape) - 1)
    return _euler_maruyama(state, x, t, s, xi)


#: the Gaussian samplers by name: step(state, x_t, t, s) -> x_s (module docstring)
_GAUSSIAN_STEPS = {"ddpm": _ddpm, "ode": _ode, "euler_maruyama": _euler_maruyama, "rademacher": _rademacher,
                   "accel_sde": _accel_sde, "accel_ode": _accel_ode}
assert tuple(_GAUSSIAN_STEPS) == GAUSSIAN_SAMPLERS


def gaussian_step(name: str, gd: GaussianDiffusion, x, t: float, s: float):
    """(mean, std) of the Gaussian step x_s ~ N(mean, std^2 I) from x_t = x (module docstring):
    ddpm: mean = a'(1 - alpha^2)/b^2 m + alpha b'^2/b^2 x, std = b' sqrt(1 - alpha^2) / b;
    euler_maruyama: mean = x + h (beta x / 2 + beta score), std = sqrt(beta h)."""
    a, b = gd.coefficients(t)
    a2, b2 = gd.coefficients(s)
    if name == "ddpm":
        alpha2 = (a / a2) ** 2
        m = gd.posterior_mean(x, t)
        return a2 * (1 - alpha2) / b**2 * m + (a / a2) * b2**2 / b**2 * x, float(np.sqrt(b2**2 * (1 - alpha2)) / b)
    if name == "euler_maruyama":
        h, beta = t - s, float(gd.schedule.beta(t))
        return x + h * (0.5 * beta * x + beta * gd.score(x, t)), float(np.sqrt(beta * h))
    raise ValueError(f"sampler must be 'ddpm' or 'euler_maruyama' (Gaussian steps); got {name!r}")


def _forward_kernel(gd: GaussianDiffusion, t: float, s: float) -> tuple[float, float]:
    """(a_t / a_s, sqrt(b_t^2 - (a_t / a_s)^2 b_s^2)): the exact noising step x_t = ratio x_s + std z."""
    (a, b), (a2, b2) = gd.coefficients(t), gd.coefficients(s)
    return a / a2, float(np.sqrt(b**2 - (a / a2) ** 2 * b2**2))


def _log_normal(y, mean, std) -> np.ndarray:
    """sum_i log N(y_i; mean_i, std^2) per row."""
    return (-0.5 * ((y - mean) / std) ** 2).sum(axis=1) - y.shape[1] * (np.log(std) + 0.5 * np.log(2 * np.pi))


def gaussian_path_kl(name: str, gd: GaussianDiffusion, n: int, times, seed=None, direction: str = "sampler_exact") -> dict:
    """Monte Carlo path KL on the grid between a sampler with Gaussian steps (ddpm, euler_maruyama) and
    the exact reverse process, both started from x_T ~ p_T; returns {"kl", "stderr", "n"}.

    The exact path law read forwards: p(path) = p_T(x_T) prod_k p(x_s | x_t)
      = p_{t_K}(x_K) prod_k K(x_t | x_s),  K(x_t | x_s) = N(x_t; (a_t / a_s) x_s, b_t^2 - (a_t / a_s)^2 b_s^2),
    with log p_t exact from the oracle; the sampler's path law is q(path) = p_T(x_T) prod_k N(x_s; mean_k, std_k^2).
    sampler_exact: E_q[log q - log p] over the sampler's paths; exact_sampler: E_p[log p - log q] over
    exact paths (x_{t_K} ~ p_{t_K}, then noised up the grid). Deterministic or Rademacher samplers have
    no path density: their path KL is infinite and is not defined here.
    """
    name = gaussian_sampler_name(name, ("ddpm", "euler_maruyama"), "path KL needs a sampler with Gaussian steps:")
    if direction not in ("sampler_exact", "exact_sampler"):
        raise ValueError(f"direction must be 'sampler_exact' or 'exact_sampler'; got {direction!r}")
    times = check_time_grid(times, final_positive=True)
    rng = as_generator(seed)
    steps = list(zip(times[:-1], times[1:]))
    kernels = [_forward_kernel(gd, t, s) for t, s in steps]  # x_t = ratio x_s + std z
    log_q_minus_p = 0.0
    if direction == "sampler_exact":  # down the grid with the sampler
        x_T = x = gd.marginal(times[0]).sample(n, seed=rng, compute_log_prob=False)[0]
        for (t, s), (ratio, std_f) in zip(steps, kernels):
            mean, std = gaussian_step(name, gd, x, t, s)
            x_s = mean + std * rng.standard_normal(mean.shape)
            log_q_minus_p = log_q_minus_p + _log_normal(x_s, mean, std) - _log_normal(x, ratio * x_s, std_f)
            x = x_s
        x_end = x
    else:  # up the grid with the exact forward process
        x_end = x_s = gd.marginal(times[-1]).sample(n, seed=rng, compute_log_prob=False)[0]
        for (t, s), (ratio, std_f) in zip(steps[::-1], kernels[::-1]):
            x = ratio * x_s + std_f * rng.standard_normal(x_s.shape)
            mean, std = gaussian_step(name, gd, x, t, s)
            log_q_minus_p = log_q_minus_p + _log_normal(x_s, mean, std) - _log_normal(x, ratio * x_s, std_f)
            x_s = x
        x_T = x_s
    log_q_minus_p = log_q_minus_p + gd.log_prob(x_T, times[0]) - gd.log_prob(x_end, times[-1])
    diff = log_q_minus_p if direction == "sampler_exact" else -log_q_minus_p
    return {"kl": float(diff.mean()), "stderr": float(diff.std(ddof=1) / np.sqrt(n)), "n": int(n)}


def sample_gaussian(name: str, gd: GaussianDiffusion, n: int, times, seed=None, noise_scale: float = 1.0,
                    exact_start: bool = True) -> np.ndarray:
    """Run a Gaussian sampler on the decreasing grid; return rounded states (n, N) in {0, 1} (x > 0 -> 1).

    exact_start: x_T ~ p_T exactly (else standard normal, the VP prior).
    """
    return (run_gaussian(name, gd, n, times, seed, noise_scale, exact_start) > 0).astype(np.int64)


def _one_spin_cdf(gd: GaussianDiffusion, t, x):
    """CDF of p_t for a one-site model: sum_s pi(s) Phi((x - a_t s) / b_t)."""
    from scipy.stats import norm

    pi = gd.model.to_dense()
    a, b = gd.coefficients(t)
    return pi[0] * norm.cdf((x + a) / b) + pi[1] * norm.cdf((x - a) / b)


def _one_spin_quantile(gd, t, u, iters: int = 200):
    """Inverse of _one_spin_cdf by vectorised bisection."""
    lo, hi = np.full(np.shape(u), -12.0), np.full(np.shape(u), 12.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = _one_spin_cdf(gd, t, mid) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def deterministic_law_error(name: str, gd: GaussianDiffusion, times: np.ndarray, n_quantiles: int = 4000) -> dict:
    """Exact errors in law of a deterministic sampler (ode, accel_ode) on a ONE-site spin model.

    The sampler is a monotone map Phi of x_T ~ p_T; in one dimension the output law is Phi#p_T and
      rounded: |P(Phi(x_T) > 0) - P_delta(x > 0)|, with P(Phi(x_T) > 0) = 1 - F_T(x*), Phi(x*) = 0 (bisection);
      w1:      W1(Phi#p_T, p_delta) = int_0^1 |Phi(F_T^-1(u)) - F_delta^-1(u)| du (midpoint rule in u),
    both deterministic (no sampling noise), with F_t the exact CDF of the two-Gaussian mixture p_t.
    A map that is not monotone (coarse accel_ode grids) is handled for "rounded" by locating every sign
    change of Phi; "w1" then uses the quantile coupling, an upper bound.

    Args:
        name: "ode" or "accel_ode".
        gd: GaussianDiffusion of a one-site model.
        times: decreasing grid from T to delta > 0.
        n_quantiles: quantile points of the midpoint rule.

    Returns:
        dict with "rounded", "w1" and "monotone" (whether the sampled map is increasing).
    """
    name = gaussian_sampler_name(name, ("ode", "accel_ode"), "the exact law error needs a deterministic sampler:")
    if gd.n_sites != 1:
        raise ValueError(f"the exact law error needs a one-site model; got n_sites = {gd.n_sites}")
    times = np.asarray(times, dtype=float)
    T, delta = times[0], times[-1]
    u = (np.arange(n_quantiles) + 0.5) / n_quantiles
    xT = _one_spin_quantile(gd, T, u)
    out = run_gaussian(name, gd, 0, times, start=xT[:, None])[:, 0]
    w1 = float(np.mean(np.abs(out - _one_spin_quantile(gd, delta, u))))
    monotone = bool(np.all(np.diff(out) > 0))
    pos = out > 0  # {Phi > 0} is a union of intervals whose ends are the roots between quantile points
    p_plus = 0.0
    edges = [(-np.inf, pos[0])]
    for j in np.flatnonzero(pos[1:] != pos[:-1]):
        lo, hi = xT[j], xT[j + 1]
        for _ in range(5):  # 64 points per pass: the bracket shrinks 65^5 ~ 1e9 times
            pts = np.linspace(lo, hi, 66)[1:-1]
            vals = run_gaussian(name, gd, 0, times, start=pts[:, None])[:, 0] > 0
            k = int(np.argmax(vals != pos[j])) if np.any(vals != pos[j]) else pts.size
            lo, hi = (pts[k - 1] if k > 0 else lo), (pts[k] if k < pts.size else hi)
        edges.append((0.5 * (lo + hi), pos[j + 1]))
    ends = [e for e, _ in edges[1:]] + [np.inf]
    for (start, positive), end in zip(edges, ends):
        if positive:
            p_plus += float(_one_spin_cdf(gd, T, end) - _one_spin_cdf(gd, T, start))
    return {"rounded": abs(p_plus - (1.0 - float(_one_spin_cdf(gd, delta, 0.0)))), "w1": w1, "monotone": monotone}


def rounded_tv(samples, pi_dense) -> float:
    """TV between the empirical law of rounded samples and the exact law pi (enumerable N)."""
    return empirical_tv(samples, pi_dense, 2)


def l2_error(samples, pi_dense) -> tuple[float, float]:
    """Unbiased estimate of the squared L2 distance ||q - pi||_2^2 = sum_x (q(x) - pi(x))^2 between the
    law q of the samples and the exact law pi, with a (conservative, plug-in) standard error.

    The U-statistic U = sum_x c_x (c_x - 1) / (n (n - 1)) - 2 sum_x e_x pi(x) + sum_x pi(x)^2, with counts c_x
    and frequencies e_x = c_x / n, has E[U] = ||q - pi||^2 exactly (E[c_x (c_x - 1)] = n (n - 1) q_x^2), so,
    unlike the TV of the empirical law, it has no noise floor (it is near 0, possibly negative, when q = pi).
    Var(U) = 4 (n - 2) zeta_1 / (n (n - 1)) + 2 zeta_2 / (n (n - 1)) (Hoeffding 1948), with
    zeta_1 = Var_q(q_X - pi_X) and zeta_2 <= sum_x q_x^2, both estimated by plugging in e (which overestimates).
    """
    pi_dense = np.asarray(pi_dense, dtype=float)
    codes = config_index(samples, 2)
    n = len(codes)
    if n < 2:
        raise ValueError(f"samples must hold at least 2 configurations; got {n}")
    if pi_dense.shape != (2 ** np.shape(samples)[1],):
        raise ValueError(f"pi_dense must have one entry per configuration ({2 ** np.shape(samples)[1]}); got {pi_dense.shape}")
    c = np.bincount(codes, minlength=pi_dense.size).astype(float)
    e = c / n
    u = float(c @ (c - 1) / (n * (n - 1)) - 2 * e @ pi_dense + pi_dense @ pi_dense)
    d = e - pi_dense
    zeta1 = max(float(e @ d**2 - (e @ d) ** 2), 0.0)
    var = 4 * (n - 2) * zeta1 / (n * (n - 1)) + 2 * float(e @ e) / (n * (n - 1))
    return u, float(np.sqrt(var))

