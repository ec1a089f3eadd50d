"""Views of a probability MPS through per-site maps, without copying its storage.

Emitted: P_K(y) = sum_x P(x) prod_i K[y_i, x_i] (a noised model, K (d_out, d) non-negative). Every
         contraction is one of P with tilts w K, and site values map back by K^T:
             sum_y w[y] A^K_i[y] = sum_x (w K)[x] A_i[x],   l A^K_i[y] r = sum_x K[y, x] l A_i[x] r.
Tilted:  P(x) prod_i v_i[x_i] (v (N, d) non-negative): tilts w -> w v_i, site values times v_i.
Both sample with MPSBase's generic sampler; EmissionMixin is shared with the sparse EmittedMPS,
which keeps its fast automaton sampler.
"""
from __future__ import annotations

import numpy as np

from .base import MPSBase


class EmissionMixin:
    """Contractions of P_K on the clean model's storage (see module docstring); needs .clean and .K."""

    clean: MPSBase
    K: np.ndarray

    def _transfer_right(self, i, r, w):
        return self.clean._transfer_right(i, r, w @ self.K)

    def _transfer_left(self, i, l, w):
        return self.clean._transfer_left(i, l, w @ self.K)

    def _site_values(self, i, l, r):
        return self.clean._site_values(i, l, r) @ self.K.T

    def _all_site_values(self, left_tilts, right_tilts):
        ones = np.ones((1, self.n_sites, self.d))
        lw = ones if left_tilts is None else left_tilts
        rw = ones if right_tilts is None else right_tilts
        values, logl, logr = self.clean._all_site_values(lw @ self.K, rw @ self.K)
        return values @ self.K.T, logl, logr

    def log_prob(self, X):
        return MPSBase.log_prob(self, X)


def check_emission(K, d: int) -> np.ndarray:
    K = np.asarray(K, dtype=float)
    if K.ndim != 2 or K.shape[1] != d or np.any(K < 0) or not np.all(np.isfinite(K)):
        raise ValueError(f"K must be a finite non-negative matrix of shape (d_out, {d}); got {K.shape}")
    return K


class Emitted(EmissionMixin, MPSBase):
    """P_K(y) = sum_x P(x) prod_i K[y_i, x_i] for any probability MPS P (see module docstring)."""

    def __init__(self, clean: MPSBase, K):
        self.clean, self.K = clean, check_emission(K, clean.d)
        self.n_sites, self.d = clean.n_sites, self.K.shape[0]
        self.log_scale = clean.log_scale
        self._log_norm_cache = None

    @property
    def bond_dims(self):
        return self.clean.bond_dims

    def dense_cores(self):
        return [np.einsum("yx,axb->ayb", self.K, A) for A in self.clean.dense_cores()]

    def tilt(self, weights) -> "Tilted":
        return Tilted(self, weights)


class Tilted(MPSBase):
    """P(x) prod_i v_i[x_i] for any probability MPS P (see module docstring)."""

    def __init__(self, base: MPSBase, weights):
        v = np.asarray(weights, dtype=float)
        if v.shape != (base.n_sites, base.d) or np.any(v < 0) or not np.all(np.isfinite(v)):
            raise ValueError(f"weights must be finite and non-negative with shape ({base.n_sites}, {base.d}); got {v.shape}")
        self.base, self.v = base, v
        self.n_sites, self.d = base.n_sites, base.d
        self.log_scale = base.log_scale
        self._log_norm_cache = None

    @property
    def bond_dims(self):
        return self.base.bond_dims

    def _transfer_right(self, i, r, w):
        return self.base._transfer_right(i, r, w * self.v[i])

    def _transfer_left(self, i, l, w):
        return self.base._transfer_left(i, l, w * self.v[i])

    def _site_values(self, i, l, r):
        return self.base._site_values(i, l, r) * self.v[i]

    def _all_site_values(self, left_tilts, right_tilts):
        lw = self.v[None] if left_tilts is None else left_tilts * self.v
        rw = self.v[None] if right_tilts is None else right_tilts * self.v
        values, logl, logr = self.base._all_site_values(lw, rw)
        return values * self.v, logl, logr

    def dense_cores(self):
        return [A * self.v[i][None, :, None] for i, A in enumerate(self.base.dense_cores())]

    def tilt(self, weights) -> "Tilted":
        return Tilted(self.base, self.v * np.asarray(weights, dtype=float))
