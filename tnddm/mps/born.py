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
from .._deprecation import warn_deprecated
from .base import MPSBase
from .canonical import (
    core_times,
    right_canonical,
    split_two_site,  # noqa: F401  (deprecated name of split_two_site_svd, old import path)
    split_two_site_svd,
    svd_truncation,
    times_core,
    unit_rows,
)
from .numerics import draw_from_weights, rescale_cores
from .sparse import SparseMPS

#: the helpers of tnddm.mps.canonical are re-exported (old import path of tnddm.learn and tnddm.mcmc)
__all__ = ["BornMPS", "right_canonical", "svd_truncation", "split_two_site_svd", "times_core", "core_times", "unit_rows"]


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
        cores, self.log_scale = rescale_cores(cores, power=2)  # psi cores near 1e154 or tiny: exact powers of two
        self.cores = cores
        self.n_sites, self.d = len(cores), d

    @classmethod
    def from_automaton(cls, mps) -> "BornMPS":
        """psi = sqrt(P) for a deterministic automaton P (a SparseMPS with one entry per (state, symbol)):
        each x follows a single path of states, so P(x) = prod_i W_i(path) and psi(x) = prod_i sqrt(W_i(path))
        exactly. Same bond dimension as the automaton; dense cores, so for bonds up to a few hundred."""
        if not isinstance(mps, SparseMPS) or not mps.is_automaton:
            raise ValueError("mps must be a deterministic automaton (a SparseMPS with k = 1, e.g. model.mps() of an "
                             f"exact lattice model); got {type(mps).__name__}"
                             + (f" with k = {mps.k}" if isinstance(mps, SparseMPS) else ""))
        return cls(SparseMPS(mps.next_states, [np.sqrt(W) for W in mps.weights]).dense_cores())

    @property
    def bond_dims(self):
        """(chi_0, ..., chi_N) of psi: the bonds of the stored network."""
        return tuple(B.shape[0] for B in self.cores) + (1,)

    @property
    def born_bond_dims(self):
        """Deprecated name of bond_dims (the name from when bond_dims returned chi^2)."""
        warn_deprecated("BornMPS.born_bond_dims", "bond_dims (the bonds chi of psi; env_dims gives chi^2)")
        return self.bond_dims

    @property
    def env_dims(self):
        """Environment sizes chi_i^2: the bonds of the equivalent 1-norm MPS (dense_cores)."""
        return tuple(chi * chi for chi in self.bond_dims)

    # ---- storage primitives ---------------------------------------------------------------
    def _sandwich(self, i, E, w, side: str):
        """sum_x w[n, x] M_x[n] with M_x = B[x] E B[x]^T (side 'right') or B[x]^T E B[x] (side 'left').

        E (n_E, c, c); two large GEMMs per symbol (batch folded into the matrix rows)."""
        B = self.cores[i]
        cl, d, cr = B.shape
        nE = E.shape[0]
        n = max(nE, w.shape[0])
        out = None
        for x in range(d):
            wx = w[:, x]
            if not np.any(wx):
                continue
            Bx = B[:, x, :] if side == "right" else B[:, x, :].T  # M_x = Bx E Bx^T
            a, c = Bx.shape
            Y = (E.reshape(nE * c, c) @ Bx.T).reshape(nE, c, a)  # E Bx^T
            M = (Bx @ Y.transpose(1, 0, 2).reshape(c, nE * a)).reshape(a, nE, a).transpose(1, 0, 2)
            term = M * wx[:, None, None]
            out = np.broadcast_to(term, (n, a, a)).copy() if out is None else out + term
        if out is None:
            a = cl if side == "right" else cr
            out = np.zeros((n, a, a))
        return out

    def _transfer_right(self, i, r, w):
        cr = self.cores[i].shape[2]
        out = self._sandwich(i, r.reshape(r.shape[0], cr, cr), w, "right")
        return out.reshape(out.shape[0], -1)

    def _transfer_left(self, i, l, w):
        cl = self.cores[i].shape[0]
        out = self._sandwich(i, l.reshape(l.shape[0], cl, cl), w, "left")
        return out.reshape(out.shape[0], -1)

    def _site_values(self, i, l, r):
        """tr(L B[x] R B[x]^T) = sum_{c,e} (L B[x] R)[c, e] B[x][c, e] for each symbol."""
        B = self.cores[i]
        cl, d, cr = B.shape
        n = max(l.shape[0], r.shape[0])
        L = l.reshape(l.shape[0], cl, cl)
        R = r.reshape(r.shape[0], cr, cr)
        out = np.empty((n, d))
        for x in range(d):
            LB = (L.reshape(-1, cl) @ B[:, x, :]).reshape(L.shape[0], cl, cr)  # L B[x] (L symmetric)
            out[:, x] = np.einsum("nce,nce->n", np.broadcast_to(LB @ R, (n, cl, cr)), np.broadcast_to(B[:, x, :], (n, cl, cr)))
        return out

    def tilt(self, weights) -> "BornMPS":
        """P(x) prod_i w_i[x_i] (w >= 0) as a Born MPS: B_i[x] -> sqrt(w_i[x]) B_i[x]."""
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.n_sites, self.d) or np.any(w < 0):
            raise ValueError(f"weights must be non-negative with shape ({self.n_sites}, {self.d}); got {w.shape}")
        out = BornMPS([B * np.sqrt(w[i])[None, :, None] for i, B in enumerate(self.cores)])
        out.log_scale += self.log_scale
        return out

    def dense_cores(self):
        """1-norm cores A_i[x] = B_i[x] (x) B_i[x], shape (chi^2, d, chi^2) (signed; small chi only)."""
        return [np.einsum("axb,cxe->acxbe", B, B).reshape(B.shape[0] ** 2, self.d, B.shape[2] ** 2) for B in self.cores]

    def _sample_chunk(self, u, tilts, log_weight=None):
        """Born-machine sampler along the prefix vector v = B_1[x_1] ... B_{i-1}[x_{i-1}]:
            c_i(b) ∝ w_i[b] (v B_i[b]) R_{i+1} (v B_i[b])^T,
        with the chi x chi right environments R_{i+1} of the tilted law (O(d chi^3) per site and tilt row, for
        the environments only), or, untilted, on the right-canonical form, where every R is the identity
        (O(d chi^2) per site)."""
        if tilts is None:
            cores, R = self._cached("right_canonical", lambda: right_canonical(self.cores)), None
        else:
            cores, (R, _) = self.cores, self._right_envs(tilts)
        n = u.shape[0]
        X = np.empty((n, self.n_sites), dtype=np.int64)
        logp = np.zeros(n)
        rows = np.arange(n)
        v = np.ones((n, 1))
        for i, B in enumerate(cores):
            cl, d, cr = B.shape
            amps = (v @ B.reshape(cl, d * cr)).reshape(n, d, cr)
            if R is None:
                weight = np.einsum("nxb,nxb->nx", amps, amps)
            else:
                weight = np.einsum("nxb,nxb->nx", amps @ R[i + 1].reshape(-1, cr, cr), amps) * tilts[:, i]
                weight = np.clip(weight, 0.0, None)
            x, logc = draw_from_weights(weight, u[:, i])
            X[:, i] = x
            logp += logc
            v = unit_rows(amps[rows, x])
        return X, logp

    def check_nonnegative(self, atol: float = 0.0) -> None:
        """Nothing to check: P = psi^2 >= 0 for any real cores (the chi^2-bond cores are signed by design)."""

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
        return np.where(np.isfinite(acc), 2 * acc - self._log_z(), -np.inf)

    def ratios(self, X) -> np.ndarray:
        """P(x with x_i <- b) / P(x) = (l_i B_i[b] r_{i+1} / psi(x))^2 with the prefix and suffix vectors
        of psi along x: O(N d chi^2) per x, and no cancellation between signed terms."""
        X = as_configs(X, self.n_sites, self.d)
        n, N = X.shape[0], self.n_sites
        right = [np.ones((n, 1))] * (N + 1)
        for i in range(N - 1, -1, -1):
            right[i] = unit_rows(core_times(self.cores[i], X[:, i], right[i + 1]))
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
            left = unit_rows(times_core(left, B, X[:, i]))
        return out
