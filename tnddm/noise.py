"""Single-site Markov-jump noise: rate matrices, rate schedules and product propagators.

Convention: Q[y, x] is the rate of the jump x -> y (off-diagonal >= 0, columns sum to zero).
With a schedule beta(t) and sigma(t) = int_0^t beta, the propagator from time s to t is
K_{t|s} = exp((sigma(t) - sigma(s)) Q), K[y, x] = P(x_t = y | x_s = x), the same on every site:
the whole-chain propagator is the bond-dimension-1 MPO (x)_i K_{t|s}.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ._checks import as_configs, check_time
from .rng import as_generator

# ---- schedules ------------------------------------------------------------------------------


class Schedule:
    """A rate schedule beta(t) >= 0 with its integral sigma(t) = int_0^t beta(u) du."""

    def beta(self, t):
        """The rate multiplier beta(t).

        Args:
            t: time (float or array).
        """
        raise NotImplementedError

    def sigma(self, t):
        """The integrated rate sigma(t) = int_0^t beta(u) du.

        Args:
            t: time (float or array).
        """
        raise NotImplementedError

    def to_dict(self) -> dict:
        """{"kind": name, **parameters}, as in a model card's [noise] schedule (make_schedule inverts it)."""
        return {"kind": type(self).__name__.lower(), **vars(self)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v:g}' for k, v in vars(self).items())})"


class Constant(Schedule):
    """beta(t) = 1, sigma(t) = t (the rate lives in Q)."""

    def beta(self, t):
        return np.ones_like(np.asarray(t, dtype=float))

    def sigma(self, t):
        return np.asarray(t, dtype=float)


