"""Nearest-neighbour models on L x W grids (open strips or cylinders) with bond-dependent couplings.

Sites n = c*W + r (column c = 0..L-1, row r = 0..W-1, column-major, as in tnddm.lattice.ising),
states 0..d-1, pi(x) ∝ exp(-beta E(x)) with

    E(x) = sum_{c,r} site[c, r, x_{c,r}]
         + sum_{c, r < W-1} vertical[c, r, x_{c,r}, x_{c,r+1}]
         + sum_{c < L-1, r} horizontal[c, r, x_{c,r}, x_{c+1,r}]
         [+ sum_c vertical[c, W-1, x_{c,W-1}, x_{c,0}]   (periodic: every column is a ring, W >= 3)].

Grid2D holds these energy tables; IsingGrid (spins s = 2x - 1, couplings J_ij and fields h_i:
ferromagnet, antiferromagnet, +-J Edwards-Anderson glass with a seeded disorder realisation) and
PottsGrid (q states) fill them. The exact automaton MPS (bond d^W) exists for small W; beyond it,
`model.proposal(chi)` gives the column-by-column boundary-MPS proposal of tnddm.mcmc.boundary,
whose Metropolis-Hastings correction makes Monte Carlo exact at any size.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

from .._checks import as_configs
from .automaton import finite_range
from .base import LatticeModel, check_range, check_size

EXACT_MAX_STATES = 2**12  # the exact MPS (bond d^W) is offered up to this bond dimension (W <= 12 for Ising)
DISORDER = ("none", "pm_j")


def site_energy_tables(site, vertical, horizontal) -> np.ndarray:
    """C[c, r, x, x_down, x_right] = site + vertical bond to the row below + horizontal bond to the next column
    of site (c, r) (missing bonds contribute 0 whatever the neighbour index), so that
    E(x) = sum_{c,r} C[c, r, x_{c,r}, x_{c,r+1}, x_{c+1,r}] with x_{c,W} = x_{c,0} (ring) or 0, x_{L,r} = 0."""
    L, W, d = site.shape
    C = np.repeat(np.repeat(site[:, :, :, None, None], d, axis=3), d, axis=4)
    nv = vertical.shape[1]
    C[:, :nv] += vertical[:, :, :, :, None]
    C[:-1] += horizontal[:, :, :, None, :]
    return np.ascontiguousarray(C)


@njit(cache=True)
def _table_energy(X, C, L, W, d, out) -> bool:
    """out[s] = E(X[s]) for configurations X (n, L*W) from the flattened site_energy_tables C: one lookup per
    site at ((i d + x_i) d + x_down) d + x_right. Returns False (out unfilled) if a state lies outside 0..d-1."""
    n, N = X.shape
    bad = False
    for s in range(n):  # no early exit: the check vectorises
        for i in range(N):
            bad |= (X[s, i] < 0) | (X[s, i] >= d)
    if bad:
        return False
    for s in range(n):
        x = X[s]
        e = 0.0
        for c in range(L):
            o = c * W
            right = o + W if c + 1 < L else o  # the last column's right index is ignored by the table
            for r in range(W):
                i = o + r
                down = i + 1 if r + 1 < W else o  # row 0 (ring) or ignored (open column)
                e += C[np.uint64(((i * d + x[i]) * d + x[down]) * d + x[right + r])]  # unsigned: no wraparound test
        out[s] = e
    return True


class Grid2D(LatticeModel):
    """pi ∝ exp(-beta E) on an L x W grid with energy tables (module docstring).

    Arguments:
        site (array): (L, W, d) site energies.
        vertical (array): (L, W-1, d, d) energies of the bonds within a column; (L, W, d, d) if periodic,
            bond W-1 joining rows W-1 and 0.
        horizontal (array): (L-1, W, d, d) energies of the bonds between columns.
        beta (float): inverse temperature >= 0.
        periodic (bool): close every column into a ring (a cylinder of circumference W >= 3).
    """

    kind = "grid"
    observable_family = "grid"

    def __init__(self, site, vertical, horizontal, beta, periodic: bool = False):
        site = np.asarray(site, dtype=float)
        if site.ndim != 3 or site.shape[2] < 2:
            raise ValueError(f"site must have shape (length, width, d) with d >= 2; got {site.shape}")
        L, W, d = site.shape
        if not isinstance(periodic, (bool, np.bool_)):
            raise ValueError(f"periodic must be true or false; got {periodic!r}")
        if periodic and W < 3:
            raise ValueError(f"a periodic column needs width >= 3; got width = {W}")
        self.periodic = bool(periodic)
        nv = W if self.periodic else max(W - 1, 0)
        vertical = np.asarray(vertical, dtype=float)
        if vertical.size != L * nv * d * d:
            raise ValueError(f"vertical must have shape {(L, nv, d, d)}; got {vertical.shape}")
        vertical = vertical.reshape(L, nv, d, d)
        horizontal = np.asarray(horizontal, dtype=float).reshape(max(L - 1, 0), W, d, d)
        for name, a in (("site", site), ("vertical", vertical), ("horizontal", horizontal)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} energies must be finite")
        if L * W < 2:
            raise ValueError(f"the grid needs at least 2 sites; got {L} x {W}")
        self.length, self.width, self.d, self.n_sites = L, W, d, L * W
        self.site, self.vertical, self.horizontal = site, vertical, horizontal
        self.beta = check_range(beta, "beta", 0.0, np.inf, open_high=True)
        self.range = W

    def _params(self):
        """The energy tables as nested lists (a model card's [model] table holds them as arrays)."""
        return {"site": self.site.tolist(), "vertical": self.vertical.tolist(), "horizontal": self.horizontal.tolist(),
                "beta": self.beta, "periodic": self.periodic}

    # ---- energy ---------------------------------------------------------------------------------
    @functools.cached_property
    def _energy_table(self) -> np.ndarray:
        """site_energy_tables of the model, flattened (built on the first energy evaluation)."""
        return site_energy_tables(self.site, self.vertical, self.horizontal).ravel()

    def grid(self, X) -> np.ndarray:
        """Configurations (n, N) as (n, L, W).

        Args:
            X: configurations, shape (n, N).
        """
        return self._configs(X).reshape(-1, self.length, self.width)

    def energy(self, X) -> np.ndarray:
        """E(x) of configurations (n, N) from the energy tables (module docstring), compiled.

        Args:
            X: configurations, shape (n, N).
        """
        X = as_configs(X, self.n_sites, self.d, check_range=False)  # the kernel checks the states
        e = np.empty(X.shape[0])
        if not _table_energy(X, self._energy_table, self.length, self.width, self.d, e):
            as_configs(X, self.n_sites, self.d)  # raises the usual error naming the states
        return e

    def statistics(self, X) -> dict:
        """Per sample: energy and energy per site.

        Args:
            X: configurations, shape (n, N).
        """
        e = self.energy(X)
        return {"energy": e, "energy_per_site": e / self.n_sites}

    def log_weight(self, X) -> np.ndarray:
        """-beta E(x).

        Args:
            X: configurations, shape (n, N).
        """
        return -self.beta * self.energy(X)

    # ---- the exact MPS (small widths) -------------------------------------------------------------
    @property
    def exact_available(self) -> bool:
        """True where the exact automaton MPS (bond d^W) is offered (d^W <= EXACT_MAX_STATES)."""
        return self.d**self.width <= EXACT_MAX_STATES

    def check_memory(self, max_memory=None) -> int:
        """The exact MPS's memory check where it is offered; 0 otherwise (it is never built)."""
        return super().check_memory(max_memory) if self.exact_available else 0

    def _automaton_entries(self) -> int:
        d, r, N = self.d, self.range, self.n_sites
        return sum(d ** (min(i, r) + 1) for i in range(min(r, N))) + max(0, N - r) * d ** (r + 1)

    def local_energy(self, i: int, windows: np.ndarray) -> np.ndarray:
        """Energy terms of site i (its site term and its bonds to the sites above and to the left)."""
        c, r = divmod(i, self.width)
        x = windows[:, -1]
        e = self.site[c, r, x]
        if r > 0:
            e = e + self.vertical[c, r - 1, windows[:, -2], x]
        if self.periodic and r == self.width - 1:  # the ring bond to row 0 of the column, W - 1 sites back
            e = e + self.vertical[c, r, x, windows[:, -self.width]]
        if c > 0:
            e = e + self.horizontal[c - 1, r, windows[:, -1 - self.width], x]
        return e

    def _build(self):
        if not self.exact_available:
            raise ValueError(f"the exact MPS of a width-{self.width} grid has bond {self.d}^{self.width} > "
                             f"{EXACT_MAX_STATES}; use model.proposal(chi) with Metropolis-Hastings")
        auto, self._windows = finite_range(self.n_sites, self.d, self.range,
                                           lambda i, w: -self.beta * self.local_energy(i, w))
        return auto

    def _exact_observables(self) -> dict:
        auto = self.automaton
        tables = [self.local_energy(i, w).reshape(auto.transition[i].shape) for i, w in enumerate(self._windows)]
        e1, e2 = auto.local_moments(tables)
        N = self.n_sites
        return {"log_z": self.log_z(), "energy_per_site": e1 / N, "specific_heat_per_site": self.beta**2 * (e2 - e1**2) / N}

    # ---- Monte Carlo ----------------------------------------------------------------------------
    def proposal(self, chi: int = 16, **options):
        """The column-by-column boundary-MPS proposal of bond chi (tnddm.mcmc.boundary.BoundaryProposal).

        Args:
            chi: bond dimension of the boundary MPS.
            **options: further options of BoundaryProposal.
        """
        from ..mcmc.boundary import BoundaryProposal

        return BoundaryProposal(self, chi, **options)

    def site_log_weights(self) -> np.ndarray:
        """(L, W, d) array -beta site[c, r, x]."""
        return -self.beta * self.site


class IsingGrid(Grid2D):
    """Ising model on an L x W grid (open strip or cylinder): `E = -sum_<ij> J_ij s_i s_j - sum_i h_i s_i`, s = 2x - 1.

    Arguments:
        length (int): L columns.
        width (int): W sites per column.
        beta (float): inverse temperature.
        J (float): uniform coupling (J > 0 ferromagnet, J < 0 antiferromagnet); with disorder 'pm_j'
            each bond gets J * (+1 or -1) with equal probability (Edwards-Anderson).
        h (float): uniform field.
        disorder (str): 'none' or 'pm_j'.
        disorder_seed (int): seed of the disorder realisation.
        J_vertical (array | None): (L, W-1) couplings within columns, (L, W) if periodic (overrides J and disorder).
        J_horizontal (array | None): (L-1, W) couplings between columns (overrides J and disorder).
        fields (array | None): (L, W) fields (overrides h).
        periodic (bool): close every column into a ring (cylinder of circumference W >= 3).

    to_spec() keeps the explicit arrays it was given (as nested lists), so from_spec(model.to_spec()) is the
    same model whether its couplings came from J, a seeded disorder or explicit arrays.
    """

    kind = "ising_grid"
    anneal_parameter = "beta"
    local_update = "spin_flip"
    observable_family = "ising"

    def __init__(self, length, width, beta, J=1.0, h=0.0, disorder="none", disorder_seed=0,
                 J_vertical=None, J_horizontal=None, fields=None, periodic=False):
        L, W = check_size(length, "length"), check_size(width, "width")
        nv = W if periodic else W - 1
        if disorder not in DISORDER:
            raise ValueError(f"disorder must be one of {DISORDER}; got {disorder!r}")
        J, h = float(J), float(h)
        rng = np.random.default_rng(disorder_seed)
        signs = (lambda shape: rng.choice([-1.0, 1.0], size=shape)) if disorder == "pm_j" else (lambda shape: np.ones(shape))
        Jv = J * signs((L, nv)) if J_vertical is None else np.asarray(J_vertical, dtype=float)
        Jh = J * signs((L - 1, W)) if J_horizontal is None else np.asarray(J_horizontal, dtype=float)
        hf = np.full((L, W), h) if fields is None else np.asarray(fields, dtype=float)
        for name, a, shape in (("J_vertical", Jv, (L, nv)), ("J_horizontal", Jh, (L - 1, W)), ("fields", hf, (L, W))):
            if a.shape != shape:
                raise ValueError(f"{name} must have shape {shape}; got {a.shape}")
        s = np.array([-1.0, 1.0])
        ss = np.outer(s, s)
        super().__init__(-hf[:, :, None] * s, -Jv[:, :, None, None] * ss, -Jh[:, :, None, None] * ss, beta, periodic)
        self.J_vertical, self.J_horizontal, self.fields = Jv, Jh, hf
        self._spec = {"length": L, "width": W, "beta": self.beta, "J": J, "h": h, "disorder": disorder,
                      "disorder_seed": int(disorder_seed), "periodic": self.periodic}
        for name, given, a in (("J_vertical", J_vertical, Jv), ("J_horizontal", J_horizontal, Jh), ("fields", fields, hf)):
            if given is not None:
                self._spec[name] = a.tolist()

    def statistics(self, X) -> dict:
        """Per sample: energy, energy per site, magnetisation m = mean s, |m|, m^2 and m^4 (Binder cumulant).

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        e = self.energy(X)
        m = (2.0 * X - 1).mean(axis=1)
        return {"energy": e, "energy_per_site": e / self.n_sites, "magnetisation": m, "abs_magnetisation": np.abs(m),
                "m2": m**2, "m4": m**4}

    def _exact_observables(self) -> dict:
        out = super()._exact_observables()
        auto = self.automaton
        spin = [(2.0 * w[:, -1] - 1).reshape(auto.transition[i].shape) for i, w in enumerate(self._windows)]
        m1, m2 = auto.local_moments(spin)
        out.update(magnetisation=m1 / self.n_sites, m2=m2 / self.n_sites**2)
        return out

    def _params(self):
        return dict(self._spec)


class PottsGrid(Grid2D):
    """q-state Potts model on an L x W grid (open strip or cylinder): `E = -J sum_<ij> [x_i == x_j]`.

    Arguments:
        length (int): L columns.
        width (int): W sites per column.
        q (int): states per site (>= 2).
        beta (float): inverse temperature.
        J (float): coupling.
        periodic (bool): close every column into a ring (cylinder of circumference W >= 3).
    """

    kind = "potts_grid"
    observable_family = "potts"

    def __init__(self, length, width, q, beta, J=1.0, periodic=False):
        L, W, q = check_size(length, "length"), check_size(width, "width"), check_size(q, "q", 2)
        eq = -float(J) * np.eye(q)
        super().__init__(np.zeros((L, W, q)), np.broadcast_to(eq, (L, W if periodic else max(W - 1, 0), q, q)),
                         np.broadcast_to(eq, (max(L - 1, 0), W, q, q)), beta, periodic)
        self.J = float(J)

    def statistics(self, X) -> dict:
        """Per sample: energy, energy per site and the order parameter (q max_a rho_a - 1) / (q - 1).

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        e = self.energy(X)
        counts = np.stack([(X == a).mean(axis=1) for a in range(self.d)], axis=1)
        return {"energy": e, "energy_per_site": e / self.n_sites,
                "order_parameter": (self.d * counts.max(axis=1) - 1) / (self.d - 1)}

    def _params(self):
        return {"length": self.length, "width": self.width, "q": self.d, "beta": self.beta, "J": self.J,
                "periodic": self.periodic}


def binder_cumulant(m2, m4) -> tuple[float, float]:
    """`U_4 = 1 - <m^4> / (3 <m^2>^2)` and its delta-method standard error from per-sample m^2, m^4
    (independent samples; for a chain pass the per-walker block means).

    Args:
        m2: per-sample m^2.
        m4: per-sample m^4.
    """
    m2, m4 = np.asarray(m2, dtype=float).ravel(), np.asarray(m4, dtype=float).ravel()
    a, b = m2.mean(), m4.mean()
    u = 1.0 - b / (3.0 * a**2)
    grad = np.array([2.0 * b / (3.0 * a**3), -1.0 / (3.0 * a**2)])
    cov = np.cov(np.stack([m2, m4])) / m2.size
    return float(u), float(np.sqrt(max(grad @ cov @ grad, 0.0)))
