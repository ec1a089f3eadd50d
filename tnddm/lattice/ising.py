"""Ising models on chains, cylinders and strips, and the q-state Potts model, built with finite_range.

Spins s = 2x - 1, `E = -J sum_<ij> s_i s_j - h sum_i s_i`, pi ∝ exp(-beta E). Geometry: L columns
of W sites, column-major order n = c*W + r; a cylinder closes each column into a ring (W >= 3), a
strip leaves it open; the chain is W = 1. Every bond joins sites at most W apart in this order,
so the exact MPS has range W and bond dimension 2^W (d^W for Potts).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_real
from .automaton import finite_range
from .base import LatticeModel, check_precision, check_range, check_size
from .geometry import lattice_bonds  # noqa: F401  (re-exported: tnddm.lattice.ising.lattice_bonds)

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)  # critical inverse temperature of the square lattice (J = 1)


class _GridModel(LatticeModel):
    """Shared geometry and automaton construction of nearest-neighbour models on L x W grids."""

    def _setup_grid(self, length, width, periodic):
        self.length = check_size(length, "length")
        self.width = check_size(width, "width")
        self.periodic = bool(periodic)
        if self.periodic and self.width < 3:
            raise ValueError(f"a cylinder needs width >= 3 (width 2 would double the vertical bond); got {self.width}")
        self.n_sites = self.length * self.width
        if self.n_sites < 2:
            raise ValueError(f"the lattice needs at least 2 sites; got {self.length} x {self.width}")
        self.bonds = lattice_bonds(self.length, self.width, self.periodic)
        self.back = [[] for _ in range(self.n_sites)]  # distances k of bonds (i - k, i)
        for i, j in self.bonds.tolist():
            self.back[j].append(j - i)
        self.range = int((self.bonds[:, 1] - self.bonds[:, 0]).max())

    def _automaton_entries(self) -> int:
        """sum_i d^(min(i, r) + 1): the state before site i holds the last min(i, r) symbols."""
        d, r, N = int(self.d), int(self.range), int(self.n_sites)
        head = sum(d ** (i + 1) for i in range(min(r, N)))
        return head + max(0, N - r) * d ** (r + 1)

    def _pair_energy(self, a, b):
        """Bond energy of states a and b (arrays)."""
        raise NotImplementedError

    def _site_energy(self, a):
        raise NotImplementedError

    def local_energy(self, i: int, windows: np.ndarray) -> np.ndarray:
        """Energy terms assigned to site i (its bonds to earlier sites and its field) on state windows."""
        x = windows[:, -1]
        e = self._site_energy(x)
        for k in self.back[i]:
            e = e + self._pair_energy(windows[:, -1 - k], x)
        return e

    def _build(self):
        auto, self._windows = finite_range(self.n_sites, self.d, self.range,
                                           lambda i, w: -self.beta * self.local_energy(i, w))
        return auto

    def energy(self, X) -> np.ndarray:
        """E(x) per configuration.

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        e = self._pair_energy(X[:, self.bonds[:, 0]], X[:, self.bonds[:, 1]]).sum(axis=1)
        return e + self._site_energy(X).sum(axis=1)

    def log_weight(self, X) -> np.ndarray:
        """log of the Boltzmann weight, -beta E(x).

        Args:
            X: configurations, shape (n, N).
        """
        return -self.beta * self.energy(X)

    def _local_table(self, fn) -> list[np.ndarray]:
        """Per-site arrays (chi_i, d) of a local function of the automaton windows."""
        auto = self.automaton
        return [fn(i, w).reshape(auto.transition[i].shape) for i, w in enumerate(self._windows)]

    def _energy_moments(self) -> tuple[float, float]:
        return self.automaton.local_moments(self._local_table(self.local_energy))


