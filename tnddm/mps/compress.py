"""Variational compression of a Born MPS: the psi of bond <= chi with the largest fidelity to a given phi.

    F(psi) = <psi|phi> / (||psi|| ||phi||),   P_psi = psi^2 / ||psi||^2.

Two-site sweeps in mixed canonical form. With psi's cores left of bond (i, i+1) left-orthonormal and
those right of it right-orthonormal, and the overlap environments `L_i = <psi_{<i}|phi_{<i}>` and
`R_{i+2} = <psi_{>i+1}|phi_{>i+1}>`, the best two-site tensor is the projection
    theta* = L_i phi_i phi_{i+1} R_{i+2},
and the best one of rank <= chi is its SVD truncation, with F = ||trunc(theta*)|| / ||phi||. The previous
psi is among the candidates, so F never decreases. The sweeps start from the SVD truncation of phi
in canonical form (the quimb `compress` default). For psi = sqrt(pi) of an exact model
(`BornMPS.from_automaton`) this gives the bond-chi Born MPS closest to pi in Hellinger distance,
-2 log F being the Renyi-1/2 divergence of the two when psi >= 0.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_nonnegative_int
from .born import BornMPS
from .canonical import right_canonical, split_two_site_svd, svd_truncation


def _normalised(m):
    s = float(np.abs(m).max())
    return (m / s, np.log(s)) if s > 0 else (m, 0.0)


def _grow_left(L, psi_core, phi_core):
    """<psi_{<=i}|phi_{<=i}>: (a, A) -> (b, B), as two GEMMs."""
    a, d, b = psi_core.shape
    A, _, B = phi_core.shape
    T = (L.T @ psi_core.reshape(a, d * b)).reshape(A * d, b)  # T[(A, x), b]
    return T.T @ phi_core.reshape(A * d, B)


def _grow_right(R, psi_core, phi_core):
    """<psi_{>=i}|phi_{>=i}>: (b, B) -> (a, A), as two GEMMs."""
    a, d, b = psi_core.shape
    A, _, B = phi_core.shape
    T = (phi_core.reshape(A * d, B) @ R.T).reshape(A, d * b)  # T[A, (x, b)]
    return psi_core.reshape(a, d * b) @ T.T


def _two_site_projection(L, phi_i, phi_j, R):
    """theta[a, x, y, b] = sum L[a, A] phi_i[A, x, B] phi_j[B, y, C] R[b, C], as three GEMMs."""
    A, d, B = phi_i.shape
    C = phi_j.shape[2]
    T = (L @ phi_i.reshape(A, d * B)).reshape(-1, B) @ phi_j.reshape(B, d * C)
    return (T.reshape(-1, C) @ R.T).reshape(L.shape[0], d, d, R.shape[0])


def log_overlap(a: BornMPS, b: BornMPS) -> tuple[float, float]:
    """(`log |<a|b>|`, sign of `<a|b>`) by a left-to-right sweep with rescaling."""
    E, acc = np.ones((1, 1)), 0.0
    for A, B in zip(a.cores, b.cores):
        E, s = _normalised(_grow_left(E, A, B))
        acc += s
    value = float(E[0, 0])
    return (acc + np.log(abs(value)) if value != 0 else -np.inf), float(np.sign(value))


def fidelity(a: BornMPS, b: BornMPS) -> float:
    """`|<a|b>| / (||a|| ||b||)`."""
    if a.n_sites != b.n_sites or a.d != b.d:
        raise ValueError(f"the two MPS must have equal sites and d; got {a.n_sites, a.d} and {b.n_sites, b.d}")
    return float(np.exp(log_overlap(a, b)[0] - 0.5 * log_overlap(a, a)[0] - 0.5 * log_overlap(b, b)[0]))


def compress(phi: BornMPS, chi: int, sweeps: int = 2, progress: bool = False) -> tuple[BornMPS, list[float]]:
    """The bond-<=chi Born MPS of largest fidelity to phi (module docstring), and F after the SVD start
    and after each sweep (one right and one left two-site pass)."""
    if not isinstance(phi, BornMPS):
        raise TypeError(f"phi must be a BornMPS; got {type(phi).__name__}")
    if check_nonnegative_int(chi, "chi") < 1:
        raise ValueError(f"chi must be a positive integer; got {chi!r}")
    chi = int(chi)
    if int(sweeps) != sweeps or sweeps < 0:
        raise ValueError(f"sweeps must be a non-negative integer; got {sweeps!r}")
    from tqdm.auto import tqdm

    N = phi.n_sites
    phi_c = right_canonical(phi.cores)  # ||phi|| = 1
    psi = svd_truncation(phi_c, chi)
    start = BornMPS(psi)  # ||phi_c|| = 1, so F = <psi|phi_c> / ||psi|| (O(chi chi_phi) environments only)
    fidelities = [float(np.exp(log_overlap(start, BornMPS(phi_c))[0] - 0.5 * log_overlap(start, start)[0]))]
    if sweeps == 0 or N < 2:
        return BornMPS(psi), fidelities
    psi = right_canonical(psi)
    R, R_log = [np.ones((1, 1))] * (N + 1), np.zeros(N + 1)
    for i in range(N - 1, 1, -1):
        R[i], s = _normalised(_grow_right(R[i + 1], psi[i], phi_c[i]))
        R_log[i] = R_log[i + 1] + s
    L, L_log = [np.ones((1, 1))] * N, np.zeros(N)
    for _ in tqdm(range(int(sweeps)), desc=f"compress to chi={chi}", disable=not progress):
        for move, bonds in (("right", range(N - 1)), ("left", range(N - 2, -1, -1))):
            for i in bonds:
                theta = _two_site_projection(L[i], phi_c[i], phi_c[i + 1], R[i + 2])
                psi[i], psi[i + 1], norm = split_two_site_svd(theta, chi, 1e-14, move)
                F = norm * np.exp(L_log[i] + R_log[i + 2])
                if move == "right":
                    L[i + 1], s = _normalised(_grow_left(L[i], psi[i], phi_c[i]))
                    L_log[i + 1] = L_log[i] + s
                elif move == "left":
                    R[i + 1], s = _normalised(_grow_right(R[i + 2], psi[i + 1], phi_c[i + 1]))
                    R_log[i + 1] = R_log[i + 2] + s
        fidelities.append(float(F))
    return BornMPS(psi), fidelities
