"""Negative log-likelihood of a 1-norm probability MPS and its exact gradient by environments.

P(x) = W(x) / Z with W(x) = A_1[x_1] ... A_N[x_N] and Z = sum_x W(x) (all-ones contraction).

    NLL(A) = -(1/n) sum_s log W(x^s) + log Z
    d log W(x) / d A_i[a, y, b] = delta(y, x_i) l_{i-1}(x)[a] r_{i+1}(x)[b] / W(x)
    d log Z    / d A_i[a, y, b] = L_{i-1}[a] R_{i+1}[b] / Z

l, r are the left / right environments of one configuration (products of the selected
matrices), L, R those of Z (products of sum_y A[y]). Every environment is stored normalised
(rows sum to one in absolute value) with its log scale kept apart, as in tnddm.mps.base, so the
ratios above are computed from normalised vectors and the scales cancel exactly.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_configs
from .._deprecation import warn_deprecated
from ..mps.base import normalise_rows


def _check_cores(cores) -> list[np.ndarray]:
    cores = [np.asarray(A, dtype=float) for A in cores]
    if not cores or any(A.ndim != 3 for A in cores):
        raise ValueError("cores must be a non-empty list of arrays of shape (chi_left, d, chi_right)")
    return cores


def cores_of(model) -> list[np.ndarray]:
    """Dense cores of a ProbMPS / SparseMPS, or a list of arrays passed through."""
    if hasattr(model, "dense_cores"):
        return [np.asarray(A, dtype=float) for A in model.dense_cores()]
    return _check_cores(model)


def _select_left(A, l, x):
    """Rows l A[x_s] for each sample s: (n, chi_l) -> (n, chi_r)."""
    cl, d, cr = A.shape
    V = (l @ A.reshape(cl, d * cr)).reshape(l.shape[0], d, cr)
    return V[np.arange(l.shape[0]), x]


def _select_right(A, r, x):
    """Columns A[x_s] r for each sample s: (n, chi_r) -> (n, chi_l)."""
    cl, d, cr = A.shape
    T = (r @ A.reshape(cl * d, cr).T).reshape(r.shape[0], cl, d)
    return T[np.arange(r.shape[0]), :, x]


def data_left_envs(cores, X, upto: int | None = None):
    """Normalised left environments of each configuration: envs[i] = l_{i}(x) after sites 0..i-1.

    Returns (envs, logs), lists of length upto + 1 (default N + 1); envs[0] = 1.
    """
    n = X.shape[0]
    upto = len(cores) if upto is None else upto
    l = np.ones((n, 1))
    acc = np.zeros(n)
    envs, logs = [l], [acc]
    for i in range(upto):
        l, s = normalise_rows(_select_left(cores[i], l, X[:, i]))
        acc = acc + s
        envs.append(l)
        logs.append(acc)
    return envs, logs


def data_right_envs(cores, X, downto: int = 0):
    """Normalised right environments: envs[i] = A_i[x_i] ... A_{N-1}[x_{N-1}] (as a column), envs[N] = 1.

    Entries below downto are None.
    """
    n, N = X.shape[0], len(cores)
    r = np.ones((n, 1))
    acc = np.zeros(n)
    envs, logs = [None] * (N + 1), [None] * (N + 1)
    envs[N], logs[N] = r, acc
    for i in range(N - 1, downto - 1, -1):
        r, s = normalise_rows(_select_right(cores[i], r, X[:, i]))
        acc = acc + s
        envs[i], logs[i] = r, acc
    return envs, logs


def norm_envs(cores):
    """Normalised environments of Z: L[i] (1, chi_i) after sites 0..i-1 and R[i] (1, chi_i) from site i on."""
    N = len(cores)
    L, R = [np.ones((1, 1))], [None] * (N + 1)
    R[N] = np.ones((1, 1))
    l = L[0]
    for A in cores:
        l, _ = normalise_rows(l @ A.sum(axis=1))
        L.append(l)
    r = R[N]
    for i in range(N - 1, -1, -1):
        r, _ = normalise_rows(r @ cores[i].sum(axis=1).T)
        R[i] = r
    return L, R


def log_weights(cores, X) -> np.ndarray:
    """log W(x) = log A_1[x_1] ... A_N[x_N] for a batch (n,), -inf where W(x) = 0."""
    cores = cores_of(cores)
    X = as_configs(X, len(cores), cores[0].shape[1])
    envs, logs = data_left_envs(cores, X)
    with np.errstate(divide="ignore"):
        return logs[-1] + np.log(envs[-1][:, 0])


def log_z(cores) -> float:
    """log Z = log sum_x W(x)."""
    cores = cores_of(cores)
    l, acc = np.ones((1, 1)), 0.0
    for A in cores:
        l, s = normalise_rows(l @ A.sum(axis=1))
        acc += float(s[0])
    if not l[0, 0] > 0:
        raise ValueError("the MPS has Z <= 0; it is not a distribution")
    return acc + float(np.log(l[0, 0]))


def log_norm(cores) -> float:
    """Deprecated name of log_z (one name for log Z, as MPSBase.log_z and the lattice models' log_z)."""
    warn_deprecated("tnddm.learn.nll.log_norm", "log_z")
    return log_z(cores)


def nll(model, X) -> float:
    """NLL = -(1/n) sum_s log P(x^s) (inf if some x^s has P = 0)."""
    cores = cores_of(model)
    return float(-np.mean(log_weights(cores, X)) + log_z(cores))


def site_gradients(l, r, x, A):
    """(1/n) sum_s delta(y, x_s) l_s[a] r_s[b] / (l_s A[x_s] r_s): shape of A; also the values v_s."""
    n = l.shape[0]
    d = A.shape[1]
    v = (_select_left(A, l, x) * r).sum(axis=1)
    if np.any(v <= 0):
        raise ValueError("a configuration of the data has W(x) = 0 under the model; its log-likelihood is -inf")
    onehot = np.zeros((n, d))
    onehot[np.arange(n), x] = 1.0
    rhs = (onehot[:, :, None] * r[:, None, :]).reshape(n, -1)
    G = ((l / v[:, None]).T @ rhs).reshape(A.shape) / n
    return G, v


def nll_and_grad(model, X):
    """NLL and its exact gradient with respect to every core A_i (list of arrays of the cores' shapes)."""
    cores = cores_of(model)
    N, d = len(cores), cores[0].shape[1]
    X = as_configs(X, N, d)
    left, llog = data_left_envs(cores, X)
    right, _ = data_right_envs(cores, X)
    L, R = norm_envs(cores)
    grads = []
    for i, A in enumerate(cores):
        G_data, _ = site_gradients(left[i], right[i + 1], X[:, i], A)
        M = A.sum(axis=1)
        z = float(L[i][0] @ M @ R[i + 1][0])
        G_z = np.broadcast_to((L[i][0][:, None] * R[i + 1][0][None, :])[:, None, :] / z, A.shape)
        grads.append(G_z - G_data)
    with np.errstate(divide="ignore"):
        value = float(-np.mean(llog[-1] + np.log(left[-1][:, 0])) + log_z(cores))
    return value, grads
