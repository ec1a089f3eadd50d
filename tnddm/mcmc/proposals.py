"""Proposal models for Metropolis-Hastings: exact, truncated on purpose, learned or user MPS.

Metropolis-Hastings needs a proposal Q that can be sampled, whose log Q(x) is exact, and whose
support covers the target's (otherwise the chain is not ergodic and is biased). Two truncations
of a non-negative MPS P to bond dimension chi:

method="lump" (default). Write P as a Markov chain on bond states in the stochastic gauge
    T_i[a, x, b] = A_i[a, x, b] r_{i+1}(b) / r_i(a)        (r: right environments)
and merge the states of each bond into chi groups: the chi - 1 most probable states
(marginal mu_i(a) ∝ l_i(a) r_i(a)) stay alone and the others form one group. The lumped cores
    B_i[G, x, G'] = sum_{a in G} mu_i(a | G) sum_{b in G'} T_i[a, x, b]
are non-negative and stochastic, reproduce every two-bond marginal of the groups, keep every
path of P (so supp Q ⊇ supp P), and give Q = P exactly when chi >= the number of live states.

method="svd". Right-canonicalise by QR, then left-to-right SVDs keeping the chi largest singular
values (the optimal 2-norm truncation of each bond), then take absolute values of the cores (an
SVD fixes each singular vector up to a sign; abs restores the common sign of the leading,
Perron, component). The result is a valid ProbMPS but not P even at full bond dimension (the
canonical gauge has signed subleading components), and it may miss parts of P's support: pass
mix > 0 to add a uniform component, Q = (1 - mix) Q_svd + mix U, which restores full support.

method="born". For a deterministic automaton P (the exact lattice models), the Born MPS Q = psi_chi^2
of bond chi with the largest fidelity <psi_chi|sqrt(P)> (tnddm.mps.compress): about as good in KL as
any bond-chi Born MPS can be (KL ≈ -4 log F; docs/learning.md), and far better than "lump" on 2D
Ising (KL 0.13 against 5.7 at chi = 32 on the 8 x 16 cylinder at beta_c). Its support may miss parts
of P's, and its connected moves cost O(d chi^3) per site and walker.

"lump" and "svd" return a ProbMPS normalised by its own exact Z, "born" a BornMPS: log Q(x) is exact.
"""
from __future__ import annotations

import numpy as np

from ..divergences import kl_enumerated as kl_divergence  # noqa: F401  (re-exported)
from ..mps import BornMPS, MPSBase, ProbMPS
from ..mps.born import right_canonical, svd_truncation

METHODS = ("lump", "svd", "born")


def _check_chi(chi) -> int:
    if isinstance(chi, bool) or int(chi) != chi or int(chi) < 1:
        raise ValueError(f"chi must be a positive integer; got {chi!r}")
    return int(chi)


def _dense_nonnegative(mps: MPSBase) -> list[np.ndarray]:
    if not isinstance(mps, MPSBase):
        raise ValueError(f"mps must be a ProbMPS or SparseMPS; got {type(mps).__name__}")
    cores = [np.array(A, dtype=float) for A in mps.dense_cores()]
    if any(A.min() < 0 for A in cores):
        raise ValueError("mps must have non-negative cores to be truncated")
    return cores


def _environments(cores):
    """Normalised right and left environments r_i (chi_i,), l_i (chi_i,) of non-negative cores."""
    N = len(cores)
    r = [None] * (N + 1)
    r[N] = np.ones(1)
    for i in range(N - 1, -1, -1):
        v = cores[i].sum(axis=1) @ r[i + 1]
        r[i] = v / v.sum()
    l = [None] * (N + 1)
    l[0] = np.ones(1)
    for i in range(N):
        v = l[i] @ cores[i].sum(axis=1)
        l[i + 1] = v / v.sum()
    return l, r


