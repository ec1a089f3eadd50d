"""Born-machine MPS: P(x) = psi(x)^2 / Z with psi(x) = B_1[x_1] ... B_N[x_N], real cores B_i (chi_{i-1}, d, chi_i).

As a 1-norm MPS its cores are A_i[x] = B_i[x] (x) B_i[x] (bond chi^2, signed entries, P >= 0), so the
whole engine (exact sampling, log-probabilities, marginals, scores, conditionals, noising and exact
denoising) applies to it. Environments are kept as chi x chi matrices, flattened to chi^2 vectors:
    right: R_i = sum_x w[x] B_i[x] R_{i+1} B_i[x]^T,      left: L_{i+1} = sum_x w[x] B_i[x]^T L_i B_i[x],
    site values: l A_i[x] r = tr(L_i B_i[x] R_{i+1} B_i[x]^T),
which costs O(d chi^3) per site instead of the O(d chi^4) of the chi^2-bond form.
For the same bond dimension a Born MPS can represent distributions that a non-negative 1-norm MPS
cannot (e.g. the 2D Ising model at beta_c, docs/learning.md): it is the model of Han et al.
(Phys. Rev. X 8, 031012, 2018), trained by tnddm.learn.BornTrainer.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_configs
from .base import MPSBase


class BornMPS(MPSBase):
    """P(x) ∝ psi(x)^2 for a real MPS psi given by its cores (see module docstring)."""

    def __init__(self, cores):
        cores = [np.ascontiguousarray(B, dtype=float) for B in cores]
        if not cores:
            raise ValueError("cores must be a non-empty list of arrays (chi_left, d, chi_right)")
        d = cores[0].shape[1] if cores[0].ndim == 3 else None
        for i, B in enumerate(cores):
            if B.ndim != 3 or B.shape[1] != d:
                raise ValueError(f"cores[{i}] must have shape (chi_left, d = {d}, chi_right); got {B.shape}")
            if not np.all(np.isfinite(B)):
                raise ValueError(f"cores[{i}] must be finite")
            if i > 0 and cores[i - 1].shape[2] != B.shape[0]:
                raise ValueError(f"bond {i}: cores[{i - 1}] has right bond {cores[i - 1].shape[2]} but cores[{i}] "
                                 f"has left bond {B.shape[0]}")
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ValueError("the first core must have left bond 1 and the last right bond 1")
        self.cores = cores
        self.n_sites, self.d = len(cores), d
        self._log_norm_cache = None

    @property
    def bond_dims(self):
        """Environment sizes chi_i^2 (the bonds of the equivalent 1-norm MPS)."""
        return tuple(chi * chi for chi in self.born_bond_dims)

    @property
    def born_bond_dims(self):
        """(chi_0, ..., chi_N) of psi."""
        return tuple(B.shape[0] for B in self.cores) + (1,)

    # ---- storage primitives ---------------------------------------------------------------
    @staticmethod
    def _weighted(w, T):
        """sum_x w[n, x] T[n, x, ...] with a batch axis of size 1 broadcast on either side."""
        if T.shape[0] == 1:
            return np.tensordot(w, T[0], axes=([1], [0]))
        if w.shape[0] == 1:
            return np.einsum("nxac,x->nac", T, w[0])
        return np.einsum("nxac,nx->nac", T, w)

    def _transfer_right(self, i, r, w):
        B = self.cores[i]
        cr = B.shape[2]
        R = r.reshape(r.shape[0], cr, cr)
        T = np.einsum("axb,nbe,cxe->nxac", B, R, B, optimize=True)
        out = self._weighted(w, T)
        return out.reshape(out.shape[0], -1)

    def _transfer_left(self, i, l, w):
        B = self.cores[i]
        cl = B.shape[0]
        L = l.reshape(l.shape[0], cl, cl)
        T = np.einsum("axb,nac,cxe->nxbe", B, L, B, optimize=True)
        out = self._weighted(w, T)
        return out.reshape(out.shape[0], -1)

    def _site_values(self, i, l, r):
        B = self.cores[i]
        cl, _, cr = B.shape
        n = max(l.shape[0], r.shape[0])
        L = np.broadcast_to(l.reshape(l.shape[0], cl, cl), (n, cl, cl))
        R = np.broadcast_to(r.reshape(r.shape[0], cr, cr), (n, cr, cr))
        return np.einsum("nac,axb,nbe,cxe->nx", L, B, R, B, optimize=True)

    def tilt(self, weights) -> "BornMPS":
        """P(x) prod_i w_i[x_i] (w >= 0) as a Born MPS: B_i[x] -> sqrt(w_i[x]) B_i[x]."""
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.n_sites, self.d) or np.any(w < 0):
            raise ValueError(f"weights must be non-negative with shape ({self.n_sites}, {self.d}); got {w.shape}")
        return BornMPS([B * np.sqrt(w[i])[None, :, None] for i, B in enumerate(self.cores)])

    def dense_cores(self):
        """1-norm cores A_i[x] = B_i[x] (x) B_i[x], shape (chi^2, d, chi^2) (signed; small chi only)."""
        return [np.einsum("axb,cxe->acxbe", B, B).reshape(B.shape[0] ** 2, self.d, B.shape[2] ** 2) for B in self.cores]

    # ---- faster paths -----------------------------------------------------------------------
    def log_prob(self, X) -> np.ndarray:
        """log P(x) = 2 log |psi(x)| - log Z, with psi(x) by vector-matrix products (O(N chi^2) per x)."""
        X = as_configs(X, self.n_sites, self.d)
        n = X.shape[0]
        v = np.ones((n, 1))
        acc = np.zeros(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i, B in enumerate(self.cores):
                v = times_core(v, B, X[:, i])
                s = np.abs(v).sum(axis=1)
                v = v / np.where(s > 0, s, 1.0)[:, None]
                acc = acc + np.log(s)
            acc = acc + np.log(np.abs(v[:, 0]))
        return np.where(np.isfinite(acc), 2 * acc - self.log_norm(), -np.inf)

    def ratios(self, X) -> np.ndarray:
        """P(x with x_i <- b) / P(x) = (l_i B_i[b] r_{i+1} / psi(x))^2 with the prefix and suffix vectors
        of psi along x: O(N d chi^2) per x, and no cancellation between signed terms."""
        X = as_configs(X, self.n_sites, self.d)
        n, N = X.shape[0], self.n_sites
        right = [np.ones((n, 1))] * (N + 1)
        for i in range(N - 1, -1, -1):
            right[i] = _unit_rows(core_times(self.cores[i], X[:, i], right[i + 1]))
        out = np.empty((n, N, self.d))
        left = np.ones((n, 1))
        rows = np.arange(n)
        for i, B in enumerate(self.cores):
            amp = np.einsum("na,axb,nb->nx", left, B, right[i + 1])  # psi(x^{i<-b}) up to a common factor
            here = amp[rows, X[:, i]]
            if np.any(here == 0):
                bad = np.flatnonzero(here == 0)
                raise ValueError(f"X rows {bad[:10].tolist()} have probability zero; ratios undefined")
            out[:, i] = (amp / here[:, None]) ** 2
            left = _unit_rows(times_core(left, B, X[:, i]))
        return out


def _unit_rows(v):
    """Rows scaled to unit max-abs (all-zero rows stay zero)."""
    s = np.abs(v).max(axis=1, keepdims=True)
    return v / np.where(s > 0, s, 1.0)


def times_core(v, B, x):
    """v_s B[:, x_s, :] for each row s: (n, chi_l) -> (n, chi_r), one GEMM per symbol."""
    out = np.empty((v.shape[0], B.shape[2]))
    for a in range(B.shape[1]):
        rows = x == a
        out[rows] = v[rows] @ B[:, a, :]
    return out


def core_times(B, x, v):
    """B[:, x_s, :] v_s for each row s: (n, chi_r) -> (n, chi_l), one GEMM per symbol."""
    out = np.empty((v.shape[0], B.shape[0]))
    for a in range(B.shape[1]):
        rows = x == a
        out[rows] = v[rows] @ B[:, a, :].T
    return out

