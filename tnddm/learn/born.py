"""Maximum-likelihood training of a Born MPS (tnddm.BornMPS) by two-site sweeps (Han et al., PRX 8, 031012, 2018).

psi is kept in mixed canonical form: the cores left of the active bond (i, i+1) are left-orthonormal
and those right of it right-orthonormal, so Z = ||theta||^2 for the two-site tensor theta = B_i B_{i+1},
and psi(x^s) = <phi_s, theta> with phi_s = l_s (x) e_{x_i} (x) e_{x_{i+1}} (x) r_s built from each
configuration's prefix and suffix vectors. With those fixed, the per-bond objective is

    f(theta) = (1/n) sum_s log <phi_s, theta>^2 - log ||theta||^2,

whose gradient at ||theta|| = 1 is 2 (G - theta) with G = (1/n) sum_s phi_s / psi(x^s) (the fixed
point theta = G is Hradil's R-psi iteration of maximum-likelihood tomography, which can overshoot).
Each bond takes up to `ascent_steps` L-BFGS iterations on f, whose line search never lets f
decrease (on Ising 8 x 16 at chi = 32: KL 2.45 after 2 sweeps on 20,000 samples, against 4.95 with
two damped fixed-point steps per bond on 100,000). theta is then split by its SVD, keeping at most
chi_max singular values above cutoff * s_max (adaptive bond), and the orthonormal factor stays
behind as the sweep moves on. One epoch is one right and one left sweep.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from .._checks import as_configs, check_positive_int
from ..mps import BornMPS
from ..mps.born import core_times, right_canonical, split_two_site, times_core, unit_rows
from ..rng import as_generator
from .train import EpochTrainer


def _step_left(B, l, x):
    """l_s B[:, x_s, :] for each configuration: (n, chi_l) -> (n, chi_r), unit rows."""
    return unit_rows(times_core(l, B, x))


def _step_right(B, r, x):
    """B[:, x_s, :] r_s for each configuration: (n, chi_r) -> (n, chi_l), unit rows."""
    return unit_rows(core_times(B, x, r))


def _amplitudes(theta, l, r, xi, xj, with_G: bool):
    """psi_s = <phi_s, theta> and G = (1/n) sum_s phi_s / psi_s, grouped by the pair (x_i, x_{i+1})."""
    d = theta.shape[1]
    n = l.shape[0]
    psi = np.empty(n)
    G = np.zeros_like(theta) if with_G else None
    for a in range(d):
        for b in range(d):
            rows = np.flatnonzero((xi == a) & (xj == b))
            if rows.size == 0:
                continue
            p = np.einsum("nb,nb->n", l[rows] @ theta[:, a, b, :], r[rows])
            psi[rows] = p
            if with_G:
                with np.errstate(divide="ignore", invalid="ignore"):
                    G[:, a, b, :] = (l[rows] / p[:, None]).T @ r[rows] / n
    return psi, G


def _objective(psi) -> float:
    with np.errstate(divide="ignore"):
        return float(np.mean(np.log(psi * psi)))


def ascend(theta, l, r, xi, xj, steps: int):
    """Maximise f(theta) (module docstring) by at most `steps` L-BFGS iterations; returns unit-norm theta.

    f is scale-invariant, so the search runs on unnormalised theta with the gradient
    2 G - 2 theta / ||theta||^2; the line search keeps every iterate at least as good as the start.
    """
    shape = theta.shape
    theta = theta / np.linalg.norm(theta)
    if steps == 0:
        return theta

    def negative_f_and_gradient(v):
        th = v.reshape(shape)
        psi, G = _amplitudes(th, l, r, xi, xj, True)
        norm2 = float(np.sum(th * th))
        f = _objective(psi) - np.log(norm2)
        if not np.isfinite(f) or not np.all(np.isfinite(G)):
            return np.inf, np.zeros_like(v)
        return -f, -(2 * G - 2 * th / norm2).ravel()

    start = negative_f_and_gradient(theta.ravel())[0]
    res = minimize(negative_f_and_gradient, theta.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": steps})
    if not np.isfinite(res.fun) or res.fun > start:
        return theta
    out = res.x.reshape(shape)
    return out / np.linalg.norm(out)


class BornTrainer(EpochTrainer):
    """Two-site sweep training of a BornMPS (module docstring).

    model:        initial BornMPS (or its cores), or None for the uniform product state of n_sites, d.
    chi_max, cutoff: adaptive bond: at most chi_max singular values above cutoff * s_max per bond.
    ascent_steps: L-BFGS iterations per bond and visit.
    batch_size:   configurations used per epoch (a fresh random subset; None = all).
    seed:         subsets; the generator state is part of the checkpointed state.
    """

    kind = "born_trainer"

    def __init__(self, model=None, n_sites: int | None = None, d: int = 2, chi_max: int = 16, cutoff: float = 1e-10,
                 ascent_steps: int = 10, batch_size: int | None = None, seed=None):
        if model is None:
            if n_sites is None or check_positive_int(n_sites, "n_sites") < 2:
                raise ValueError(f"n_sites must be an integer >= 2 when no model is given; got {n_sites!r}")
            model = [np.full((1, d, 1), 1 / np.sqrt(d)) for _ in range(n_sites)]
        cores = model.cores if isinstance(model, BornMPS) else BornMPS(model).cores
        if len(cores) < 2:
            raise ValueError("two-site sweeps need at least 2 sites")
        if check_positive_int(chi_max, "chi_max") < 1:
            raise ValueError(f"chi_max must be >= 1; got {chi_max}")
        if not 0 <= cutoff < 1:
            raise ValueError(f"cutoff must lie in [0, 1); got {cutoff}")
        if int(ascent_steps) != ascent_steps or ascent_steps < 0:
            raise ValueError(f"ascent_steps must be a non-negative integer; got {ascent_steps!r}")
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        self.cores = right_canonical(cores)
        self.n_sites, self.d = len(self.cores), self.cores[0].shape[1]
        self.config = {"method": "born_sweep", "chi_max": int(chi_max), "cutoff": float(cutoff),
                       "ascent_steps": int(ascent_steps), "batch_size": batch_size}
        self.rng = as_generator(seed)
        self.epoch = 0
        self.history = {"epoch": [], "nll": [], "max_bond": [], "seconds": []}

    @property
    def model(self) -> BornMPS:
        return BornMPS([B.copy() for B in self.cores])

    def max_bond(self) -> int:
        return max(B.shape[2] for B in self.cores)

    def sweep(self, X) -> None:
        """One right and one left two-site sweep on X; psi ends right-canonical with its centre at site 0."""
        cores, N, cfg = self.cores, self.n_sites, self.config
        n = X.shape[0]
        right = [np.ones((n, 1))] * (N + 1)
        for i in range(N - 1, 1, -1):
            right[i] = _step_right(cores[i], right[i + 1], X[:, i])
        left = [np.ones((n, 1))] * N
        for i in range(N - 1):  # right-moving
            theta = np.einsum("axc,cyb->axyb", cores[i], cores[i + 1])
            theta = ascend(theta, left[i], right[i + 2], X[:, i], X[:, i + 1], cfg["ascent_steps"])
            cores[i], cores[i + 1], _ = split_two_site(theta, cfg["chi_max"], cfg["cutoff"], "right")
            left[i + 1] = _step_left(cores[i], left[i], X[:, i])
        r = np.ones((n, 1))
        for i in range(N - 2, -1, -1):  # left-moving
            theta = np.einsum("axc,cyb->axyb", cores[i], cores[i + 1])
            theta = ascend(theta, left[i], r, X[:, i], X[:, i + 1], cfg["ascent_steps"])
            cores[i], cores[i + 1], _ = split_two_site(theta, cfg["chi_max"], cfg["cutoff"], "left")
            r = _step_right(cores[i + 1], r, X[:, i + 1])

    def train_epoch(self, X) -> float:
        """One sweep pair on X (or a random subset of batch_size rows); returns the NLL on X after it."""
        X = as_configs(X, self.n_sites, self.d)
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one configuration")
        bs = self.config["batch_size"]
        sub = X if bs is None or bs >= X.shape[0] else X[np.sort(self.rng.choice(X.shape[0], bs, replace=False))]
        self.sweep(sub)
        self.epoch += 1
        return float(-np.mean(self.model.log_prob(X)))

    def state(self) -> tuple[dict, dict]:
        arrays = {f"core_{i:04d}": B for i, B in enumerate(self.cores)}
        meta = {"kind": self.kind, "form": "born", "n_sites": self.n_sites, "d": self.d, "config": self.config,
                "epoch": self.epoch, "history": self.history, "rng_state": self.rng.bit_generator.state}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict, meta: dict) -> "BornTrainer":
        try:
            cores = [arrays[f"core_{i:04d}"] for i in range(int(meta["n_sites"]))]
            cfg = dict(meta["config"])
            tr = cls(cores, chi_max=cfg["chi_max"], cutoff=cfg["cutoff"], ascent_steps=cfg["ascent_steps"],
                     batch_size=cfg["batch_size"])
            tr.cores = [np.array(B, dtype=float) for B in cores]  # already canonical: keep bit for bit
            tr._restore_progress(meta)
        except KeyError as exc:
            raise ValueError(f"trainer state is missing field {exc.args[0]!r}") from None
        return tr
