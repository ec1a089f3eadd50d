"""Approximate reverse-time samplers of discrete diffusion, written against a score oracle only.

Notation: a step goes from t to s < t, h = t - s; R_{i,b} = R_t(x -> x^{i<-b}) are the reverse rates
from the oracle, Lambda_i = sum_b R_{i,b}. Product-form samplers update every site independently
with a per-site kernel q_i(b | x) (the function `kernel`), so their step log-probabilities are exact
and path KL is defined:

- euler (Campbell et al. 2022, NeurIPS, "A continuous time framework for discrete denoising
  models"; Lou et al. 2024, SEDD): q_i(b) = h R_{i,b} (b != x_i), q_i(x_i) = 1 - h Lambda_i;
  negative probabilities are clipped to 0 and renormalised, and the clip events counted.
- tau_leaping (Campbell et al. 2022, categorical form): independent Poisson(h R_{i,b}) jump counts;
  exactly one jump moves to b, zero or several jumps leave x_i (multiple jumps rejected):
  q_i(b) = h R_{i,b} e^{-h Lambda_i}.
- tau_leaping_ordinal (Campbell et al. 2022, ordinal form): x_i + sum_b n_b (b - x_i), clamped to
  0..d-1 (Poisson counts truncated at 12 per target, enough for h R < 1).
- exponential_euler (first jump with frozen rates): q_i(b) = (1 - e^{-h Lambda_i}) R_{i,b} / Lambda_i.
- tweedie (Lou et al. 2024, SEDD "Tweedie tau-leaping"): q_i(b) ∝ [exp(-(sigma_t - sigma_s) Q) s_t(x)_{i,.}]_b
  K_{t|s}[x_i, b], the exact per-site marginals of the reverse kernel when the score is exact.
- masked (MDLM, Sahoo et al. 2024; MD4, Shi et al. 2024, ancestral form, mask noise only): an
  unmasked site stays; a masked site unmasks with probability (alpha_s - alpha_t) / (1 - alpha_t),
  alpha = e^{-rate sigma}, to b with the denoiser P(x_0^i = b | x_t) = (1 - alpha_t) / alpha_t s_t(x)_{i,b}.
Two-stage and event-driven samplers:
- theta_trapezoidal (Ren, Chen, Rotskoff, Ying 2025, "Fast solvers for discrete diffusion models"):
  stage 1: exponential-Euler with R_t(x) for time theta h, giving x*; stage 2: rates
  (alpha_1 R_{t - theta h}(x*) - alpha_2 R_t(x))_+ for time (1 - theta) h from x*, with
  alpha_1 = 1 / (2 theta (1 - theta)), alpha_2 = ((1 - theta)^2 + theta^2) / (2 theta (1 - theta)).
- uniformization (Chen and Ying 2024, "Convergence analysis of discrete diffusion model: exact
  implementation through uniformization"): on each grid interval a Poisson(lambda h) number of
  candidate events at uniform times; at an event at time u the walker jumps with probability
  R_u / lambda. Exact in law when lambda bounds the total rate on the interval (lambda is
  `safety` times the largest total rate of the batch at the interval's start, middle and end; events whose total rate
  exceeds lambda are counted as bound violations: the law is exact when there are none).
- first_hitting (Zheng et al. 2024, "Masked diffusion models are secretly time-agnostic masked
  models"): with m masked sites at time t, the next unmasking time tau solves
  ((1 - alpha_tau) / (1 - alpha_t))^m = U; one uniformly chosen masked site is unmasked there from
  the denoiser. Exact in law with an exact oracle.
"""
from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import poisson

from .._checks import check_nonnegative_int, check_time_grid
from .._deprecation import states_first, warn_deprecated
from .._memory import check_allocation
from ..noise import Mask
from ..rng import as_generator
from .oracle import ScoreOracle, _time_first

PRODUCT_SAMPLERS = ("euler", "tau_leaping", "tau_leaping_ordinal", "exponential_euler", "tweedie", "masked")
SAMPLERS = PRODUCT_SAMPLERS + ("theta_trapezoidal", "uniformization", "first_hitting", "exact_kernel")


