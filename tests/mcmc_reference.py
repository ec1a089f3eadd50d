"""Brute-force targets for the Monte Carlo tests (independent of tnddm.lattice).

Ising: s = 2x - 1, E = -J sum_<ij> s_i s_j - h sum_i s_i on L columns of W sites, column-major
n = c*W + r, rings in W when periodic (W >= 3). Fredkin: Dyck paths, log pi = (A/2) log r,
A = sum_i h_i, r = c / (1 - c).
"""
from __future__ import annotations

import numpy as np

from tnddm import ProbMPS
from tnddm.goodness_of_fit import all_configs


def ising_edges(length: int, width: int = 1, periodic: bool = False) -> np.ndarray:
    edges = []
    for c in range(length):
        for r in range(width):
            n = c * width + r
            if c + 1 < length:
                edges.append((n, n + width))
            if r + 1 < width:
                edges.append((n, n + 1))
            elif periodic and width >= 3:
                edges.append((n, c * width))
    return np.array(edges, dtype=np.int64)


class BruteIsing:
    def __init__(self, length, width=1, periodic=False, beta=0.4, J=1.0, h=0.0):
        self.edges = ising_edges(length, width, periodic)
        self.n_sites = length * width
        self.beta, self.J, self.h = beta, J, h
        self.X = all_configs(self.n_sites, 2)
        self.logw = self.log_weight(self.X)
        self.p = np.exp(self.logw - self.logw.max())
        self.p /= self.p.sum()

    def energy(self, X):
        s = 2 * np.asarray(X) - 1
        return -self.J * (s[:, self.edges[:, 0]] * s[:, self.edges[:, 1]]).sum(axis=1) - self.h * s.sum(axis=1)

    def log_weight(self, X):
        return -self.beta * self.energy(X)

    def statistics(self, X):
        s = 2 * np.asarray(X) - 1
        return {"energy": self.energy(X), "magnetisation": s.mean(axis=1), "abs_magnetisation": np.abs(s.mean(axis=1))}

    def exact(self, name):
        return float(self.p @ self.statistics(self.X)[name])

    def mps(self):
        return ProbMPS.from_dense(self.p)


class BruteFredkin:
    def __init__(self, n_sites, c):
        self.n_sites, self.c = n_sites, c
        self.X = all_configs(n_sites, 2)
        self.logw = self.log_weight(self.X)
        w = np.where(np.isfinite(self.logw), np.exp(self.logw - self.logw[np.isfinite(self.logw)].max()), 0.0)
        self.p = w / w.sum()

    def heights(self, X):
        return np.cumsum(2 * np.asarray(X) - 1, axis=1)

    def is_dyck(self, X):
        h = self.heights(X)
        return (h.min(axis=1) >= 0) & (h[:, -1] == 0)

    def log_weight(self, X):
        h = self.heights(X)
        A = h.sum(axis=1)
        lw = 0.5 * A * np.log(self.c / (1 - self.c))
        return np.where(self.is_dyck(X), lw, -np.inf)

    def statistics(self, X):
        h = self.heights(X)
        return {"area": h.sum(axis=1).astype(float), "mid_height": h[:, self.n_sites // 2 - 1].astype(float),
                "energy": -h.sum(axis=1).astype(float), "magnetisation": (2 * np.asarray(X) - 1)[:, : self.n_sites // 2].mean(axis=1)}

    def exact(self, name):
        return float(self.p @ self.statistics(self.X)[name])

    def mps(self):
        return ProbMPS.from_dense(self.p)
