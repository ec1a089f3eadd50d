"""Dense-core probability MPS: cores (chi_{i-1}, d, chi_i), batched BLAS kernels."""
from __future__ import annotations

import numpy as np

from ._dense_kernels import right_sweep_dense, sample_conditional, sample_shared
from .base import MPSBase
from .numerics import rescale_cores


class ProbMPS(MPSBase):
    """P(x) = A_1[x_1] ... A_N[x_N] with dense non-negative cores (1-norm MPS).

    arrays: list of N arrays of shape (chi_{i-1}, d, chi_i) with chi_0 = chi_N = 1.
    check_nonnegative=False accepts signed cores (e.g. an SVD-compressed MPS) whose contraction
    is still a distribution; sampling then raises if a conditional comes out negative.
    """

    def __init__(self, arrays, check_nonnegative: bool = True, dtype=np.float64):
        if not isinstance(arrays, (list, tuple)) or len(arrays) == 0:
            raise ValueError("arrays must be a non-empty list of cores of shape (chi_left, d, chi_right)")
        cores = []
        for i, A in enumerate(arrays):
            A = np.asarray(A, dtype=dtype)
            if A.ndim != 3:
                raise ValueError(f"arrays[{i}] must have 3 axes (chi_left, d, chi_right); got shape {A.shape}")
            if not np.all(np.isfinite(A)):
                raise ValueError(f"arrays[{i}] has non-finite entries")
            cores.append(np.ascontiguousarray(A))
        d = cores[0].shape[1]
        for i, A in enumerate(cores):
            if A.shape[1] != d:
                raise ValueError(f"arrays[{i}] has physical dimension {A.shape[1]}; expected d = {d}")
            if i > 0 and A.shape[0] != cores[i - 1].shape[2]:
                raise ValueError(
                    f"arrays[{i}] has left bond {A.shape[0]} but arrays[{i - 1}] has right bond {cores[i - 1].shape[2]}"
                )
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ValueError("arrays[0] must have left bond 1 and arrays[-1] right bond 1")
        cores, self.log_scale = rescale_cores(cores, dtype)  # cores near 1e308 or subnormal: exact powers of two
        self.cores = cores
        self.dtype = np.dtype(dtype)
        self.n_sites = len(cores)
        self.d = d
        self.signed = not check_nonnegative
        if check_nonnegative:
            self.check_nonnegative()

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def from_dense(cls, p, d: int = 2) -> "ProbMPS":
        """Exact non-negative MPS of a vector p of length d**N (site 0 most significant).

        Left half of the chain records the prefix, right half the suffix; the middle core holds
        p itself. Bond dimension d**min(i, N - i): exact and non-negative, meant for small N.
        """
        p = np.asarray(p, dtype=float).ravel()
        N = int(round(np.log(p.size) / np.log(d))) if p.size > 1 else 1
        if d**N != p.size:
            raise ValueError(f"p must have length d**N for d = {d}; got length {p.size}")
        if np.any(p < 0) or not np.all(np.isfinite(p)) or p.sum() <= 0:
            raise ValueError("p must be finite, non-negative and not all zero")
        m = N // 2  # sites 0..m-1 record the prefix; site m holds p
        cores = []
        for i in range(m):
            A = np.zeros((d**i, d, d ** (i + 1)))
            for a in range(d**i):
                for x in range(d):
                    A[a, x, a * d + x] = 1.0
            cores.append(A)
        rest = N - m
        cores.append(p.reshape(d**m, d, d ** (rest - 1)))
        for i in range(m + 1, N):
            k = N - i  # suffix length including site i
            A = np.zeros((d**k, d, d ** (k - 1)))
            for x in range(d):
                for b in range(d ** (k - 1)):
                    A[x * d ** (k - 1) + b, x, b] = 1.0
            cores.append(A)
        return cls(cores)

    @classmethod
    def from_quimb(cls, mps, check_nonnegative: bool = True) -> "ProbMPS":
        """From a quimb MatrixProductState whose entries are the (1-norm) weights."""
        N = mps.L
        cores = []
        for i in range(N):
            t = mps[i]
            left = [mps.bond(i - 1, i)] if i > 0 else []
            right = [mps.bond(i, i + 1)] if i < N - 1 else []
            A = t.transpose(*left, mps.site_ind(i), *right).data
            A = np.asarray(A)
            if i == 0:
                A = A[None]
            if i == N - 1:
                A = A[..., None]
            cores.append(A)
        return cls(cores, check_nonnegative=check_nonnegative)

    def astype(self, dtype) -> "ProbMPS":
        """The same MPS with cores in another precision (float32 halves memory and speeds sampling)."""
        return _carry_scale(ProbMPS(self.cores, check_nonnegative=not self.signed, dtype=dtype), self)

    @classmethod
    def random(cls, n_sites: int, bond_dim: int, d: int = 2, seed=None) -> "ProbMPS":
        """A random non-negative MPS (uniform entries), for tests and benchmarks."""
        rng = np.random.default_rng(seed)
        dims = [1] + [bond_dim] * (n_sites - 1) + [1]
        return cls([rng.random((dims[i], d, dims[i + 1])) for i in range(n_sites)])

    # ---- storage primitives ---------------------------------------------------------------
    @property
    def bond_dims(self):
        return tuple([1] + [A.shape[2] for A in self.cores])

    def dense_cores(self):
        return self.cores

    def tilt(self, weights):
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.n_sites, self.d):
            raise ValueError(f"weights must have shape ({self.n_sites}, {self.d}); got {w.shape}")
        return _carry_scale(ProbMPS([A * w[i][None, :, None] for i, A in enumerate(self.cores)],
                                    check_nonnegative=not self.signed, dtype=self.dtype), self)

    def emit(self, K) -> "ProbMPS":
        """The MPS of sum_x P(x) prod_i K[y_i, x_i] over y: cores A'[y] = sum_x K[y, x] A[x]."""
        K = np.asarray(K, dtype=float)
        if K.ndim != 2 or K.shape[1] != self.d:
            raise ValueError(f"K must have shape (d_out, {self.d}); got {K.shape}")
        cores = [np.einsum("yx,axb->ayb", K, A) for A in self.cores]
        return _carry_scale(ProbMPS(cores, check_nonnegative=not self.signed and bool(np.all(K >= 0))), self)

    def _transfer_right(self, i, r, w):
        A = self.cores[i]
        cl, d, cr = A.shape
        T = (r @ A.reshape(cl * d, cr).T).reshape(r.shape[0], cl, d)
        return (T * w[:, None, :]).sum(axis=2)

    def _transfer_left(self, i, l, w):
        A = self.cores[i]
        cl, d, cr = A.shape
        V = (l @ A.reshape(cl, d * cr)).reshape(l.shape[0], d, cr)
        return (V * w[:, :, None]).sum(axis=1)

    def _site_values(self, i, l, r):
        A = self.cores[i]
        cl, d, cr = A.shape
        V = (l @ A.reshape(cl, d * cr)).reshape(l.shape[0], d, cr)
        return (V * r[:, None, :]).sum(axis=2)

    def _padded_cores(self):
        """AT[i, x, c, a] = A_i[a, x, c], zero-padded to the largest bond (sampling kernel layout)."""
        def build():
            chi = max(self.bond_dims)
            AT = np.zeros((self.n_sites, self.d, chi, chi), dtype=self.dtype)
            for i, A in enumerate(self.cores):
                AT[i, :, : A.shape[2], : A.shape[0]] = A.transpose(1, 2, 0)
            return AT

        return self._cached("padded_cores", build)

    def _padded_envs(self, envs, n):
        chi = max(self.bond_dims)
        R = np.zeros((n, self.n_sites + 1, chi))
        for i, r in enumerate(envs):
            R[:, i, : r.shape[1]] = r
        return R

    def _padded_right_cores(self):
        """A2[i, x, a, c] = A_i[a, x, c], zero-padded (layout of the right-sweep kernel)."""
        def build():
            chi = max(self.bond_dims)
            A2 = np.zeros((self.n_sites, self.d, chi, chi), dtype=self.dtype)
            for i, A in enumerate(self.cores):
                A2[i, :, : A.shape[0], : A.shape[2]] = A.transpose(1, 0, 2)
            return A2

        return self._cached("padded_right_cores", build)

    def _contract(self, tilts=None):
        """Batched contraction with per-sample tilts in one numba pass (see right_sweep_dense)."""
        if tilts is None or tilts.shape[0] < 4:
            return super()._contract(tilts)
        n = tilts.shape[0]
        sign, logv = np.empty(n), np.empty(n)
        right_sweep_dense(self._padded_right_cores(), np.ascontiguousarray(tilts, dtype=self.dtype),
                          np.zeros((1, 1, 1), dtype=self.dtype), sign, logv)
        return sign, logv

    def _sample_chunk(self, u, tilts, log_weight=None):
        """Exact autoregressive sampling of a chunk with the numba kernel tnddm.mps._dense_kernels.

        p(x_i | x_<i) ∝ w_i[x_i] l_{i-1} A_i[x_i] r_{i+1};  l_i = l_{i-1} A_i[x_i] / (l_{i-1} A_i[x_i] r_{i+1}).
        """
        n, N = u.shape
        AT = self._padded_cores()
        u = np.ascontiguousarray(u)
        X = np.empty(u.shape, dtype=np.int64)
        logp = np.empty(u.shape[0])
        if tilts is None:
            def build():
                r = self._padded_envs(self._right_envs()[0], 1)[0]  # (N + 1, chi)
                return np.einsum("ixca,ic->ixa", AT, r[1:].astype(self.dtype))  # B[i, x, a] = (A_i[x] r_{i+1})[a]

            bad = sample_shared(AT, self._cached("shared_right", build), u, self.signed, X, logp)
        else:
            w = np.ascontiguousarray(np.broadcast_to(tilts, (n, N, self.d)), dtype=self.dtype)
            R = np.empty((n, N + 1, AT.shape[2]), dtype=self.dtype)
            right_sweep_dense(self._padded_right_cores(), w, R, np.empty(n), np.empty(n))
            logw = np.empty(n) if log_weight is None else log_weight
            bad = sample_conditional(AT, R, w, u, self.signed, X, logp, logw)
        if bad:
            raise ValueError(f"{bad} samples met a negative or zero conditional weight; the (tilted) MPS is not a distribution")
        return X, logp


def _carry_scale(new, old):
    """An MPS built from old's stored cores carries old's log_scale (the factor removed from extreme cores)."""
    new.log_scale += old.log_scale
    return new
