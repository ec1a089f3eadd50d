"""Physical observables of the lattice models: exact values from the exact MPS, estimates with error bars.

One table, OBSERVABLES = {name: Observable}, lists what a physicist expects (k_B = 1, N sites,
spins s = 2x - 1, m = (1/N) sum_i s_i, E the model's energy, beta the inverse temperature):

    energy_per_site     e   = <E> / N
    specific_heat       c   = beta^2 (<E^2> - <E>^2) / N                      (per site)
    magnetisation       <m>
    abs_magnetisation   <|m|>
    susceptibility      chi  = beta N (<m^2> - <m>^2)                         (per site)
    susceptibility_abs  chi' = beta N (<m^2> - <|m|>^2)      (the finite-size form that peaks near beta_c)
    binder              U_4 = 1 - <m^4> / (3 <m^2>^2)
    correlation         G(r), r = 0..R: connected two-point function along the open axis (below)
    correlation_length  xi, second-moment length of G(r) (below)
    order_parameter     Potts: <(q max_a rho_a - 1) / (q - 1)>, rho_a the fraction of sites in state a
    height_profile      Fredkin: <h_i>, i = 1..N
    height_variance     Fredkin: <h_i^2> - <h_i>^2
    height_distribution Fredkin: P(h_i = k), shape (N, N/2 + 1)
    area, mid_height, max_height   Fredkin: <sum_i h_i>, <h_{N/2}>, <max_i h_i>

G(r) pairs the sites of columns c and c + r in the same row, centred in the lattice
(c = floor((L - 1 - r) / 2)), and averages over the W rows:

    G(r) = (1/W) sum_rows sum_{a,b} phi(a, b) (P(x_i = a, x_j = b) - P(x_i = a) P(x_j = b)),

phi(a, b) = s_a s_b for Ising and (q [a == b] - 1) / (q - 1) for Potts. The correlation length is
the second-moment length of the one-dimensional G along the axis,
xi^2 = sum_{r>=1} r^2 G(r) / (G(0) + 2 sum_{r>=1} G(r)), exact for G = exp(-|r| / xi) on an infinite
line; on a finite lattice it saturates near R / sqrt(3) once G stops decaying (ordered phase).

Exact values (`exact`) use the model's exact automaton in its Markov gauge: sums of local terms
by forward moment passes, magnetisation and Potts counts by the exact law of the state counts,
pair marginals by forward passes from one site to the other. Estimates (`estimate`) come from
exact independent samples (standard error std / sqrt(n)) or from a Markov chain (the integrated
autocorrelation time of tnddm.mcmc.stats); non-linear estimators (variances, U_4, G, xi) carry
delta-method error bars: each sample contributes its influence value, whose standard error is
the estimator's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from .lattice import MODELS
from .lattice.grid import binder_cumulant  # noqa: F401  (U_4 from per-sample m^2, m^4; re-exported here)

# ---- model families -----------------------------------------------------------------------------
#: the observable families; each model class names its own (LatticeModel.observable_family)
FAMILY_NAMES = ("ising", "potts", "fredkin", "grid")
#: {model kind: family} of the registered models, derived from the classes (kept for code that imported it)
FAMILIES = {kind: cls.observable_family for kind, cls in MODELS.items()}
MAX_COUNT_ENTRIES = 16_000_000   # largest (bond x count) table of the exact count law (float64 entries)
MAX_COUNT_WORK = 4_000_000_000   # largest number of multiply-adds spent on it
MAX_DISTANCE = 128               # default largest r of G(r)


def family(model) -> str:
    """'ising', 'potts', 'fredkin' or 'grid' for a tnddm lattice model (ValueError otherwise).

    Args:
        model: a tnddm lattice model.
    """
    fam = getattr(model, "observable_family", None)
    if not isinstance(fam, str) or fam not in FAMILY_NAMES:
        raise ValueError(f"model must be a tnddm lattice model whose observable_family is one of {list(FAMILY_NAMES)} "
                         f"(kinds {sorted(FAMILIES)}); got {type(model).__name__}")
    return fam


def _has_exact(model) -> bool:
    return bool(getattr(model, "exact_available", True))


# ---- per-sample raw statistics ------------------------------------------------------------------
def _spins(X):
    return 2.0 * X - 1.0


def _heights(X):
    return np.cumsum(2 * X.astype(np.int64) - 1, axis=1)


def _potts_order(model, X):
    q = model.d
    counts = np.stack([(X == a).mean(axis=1) for a in range(q)], axis=1)
    return (q * counts.max(axis=1) - 1) / (q - 1)


#: raw per-sample statistics {name: f(model, X) -> (n,) or (n, k)}; the scalar ones carry the names of
#: model.statistics, so that a Monte Carlo chain's recorded observables feed the same estimators
RAW = {
    "energy": lambda model, X: np.asarray(model.energy(X), dtype=float),
    "magnetisation": lambda model, X: _spins(X).mean(axis=1),
    "order_parameter": _potts_order,
    "heights": lambda model, X: _heights(X).astype(float),
    "area": lambda model, X: _heights(X).sum(axis=1).astype(float),
    "mid_height": lambda model, X: _heights(X)[:, model.n_sites // 2 - 1].astype(float),
    "max_height": lambda model, X: _heights(X).max(axis=1).astype(float),
    "configuration": lambda model, X: X,
}


# ---- estimators: (model, raw) -> (value, influence) ---------------------------------------------
def _mean_of(key, scale=lambda model: 1.0):
    def est(model, raw):
        v = raw[key] * scale(model)
        return v.mean(axis=0), v
    return est


def _variance_of(key, scale):
    """scale(model) Var(raw[key]) with influence scale (x - mean)^2."""
    def est(model, raw):
        x = raw[key]
        u = scale(model) * (x - x.mean(axis=0)) ** 2
        return u.mean(axis=0), u
    return est


def _abs_m(model, raw):
    v = np.abs(raw["magnetisation"])
    return v.mean(), v


def _chi_abs(model, raw):
    m = raw["magnetisation"]
    k = model.beta * model.n_sites
    a, b = np.mean(m**2), np.mean(np.abs(m))
    return k * (a - b**2), k * (m**2 - 2 * b * np.abs(m))


def _binder(model, raw):
    m2 = raw["magnetisation"] ** 2
    a, b = np.mean(m2**2), np.mean(m2)
    if not b > 0:
        return np.nan, np.zeros_like(m2)
    u = 1 - a / (3 * b**2)
    return u, u - (m2**2 - a) / (3 * b**2) + 2 * a * (m2 - b) / (3 * b**3)


def pair_function(model) -> np.ndarray:
    """phi(a, b) of G(r): s_a s_b (Ising, d = 2) or (q [a == b] - 1) / (q - 1) (Potts, q = d).

    Args:
        model: an Ising or Potts model.
    """
    d = model.d
    if family(model) == "ising":
        s = np.array([-1.0, 1.0])
        return np.outer(s, s)
    return (d * np.eye(d) - 1.0) / (d - 1)


def correlation_pairs(model, max_distance: int | None = None, rows=None) -> list[list[tuple[int, int]]]:
    """Site pairs (i, j) of G(r) for r = 0..R: columns c, c + r centred in the lattice, one pair per row.

    Args:
        model: an Ising or Potts model on L columns of W sites (column-major sites n = c W + row).
        max_distance: R (default min(L - 1, MAX_DISTANCE)).
        rows: rows to pair (default all W).
    """
    L, W = int(getattr(model, "length", model.n_sites)), int(getattr(model, "width", 1))
    R = min(L - 1, MAX_DISTANCE) if max_distance is None else int(max_distance)
    if not 0 <= R <= L - 1:
        raise ValueError(f"max_distance must lie in 0..{L - 1} (the lattice has {L} columns); got {max_distance}")
    rows = range(W) if rows is None else rows
    out = []
    for r in range(R + 1):
        c = (L - 1 - r) // 2
        out.append([(c * W + w, (c + r) * W + w) for w in rows])
    return out


def _correlation_from_configs(model, X, max_distance=None):
    """Row-averaged connected G(r) from configurations X (n, N), and the per-sample influence (n, R + 1).

    Per pair (i, j): G_ij = mean phi(x_i, x_j) - sum_ab p_i(a) phi(a, b) p_j(b) (empirical marginals p),
    influence phi(x_i, x_j) - sum_b phi(x_i, b) p_j(b) - sum_a p_i(a) phi(a, x_j) + sum_ab p_i phi p_j.
    """
    phi = pair_function(model)
    d = model.d
    pairs = correlation_pairs(model, max_distance)
    n = X.shape[0]
    G = np.zeros(len(pairs))
    U = np.zeros((n, len(pairs)))
    for r, row_pairs in enumerate(pairs):
        I, J = (np.array(v) for v in zip(*row_pairs))
        A, B = X[:, I], X[:, J]  # (n, P)
        P = np.arange(len(I))
        pa = np.stack([(A == a).mean(axis=0) for a in range(d)], axis=1)  # (P, d)
        pb = np.stack([(B == b).mean(axis=0) for b in range(d)], axis=1)
        const = np.einsum("pa,ab,pb->p", pa, phi, pb)
        f = phi[A, B]
        G[r] = (f.mean(axis=0) - const).mean()
        u = f - (phi @ pb.T)[A, P] - (phi.T @ pa.T)[B, P] + const
        U[:, r] = u.mean(axis=1)
    return G, U


def _correlation_cached(model, raw):
    if "_correlation" not in raw:
        raw["_correlation"] = _correlation_from_configs(model, raw["configuration"], raw.get("max_distance"))
    return raw["_correlation"]


def _xi_from(G, U=None):
    """Second-moment length from G(r) (and its influence from U (n, R + 1))."""
    r = np.arange(G.size, dtype=float)
    w_den = np.where(r == 0, 1.0, 2.0)
    num, den = (r**2) @ G, w_den @ G
    xi2 = num / den if den > 0 else np.nan
    if not xi2 > 0:
        return np.nan, (None if U is None else np.zeros(U.shape[0]))
    xi = np.sqrt(xi2)
    if U is None:
        return xi, None
    u_xi2 = (U @ r**2 - xi2 * (U @ w_den)) / den
    return xi, xi + u_xi2 / (2 * xi)


def _correlation_est(model, raw):
    return _correlation_cached(model, raw)


def _xi_est(model, raw):
    return _xi_from(*_correlation_cached(model, raw))


def _height_distribution_est(model, raw):
    h = raw["heights"].astype(np.int64)
    H = model.n_sites // 2
    # influence of P(h_i = k) is the indicator; built site by site by _stderr (see _indicators)
    return _Indicators(h, H + 1), None


class _Indicators:
    """Lazy (n, N, K) indicator array [h[:, i] == k] (its mean is P(h_i = k)); never materialised whole."""

    def __init__(self, h, K):
        self.h, self.K = h, K

    def mean(self):
        return np.stack([np.bincount(self.h[:, i], minlength=self.K)[: self.K] for i in range(self.h.shape[1])]) / self.h.shape[0]

    def columns(self):
        for i in range(self.h.shape[1]):
            yield (self.h[:, i, None] == np.arange(self.K)[None, :]).astype(float)


# ---- exact values -------------------------------------------------------------------------------
class _Exact:
    """Exact quantities of one model, computed once and shared by the observables that need them."""

    def __init__(self, model, max_distance=None):
        self.model = model
        self.max_distance = max_distance

    @cached_property
    def auto(self):
        return self.model.automaton

    @cached_property
    def energy_moments(self):
        auto = self.auto
        tables = [self.model.local_energy(i, w).reshape(auto.transition[i].shape) for i, w in enumerate(self.model._windows)]
        return auto.local_moments(tables)

    @cached_property
    def count_law(self):
        """Exact law of the state counts (n_0, ..., n_{d-2}) (n_{d-1} = N - sum), or None if too large."""
        return count_law(self.auto, self.model.d)

    def m_moment(self, f):
        law = self.count_law
        if law is None:
            return None
        N = self.model.n_sites
        m = (N - 2.0 * np.arange(N + 1)) / N  # n_0 = number of down spins
        return float(law @ f(m))

    @cached_property
    def state_dists(self):
        return self.auto.state_distributions()

    @cached_property
    def correlation(self):
        model = self.model
        rows = [0] if getattr(model, "periodic", False) else None  # rows of a cylinder are equivalent
        return exact_correlation(model, self.max_distance, rows=rows, automaton=self.auto)


def count_law(auto, d: int):
    """Exact P(n_0, ..., n_{d-2}) of the numbers of sites in states 0..d-2 (forward pass over
    (state, counts)); None when the table exceeds MAX_COUNT_ENTRIES or the pass MAX_COUNT_WORK.

    Args:
        auto: a tnddm.lattice.Automaton (Markov gauge).
        d: number of local states.
    """
    import scipy.sparse as sp

    N = auto.n_sites
    C = (N + 1) ** (d - 1)
    chi = max(W.shape[0] for W in auto.transition)
    if chi * C > MAX_COUNT_ENTRIES or chi * C * N * d > MAX_COUNT_WORK:
        return None
    shape = (N + 1,) * (d - 1)
    p = np.zeros((1, C))
    p[0, 0] = 1.0
    for i, (nx, W) in enumerate(zip(auto.next_states, auto.transition)):
        size = auto.mps.bond_dims[i + 1]
        new = np.zeros((size, C))
        for x in range(d):
            M = sp.csr_matrix((W[:, x], (nx[:, x], np.arange(W.shape[0]))), shape=(size, W.shape[0]))
            step = M @ p
            if x < d - 1:  # one more site in state x: shift that count axis by one
                step = np.roll(step.reshape((size,) + shape), 1, axis=1 + x).reshape(size, C)
            new += step
        p = new
    return p.sum(axis=0).reshape(shape)


def exact_correlation(model, max_distance=None, rows=None, automaton=None) -> np.ndarray:
    """Exact connected G(r), r = 0..R (module docstring), from pair marginals of the exact automaton.

    Args:
        model: an Ising or Potts model with an exact MPS.
        max_distance: R (default min(L - 1, MAX_DISTANCE)).
        rows: rows averaged over (default all; on a cylinder one row gives the same value).
    """
    import scipy.sparse as sp

    auto = model.automaton if automaton is None else automaton
    phi = pair_function(model)
    d = model.d
    p = auto.state_distributions()
    nxts, Ws = auto.next_states, auto.transition
    sizes = [W.shape[0] for W in Ws[1:]] + [1]

    symbols, transfer = {}, {}

    def symbol(k, x):  # (chi_k, chi_{k+1}) matrix of symbol x at site k
        if (k, x) not in symbols:
            symbols[k, x] = sp.csr_matrix((Ws[k][:, x], (np.arange(Ws[k].shape[0]), nxts[k][:, x])),
                                          shape=(Ws[k].shape[0], sizes[k]))
        return symbols[k, x]

    pairs = correlation_pairs(model, max_distance, rows)
    G = np.zeros(len(pairs))
    for r, row_pairs in enumerate(pairs):
        for i, j in row_pairs:
            single_i = p[i] @ Ws[i]  # P(x_i = a)
            if i == j:
                joint = np.diag(single_i)
                single_j = single_i
            else:
                q = np.stack([symbol(i, a).T @ p[i] for a in range(d)])  # (d, chi_{i+1}): P(x_i = a, state)
                for k in range(i + 1, j):
                    if k not in transfer:
                        transfer[k] = sum(symbol(k, x) for x in range(d)).T.tocsr()
                    q = (transfer[k] @ q.T).T
                joint = q @ Ws[j]
                single_j = p[j] @ Ws[j]
            G[r] += float(np.sum(phi * (joint - np.outer(single_i, single_j)))) / len(row_pairs)
    return G


def _exact_xi(ctx):
    return _xi_from(ctx.correlation)[0]


def _fredkin_height_stats(ctx):
    H = ctx.model.n_sites // 2
    out = np.zeros((ctx.model.n_sites, H + 1))
    for i, q in enumerate(ctx.state_dists[1:]):
        out[i, : q.size] = q
    return out


def _exact_max_height(ctx):
    H = ctx.model.n_sites // 2
    if (H + 1) * ctx.model.n_sites * (H + 1) > MAX_COUNT_WORK:  # one forward pass per height
        return None
    return float(sum(1.0 - ctx.auto.prob_states_at_most(k) for k in range(H + 1)))


def _exact_potts_order(ctx):
    law = ctx.count_law
    if law is None:
        return None
    q, N = ctx.model.d, ctx.model.n_sites
    grids = np.meshgrid(*[np.arange(N + 1)] * (q - 1), indexing="ij")
    last = N - sum(grids)
    ok = last >= 0
    biggest = np.maximum(np.max(np.stack(grids), axis=0), last)
    order = (q * biggest / N - 1) / (q - 1)
    return float(np.sum(np.where(ok, law * order, 0.0)))


# ---- the table ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observable:
    """One observable of the table OBSERVABLES.

    Args:
        name: its key in OBSERVABLES.
        formula: the formula, as text.
        families: model families it applies to ('ising', 'potts', 'fredkin', 'grid').
        needs: raw per-sample statistics its estimator needs.
        estimator: function (model, raw) -> (value, per-sample influence).
        exact: function of the exact context -> value (None when not available).
        unit: unit of the value ("" when dimensionless).
    """

    name: str
    formula: str
    families: tuple
    needs: tuple
    estimator: Callable
    exact: Callable | None = None
    unit: str = ""

    def __repr__(self) -> str:
        return f"Observable({self.name!r}: {self.formula}; {', '.join(self.families)})"


_beta = lambda model: model.beta  # noqa: E731
_per_site = lambda model: 1.0 / model.n_sites  # noqa: E731
_ISING_POTTS = ("ising", "potts")

OBSERVABLES = {o.name: o for o in [
    Observable("energy_per_site", "e = <E> / N", ("ising", "potts", "grid"), ("energy",),
               _mean_of("energy", _per_site), lambda c: c.energy_moments[0] / c.model.n_sites, "J"),
    Observable("specific_heat", "c = beta^2 (<E^2> - <E>^2) / N", ("ising", "potts", "grid"), ("energy",),
               _variance_of("energy", lambda m: m.beta**2 / m.n_sites),
               lambda c: c.model.beta**2 * (c.energy_moments[1] - c.energy_moments[0] ** 2) / c.model.n_sites, "k_B"),
    Observable("magnetisation", "<m>, m = (1/N) sum_i s_i", ("ising",), ("magnetisation",),
               _mean_of("magnetisation"), lambda c: c.m_moment(lambda m: m)),
    Observable("abs_magnetisation", "<|m|>", ("ising",), ("magnetisation",), _abs_m, lambda c: c.m_moment(np.abs)),
    Observable("susceptibility", "chi = beta N (<m^2> - <m>^2)", ("ising",), ("magnetisation",),
               _variance_of("magnetisation", lambda m: m.beta * m.n_sites),
               lambda c: None if c.count_law is None else c.model.beta * c.model.n_sites * (
                   c.m_moment(np.square) - c.m_moment(lambda m: m) ** 2), "1/J"),
    Observable("susceptibility_abs", "chi' = beta N (<m^2> - <|m|>^2)", ("ising",), ("magnetisation",), _chi_abs,
               lambda c: None if c.count_law is None else c.model.beta * c.model.n_sites * (
                   c.m_moment(np.square) - c.m_moment(np.abs) ** 2), "1/J"),
    Observable("binder", "U_4 = 1 - <m^4> / (3 <m^2>^2)", ("ising",), ("magnetisation",), _binder,
               lambda c: None if c.count_law is None else 1 - c.m_moment(lambda m: m**4) / (3 * c.m_moment(np.square) ** 2)),
    Observable("correlation", "G(r) connected, centred pairs, row average", _ISING_POTTS, ("configuration",),
               _correlation_est, lambda c: c.correlation),
    Observable("correlation_length", "xi^2 = sum r^2 G(r) / (G(0) + 2 sum_{r>=1} G(r))", _ISING_POTTS,
               ("configuration",), _xi_est, _exact_xi, "lattice spacings"),
    Observable("order_parameter", "<(q max_a rho_a - 1) / (q - 1)>", ("potts",), ("order_parameter",),
               _mean_of("order_parameter"), _exact_potts_order),
    Observable("height_profile", "<h_i>, i = 1..N", ("fredkin",), ("heights",), _mean_of("heights"),
               lambda c: c.model.mean_heights()),
    Observable("height_variance", "<h_i^2> - <h_i>^2", ("fredkin",), ("heights",),
               _variance_of("heights", lambda m: 1.0),
               lambda c: np.array([q @ np.arange(q.size) ** 2 - (q @ np.arange(q.size)) ** 2 for q in c.state_dists[1:]])),
    Observable("height_distribution", "P(h_i = k), i = 1..N, k = 0..N/2", ("fredkin",), ("heights",),
               _height_distribution_est, _fredkin_height_stats),
    Observable("area", "<A>, A = sum_i h_i", ("fredkin",), ("area",), _mean_of("area"),
               lambda c: float(c.model.mean_heights().sum())),
    Observable("mid_height", "<h_{N/2}>", ("fredkin",), ("mid_height",), _mean_of("mid_height"),
               lambda c: float(c.model.mean_heights()[c.model.n_sites // 2 - 1])),
    Observable("max_height", "<max_i h_i>", ("fredkin",), ("max_height",), _mean_of("max_height"), _exact_max_height),
]}


def available(model) -> list[str]:
    """Names of the observables that apply to model (in table order).

    Args:
        model: a tnddm lattice model.
    """
    fam = family(model)
    return [name for name, o in OBSERVABLES.items() if fam in o.families]


MAX_TABLE_ENTRIES = 2_000_000  # P(h_i = k) is left out of the default list beyond this many entries (N (N/2 + 1))


def default_names(model) -> list[str]:
    """available(model) without the observables whose tables are too large (P(h_i = k) of long chains).

    Args:
        model: a tnddm lattice model.
    """
    names = available(model)
    if family(model) == "fredkin" and model.n_sites * (model.n_sites // 2 + 1) > MAX_TABLE_ENTRIES:
        names.remove("height_distribution")
    return names


def _names(model, names) -> list[str]:
    avail = available(model)
    if names is None:
        return default_names(model)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in names if n not in avail]
    if bad:
        raise ValueError(f"names: {bad[0]!r} is not an observable of {model.kind} models; available: {', '.join(avail)}")
    return list(names)


def exact(model, names=None, max_distance: int | None = None) -> dict:
    """Exact values {name: float or array} of the observables of a model with an exact MPS.

    An observable whose exact evaluation would be too large (the count law beyond MAX_COUNT_ENTRIES)
    is left out. Formulas: module docstring and OBSERVABLES.

    Args:
        model: a tnddm lattice model (tnddm.lattice).
        names: observable names or a comma-separated string (default: every one that applies).
        max_distance: largest r of G(r) (default min(L - 1, MAX_DISTANCE)).
    """
    names = _names(model, names)
    if not _has_exact(model):
        return {}
    ctx = _Exact(model, max_distance)
    out = {}
    for name in names:
        v = OBSERVABLES[name].exact(ctx)
        if v is not None:
            out[name] = float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)
    return out


# ---- estimates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """An estimate with its standard error and, where known, the exact value and z = (mean - exact) / stderr.

    mean, stderr and exact are floats or arrays of one shape (e.g. G(r) over r); tau is the
    integrated autocorrelation time used for the error (1 for independent samples). Where the
    samples show no fluctuation (stderr 0), z is 0 if the mean equals the exact value to rounding,
    else nan (undetermined).

    Args:
        name: the observable.
        mean: the estimate (float or array).
        stderr: its standard error (same shape).
        exact: the exact value (same shape), None when not known.
        n: number of samples (or chain records x walkers).
        tau: integrated autocorrelation time used for the error (1 for independent samples).
    """

    name: str
    mean: float | np.ndarray
    stderr: float | np.ndarray
    exact: float | np.ndarray | None = None
    n: int = 0
    tau: float | np.ndarray = 1.0

    @property
    def z(self):
        """(mean - exact) / stderr (float or array); None without an exact value."""
        if self.exact is None:
            return None
        diff = np.asarray(self.mean, dtype=float) - np.asarray(self.exact, dtype=float)
        err = np.asarray(self.stderr, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = diff / err
        # no fluctuation in the samples (e.g. h_1 = 1, or a rare height never seen): z = 0 where the value
        # matches to rounding, else undefined (nan) rather than infinite
        same = np.abs(diff) <= 1e-9 * (1 + np.abs(np.asarray(self.exact, dtype=float)))
        z = np.where(err == 0, np.where(same, 0.0, np.nan), z)
        return float(z) if z.ndim == 0 else z

    @property
    def max_abs_z(self) -> float:
        """Largest |z| over the values (nan without an exact value)."""
        z = self.z
        if z is None:
            return float("nan")
        z = np.abs(np.asarray(z, dtype=float))
        return float(np.nanmax(z)) if z.size and not np.all(np.isnan(z)) else float("nan")

    def rows(self) -> list[dict]:
        """DataFrame-ready rows {observable, index, mean, stderr, exact, z} (one per element of an array)."""
        mean = np.atleast_1d(np.asarray(self.mean, dtype=float))
        idx = list(np.ndindex(mean.shape)) if np.ndim(self.mean) else [None]
        stderr = np.broadcast_to(np.asarray(self.stderr, dtype=float), mean.shape)
        exact = None if self.exact is None else np.broadcast_to(np.asarray(self.exact, dtype=float), mean.shape)
        z = None if self.exact is None else np.broadcast_to(np.asarray(self.z, dtype=float), mean.shape)
        out = []
        for k in idx:
            key = k if k is not None else (0,)
            out.append({"observable": self.name, "index": None if k is None else (k[0] if len(k) == 1 else k),
                        "mean": float(mean[key]), "stderr": float(stderr[key]),
                        "exact": None if exact is None else float(exact[key]),
                        "z": None if z is None else float(z[key]), "n": self.n})
        return out

    def __repr__(self) -> str:
        if np.ndim(self.mean):
            tail = "" if self.exact is None else f", max |z| {self.max_abs_z:.2f}"
            return f"Estimate({self.name}: {np.size(self.mean)} values, n={self.n}{tail})"
        tail = "" if self.exact is None else f", exact {_g(self.exact)}, z {self.z:+.2f}"
        return f"Estimate({self.name} = {_g(self.mean)} +- {_g(self.stderr, 2)}{tail}, n={self.n})"


@dataclass
class Report:
    """Estimates of several observables from one set of samples or one chain (a dict name -> Estimate).

    rows() gives DataFrame-ready dicts (pandas.DataFrame(report.rows())); table() the aligned text
    that the CLI prints; exact holds the exact values (also of observables not estimated).

    Args:
        model: the model's repr.
        source: where the estimates come from ("independent samples" or "chain of S steps x W walkers").
        n: number of samples (or chain records x walkers).
        estimates: {name: Estimate}.
        exact: {name: exact value}.
        skipped: {name: reason} for the observables that could not be estimated.
    """

    model: str
    source: str
    n: int
    estimates: dict = field(default_factory=dict)
    exact: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    def __getitem__(self, name) -> Estimate:
        return self.estimates[name]

    def __iter__(self):
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def rows(self) -> list[dict]:
        """DataFrame-ready rows of every estimate (Estimate.rows)."""
        return [row for e in self.estimates.values() for row in e.rows()]

    @property
    def max_abs_z(self) -> float:
        """Largest |z| over every estimate with an exact value (nan if none)."""
        zs = [e.max_abs_z for e in self.estimates.values() if e.exact is not None]
        zs = [z for z in zs if np.isfinite(z)]
        return max(zs) if zs else float("nan")

    def to_dict(self) -> dict:
        """{name: {mean, stderr, exact, z, n}} with arrays as lists (JSON-ready)."""
        def py(v):
            return None if v is None else (np.asarray(v).tolist() if np.ndim(v) else float(v))
        return {name: {"mean": py(e.mean), "stderr": py(e.stderr), "exact": py(e.exact), "z": py(e.z), "n": e.n}
                for name, e in self.estimates.items()}

    def table(self, max_rows: int = 16) -> str:
        """Aligned text: one line per scalar, per element of arrays of at most max_rows values, else a summary line.

        Args:
            max_rows: arrays longer than this get one summary line.
        """
        lines = [f"{'observable':<24}{'estimate':>14}{'stderr':>11}{'exact':>14}{'z':>8}"]
        for name, e in self.estimates.items():
            if np.ndim(e.mean) == 0 or (np.ndim(e.mean) == 1 and np.size(e.mean) <= max_rows):
                for row in e.rows():
                    label = name if row["index"] is None else f"{name}[{row['index']}]"
                    ex = "-" if row["exact"] is None else _g(row["exact"])
                    z = "-" if row["z"] is None else f"{row['z']:+.2f}"
                    lines.append(f"{label:<24}{_g(row['mean']):>14}{_g(row['stderr'], 2):>11}{ex:>14}{z:>8}")
            else:
                what = f"{np.size(e.mean)} values {np.shape(e.mean)}"
                z = "" if e.exact is None else f"max |z| {e.max_abs_z:.2f}"
                lines.append(f"{name:<24}{what:>25}{'':>14}  {z}")
        for name, why in self.skipped.items():
            lines.append(f"{name:<24}  not estimated: {why}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        z = "" if not np.isfinite(self.max_abs_z) else f", max |z| {self.max_abs_z:.2f}"
        return f"Report({self.model}, {self.source}, n={self.n}, observables={list(self.estimates)}{z})"


def _g(v, digits=6) -> str:
    v = float(v)
    v = 0.0 if abs(v) < 1e-13 else v  # rounding noise of an exact zero (e.g. <m> at h = 0)
    return f"{v:.{digits}g}" if np.isfinite(v) else str(v)


def _stderr(u, layout):
    """Standard error of the mean of u (n, ...): std / sqrt(n) for independent rows, else (layout = (steps,
    walkers)) the autocorrelation-corrected error of tnddm.mcmc.stats per component. Returns (stderr, tau)."""
    if layout is None:
        n = u.shape[0]
        return (u.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(u.shape[1:], np.nan)), 1.0
    from .mcmc import stats

    steps, walkers = layout
    flat = u.reshape(steps, walkers, -1)
    err, tau = np.empty(flat.shape[2]), np.empty(flat.shape[2])
    for k in range(flat.shape[2]):
        tau[k] = stats.integrated_time(flat[:, :, k])
        err[k] = stats.standard_error(flat[:, :, k], tau[k])
    shape = u.shape[1:]
    return (err.reshape(shape), tau.reshape(shape)) if shape else (float(err[0]), float(tau[0]))


def _run_estimators(model, raw, names, layout, n, exact_values, source):
    estimates, skipped = {}, {}
    for name in names:
        obs = OBSERVABLES[name]
        missing = [k for k in obs.needs if k not in raw]
        if missing:
            skipped[name] = f"needs the per-sample {', '.join(missing)} (not recorded)"
            continue
        value, u = obs.estimator(model, raw)
        if isinstance(value, _Indicators):
            mean = value.mean()
            cols = [_stderr(c, layout) for c in value.columns()]
            err = np.maximum(np.stack([c[0] for c in cols]), 1.0 / n)  # a proportion never observed: error 1/n
            tau = np.stack([np.broadcast_to(c[1], (value.K,)) for c in cols])
        else:
            err, tau = _stderr(np.asarray(u, dtype=float), layout)
            mean = value
        estimates[name] = Estimate(name, float(mean) if np.ndim(mean) == 0 else np.asarray(mean, dtype=float),
                                   err, exact_values.get(name), n, tau)
    return Report(repr(model), source, n, estimates, dict(exact_values), skipped)


def estimate(model, X, names=None, exact_values=True, max_distance: int | None = None) -> Report:
    """Estimates with standard errors from configurations, beside the exact values.

    X (n, N): independent samples (e.g. exact samples), standard error std / sqrt(n).
    X (steps, walkers, N): configurations of a Markov chain; errors use the integrated
    autocorrelation time (tnddm.mcmc.stats) of each estimator's influence series.

    Args:
        model: a tnddm lattice model.
        X: integer configurations, (n, N) or (steps, walkers, N).
        names: observable names or a comma-separated string (default: every one that applies).
        exact_values: True to compute the exact values (where the model is exact), False to skip
            them, or a dict {name: value} computed before (e.g. by exact()).
        max_distance: largest r of G(r).
    """
    names = _names(model, names)
    X = np.asarray(X)
    if X.ndim not in (2, 3) or X.shape[-1] != model.n_sites or X.shape[0] < 2:
        raise ValueError(f"X must have shape (n, {model.n_sites}) or (steps, walkers, {model.n_sites}) with at least "
                         f"2 rows; got {X.shape}")
    layout = X.shape[:2] if X.ndim == 3 else None
    flat = model._configs(X.reshape(-1, model.n_sites))
    needs = {k for name in names for k in OBSERVABLES[name].needs}
    raw = {k: RAW[k](model, flat) for k in needs}
    raw["max_distance"] = max_distance
    exacts = _exact_values(model, names, exact_values, max_distance)
    source = "independent samples" if layout is None else f"chain of {layout[0]} steps x {layout[1]} walkers"
    return _run_estimators(model, raw, names, layout, flat.shape[0], exacts, source)


def estimate_chain(model, chain, names=None, exact_values=True, discard: int = 0) -> Report:
    """Estimates from a tnddm.mcmc.Chain's recorded per-walker observables (model.statistics by default),
    with autocorrelation-corrected errors. Observables whose per-sample statistics the chain did not
    record (G(r), Fredkin profiles: they need configurations) are listed in report.skipped.

    Args:
        model: the chain's target lattice model.
        chain: a tnddm.mcmc.Chain.
        names: observable names (default: every one that applies).
        exact_values: as in estimate().
        discard: further recorded steps to drop at the start.
    """
    names = _names(model, names)
    obs = {k: np.asarray(v, dtype=float)[int(discard):] for k, v in chain.observables.items()}
    if not obs:
        raise ValueError("chain has no recorded observables")
    steps, walkers = next(iter(obs.values())).shape
    raw = {k: v.reshape(-1) for k, v in obs.items() if k in RAW}
    exacts = _exact_values(model, names, exact_values, None)
    return _run_estimators(model, raw, names, (steps, walkers), steps * walkers, exacts,
                           f"chain of {steps} steps x {walkers} walkers")


def _exact_values(model, names, exact_values, max_distance):
    if isinstance(exact_values, dict):
        return dict(exact_values)
    return exact(model, names, max_distance) if exact_values else {}


# ---- parameter scans ----------------------------------------------------------------------------
#: observables scanned and plotted by default, per model family (exact, cheap)
SCAN_DEFAULTS = {"ising": ("specific_heat", "susceptibility_abs", "binder", "correlation_length"),
                 "potts": ("specific_heat", "order_parameter", "correlation_length"),
                 "fredkin": ("area", "mid_height", "max_height"), "grid": ("energy_per_site", "specific_heat")}
#: axis labels with units (k_B = 1, energies in units of J)
UNITS = {"energy_per_site": "J", "specific_heat": "k_B per site", "susceptibility": "1/J per site",
         "susceptibility_abs": "1/J per site", "correlation_length": "lattice spacings", "area": "lattice units^2",
         "mid_height": "lattice units", "max_height": "lattice units", "beta": "1/J", "h": "J", "J": "energy units",
         "c": "Fredkin rate", "length": "columns", "width": "sites per column", "n_sites": "sites"}


def scan(make_model, grid: dict, names=None) -> list[dict]:
    """Exact observables over the cartesian product of parameter values (the last parameter varies fastest).

    Returns DataFrame-ready rows {parameter: value, ..., observable: exact value} (scalar observables only).
    Every model is built (and its memory checked) before any observable is computed.

    Args:
        make_model: function of the parameters (keywords) returning a lattice model,
            e.g. lambda beta, width: IsingCylinder(16, width, beta).
        grid: {parameter: list of values}, e.g. {"beta": np.linspace(0.3, 0.6, 16), "width": [4, 6, 8]}.
        names: observables (default SCAN_DEFAULTS of the model's family); arrays such as G(r) are refused.
    """
    import itertools

    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict {parameter: list of values}")
    keys = list(grid)
    values = []
    for k in keys:
        v = list(np.atleast_1d(grid[k]).tolist()) if not isinstance(grid[k], (list, tuple)) else list(grid[k])
        if not v:
            raise ValueError(f"grid[{k!r}] must hold at least one value")
        values.append(v)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    models = [make_model(**p) for p in points]
    fam = family(models[0])
    names = list(SCAN_DEFAULTS[fam]) if names is None else _names(models[0], names)
    arrays = [n for n in names if n in ("correlation", "height_profile", "height_variance", "height_distribution")]
    if arrays:
        raise ValueError(f"names: {arrays[0]!r} is an array; a scan takes scalar observables")
    rows = []
    for p, model in zip(points, models):
        ex = exact(model, names)
        rows.append({**p, **{n: ex.get(n, float("nan")) for n in names}})
    return rows


#: axis names of the plotted quantities
LABELS = {"energy_per_site": "energy per site e", "specific_heat": "specific heat per site c",
          "susceptibility": "susceptibility chi", "susceptibility_abs": "susceptibility chi' (from |m|)",
          "binder": "Binder cumulant U_4", "abs_magnetisation": "<|m|>", "correlation_length": "correlation length xi",
          "order_parameter": "Potts order parameter", "beta": "inverse temperature beta"}


def _label(name: str) -> str:
    unit = UNITS.get(name)
    return LABELS.get(name, name.replace("_", " ")) + (f" ({unit})" if unit else "")


def plot_scan(rows, x: str, names, path=None, series=None, title: str = "", family_of_rows: str | None = None):
    """One panel per observable against parameter x, one line per value of the other parameters.

    Returns the matplotlib Figure; writes a PNG to path if given (object API: no backend switch).

    Args:
        rows: scan() rows.
        x: the parameter on the horizontal axis.
        names: observables to plot (one panel each).
        path: output PNG (None: only return the figure).
        series: parameters that label the lines (default: every parameter except x that varies).
        title: figure title.
        family_of_rows: the models' family ('ising' marks beta_c on a beta axis).
    """
    from matplotlib.figure import Figure

    names = list(names)
    if not rows or x not in rows[0]:
        raise ValueError(f"x must be a parameter of the rows; got {x!r}")
    if series is None:
        series = [k for k in rows[0] if k != x and k not in names and len({r[k] for r in rows}) > 1]
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in series), []).append(r)
    cols = min(len(names), 2)
    nrows = -(-len(names) // cols)
    fig = Figure(figsize=(4.6 * cols, 3.3 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        for k, (key, rs) in enumerate(groups.items()):
            rs = sorted(rs, key=lambda r: r[x])
            label = ", ".join(f"{s}={v:g}" if isinstance(v, (int, float)) else f"{s}={v}" for s, v in zip(series, key))
            ax.plot([r[x] for r in rs], [r[name] for r in rs], "o-", ms=3, color=f"C{k % 10}", label=label or None)
        if x == "beta" and family_of_rows == "ising":
            from .lattice import BETA_C

            ax.axvline(BETA_C, color="0.5", ls=":", lw=1, label="beta_c (infinite 2D lattice)" if ax is axes[0] else None)
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(name))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1] and len(groups) <= 8:  # panels with labelled curves only
            ax.legend(fontsize=8, title="exact", title_fontsize=8)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


# ---- snapshots ----------------------------------------------------------------------------------
def as_grid(model, X) -> np.ndarray:
    """Configurations (n, N) as (n, L, W) arrays (column-major sites n = c W + row): X_grid[s, c, row].

    Args:
        model: a model with length and width (Ising, Potts, grids); a chain is L = N, W = 1.
        X: integer configurations (n, N) or one configuration (N,).
    """
    X = np.atleast_2d(np.asarray(X))
    L, W = int(getattr(model, "length", model.n_sites)), int(getattr(model, "width", 1))
    if X.shape[1] != L * W:
        raise ValueError(f"X must have {L * W} = {L} x {W} columns; got {X.shape[1]}")
    return X.reshape(X.shape[0], L, W)


def plot_snapshots(model, X, path=None, n: int = 6, title: str | None = None):
    """A figure of the first n configurations: 2D models as images (rows x columns), the Fredkin chain as
    height profiles h_i. Written to path (PNG) if given; returns the matplotlib Figure (shown inline in
    notebooks). Uses matplotlib's object API, so the session's backend is never switched.

    Args:
        model: a tnddm lattice model.
        X: configurations (n, N).
        path: output PNG file (None: only return the figure).
        n: number of configurations shown.
        title: figure title (default the model's repr).
    """
    from matplotlib.figure import Figure

    X = np.atleast_2d(np.asarray(X))
    n = int(min(max(1, n), X.shape[0]))
    title = repr(model) if title is None else title
    if family(model) == "fredkin":
        fig = Figure(figsize=(7, 3.2))
        ax = fig.add_subplot()
        h = np.concatenate([np.zeros((n, 1)), _heights(X[:n])], axis=1)
        for k in range(n):
            ax.plot(np.arange(model.n_sites + 1), h[k], lw=1, label=f"sample {k}")
        ax.set_xlabel("site i")
        ax.set_ylabel("height h_i (lattice units)")
        ax.legend(fontsize=7, ncol=2)
    else:
        G = as_grid(model, X[:n])
        fig = Figure(figsize=(2.2 * n, 2.6))
        axes = fig.subplots(1, n, squeeze=False)[0]
        for k, ax in enumerate(axes):
            im = ax.imshow(G[k].T, cmap="gray_r" if model.d == 2 else "viridis", vmin=0, vmax=model.d - 1,
                           interpolation="nearest", aspect="equal", origin="lower")
            ax.set_title(f"sample {k}", fontsize=8)
            ax.set_xlabel("column c")
            if k == 0:
                ax.set_ylabel("row")
        cbar = fig.colorbar(im, ax=list(axes), shrink=0.8)
        cbar.set_label("spin up (1) / down (0)" if family(model) == "ising" else "state")
    fig.suptitle(title, fontsize=8)
    if path is not None:
        _save(fig, path)
    return fig


def _save(fig, path) -> None:
    from ._plotting import save_png

    save_png(fig, path, tight=False)


__all__ = ["OBSERVABLES", "Observable", "Estimate", "Report", "available", "default_names", "exact", "estimate", "estimate_chain",
           "exact_correlation", "correlation_pairs", "count_law", "binder_cumulant", "pair_function", "family",
           "as_grid", "plot_snapshots", "scan", "plot_scan", "SCAN_DEFAULTS"]
