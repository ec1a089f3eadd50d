"""SVD and canonical-form helpers of real MPS cores (chi_{i-1}, d, chi_i), shared by the Born MPS, its
compression (tnddm.mps.compress), the Born trainer (tnddm.learn.born) and the truncated proposals of
tnddm.mcmc.

- right_canonical: the same MPS with cores 1..N-1 right-orthonormal and unit norm in core 0;
- svd_truncation: left-to-right truncated SVDs of right-canonical cores to a bond chi;
- split_two_site_svd: the truncated SVD split of a two-site tensor (one step of a two-site sweep);
- times_core / core_times / unit_rows: batched products of prefix / suffix vectors with one core
  along given configurations, and rescaling of such vectors.
"""
from __future__ import annotations

import numpy as np

from .._deprecation import warn_deprecated

__all__ = ["right_canonical", "svd_truncation", "split_two_site_svd", "times_core", "core_times", "unit_rows"]


def unit_rows(v):
    """Rows scaled to unit max-abs (all-zero rows stay zero); psi ratios are unchanged."""
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


def split_two_site_svd(theta, chi_max: int, cutoff: float, move: str):
    """theta (chi_l, d, d, chi_r) = U S V^T, keeping at most chi_max singular values above cutoff * s_max,
    with S renormalised: 'right' returns (U, S V^T, ||S_kept||), 'left' (U S, V^T, ||S_kept||)."""
    cl, d, _, cr = theta.shape
    U, S, Vt = np.linalg.svd(theta.reshape(cl * d, d * cr), full_matrices=False)
    k = int(np.clip(np.count_nonzero(S > cutoff * S[0]), 1, chi_max)) if S[0] > 0 else 1
    kept = float(np.linalg.norm(S[:k]))
    S = S[:k] / kept if kept > 0 else S[:k]
    if move == "right":
        return U[:, :k].reshape(cl, d, k), (S[:, None] * Vt[:k]).reshape(k, d, cr), kept
    return (U[:, :k] * S[None, :]).reshape(cl, d, k), Vt[:k].reshape(k, d, cr), kept


def split_two_site(theta, chi_max: int, cutoff: float, move: str):
    """Deprecated name of split_two_site_svd (tnddm.learn.train.split_two_site_nonnegative is the NMF split)."""
    warn_deprecated("tnddm.mps.canonical.split_two_site", "split_two_site_svd")
    return split_two_site_svd(theta, chi_max, cutoff, move)


def svd_truncation(cores, chi: int) -> list[np.ndarray]:
    """Left-to-right truncated SVDs of right-canonical cores: each bond keeps its chi largest singular values
    (those above 1e-15 s_max), which are pushed to the right (scaled by s_max); the last core has unit norm."""
    out, carry = [], cores[0]
    for nxt in cores[1:]:
        cl, d, cr = carry.shape
        U, S, Vt = np.linalg.svd(carry.reshape(cl * d, cr), full_matrices=False)
        k = max(1, min(chi, int(np.count_nonzero(S > 1e-15 * S[0]))))
        out.append(U[:, :k].reshape(cl, d, k))
        carry = np.einsum("ab,bxc->axc", (S[:k, None] / S[0]) * Vt[:k], nxt)
    return out + [carry / np.linalg.norm(carry)]


def right_canonical(cores) -> list[np.ndarray]:
    """The same psi with cores 1..N-1 right-orthonormal (sum_x B[x] B[x]^T = 1) and ||psi|| = 1 in core 0."""
    cores = [np.array(B, dtype=float) for B in cores]
    for i in range(len(cores) - 1, 0, -1):
        cl, d, cr = cores[i].shape
        Q, Rt = np.linalg.qr(cores[i].reshape(cl, d * cr).T)  # B^T = Q R  ->  B = R^T Q^T
        cores[i] = Q.T.reshape(-1, d, cr)
        a, dl, _ = cores[i - 1].shape
        cores[i - 1] = (cores[i - 1].reshape(a * dl, -1) @ (Rt.T / np.abs(Rt).max())).reshape(a, dl, -1)
    cores[0] = cores[0] / np.linalg.norm(cores[0])
    return cores

