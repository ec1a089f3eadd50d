"""Bridge to Meta's flow_matching package (pip install -e '.[flow]'): tnddm's exact posterior as the
x-prediction model of its discrete solvers, and the exact law of what those solvers produce.

Conventions. flow_matching's MixtureDiscreteProbPath runs flow time u from the source (u = 0) to the
data (u = 1): x_u = x_1 with probability kappa_u (the scheduler's alpha_t), else a source sample.
tnddm's Mask noise is the mask source (vocabulary d + 1, mask token d) and Flip noise the uniform
source (vocabulary d); both are mixtures K_t = kappa_t I + (1 - kappa_t) pi 1^T with
Mask: kappa_t = exp(-rate sigma(t)), Flip: kappa_t = exp(-d rate sigma(t) / (d - 1)),
so flow time u and tnddm time t meet where kappa_u = kappa_t (u = 0 is t = inf, u = 1 is t = 0).

ExactPosteriorModel.forward(x, t) returns p(x_1^i = b | x_u = x) (the exact per-site posterior of
the data given the state, tnddm's PosteriorOracle.data_posterior at kappa_u), shape (..., vocab).

MixtureDiscreteEulerSolver's step u -> u + h (div_free = 0) is product-form: with p the posterior
at u and J = 1 - exp(-h kappa'_u / (1 - kappa_u)), a site moves to b != x_i with probability J p(b)
and stays otherwise; the last step draws every site from p. EulerKernel is that kernel on tnddm's
time axis, so tnddm.validate.output_law / path_kl_exact give the solver's exact output law and path KL.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import ConvexScheduler, PolynomialConvexScheduler
    from flow_matching.solver import MixtureDiscreteEulerSolver
    from flow_matching.utils import ModelWrapper
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("tnddm.bridges.flow_matching needs torch and flow_matching: pip install -e '.[flow]'") from exc

from .._deprecation import states_first
from ..diffusion import Diffusion
from ..noise import Flip, Mask
from ..validate.posterior import PosteriorOracle

__all__ = ["ExactPosteriorModel", "EulerKernel", "make_path", "source_states", "sample_euler", "flow_grid"]


def _check_diffusion(diffusion):
    if not isinstance(diffusion, Diffusion):
        raise ValueError(f"diffusion must be a tnddm.Diffusion; got {type(diffusion).__name__}")
    if not isinstance(diffusion.noise, (Mask, Flip)):
        raise ValueError("diffusion.noise must be tnddm.noise.Mask (mask source) or Flip (uniform source) to match a "
                         f"flow_matching mixture path; got {type(diffusion.noise).__name__}")


def make_path(scheduler=None) -> MixtureDiscreteProbPath:
    """A MixtureDiscreteProbPath with `scheduler` (default PolynomialConvexScheduler(n=1): kappa_u = u)."""
    scheduler = PolynomialConvexScheduler(n=1.0) if scheduler is None else scheduler
    if not isinstance(scheduler, ConvexScheduler):
        raise ValueError(f"scheduler must be a flow_matching ConvexScheduler; got {type(scheduler).__name__}")
    return MixtureDiscreteProbPath(scheduler)


def flow_grid(steps: int, u_max: float = 1.0) -> np.ndarray:
    """steps + 1 uniform flow times from 0 to u_max (float64).

    Args:
        steps: number of solver steps (>= 1).
        u_max: final flow time (1: the data).
    """
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if not 0 < u_max <= 1:
        raise ValueError(f"u_max must lie in (0, 1]; got {u_max}")
    return np.linspace(0.0, u_max, int(steps) + 1)


class ExactPosteriorModel(ModelWrapper):
    """flow_matching model returning tnddm's exact posterior p(x_1^i = b | x_u = x).

    Args:
        diffusion: tnddm.Diffusion with Mask or Flip noise (vocabulary = diffusion.d_out).
        path: the MixtureDiscreteProbPath the solver uses (its scheduler gives kappa_u).
        impossible: posterior of states of probability zero: "uniform" (a solver can continue) or "raise".
    """

    def __init__(self, diffusion: Diffusion, path: MixtureDiscreteProbPath | None = None, impossible: str = "uniform"):
        super().__init__(None)
        _check_diffusion(diffusion)
        self.diffusion = diffusion
        self.path = make_path() if path is None else path
        self.oracle = PosteriorOracle(diffusion)
        self.impossible = impossible
        self.calls = 0

    def forward(self, x, t, **extras):
        """x: LongTensor (batch, N) of states 0..d_out-1; t: flow times (batch,) or a scalar.
        Returns the posterior, shape (batch, N, d_out), float64."""
        self.calls += 1
        X = x.detach().cpu().numpy().reshape(x.shape[0], -1)
        u = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(X.shape[0])
        k = self.path.scheduler(u).alpha_t.detach().cpu().numpy()
        out = np.empty(X.shape + (self.diffusion.d_out,))
        for value in np.unique(k):
            rows = np.flatnonzero(k == value)
            out[rows] = self.oracle.data_posterior(X[rows], kappa=float(np.clip(value, 0.0, 1.0)), pad=True,
                                                   impossible=self.impossible)
        return torch.from_numpy(out).reshape(tuple(x.shape) + (self.diffusion.d_out,)).to(x.device)


def source_states(diffusion: Diffusion, n: int, seed=0):
    """n source configurations as a LongTensor: all mask tokens (Mask) or uniform states (Flip)."""
    _check_diffusion(diffusion)
    N = diffusion.n_sites
    if isinstance(diffusion.noise, Mask):
        return torch.full((int(n), N), diffusion.noise.mask_state, dtype=torch.long)
    g = torch.Generator().manual_seed(int(seed))
    return torch.randint(0, diffusion.noise.d, (int(n), N), generator=g)


def sample_euler(diffusion: Diffusion, n: int, steps: int | None = None, *, flow_times=None, scheduler=None,
                 seed: int = 0) -> np.ndarray:
    """Run flow_matching's MixtureDiscreteEulerSolver with the exact posterior; returns samples (n, N).

    Args:
        diffusion: tnddm.Diffusion with Mask or Flip noise.
        n: number of samples.
        steps: uniform steps on [0, 1] (or give flow_times).
        flow_times: increasing flow-time grid from 0 (source) to 1 (data).
        scheduler: flow_matching ConvexScheduler (default kappa_u = u).
        seed: torch seed (the global torch generator is forked, so the caller's state is untouched).
    """
    grid = _grid(steps, flow_times)
    path = make_path(scheduler)
    solver = MixtureDiscreteEulerSolver(model=ExactPosteriorModel(diffusion, path), path=path,
                                        vocabulary_size=diffusion.d_out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        x0 = source_states(diffusion, n, seed=int(seed) + 1)
        x = solver.sample(x_init=x0, step_size=None, time_grid=torch.as_tensor(grid, dtype=torch.float64),
                          dtype_categorical=torch.float64)
    return x.cpu().numpy().astype(np.int64)


def _grid(steps, flow_times) -> np.ndarray:
    if (steps is None) == (flow_times is None):
        raise ValueError("give exactly one of steps and flow_times")
    grid = flow_grid(steps) if flow_times is None else np.asarray(flow_times, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0) or grid[0] < 0 or grid[-1] > 1:
        raise ValueError(f"flow_times must increase within [0, 1]; got {grid.tolist()}")
    return grid


class EulerKernel:
    """MixtureDiscreteEulerSolver's step as a tnddm product kernel kernel(X, t, s) -> (n, N, d_out).

    On its own grid `times` (tnddm times, decreasing; times[k] is where kappa_t equals the scheduler's
    kappa at flow time u_k): with p = posterior at kappa_{u_k}, h = u_{k+1} - u_k and
    J = 1 - exp(-h kappa'_{u_k} / (1 - kappa_{u_k})),
        q_i(b | x) = J p_i(b) (b != x_i),  q_i(x_i | x) = p_i(x_i) + (1 - J)(1 - p_i(x_i));
    the last step is q_i = p_i. Pass it to tnddm.validate.output_law(kernel, None, diffusion, kernel.times).

    Args:
        diffusion: tnddm.Diffusion with Mask or Flip noise.
        steps / flow_times: the solver's grid (as in sample_euler).
        scheduler: flow_matching ConvexScheduler (default kappa_u = u).
        impossible: as in ExactPosteriorModel.
    """

    def __init__(self, diffusion: Diffusion, steps: int | None = None, *, flow_times=None, scheduler=None,
                 impossible: str = "uniform"):
        _check_diffusion(diffusion)
        self.diffusion = diffusion
        self.flow_times = _grid(steps, flow_times)
        path = make_path(scheduler)
        out = path.scheduler(torch.as_tensor(self.flow_times, dtype=torch.float64))
        self.kappa = out.alpha_t.numpy().astype(float)
        self.d_kappa = out.d_alpha_t.numpy().astype(float)
        if np.any(np.diff(self.kappa) <= 0) or self.kappa[0] < 0 or self.kappa[-1] > 1:
            raise ValueError("the scheduler's kappa must increase strictly within [0, 1] along flow_times")
        self.oracle = PosteriorOracle(diffusion)
        self.times = np.array([self.oracle.time_of_kappa(k) for k in self.kappa])
        self.impossible = impossible
        self.__name__ = "flow_matching_euler"

    def __call__(self, X, t, s) -> np.ndarray:
        """Per-site probabilities (n, N, d_out) of the step t -> s (a step of `times`) from the states X (n, N)."""
        X, t, s = states_first(X, t, s, where="EulerKernel")  # the old order (t, s, X), for one release
        hits = np.flatnonzero(self.times[:-1] == float(t))
        if hits.size != 1 or self.times[hits[0] + 1] != float(s):
            raise ValueError(f"EulerKernel is defined on its own grid kernel.times; got the step {t} -> {s}")
        k = int(hits[0])
        X = np.asarray(X)
        p = self.oracle.data_posterior(X, kappa=self.kappa[k], pad=True, impossible=self.impossible)
        if k == len(self.times) - 2:
            return p
        h = self.flow_times[k + 1] - self.flow_times[k]
        jump = -np.expm1(-h * self.d_kappa[k] / (1.0 - self.kappa[k]))
        q = jump * p
        stay = np.take_along_axis(p, X[:, :, None], axis=2)
        np.put_along_axis(q, X[:, :, None], stay + (1.0 - jump) * (1.0 - stay), axis=2)
        return q