class Linear(Schedule):
    """beta(t) = beta_min + (beta_max - beta_min) t / horizon; sigma = beta_min t + (beta_max - beta_min) t^2 / (2 horizon).

    Args:
        beta_min: rate multiplier at t = 0 (>= 0).
        beta_max: rate multiplier at t = horizon (>= 0).
        horizon: the time at which beta reaches beta_max (> 0).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 2.0, horizon: float = 1.0):
        if beta_min < 0 or beta_max < 0 or horizon <= 0:
            raise ValueError(f"Linear needs beta_min, beta_max >= 0 and horizon > 0; got {beta_min}, {beta_max}, {horizon}")
        self.beta_min, self.beta_max, self.horizon = float(beta_min), float(beta_max), float(horizon)

    def beta(self, t):
        return self.beta_min + (self.beta_max - self.beta_min) * np.asarray(t, dtype=float) / self.horizon

    def sigma(self, t):
        t = np.asarray(t, dtype=float)
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / (2 * self.horizon)


class Geometric(Schedule):
    """sigma(t) = sigma_min^(1-u) sigma_max^u - sigma_min with u = t / horizon (SEDD-style, shifted so sigma(0) = 0).

    Args:
        sigma_min: the geometric sequence's start (0 < sigma_min < sigma_max).
        sigma_max: its value at t = horizon, before the shift.
        horizon: end of the schedule's time range (> 0).
    """

    def __init__(self, sigma_min: float = 1e-3, sigma_max: float = 10.0, horizon: float = 1.0):
        if not 0 < sigma_min < sigma_max or horizon <= 0:
            raise ValueError(f"Geometric needs 0 < sigma_min < sigma_max and horizon > 0; got {sigma_min}, {sigma_max}, {horizon}")
        self.sigma_min, self.sigma_max, self.horizon = float(sigma_min), float(sigma_max), float(horizon)

    def sigma(self, t):
        u = np.asarray(t, dtype=float) / self.horizon
        return self.sigma_min ** (1 - u) * self.sigma_max**u - self.sigma_min

    def beta(self, t):
        u = np.asarray(t, dtype=float) / self.horizon
        return self.sigma_min ** (1 - u) * self.sigma_max**u * np.log(self.sigma_max / self.sigma_min) / self.horizon


class LogLinear(Schedule):
    """sigma(t) = -log(1 - (1 - eps) t / horizon) (MDLM masking schedule), for t < horizon / (1 - eps).

    Args:
        eps: in (0, 1); at t = horizon a site is still unmasked with probability eps.
        horizon: end of the schedule's time range (> 0).
    """

    def __init__(self, eps: float = 1e-3, horizon: float = 1.0):
        if not 0 < eps < 1 or horizon <= 0:
            raise ValueError(f"LogLinear needs 0 < eps < 1 and horizon > 0; got {eps}, {horizon}")
        self.eps, self.horizon = float(eps), float(horizon)

    def _u(self, t):
        u = (1 - self.eps) * np.asarray(t, dtype=float) / self.horizon
        if np.any(u >= 1):
            raise ValueError(f"t must be below horizon / (1 - eps) = {self.horizon / (1 - self.eps):.6g} for LogLinear")
        return u

    def sigma(self, t):
        return -np.log1p(-self._u(t))

    def beta(self, t):
        return (1 - self.eps) / self.horizon / (1 - self._u(t))


SCHEDULES = {"constant": Constant, "linear": Linear, "geometric": Geometric, "loglinear": LogLinear}


def make_schedule(spec) -> Schedule:
    """A Schedule from an instance, a name, or a dict {"kind": name, **parameters}.

    Args:
        spec: a Schedule, None (Constant), a name ("constant", "linear", "geometric", "loglinear") or a dict
            {"kind": name, **parameters}.
    """
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if isinstance(spec, dict):
        spec = dict(spec)
        kind = str(spec.pop("kind", "constant")).lower()
        if kind not in SCHEDULES:
            raise ValueError(f"schedule kind must be one of {sorted(SCHEDULES)}; got {kind!r}")
        return SCHEDULES[kind](**spec)
    raise ValueError(f"schedule must be a Schedule, a name or a dict; got {type(spec).__name__}")


# ---- noise processes ------------------------------------------------------------------------


class Noise:
    """Independent single-site jump process with rate matrix beta(t) Q.

    Args:
        Q: (d_out, d_out) generator, Q[y, x] = rate of x -> y (off-diagonal >= 0, columns summing to 0).
        d: number of data states (d <= d_out; extra states such as the mask are reachable only by
            noise); default d_out.
        schedule: rate schedule beta(t) (a Schedule, a name or a dict: make_schedule); default Constant.
    """

    def __init__(self, Q, d: int | None = None, schedule=None):
        Q = np.asarray(Q, dtype=float)
        if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or Q.shape[0] < 2:
            raise ValueError(f"Q must be a square matrix of size >= 2; got shape {Q.shape}")
        off = Q - np.diag(np.diag(Q))
        if np.any(off < 0) or not np.all(np.isfinite(Q)):
            raise ValueError("Q must have finite, non-negative off-diagonal rates (Q[y, x] = rate x -> y)")
        if np.any(np.abs(Q.sum(axis=0)) > 1e-12 * max(1.0, np.abs(Q).max())):
            raise ValueError("Q must have columns that sum to zero (Q[y, x] = rate x -> y)")
        self.Q = Q
        self.d_out = Q.shape[0]
        self.d = self.d_out if d is None else int(d)
        if not 1 <= self.d <= self.d_out:
            raise ValueError(f"d must lie in 1..{self.d_out}; got {d}")
        self.schedule = make_schedule(schedule)

    def sigma(self, t) -> float:
        """The integrated rate sigma(t) of the schedule.

        Args:
            t: time (>= 0).
        """
        return float(self.schedule.sigma(check_time(t)))

    def beta(self, t) -> float:
        """The schedule's rate multiplier beta(t).

        Args:
            t: time (>= 0).
        """
        return float(self.schedule.beta(check_time(t)))

    def propagator(self, t, s: float = 0.0) -> np.ndarray:
        """K_{t|s} = exp((sigma(t) - sigma(s)) Q), K[y, x] = P(x_t = y | x_s = x).

        Args:
            t: end time (>= s; inf gives the stationary law in every column).
            s: start time.
        """
        t, s = check_time(t, "t"), check_time(s, "s")
        if s > t:
            raise ValueError(f"s must not exceed t; got s = {s} > t = {t}")
        return self._propagator(self.sigma(t) - self.sigma(s))

    def _propagator(self, dsigma: float) -> np.ndarray:
        """exp(dsigma Q), column-normalised, memoised (read-only) per dsigma: MC moves reuse a few T values."""
        cache = self.__dict__.setdefault("_propagator_cache", {})
        K = cache.get(dsigma)
        if K is None:
            K = np.clip(scipy.linalg.expm(dsigma * self.Q), 0.0, None)
            K = K / K.sum(axis=0, keepdims=True)
            K.setflags(write=False)
            if len(cache) >= 512:
                cache.clear()
            cache[dsigma] = K
        return K

    def rates(self, t) -> np.ndarray:
        """Instantaneous generator beta(t) Q.

        Args:
            t: time.
        """
        return self.beta(t) * self.Q

    def forward(self, X, t, s: float = 0.0, seed=None) -> np.ndarray:
        """Noise a batch of configurations at time s to time t: y_i ~ K_{t|s}[:, x_i] independently.

        Args:
            X: configurations (n, N) at time s.
            t: end time.
            s: start time.
            seed: int, SeedSequence or Generator.

        Returns:
            Y of shape (n, N).
        """
        X = np.asarray(X)
        X = as_configs(X, X.shape[-1] if X.ndim else 0, self.d_out)
        K = self.propagator(t, s)
        C = np.cumsum(K, axis=0)  # C[y, x] = P(y' <= y | x)
        u = as_generator(seed).random(X.shape)
        cols = C[:, X]  # (d_out, n, N)
        return np.minimum((cols[:-1] <= u[None]).sum(axis=0), self.d_out - 1).astype(np.int64)

    def stationary(self) -> np.ndarray:
        """Stationary law of Q (null vector, normalised)."""
        w, v = np.linalg.eig(self.Q)
        p = np.abs(np.real(v[:, np.argmin(np.abs(w))]))
        return p / p.sum()

    def mpo(self, n_sites: int, t, s: float = 0.0):
        """The propagator (x)_i K_{t|s} as a quimb MatrixProductOperator (upper index y, lower x).

        Args:
            n_sites: number of sites N.
            t: end time.
            s: start time.
        """
        import quimb.tensor as qtn

        if n_sites < 2:
            raise ValueError(f"n_sites must be >= 2 for an MPO; got {n_sites}")
        K = self.propagator(t, s)
        mid = K[None, None]  # (l, r, u, d)
        arrays = [K[None]] + [mid] * (n_sites - 2) + [K[None]]
        return qtn.MatrixProductOperator(arrays, shape="lrud")

    def to_dict(self) -> dict:
        return {"kind": "rates", "Q": self.Q.tolist(), "d": self.d, "schedule": self.schedule.to_dict()}

    def __repr__(self) -> str:
        spec = self.to_dict()
        spec.pop("kind", None)
        sched = spec.pop("schedule", None)
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in spec.items() if k != "Q")
        if "Q" in spec:
            args = f"Q={np.array2string(self.Q, precision=3, separator=', ').replace(chr(10), '')}, " + args
        if sched and sched.get("kind") != "constant":
            args += f", schedule={make_schedule(sched)!r}"
        return f"{type(self).__name__}({args})"


class Flip(Noise):
    """Uniform noise: jump to each of the other d - 1 states at rate rate / (d - 1).

    d = 2: K_t = [[1-p, p], [p, 1-p]] with p = (1 - exp(-2 rate sigma(t))) / 2.

    Args:
        rate: total jump rate out of a state (> 0).
        d: number of states (>= 2).
        schedule: rate schedule (a Schedule, a name or a dict); default Constant.
    """

    def __init__(self, rate: float = 1.0, d: int = 2, schedule=None):
        if not rate > 0 or int(d) < 2:
            raise ValueError(f"Flip needs rate > 0 and d >= 2; got rate = {rate}, d = {d}")
        d = int(d)
        Q = (np.ones((d, d)) - d * np.eye(d)) * rate / (d - 1)
        super().__init__(Q, d, schedule)
        self.rate = float(rate)

    def to_dict(self):
        return {"kind": "flip", "rate": self.rate, "d": self.d, "schedule": self.schedule.to_dict()}


class Mask(Noise):
    """Absorbing noise: each data state 0..d-1 jumps to the mask state d at rate `rate` and stays.

    Args:
        rate: masking rate (> 0).
        d: number of data states; the mask is state d.
        schedule: rate schedule (a Schedule, a name or a dict); default Constant.
    """

    def __init__(self, rate: float = 1.0, d: int = 2, schedule=None):
        if not rate > 0 or int(d) < 1:
            raise ValueError(f"Mask needs rate > 0 and d >= 1; got rate = {rate}, d = {d}")
        d = int(d)
        Q = np.zeros((d + 1, d + 1))
        Q[d, :d] = rate
        Q[np.arange(d), np.arange(d)] = -rate
        super().__init__(Q, d, schedule)
        self.rate = float(rate)

    @property
    def mask_state(self) -> int:
        """The index of the mask state, d."""
        return self.d

    def to_dict(self):
        return {"kind": "mask", "rate": self.rate, "d": self.d, "schedule": self.schedule.to_dict()}


class BiasedFlip(Noise):
    """Two-state noise with rates up (0 -> 1) and down (1 -> 0).

    Args:
        up: rate of 0 -> 1 (>= 0).
        down: rate of 1 -> 0 (>= 0; not both 0).
        schedule: rate schedule (a Schedule, a name or a dict); default Constant.
    """

    def __init__(self, up: float = 1.0, down: float = 1.0, schedule=None):
        if up < 0 or down < 0 or up + down <= 0:
            raise ValueError(f"BiasedFlip needs up, down >= 0, not both 0; got {up}, {down}")
        super().__init__([[-up, down], [up, -down]], 2, schedule)
        self.up, self.down = float(up), float(down)

    def to_dict(self):
        return {"kind": "biased_flip", "up": self.up, "down": self.down, "schedule": self.schedule.to_dict()}


class RandomWalk(Noise):
    """Nearest-neighbour jumps on m states: x -> x + 1 and x -> x - 1, each at rate `rate`.

    ring=True: the states form a ring (x +- 1 mod m; m = 2 is Flip at twice the rate).
    ring=False: a line 0 - 1 - ... - (m-1); the end states have one neighbour.
    Q is symmetric in both cases, so the stationary law (the prior of the samplers) is uniform. A
    step of length h of the exact process can move a site by 2 or more states
    (K_h[x + 2, x] >= rate^2 h^2 / 2 + O(h^3) > 0), a single-jump sampler step cannot.

    Args:
        m: number of states (>= 2), equal to the model's d.
        rate: jump rate per direction (> 0).
        ring: True for a ring of m states, False for a line.
        schedule: rate schedule beta(t), as for every Noise (default constant).
    """

    def __init__(self, m: int = 3, rate: float = 1.0, ring: bool = True, schedule: Schedule | str | dict | None = None):
        if isinstance(m, bool) or int(m) != m or int(m) < 2:
            raise ValueError(f"RandomWalk needs m >= 2 states (an integer); got m = {m!r}")
        if not (isinstance(rate, (int, float, np.floating, np.integer)) and np.isfinite(rate) and rate > 0):
            raise ValueError(f"RandomWalk needs rate > 0; got rate = {rate!r}")
        if not isinstance(ring, (bool, np.bool_)):
            raise ValueError(f"ring must be True (ring) or False (line); got {ring!r}")
        m = int(m)
        Q = np.zeros((m, m))
        for x in range(m):
            for y in (x - 1, x + 1):
                if ring:
                    Q[y % m, x] += rate
                elif 0 <= y < m:
                    Q[y, x] += rate
        Q -= np.diag(Q.sum(axis=0))
        super().__init__(Q, m, schedule)
        self.m, self.rate, self.ring = m, float(rate), bool(ring)

    def stationary(self) -> np.ndarray:
        """Uniform (Q is symmetric)."""
        return np.full(self.m, 1.0 / self.m)

    def to_dict(self):
        return {"kind": "random_walk", "m": self.m, "rate": self.rate, "ring": self.ring,
                "schedule": self.schedule.to_dict()}

    def __repr__(self) -> str:
        return f"RandomWalk(m={self.m}, rate={self.rate:g}, ring={self.ring})"


def _rates_noise(spec, d):
    if "Q" not in spec:
        raise ValueError("noise.Q (the rate matrix) is required for the noise kind 'rates'")
    return Noise(spec.pop("Q"), spec.pop("d", None), spec.pop("schedule", None), **spec)


#: the noise kinds of make_noise by name: build(parameters, model d) -> Noise (parameters without "kind")
NOISES = {
    "flip": lambda spec, d: Flip(spec.pop("rate", 1.0), spec.pop("d", d), spec.pop("schedule", None), **spec),
    "mask": lambda spec, d: Mask(spec.pop("rate", 1.0), spec.pop("d", d), spec.pop("schedule", None), **spec),
    "biased_flip": lambda spec, d: BiasedFlip(**spec),
    "random_walk": lambda spec, d: RandomWalk(spec.pop("m", d), spec.pop("rate", 1.0), spec.pop("ring", True),
                                              spec.pop("schedule", None), **spec),
    "rates": _rates_noise,
}
NOISE_KINDS = tuple(NOISES)


def make_noise(spec, d: int = 2) -> Noise:
    """A Noise from an instance or a dict such as {"kind": "flip", "rate": 1.0, "schedule": "linear"}.

    Kinds (NOISES): flip, mask, biased_flip, random_walk ({"kind": "random_walk", "rate": 1.0, "ring": true};
    m defaults to the model's d), rates ({"kind": "rates", "Q": [[...]]}).

    Args:
        spec: a Noise, a kind name or a dict {"kind": ..., **parameters}.
        d: the model's number of states (the default d of the noise).
    """
    if isinstance(spec, Noise):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"noise must be a Noise or a dict with a 'kind'; got {type(spec).__name__}")
    spec = dict(spec)
    kind = str(spec.pop("kind", "flip")).lower()
    if kind not in NOISES:
        raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
    return NOISES[kind](spec, d)