def truncate_lumped(mps: MPSBase, chi: int) -> ProbMPS:
    """Lumped truncation to bond dimension <= chi (module docstring, method "lump")."""
    chi = _check_chi(chi)
    cores = _dense_nonnegative(mps)
    N = len(cores)
    l, r = _environments(cores)
    # group[i][a] = group of state a at bond i; weight[i][a] = mu_i(a | group)
    groups, weights, sizes = [], [], []
    for i in range(N + 1):
        mu = l[i] * r[i]
        mu = mu / mu.sum()
        live = np.flatnonzero(mu > 0)
        order = live[np.argsort(-mu[live], kind="stable")]
        g = np.full(mu.size, -1, dtype=np.int64)
        if order.size <= chi:
            g[order] = np.arange(order.size)
        else:
            g[order[: chi - 1]] = np.arange(chi - 1)
            g[order[chi - 1:]] = chi - 1
        n_groups = int(g.max()) + 1
        tot = np.bincount(g[live], weights=mu[live], minlength=n_groups)
        w = np.zeros(mu.size)
        w[live] = mu[live] / tot[g[live]]
        groups.append(g)
        weights.append(w)
        sizes.append(n_groups)
    out = []
    for i in range(N):
        A = cores[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            T = A * r[i + 1][None, None, :] / np.where(r[i] > 0, r[i], 1.0)[:, None, None]
        gi, gj = groups[i], groups[i + 1]
        B = np.zeros((sizes[i], A.shape[1], sizes[i + 1]))
        rows = np.flatnonzero(gi >= 0)
        cols = np.flatnonzero(gj >= 0)
        Tw = T[rows][:, :, cols] * weights[i][rows, None, None]
        # scatter-add rows into their groups, then columns into theirs
        tmp = np.zeros((sizes[i], A.shape[1], cols.size))
        np.add.at(tmp, gi[rows], Tw)
        np.add.at(B.transpose(2, 0, 1), gj[cols], tmp.transpose(2, 0, 1))
        out.append(B)
    return ProbMPS(out)


def truncate_svd(mps: MPSBase, chi: int, mix: float = 0.0) -> ProbMPS:
    """SVD truncation with absolute-value repair and optional uniform admixture (method "svd")."""
    chi = _check_chi(chi)
    if not 0.0 <= float(mix) < 1.0:
        raise ValueError(f"mix must lie in [0, 1); got {mix}")
    if not isinstance(mps, MPSBase):
        raise ValueError(f"mps must be a ProbMPS or SparseMPS; got {type(mps).__name__}")
    cores = [np.abs(A) for A in svd_truncation(right_canonical(mps.dense_cores()), chi)]
    Q = ProbMPS(cores)
    return mix_uniform(Q, mix) if mix > 0 else Q


def mix_uniform(mps: MPSBase, mix: float) -> ProbMPS:
    """Q = (1 - mix) P / Z_P + mix U (U uniform over d**N), a ProbMPS of bond chi + 1 (direct sum)."""
    if not 0.0 <= float(mix) <= 1.0:
        raise ValueError(f"mix must lie in [0, 1]; got {mix}")
    cores = [np.array(A, dtype=float) for A in mps.dense_cores()]
    N, d = len(cores), cores[0].shape[1]
    logz = mps.log_z() - mps.log_scale  # of the stored cores (dense_cores), see MPSBase.log_scale
    out = []
    for i, A in enumerate(cores):
        cl, _, cr = A.shape
        a = A * np.exp(-logz / N)  # spread 1 / Z_P over the sites
        u = np.full((1, d, 1), 1.0 / d)
        if N == 1:
            out.append((1 - mix) * a + mix * u)
        elif i == 0:
            out.append(np.concatenate([(1 - mix) * a, mix * u], axis=2))
        elif i == N - 1:
            out.append(np.concatenate([a, u], axis=0))
        else:
            B = np.zeros((cl + 1, d, cr + 1))
            B[:cl, :, :cr] = a
            B[cl:, :, cr:] = u
            out.append(B)
    return ProbMPS(out)


def truncate_born(mps: MPSBase, chi: int, sweeps: int = 2) -> BornMPS:
    """The bond-<=chi Born MPS of largest fidelity to sqrt(P) for a deterministic automaton P (method "born")."""
    from ..mps.compress import compress

    return compress(BornMPS.from_automaton(mps), _check_chi(chi), sweeps=sweeps)[0]


def _truncate_born_unmixed(mps: MPSBase, chi: int, mix: float) -> BornMPS:
    if mix > 0:
        raise ValueError(f"mix applies to methods 'lump' and 'svd', not 'born'; got mix = {mix}")
    return truncate_born(mps, chi)


def _truncate_lumped_mixed(mps: MPSBase, chi: int, mix: float) -> ProbMPS:
    Q = truncate_lumped(mps, chi)
    return mix_uniform(Q, mix) if mix > 0 else Q


#: truncations by name: truncate(mps, chi, mix) -> MPS of bond <= chi (module docstring)
TRUNCATIONS = {"lump": _truncate_lumped_mixed, "svd": truncate_svd, "born": _truncate_born_unmixed}
assert tuple(TRUNCATIONS) == METHODS


def truncate(mps: MPSBase, chi: int, method: str = "lump", mix: float = 0.0) -> MPSBase:
    """Approximate MPS of bond <= chi with exact log-probabilities (module docstring).

    Args:
        mps: the MPS to truncate.
        chi: the largest bond dimension.
        method: a name in TRUNCATIONS ("lump", "svd", "born").
        mix: weight of the uniform law mixed in ("lump" and "svd" only).
    """
    if not isinstance(method, str) or method not in TRUNCATIONS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return TRUNCATIONS[method](mps, chi, mix)


def as_proposal(model, chi: int | None = None, method: str = "lump", mix: float = 0.0) -> MPSBase:
    """The proposal MPS for a lattice model (its exact .mps()), a ProbMPS or a SparseMPS.

    With chi smaller than the largest bond, the MPS is truncated (truncate(mps, chi, method, mix)).
    A learned or user MPS is used as it is (it must be non-negative: sampling needs it).
    """
    if isinstance(model, MPSBase):
        P = model
    elif callable(getattr(model, "sample", None)) and callable(getattr(model, "log_prob", None)) \
            and not hasattr(model, "log_weight"):
        return model  # a user proposal (the contract of MetropolisHastings.propose), e.g. a BoundaryProposal
    elif hasattr(model, "mps") and getattr(model, "exact_available", True):
        P = model.mps()
    else:
        if callable(getattr(model, "proposal", None)):  # a lattice model beyond exact sizes: its own proposal
            return model.proposal(chi=16 if chi is None else _check_chi(chi))
        raise ValueError(f"model must be a probability MPS, a lattice model with .mps() or .proposal(), or an object "
                         f"with sample(n, seed) and log_prob(X); got {type(model).__name__}")
    if getattr(P, "signed", False):
        raise ValueError("the proposal MPS has signed cores; sampling needs non-negative cores (use truncate)")
    if chi is not None and _check_chi(chi) < max(P.bond_dims):
        return truncate(P, chi, method=method, mix=mix)
    return mix_uniform(P, mix) if mix > 0 else P
