"""Dense-core probability MPS: cores (chi_{i-1}, d, chi_i), batched BLAS kernels."""
from __future__ import annotations

import numpy as np

from .base import MPSBase


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
        self.cores = cores
        self.n_sites = len(cores)
        self.d = d
        self.signed = not check_nonnegative
        if check_nonnegative:
            self.check_nonnegative()
        self._log_norm_cache = None
        self._shared_right = None

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
        return ProbMPS([A * w[i][None, :, None] for i, A in enumerate(self.cores)], check_nonnegative=not self.signed)

    def emit(self, K) -> "ProbMPS":
        """The MPS of sum_x P(x) prod_i K[y_i, x_i] over y: cores A'[y] = sum_x K[y, x] A[x]."""
        K = np.asarray(K, dtype=float)
        if K.ndim != 2 or K.shape[1] != self.d:
            raise ValueError(f"K must have shape (d_out, {self.d}); got {K.shape}")
        cores = [np.einsum("yx,axb->ayb", K, A) for A in self.cores]
        return ProbMPS(cores, check_nonnegative=not self.signed and bool(np.all(K >= 0)))

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

    def _sample_chunk(self, u, tilts):
        """Inverse-CDF sampling site by site: one (n, chi) x (chi, d chi) GEMM per site.

        l_i = l_{i-1} A_i[x_i] / (l_{i-1} A_i[x_i] r_{i+1}), p(x_i | x_<i) ∝ w_i[x_i] l_{i-1} A_i[x_i] r_{i+1}.
        """
        n, N = u.shape
        if tilts is None:
            if self._shared_right is None:
                self._shared_right = [r[0] for r in self._right_envs()[0]]
            R = self._shared_right
        else:
            R = self._right_envs(tilts)[0]
        X = np.empty((n, N), dtype=np.int64)
        logp = np.zeros(n)
        rows = np.arange(n)
        l = np.ones((n, 1), dtype=self.cores[0].dtype)
        for i, A in enumerate(self.cores):
            cl, d, cr = A.shape
            V = (l @ A.reshape(cl, d * cr)).reshape(n, d, cr)
            q = V @ R[i + 1] if tilts is None else (V * R[i + 1][:, None, :]).sum(axis=2) * tilts[:, i]
            x, logc, qx = _draw(q, u[:, i], self.signed, i)
            X[:, i] = x
            logp += logc
            l = V[rows, x] / qx[:, None]
        return X, logp


def _draw(q, u, signed, site):
    """Pick x with probability q[x] / sum(q) by inverse CDF; return (x, log p(x), q[x])."""
    if signed:
        if np.any(q < -1e-9 * np.abs(q).sum(axis=1, keepdims=True)):
            raise ValueError(f"the MPS gives a negative conditional probability at site {site}; it is not a distribution")
        q = np.clip(q, 0.0, None)
    c = np.cumsum(q, axis=1)
    tot = c[:, -1]
    if np.any(~(tot > 0)):
        raise ValueError(f"zero total weight at site {site}: the (tilted) distribution is not normalisable")
    x = (c[:, :-1] <= (u * tot)[:, None]).sum(axis=1)
    qx = q[np.arange(q.shape[0]), x]
    return x, np.log(qx / tot), qx
