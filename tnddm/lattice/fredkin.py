"""The Fredkin chain (Causer, Garrahan, Lamacraft, Phys. Rev. E 106, 014128 (2022)).

N even, x_i = 1 up / 0 down, heights h_0 = 0, h_i = h_{i-1} + 2 x_i - 1. Allowed configurations are
Dyck paths (h_i >= 0, h_N = 0; Catalan-many). pi(x) ∝ r^{A(x)/2} on Dyck paths with r = c / (1 - c)
and area A = sum_i h_i. Exact automaton MPS: state = height (bond N/2 + 1), step weight r^{h_i / 2}.
"""
from __future__ import annotations

import numpy as np

from .automaton import Automaton
from .base import LatticeModel, check_precision, check_range, check_size


def heights(X) -> np.ndarray:
    """h_i for i = 1..N, shape (n, N)."""
    return np.cumsum(2 * np.asarray(X, dtype=np.int64) - 1, axis=1)


def is_dyck(X) -> np.ndarray:
    """True for rows that are Dyck paths (every height >= 0, final height 0)."""
    h = heights(np.atleast_2d(X))
    return (h.min(axis=1) >= 0) & (h[:, -1] == 0)


class Fredkin(LatticeModel):
    """Fredkin chain of n_sites (even) with parameter c in (0, 1); c = 1/2 is uniform on Dyck paths.

    pi(x) ∝ r^(A(x)/2) on Dyck paths, r = c / (1 - c), A the area under the height path (module docstring).

    Args:
        n_sites: number of sites N (even, >= 2).
        c: the Fredkin parameter in (0, 1); c > 1/2 favours high paths, c < 1/2 low ones.
    """

    d = 2
    kind = "fredkin"
    anneal_parameter = "c"
    local_update = "fredkin_exchange"
    observable_family = "fredkin"

    def __init__(self, n_sites, c):
        self.n_sites = check_size(n_sites, "n_sites", 2)
        if self.n_sites % 2:
            raise ValueError(f"n_sites must be even for the Fredkin chain; got {self.n_sites}")
        self.c = check_range(c, "c", 0.0, 1.0, open_low=True, open_high=True)
        self.log_r = float(np.log(self.c) - np.log1p(-self.c))
        check_precision(0.5 * abs(self.log_r) * (self.n_sites // 2) ** 2, f"fredkin (n_sites={self.n_sites}, c={self.c})")

    def _automaton_entries(self) -> int:
        return self.n_sites * (self.n_sites // 2 + 1) * self.d

    def _build(self):
        N, H = self.n_sites, self.n_sites // 2
        nxts, logws = [], []
        for i in range(N):
            a = np.arange(1 if i == 0 else H + 1)
            b = a[:, None] + np.array([-1, 1])[None, :]  # x = 0 down, x = 1 up
            remaining = N - (i + 1)
            ok = (b >= 0) & (b <= min(H, remaining))
            if i == N - 1:
                ok &= b == 0
            nxts.append(np.where(ok, b, 0))
            logws.append(np.where(ok, 0.5 * self.log_r * b, -np.inf))
        return Automaton(nxts, logws)

    def is_dyck(self, X) -> np.ndarray:
        """True for rows of X (configurations (n, N)) that are Dyck paths."""
        return is_dyck(self._configs(X))

    def log_weight(self, X) -> np.ndarray:
        """(A / 2) log r on Dyck paths, -inf elsewhere.

        Args:
            X: configurations, shape (n, N).
        """
        X = self._configs(X)
        h = heights(X)
        ok = (h.min(axis=1) >= 0) & (h[:, -1] == 0)
        return np.where(ok, 0.5 * self.log_r * h.sum(axis=1), -np.inf)

    def statistics(self, X) -> dict:
        """Per sample: area A, mid-chain height h_{N/2}, maximal height.

        Args:
            X: configurations, shape (n, N).
        """
        h = heights(self._configs(X))
        return {"area": h.sum(axis=1).astype(float), "mid_height": h[:, self.n_sites // 2 - 1].astype(float),
                "max_height": h.max(axis=1).astype(float)}

    def height_distribution(self, i: int) -> np.ndarray:
        """Exact P(h_i = k) for k = 0..N/2.

        Args:
            i: site, 1..N.
        """
        if not 1 <= int(i) <= self.n_sites:
            raise ValueError(f"i must lie in 1..{self.n_sites}; got {i}")
        p = self.automaton.state_distributions()[int(i)]
        out = np.zeros(self.n_sites // 2 + 1)
        out[: p.size] = p
        return out

    def mean_heights(self) -> np.ndarray:
        """Exact `<h_i>`, i = 1..N (one forward pass)."""
        dists = self.automaton.state_distributions()[1:]
        return np.array([p @ np.arange(p.size) for p in dists])

    def _exact_observables(self) -> dict:
        profile = self.mean_heights()
        return {"log_z": self.log_z(), "mean_area": float(profile.sum()), "mean_mid_height": float(profile[self.n_sites // 2 - 1]),
                "mean_height_profile": profile}

    def exact_statistics(self) -> dict:
        """Exact means of area and mid_height (forward pass) and of max_height, `E[max h] = sum_{k >= 0} (1 - P(max h <= k))`,
        where `P(max h <= k)` is the mass of the forward pass that stays in states (heights) <= k."""
        obs = self.observables()
        max_height = sum(1.0 - self.automaton.prob_states_at_most(k) for k in range(self.n_sites // 2 + 1))
        return {"area": obs["mean_area"], "mid_height": obs["mean_mid_height"], "max_height": float(max_height)}

    def typical_state(self, n: int, rng=None) -> np.ndarray:
        """n copies of the most probable Dyck path: pi ∝ r^(A/2), r = c / (1 - c), A the area, so the mode is the
        flat path 1010... (least area) for c <= 1/2 and the single mountain 1...10...0 (most area) for c > 1/2.
        Starting there matters above c = 1/2: local moves do not lift flat paths to the tall ones that dominate pi.

        Args:
            n: number of configurations.
            rng: unused (the mode is deterministic).
        """
        half = self.n_sites // 2
        path = np.array([1] * half + [0] * half) if self.c > 0.5 else np.tile([1, 0], half)
        return np.tile(path.astype(np.int64), (n, 1))

    def _params(self):
        return {"n_sites": self.n_sites, "c": self.c}