def sampler_name(name, allowed=SAMPLERS, what: str = "or a callable kernel(X, t, s)"):
    """The one options check of sampler names: a name in `allowed`, or a callable (a user kernel)."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in allowed:
        raise ValueError(f"sampler must be one of {tuple(allowed)} {what}; got {name!r}")
    return name


@dataclass
class SamplerResult:
    """Final states, optional grid path (n, K + 1, N), its log-probability under the sampler, counters."""

    samples: np.ndarray
    path: np.ndarray | None
    log_q: np.ndarray | None
    times: np.ndarray
    score_evaluations: int
    counters: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        path = "None" if self.path is None else f"{self.path.shape}"
        return (f"SamplerResult(samples {self.samples.shape}, path {path}, steps={len(self.times) - 1}, "
                f"score_evaluations={self.score_evaluations})")


def _jump_kernel(X, jump_probs):
    """Per-site kernel with move probabilities jump_probs (n, N, d) (0 at x_i) and the rest on x_i."""
    q = jump_probs.copy()
    np.put_along_axis(q, X[:, :, None], 0.0, axis=2)
    stay = 1.0 - q.sum(axis=2)
    np.put_along_axis(q, X[:, :, None], stay[:, :, None], axis=2)
    return q


def _exp_jump(R, tau):
    lam = R.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(lam > 0, -np.expm1(-tau * lam) / lam, tau)
    return R * frac


def is_product(name) -> bool:
    """True for a product-form sampler: a built-in name in PRODUCT_SAMPLERS or a user kernel (a callable)."""
    return callable(name) or (isinstance(name, str) and name in PRODUCT_SAMPLERS)


def sampler_bytes(n: int, n_sites: int, d_out: int, n_times: int, keep_path: bool = False) -> int:
    """Estimated peak bytes of sample(): per step the per-site kernel (n, N, d_out) with its temporaries
    and the states; with keep_path also every state on the grid (kept, then stacked)."""
    step = int(n) * int(n_sites) * (6 * 8 * int(d_out) + 24) + 24 * int(n)
    return step + (2 * 8 * int(n) * int(n_sites) * int(n_times) if keep_path else 0)


def sampler_label(name) -> str:
    """A printable name of a built-in sampler or a user kernel."""
    return name if isinstance(name, str) else getattr(name, "__name__", type(name).__name__)


def check_kernel_output(q, X, d_out: int | None, label: str = "kernel") -> np.ndarray:
    """Validate a user kernel's output: shape (n, N, d_out), finite, non-negative, rows summing to 1."""
    try:
        q = np.asarray(q, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must return a real array of shape (n, N, d); got {type(q).__name__}") from None
    want = X.shape + ((d_out,) if d_out is not None else ())
    if q.ndim != 3 or q.shape[: len(want)] != want:
        raise ValueError(f"{label}(X, t, s) must return shape {X.shape + (d_out if d_out else 'd',)}; got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{label}(X, t, s) must return finite non-negative probabilities")
    if np.any(np.abs(q.sum(axis=2) - 1.0) > 1e-9):
        raise ValueError(f"{label}(X, t, s) must return per-site probabilities summing to 1 over the last axis")
    return q


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
#: user kernel (its function for a bound method) -> True when written in the old order (t, s, X); weak keys
_OLD_ORDER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _user_stacklevel() -> int:
    """stacklevel of warn_deprecated, called from the caller of this function, that points at the first frame
    outside the tnddm package (the user's call of output_law, sample, ...)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level + 1


def is_old_order_kernel(fn) -> bool:
    """True for a user kernel written in the deprecated order (t, s, X); warns the first time (see call_user_kernel)."""
    key = getattr(fn, "__func__", fn)  # a bound method is a new object at every attribute access
    try:
        return _OLD_ORDER[key]
    except (KeyError, TypeError):
        pass
    old = _time_first(fn)
    if old:
        label = sampler_label(fn)
        label = label if label.isidentifier() else "kernel"
        warn_deprecated(f"the user kernel argument order {label}(t, s, X)",
                        f"{label}(X, t, s), states first as in Diffusion.score(X, t): reorder its parameters, "
                        f"e.g. `def {label}(X, t, s):` or `lambda X, t, s: ...`", stacklevel=_user_stacklevel())
    try:
        _OLD_ORDER[key] = old
    except TypeError:  # not weakly referenceable: inspected (and warned about) at every call
        pass
    return old


def call_user_kernel(fn, X, t: float, s: float):
    """Call the user kernel `fn` for the step t -> s from the states X (n, N): fn(X, t, s) -> (n, N, d_out).

    The one place user kernels are invoked. The protocol is kernel(X, t, s), states first as everywhere in
    tnddm (Diffusion.score(X, t)). The old order kernel(t, s, X) is deprecated and still works for one
    release, by this rule (the one of CallableOracle's score_fn): a kernel whose signature
    (inspect.signature) has a first positional parameter named `t` (or `time`) (``def k(t, s, X)``,
    ``lambda t, s, X: ...``, ``__call__(self, t, s, X)``) is called as fn(t, s, X), with a DeprecationWarning
    saying how to rewrite it, once per kernel (per function for bound methods; kernels that cannot be weakly
    referenced warn at every call). Every other kernel, including one whose signature cannot be inspected or
    that takes only *args, is called in the new order fn(X, t, s).
    """
    if is_old_order_kernel(fn):
        return fn(t, s, X)
    return fn(X, t, s)


def kernel(name, oracle: ScoreOracle | None, X, t: float, s: float, counters: dict | None = None,
           score=None) -> np.ndarray:
    """Per-site transition probabilities q[n, i, b] = q_i(b | x) of a product-form sampler's step t -> s.

    States first, as everywhere in tnddm. The old order kernel(name, oracle, t, s, X) still works for one
    release, with a DeprecationWarning (detected by type: see tnddm._deprecation.states_first).

    Args:
        name (str | callable): a name in PRODUCT_SAMPLERS, or a user kernel `kernel(X, t, s) -> (n, N, d_out)` (product
            form: q(x' | x) = prod_i q[., i, x'_i]; called by call_user_kernel, which also takes the deprecated
            order kernel(t, s, X)); its output is checked, the oracle is not used.
        oracle (ScoreOracle | None): the score oracle of the built-in samplers (None allowed for a user kernel).
        X (array): states at time t, (n, N).
        t (float): start of the step t -> s.
        s (float): end of the step, s < t.
        counters (dict | None): event counters (Euler clip events).
        score (array | None): the oracle's s_t(X) when already evaluated (several samplers on one batch share it).
    """
    X, t, s = states_first(X, t, s, where="tnddm.validate.kernel", before="name, oracle, ")
    X = np.asarray(X)
    if callable(name):
        return check_kernel_output(call_user_kernel(name, X, t, s), X, None if oracle is None else oracle.d_out,
                                   sampler_label(name))
    return _PRODUCT_KERNELS[sampler_name(name, PRODUCT_SAMPLERS, "for a product-form step")](oracle, t, s, X, counters,
                                                                                             score)


def _tweedie_kernel(oracle, t, s, X, counters, score):
    return oracle.denoiser_marginals(X, t, s, score=score)


def _masked_kernel(oracle, t, s, X, counters, score):
    noise = oracle.noise
    if not isinstance(noise, Mask):
        raise ValueError("the masked sampler needs tnddm.noise.Mask noise")
    a_t, a_s = _mask_alpha(noise, t), _mask_alpha(noise, s)
    m = noise.mask_state
    # the denoiser (1 - a_t) / a_t s_t(x)_{i,b}, normalised (the factor cancels; no overflow at large t)
    denoise = np.clip(oracle.score(X, t) if score is None else score, 0.0, None)
    denoise[:, :, m] = 0.0
    denoise /= np.maximum(denoise.sum(axis=2, keepdims=True), 1e-300)
    unmask = (a_s - a_t) / (1 - a_t)
    q = np.zeros(X.shape + (oracle.d_out,))
    np.put_along_axis(q, X[:, :, None], 1.0, axis=2)
    masked = X == m
    q[masked] = unmask * denoise[masked]
    q[masked, m] = 1 - unmask
    return q


def _euler_kernel(oracle, t, s, X, counters, score):
    q = _jump_kernel(X, (t - s) * oracle.reverse_rates(X, t, score=score))
    neg = q < 0
    if counters is not None:
        counters["clip_events"] = counters.get("clip_events", 0) + int(neg.any(axis=2).sum())
    q = np.clip(q, 0.0, None)
    return q / q.sum(axis=2, keepdims=True)


def _tau_leaping_kernel(oracle, t, s, X, counters, score):
    h, R = t - s, oracle.reverse_rates(X, t, score=score)
    return _jump_kernel(X, h * R * np.exp(-h * R.sum(axis=2, keepdims=True)))


def _exponential_euler_kernel(oracle, t, s, X, counters, score):
    return _jump_kernel(X, _exp_jump(oracle.reverse_rates(X, t, score=score), t - s))


def _tau_leaping_ordinal_kernel(oracle, t, s, X, counters, score):
    return _ordinal_kernel(X, (t - s) * oracle.reverse_rates(X, t, score=score))


#: product-form samplers by name: kernel(oracle, t, s, X, counters, score) -> q (n, N, d_out) (module docstring)
_PRODUCT_KERNELS = {"euler": _euler_kernel, "tau_leaping": _tau_leaping_kernel,
                    "tau_leaping_ordinal": _tau_leaping_ordinal_kernel, "exponential_euler": _exponential_euler_kernel,
                    "tweedie": _tweedie_kernel, "masked": _masked_kernel}


def _mask_alpha(noise, t) -> float:
    """alpha_t = exp(-rate sigma(t)): the probability that a site is still unmasked at time t."""
    return float(np.exp(-noise.rate * noise.sigma(t)))


def _ordinal_kernel(X, mean_jumps, max_count: int = 12):
    """Law of clamp(x + sum_b n_b (b - x)) with n_b ~ Poisson(mean_jumps[b]) independent."""
    n, N, d = mean_jumps.shape
    span = 2 * max_count * (d - 1)
    offsets = np.arange(-span, span + 1)
    dist = np.zeros((n, N, offsets.size))
    dist[:, :, span] = 1.0
    counts = np.arange(max_count + 1)
    for b in range(d):
        step = b - X  # displacement per jump to b, (n, N)
        pmf = poisson.pmf(counts[None, None, :], mean_jumps[:, :, b : b + 1])  # (n, N, K)
        new = np.zeros_like(dist)
        for k in counts:
            shift = (k * step)[:, :, None]
            idx = np.clip(np.arange(offsets.size)[None, None, :] - shift, 0, offsets.size - 1)
            moved = np.take_along_axis(dist, idx, axis=2)
            valid = (np.arange(offsets.size)[None, None, :] - shift >= 0) & (np.arange(offsets.size)[None, None, :] - shift < offsets.size)
            new += pmf[:, :, k : k + 1] * np.where(valid, moved, 0.0)
        dist = new
    q = np.zeros((n, N, d))
    target = np.clip(X[:, :, None] + offsets[None, None, :], 0, d - 1)
    for b in range(d):
        q[:, :, b] = (dist * (target == b)).sum(axis=2)
    return q / q.sum(axis=2, keepdims=True)


def draw_categorical(q, rng, precision=np.float64) -> np.ndarray:
    """One categorical draw per (sample, site) from q (n, N, d), inverse CDF in the given precision.

    precision=np.float32 reproduces the float32 categorical sampling of GPU code (cumulative sums
    and uniforms rounded to 24-bit mantissas), whose bias the examples measure.
    """
    c = np.cumsum(q.astype(precision), axis=2)
    u = rng.random(q.shape[:2], dtype=np.dtype(precision).type)[:, :, None] * c[:, :, -1:]
    return np.minimum((c <= u).sum(axis=2), q.shape[2] - 1)


def draw(q, rng, precision=np.float64) -> np.ndarray:
    """Deprecated name of draw_categorical (tnddm.mps.numerics.draw_from_weights is the sampling kernel's draw)."""
    warn_deprecated("tnddm.validate.samplers.draw", "draw_categorical")
    return draw_categorical(q, rng, precision)


def log_kernel(q, Xnext) -> np.ndarray:
    """log q(x' | x) = sum_i log q_i(x'_i | x) (-inf where impossible)."""
    with np.errstate(divide="ignore"):
        return np.log(np.take_along_axis(q, Xnext[:, :, None], axis=2)[..., 0]).sum(axis=1)


def prior(oracle: ScoreOracle) -> np.ndarray:
    """Starting law on one site: the noise's stationary law (uniform for flip, the mask for Mask)."""
    return oracle.noise.stationary()


def as_oracle(oracle, diffusion=None) -> ScoreOracle:
    """A ScoreOracle from an oracle, a Diffusion (its ExactOracle), or None (ExactOracle of `diffusion`)."""
    from ..diffusion import Diffusion
    from .oracle import ExactOracle

    if isinstance(oracle, ScoreOracle):
        return oracle
    if isinstance(oracle, Diffusion):
        return ExactOracle(oracle)
    if oracle is None and diffusion is not None:
        return ExactOracle(diffusion)
    raise ValueError(f"oracle must be a ScoreOracle or a tnddm.Diffusion; got {type(oracle).__name__}")


def sample(name, oracle: ScoreOracle, n: int, times, seed=None, keep_path: bool = False, theta: float = 0.5,
           safety: float = 2.0, start: str = "prior", precision=np.float64) -> SamplerResult:
    """Run sampler `name` on the decreasing grid `times`; returns a SamplerResult.

    name: a name in SAMPLERS or a user kernel `kernel(X, t, s) -> (n, N, d_out)` (product form).
    oracle: a ScoreOracle, or a Diffusion (its ExactOracle; enough for a user kernel).
    times[0] may be inf for a user kernel started from the prior.
    start="prior": x_T from the noise's stationary law (what a practitioner does); start="exact":
    x_T ~ P_T exactly (needs an ExactOracle), isolating the discretisation error.
    "exact_kernel" denoises with the exact reverse kernel (tnddm.Diffusion.denoise) on the grid.
    precision: float type of the categorical draws of product-form samplers (np.float32 or np.float64).
    """
    name = sampler_name(name)
    oracle = as_oracle(oracle)
    times = check_time_grid(times, first_inf=True)
    n = check_nonnegative_int(n, "n")
    n_times = 2 * len(times) - 1 if name == "theta_trapezoidal" else len(times)
    check_allocation(sampler_bytes(n, oracle.n_sites, oracle.d_out, n_times, keep_path),
                     f"sampler {sampler_label(name)}: {n} samples of {oracle.n_sites} sites on {len(times) - 1} steps"
                     + (" with their paths" if keep_path else ""))
    rng = as_generator(seed)
    start_evals = oracle.evaluations
    N = oracle.n_sites
    p0 = prior(oracle)
    product = is_product(name)
    exact_start = start == "exact" or name == "exact_kernel"
    if start not in ("prior", "exact"):
        raise ValueError(f"start must be 'prior' or 'exact'; got {start!r}")
    if exact_start and not hasattr(oracle, "diffusion"):
        raise ValueError("an exact start and the exact_kernel sampler need an ExactOracle")
    if exact_start:
        X, log_start = oracle.diffusion.marginal(times[0]).sample(n, seed=rng)
    else:
        X = draw_categorical(np.broadcast_to(p0, (n, N, p0.size)), rng)
        with np.errstate(divide="ignore"):
            log_start = np.log(p0[X]).sum(axis=1)
    counters: dict = {}
    log_q = log_start if product or name in ("theta_trapezoidal", "exact_kernel") else None
    path = [X] if keep_path else None
    step = _product_step if product else _INTERVAL_STEPS[name]
    options = {"theta": theta, "safety": safety, "precision": precision}
    for t, s in zip(times[:-1], times[1:]):
        X, lq, visited = step(name, oracle, t, s, X, rng, counters, options)
        if log_q is not None:
            log_q = log_q + lq
        if keep_path:
            path += visited
    grid = times if name != "theta_trapezoidal" else trapezoidal_grid(times, theta)
    return SamplerResult(X, np.stack(path, axis=1) if keep_path else None, log_q, grid,
                         oracle.evaluations - start_evals, counters)


# One step t -> s of each sampler: step(name, oracle, t, s, X, rng, counters, options) -> (X_s, log q of the step or
# None, the states to record on the path).
def _product_step(name, oracle, t, s, X, rng, counters, options):
    q = kernel(name, oracle, X, t, s, counters)
    Xn = draw_categorical(q, rng, options["precision"])
    return Xn, log_kernel(q, Xn), [Xn]


def _trapezoidal_step(name, oracle, t, s, X, rng, counters, options):
    (Xs, Xn), lq = trapezoidal_step(oracle, X, t, s, rng, options["theta"])
    return Xn, lq, [Xs, Xn]


def _exact_kernel_step(name, oracle, t, s, X, rng, counters, options):
    Xn, lq = oracle.diffusion.denoise(X, t, s, seed=rng)
    return Xn, lq, [Xn]


def _uniformization_step(name, oracle, t, s, X, rng, counters, options):
    return _uniformization_interval(oracle, t, s, X, rng, options["safety"], counters), None, []


def _first_hitting_step(name, oracle, t, s, X, rng, counters, options):
    return _first_hitting_interval(oracle, t, s, X, rng), None, []


#: the samplers that are not of product form, by name (product-form ones step through _product_step)
_INTERVAL_STEPS = {"theta_trapezoidal": _trapezoidal_step, "exact_kernel": _exact_kernel_step,
                   "uniformization": _uniformization_step, "first_hitting": _first_hitting_step}


def trapezoidal_grid(times, theta: float) -> np.ndarray:
    """The grid with the intermediate times t - theta h inserted (where stage 1 ends)."""
    out = [times[0]]
    for t, s in zip(times[:-1], times[1:]):
        out += [t - theta * (t - s), s]
    return np.array(out)


def trapezoidal_kernels(oracle, X, t, s, Xstar, theta, R_t=None):
    """Stage kernels of the theta-trapezoidal step t -> s from the states X: q1 (from x) and, given x*, q2 (from x*).

    Stage 1 jumps with the rates R_t(x) for theta h (h = t - s); stage 2 from x* with
    max(0, a1 R_{t - theta h}(x*) - a2 R_t(x)) for (1 - theta) h, a1 = 1 / (2 theta (1 - theta)),
    a2 = ((1 - theta)^2 + theta^2) / (2 theta (1 - theta)).

    Args:
        oracle: the score oracle (reverse_rates(X, t)).
        X: states (n, N) at time t.
        t: the step's start time.
        s: the step's end time, s < t.
        Xstar: the stage-1 states (n, N), or None for q1 only.
        theta: the stage split in (0, 1).
        R_t: reverse_rates(X, t) if already computed.
    """
    h = t - s
    R_t = oracle.reverse_rates(X, t) if R_t is None else R_t
    q1 = _jump_kernel(X, _exp_jump(R_t, theta * h))
    if Xstar is None:
        return q1, None, R_t
    a1 = 1.0 / (2 * theta * (1 - theta))
    a2 = ((1 - theta) ** 2 + theta**2) / (2 * theta * (1 - theta))
    R_mid = oracle.reverse_rates(Xstar, t - theta * h)
    # jumps are indexed by (site i, new value b): combine the intensities of the same jump
    R2 = np.clip(a1 * R_mid - a2 * R_t, 0.0, None)
    np.put_along_axis(R2, Xstar[:, :, None], 0.0, axis=2)
    q2 = _jump_kernel(Xstar, _exp_jump(R2, (1 - theta) * h))
    return q1, q2, R_t


def trapezoidal_step(oracle, X, t, s, rng, theta):
    """One theta-trapezoidal step t -> s from the states X: ((x*, x'), log q1(x* | x) + log q2(x' | x*))."""
    q1, _, R_t = trapezoidal_kernels(oracle, X, t, s, None, theta)
    Xs = draw_categorical(q1, rng)
    _, q2, _ = trapezoidal_kernels(oracle, X, t, s, Xs, theta, R_t=R_t)
    Xn = draw_categorical(q2, rng)
    return (Xs, Xn), log_kernel(q1, Xs) + log_kernel(q2, Xn)


def rate_bound(oracle, t, s) -> float | None:
    """A bound on the total reverse rate on [s, t] for Flip and Mask noise (None otherwise).

    Flip (d states, rate g): s_u(x)_{i,b} <= (1 - p_s)(d - 1) / p_s with p_u the flip probability, so
    the total rate <= N beta_max g (d - 1)(1 - p_s) / p_s. Mask: a masked site's total reverse rate is
    beta g alpha_u / (1 - alpha_u) <= beta_max g alpha_s / (1 - alpha_s). Infinite at s = 0.
    """
    from ..noise import Flip

    noise = oracle.noise
    beta_max = max(noise.beta(t), noise.beta(s), noise.beta(0.5 * (t + s)))
    if s <= 0:
        return np.inf
    if isinstance(noise, Flip):
        d, g = noise.d, noise.rate
        p = (d - 1) / d * -np.expm1(-d * g * noise.sigma(s) / (d - 1))
        return oracle.n_sites * beta_max * g * (d - 1) * (1 - p) / p
    if isinstance(noise, Mask):
        g = noise.rate
        alpha = np.exp(-g * noise.sigma(s))
        return oracle.n_sites * beta_max * g * alpha / (1 - alpha)
    return None


def _uniformization_interval(oracle, t, s, X, rng, safety, counters):
    """Each walker has its own Poisson(lambda h) clock (independent samples); one oracle call per event."""
    lam = rate_bound(oracle, t, s)
    if lam is None:  # no analytic bound: a probed one, with violations counted
        probe = [t, 0.5 * (t + s)] + ([s] if s > 0 else [])
        lam = safety * max(max(oracle.reverse_rates(X, u).sum(axis=(1, 2)).max() for u in probe), 1e-12)
    if not np.isfinite(lam):
        raise ValueError("uniformization needs a grid ending at delta > 0 (the reverse rates are unbounded at t = 0)")
    for r in range(X.shape[0]):
        k = rng.poisson(lam * (t - s))
        for tau in np.sort(rng.uniform(s, t, size=k))[::-1]:  # event times in reverse time order
            R = oracle.reverse_rates(X[r : r + 1], tau)[0]
            total = R.sum()
            if total > lam:
                counters["bound_violations"] = counters.get("bound_violations", 0) + 1
            if rng.random() * lam < total:
                flat = R.ravel()
                pick = int(np.searchsorted(np.cumsum(flat), rng.random() * total, side="right"))
                site, state = np.divmod(min(pick, flat.size - 1), R.shape[1])
                X[r, site] = state
    return X


def _first_hitting_interval(oracle, t, s, X, rng):
    noise = oracle.noise
    if not isinstance(noise, Mask):
        raise ValueError("the first-hitting sampler needs tnddm.noise.Mask noise")
    m = noise.mask_state
    X = X.copy()
    alpha = lambda u: _mask_alpha(noise, u)  # noqa: E731
    for r in range(X.shape[0]):
        cur = t
        while True:
            masked = np.flatnonzero(X[r] == m)
            if masked.size == 0:
                break
            # next unmasking time: (1 - alpha_tau) = (1 - alpha_cur) U^(1/m)
            target = 1 - (1 - alpha(cur)) * rng.random() ** (1.0 / masked.size)
            tau = _invert_alpha(noise, target, s, cur)
            if tau <= s:
                break
            i = masked[rng.integers(masked.size)]
            probs = np.clip(oracle.score(X[r : r + 1], tau)[0, i], 0.0, None)
            probs[m] = 0.0
            X[r, i] = rng.choice(probs.size, p=probs / probs.sum())
            cur = tau
    return X


def _invert_alpha(noise, target_alpha, lo, hi):
    """The time u in (lo, hi] with exp(-rate sigma(u)) = target_alpha (bisection; lo if below range)."""
    if _mask_alpha(noise, lo) <= target_alpha:
        return lo
    a, b = lo, hi
    for _ in range(60):
        mid = 0.5 * (a + b)
        if _mask_alpha(noise, mid) > target_alpha:
            a = mid
        else:
            b = mid
    return 0.5 * (a + b)


assert set(_PRODUCT_KERNELS) == set(PRODUCT_SAMPLERS) and set(_INTERVAL_STEPS) == set(SAMPLERS) - set(PRODUCT_SAMPLERS)