class Ising(_GridModel):
    """2D Ising model on an L x W grid (see module docstring); use IsingCylinder / IsingStrip / IsingChain.

    Args:
        length: L columns (the open direction, along the MPS).
        width: W sites per column (the bond dimension of the exact MPS is 2^W).
        beta: inverse temperature (>= 0; BETA_C is the square lattice's critical value).
        J: coupling (J > 0 ferromagnet).
        h: uniform field.
        periodic: close every column into a ring (W >= 3).
    """

    d = 2
    kind = "ising"
    anneal_parameter = "beta"
    local_update = "spin_flip"
    observable_family = "ising"

    def __init__(self, length, width, beta, J=1.0, h=0.0, periodic=False):
        self._setup_grid(length, width, periodic)
        self.beta = check_range(beta, "beta", 0.0, np.inf, open_high=True)
        self.J, self.h = check_real(J, "J"), check_real(h, "h")
        check_precision(self.beta * (abs(self.J) * len(self.bonds) + abs(self.h) * self.n_sites), f"{self.kind} (beta={self.beta})")

    def _pair_energy(self, a, b):
        return -self.J * (2 * a - 1) * (2 * b - 1)

    def _site_energy(self, a):
        return -self.h * (2 * a - 1)

    def statistics(self, X) -> dict:
        """Per sample: energy E, energy per site, magnetisation m = mean s, |m|.

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        e = self.energy(X).astype(float)
        m = (2 * X - 1).mean(axis=1)
        return {"energy": e, "energy_per_site": e / self.n_sites, "magnetisation": m, "abs_magnetisation": np.abs(m)}

    def _exact_observables(self) -> dict:
        """All exact (MPS forward passes); <|m|> needs samples (observables(n_samples=...))."""
        N = self.n_sites
        e1, e2 = self._energy_moments()
        spin = lambda i, w: 2.0 * w[:, -1] - 1  # noqa: E731
        m1, m2 = self.automaton.local_moments(self._local_table(spin))
        bond = lambda i, w: np.sum([(2.0 * w[:, -1 - k] - 1) * (2.0 * w[:, -1] - 1) for k in self.back[i]], axis=0) \
            if self.back[i] else np.zeros(len(w))  # noqa: E731
        b1, _ = self.automaton.local_moments(self._local_table(bond))
        out = {
            "log_z": self.log_z(),
            "energy_per_site": e1 / N,
            "specific_heat_per_site": self.beta**2 * (e2 - e1**2) / N,
            "magnetisation": m1 / N,
            "m2": m2 / N**2,
            "nn_correlation": b1 / len(self.bonds),
            "entropy": self.log_z() + self.beta * e1,
        }
        if self.beta > 0:  # f = -log Z / (beta N) is undefined at infinite temperature
            out["free_energy_per_site"] = -self.log_z() / (self.beta * N)
        return out

    def exact_statistics(self) -> dict:
        """Exact energy, energy per site and magnetisation (forward moment passes), and abs_magnetisation from the
        exact law of the number n of up spins, `<|m|> = sum_n P(n) |2n - N| / N` (left out when that table is too large)."""
        N = self.n_sites
        obs = self.observables()
        out = {"energy": obs["energy_per_site"] * N, "energy_per_site": obs["energy_per_site"],
               "magnetisation": obs["magnetisation"]}
        law = self.automaton.symbol_sum_law()
        if law is not None:
            n = np.arange(N + 1)
            out["abs_magnetisation"] = float(law @ (np.abs(2 * n - N) / N))
        return out

    def _params(self):
        return {"length": self.length, "width": self.width, "beta": self.beta, "J": self.J, "h": self.h,
                "periodic": self.periodic}

    def table_mps(self, dtype=np.float32):
        """The exact model as sampling tables only (tnddm.mps.MarkovTableMPS): one float32 per (site, state),
        4 bytes x sum_i 2^min(i, range) instead of the automaton's ~80, built by one log-space sweep
        (widths up to 22 at L = 40 in 24 GiB). Its log_prob and sample return log q of the tables,
        within table.sample_table_bound of log pi; table.exact_log_z is log Z."""
        from ..mps.markov import MarkovTableMPS

        K = max(1, max(len(b) for b in self.back))
        dist = np.zeros((self.n_sites, K), dtype=np.int64)
        for i, ks in enumerate(self.back):
            dist[i, :len(ks)] = ks
        return MarkovTableMPS.from_pair_couplings(self.n_sites, self.range, dist, self.beta * self.J * (dist > 0),
                                                  self.beta * self.h, dtype=dtype)


class IsingCylinder(Ising):
    """2D Ising on an L x W cylinder (periodic in W, open in L).

    Args:
        length: L columns (open direction).
        width: W sites per ring (>= 3); the exact MPS has bond 2^W.
        beta: inverse temperature (>= 0; BETA_C is the critical value of the infinite lattice).
        J: coupling (J > 0 ferromagnet).
        h: uniform field.
    """

    kind = "ising_cylinder"

    def __init__(self, length, width, beta, J=1.0, h=0.0):
        super().__init__(length, width, beta, J, h, periodic=True)

    def _params(self):
        return {k: v for k, v in super()._params().items() if k != "periodic"}


class IsingStrip(Ising):
    """2D Ising on an L x W strip (open in both directions).

    Args:
        length: L columns.
        width: W sites per column; the exact MPS has bond 2^W.
        beta: inverse temperature (>= 0).
        J: coupling (J > 0 ferromagnet).
        h: uniform field.
    """

    kind = "ising_strip"

    def __init__(self, length, width, beta, J=1.0, h=0.0):
        super().__init__(length, width, beta, J, h, periodic=False)

    def _params(self):
        return {k: v for k, v in super()._params().items() if k != "periodic"}


class IsingChain(Ising):
    """1D Ising chain with open ends.

    Args:
        n_sites: number of spins (>= 2).
        beta: inverse temperature (>= 0).
        J: coupling (J > 0 ferromagnet).
        h: uniform field.
    """

    kind = "ising_chain"

    def __init__(self, n_sites, beta, J=1.0, h=0.0):
        super().__init__(check_size(n_sites, "n_sites", 2), 1, beta, J, h, periodic=False)

    def _params(self):
        return {"n_sites": self.n_sites, "beta": self.beta, "J": self.J, "h": self.h}


class PottsCylinder(_GridModel):
    """q-state Potts model on an L x W cylinder: `E = -J sum_<ij> [sigma_i == sigma_j]`, states 0..q-1.

    Args:
        length: L columns (open direction).
        width: W sites per ring (>= 3); the exact MPS has bond q^W.
        q: states per site (>= 2).
        beta: inverse temperature (>= 0).
        J: coupling (J > 0 ferromagnetic).
    """

    kind = "potts_cylinder"
    anneal_parameter = "beta"
    observable_family = "potts"

    def __init__(self, length, width, q, beta, J=1.0):
        self.d = check_size(q, "q", 2)
        self._setup_grid(length, width, periodic=True)
        self.beta = check_range(beta, "beta", 0.0, np.inf, open_high=True)
        self.J = check_real(J, "J")
        check_precision(self.beta * abs(self.J) * len(self.bonds), f"{self.kind} (beta={self.beta})")

    def _pair_energy(self, a, b):
        return -self.J * (a == b).astype(float)

    def _site_energy(self, a):
        return np.zeros(np.shape(a))

    def statistics(self, X) -> dict:
        """Per sample: energy, energy per site and the order parameter (q max_a rho_a - 1) / (q - 1).

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        e = self.energy(X).astype(float)
        counts = np.stack([(X == a).mean(axis=1) for a in range(self.d)], axis=1)
        order = (self.d * counts.max(axis=1) - 1) / (self.d - 1)
        return {"energy": e, "energy_per_site": e / self.n_sites, "order_parameter": order}

    def _exact_observables(self) -> dict:
        N = self.n_sites
        e1, e2 = self._energy_moments()
        return {"log_z": self.log_z(), "energy_per_site": e1 / N, "specific_heat_per_site": self.beta**2 * (e2 - e1**2) / N,
                "entropy": self.log_z() + self.beta * e1}

    def exact_statistics(self) -> dict:
        """Exact energy and energy per site (forward moment pass)."""
        e = self.observables()["energy_per_site"]
        return {"energy": e * self.n_sites, "energy_per_site": e}

    def _params(self):
        return {"length": self.length, "width": self.width, "q": self.d, "beta": self.beta, "J": self.J}
