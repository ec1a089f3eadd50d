"""Local-move Monte Carlo baselines in numba, batched over walkers, seeded, returning a Chain.

Ising (x in {0, 1}, s = 2x - 1, E = -J sum_<ij> s_i s_j - h sum_i s_i, pi ∝ exp(-beta E)) on L
columns of W sites, column-major n = c*W + r; a cylinder closes each column into a ring (W >= 3),
a strip leaves it open, a chain is W = 1.
  * single-spin Metropolis: pick a site uniformly, flip with probability min(1, exp(-beta dE)),
    dE = 2 s_i (J sum_{j~i} s_j + h); one sweep = N attempts.
  * Wolff: grow a cluster from a random site, adding each neighbour k of a cluster spin j with
    J s_j s_k > 0 with probability 1 - exp(-2 beta |J|); flip it with probability
    min(1, exp(-2 beta h M_C)) (M_C = sum of the cluster's spins; always flipped at h = 0).
Fredkin chain (x = 1 up, Dyck paths, pi ∝ r^{A/2}, r = c/(1-c)): pick one of the bonds
(i, i+1), i = 1..N-3 (first and last bonds frozen); if x_i != x_{i+1} and the constraint factor
f = 1 + n_{i-1} - n_{i+2} > 0, swap with probability
  rule="metropolis": min(1, r) for down-up -> up-down, min(1, 1/r) for up-down -> down-up;
  rule="dynamics":   c f / Lambda resp. (1 - c) f / Lambda, Lambda = 2 max(c, 1 - c)
                     (the uniformised exchange dynamics of DESIGN.md section 3).
Both satisfy detailed balance w.r.t. pi and never leave the Dyck set (f = 0 exactly where an
up-down -> down-up swap could dig below height 0). One sweep = N - 3 attempts.
"""
from __future__ import annotations

import time

import numba
import numpy as np

from .._checks import as_configs, check_nonnegative_int
from ..lattice.fredkin import heights, is_dyck  # noqa: F401  (is_dyck re-exported)
from ..lattice.geometry import LatticeGeometry
from ..rng import as_generator
from .chain import Chain, record_observables


# ---- kernels ------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _metropolis_kernel(S, nbr, deg, beta, Jn, hs, n_moves, seed):
    """Jn[i, k]: coupling of site i to its k-th neighbour; hs[i]: field of site i."""
    np.random.seed(seed)
    n_w, N = S.shape
    acc = np.zeros(n_w)
    for w in range(n_w):
        a = 0
        for _ in range(n_moves):
            i = np.random.randint(N)
            loc = hs[i]
            for k in range(deg[i]):
                loc += Jn[i, k] * S[w, nbr[i, k]]
            dE = 2.0 * S[w, i] * loc
            if dE <= 0.0 or np.random.random() < np.exp(-beta * dE):
                S[w, i] = -S[w, i]
                a += 1
        acc[w] = a / max(n_moves, 1)
    return acc


@numba.njit(cache=True)
def _wolff_kernel(S, nbr, deg, beta, J, h, n_clusters, seed):
    np.random.seed(seed)
    n_w, N = S.shape
    p_add = 1.0 - np.exp(-2.0 * beta * abs(J))
    sgn = 1 if J >= 0 else -1
    stack = np.empty(N, dtype=np.int64)
    members = np.empty(N, dtype=np.int64)
    in_cluster = np.zeros(N, dtype=np.bool_)
    acc = np.zeros(n_w)
    sizes = np.zeros(n_w)
    for w in range(n_w):
        a = 0
        for _ in range(n_clusters):
            i = np.random.randint(N)
            stack[0] = i
            in_cluster[i] = True
            top = 1
            nm = 0
            M = 0
            while top > 0:
                top -= 1
                j = stack[top]
                members[nm] = j
                nm += 1
                M += S[w, j]
                for q in range(deg[j]):
                    k = nbr[j, q]
                    if not in_cluster[k] and sgn * S[w, j] * S[w, k] > 0 and np.random.random() < p_add:
                        in_cluster[k] = True
                        stack[top] = k
                        top += 1
            flip = True
            if h != 0.0:
                dE = 2.0 * h * M
                flip = dE <= 0.0 or np.random.random() < np.exp(-beta * dE)
            for q in range(nm):
                in_cluster[members[q]] = False
                if flip:
                    S[w, members[q]] = -S[w, members[q]]
            if flip:
                a += 1
            sizes[w] += nm
        acc[w] = a / max(n_clusters, 1)
        sizes[w] /= max(n_clusters, 1)
    return acc, sizes


@numba.njit(cache=True)
def _fredkin_kernel(X, c, n_moves, dynamics, seed):
    np.random.seed(seed)
    n_w, N = X.shape
    r = c / (1.0 - c)
    p_up = min(1.0, r)
    p_down = min(1.0, 1.0 / r)
    lam = 2.0 * max(c, 1.0 - c)
    acc = np.zeros(n_w)
    for w in range(n_w):
        a = 0
        for _ in range(n_moves):
            i = 1 + np.random.randint(N - 3)
            x0 = X[w, i]
            if x0 == X[w, i + 1]:
                continue
            f = 1 + X[w, i - 1] - X[w, i + 2]
            if f == 0:
                continue
            if dynamics:
                p = (c * f if x0 == 0 else (1.0 - c) * f) / lam
            else:
                p = p_up if x0 == 0 else p_down
            if np.random.random() < p:
                X[w, i] = 1 - x0
                X[w, i + 1] = x0
                a += 1
        acc[w] = a / max(n_moves, 1)
    return acc


# ---- geometry -----------------------------------------------------------------------------------
def _spin_flip_model(model) -> bool:
    return getattr(model, "local_update", None) == "spin_flip"


class IsingGeometry(LatticeGeometry):
    """A LatticeGeometry with the Ising energy and statistics of spins s = 2x - 1 (uniform J and h, or an IsingGrid's
    per-bond couplings)."""

    @classmethod
    def from_model(cls, model) -> "IsingGeometry":
        """Geometry of a tnddm.lattice Ising model (one whose local update is "spin_flip": Ising, IsingChain,
        IsingCylinder, IsingStrip, IsingGrid), from model.geometry()."""
        if not _spin_flip_model(model):
            raise ValueError(f"model must be a tnddm.lattice Ising model (Ising, IsingChain, IsingCylinder, IsingStrip, "
                             f"IsingGrid: local_update 'spin_flip'); got {type(model).__name__}")
        geo = model.geometry()
        return cls(geo.length, geo.width, geo.periodic)

    def grid_couplings(self, model) -> tuple[np.ndarray, np.ndarray]:
        """(J per edge, h per site) of an IsingGrid on this geometry: a bond within column c joining rows r and
        (r + 1) mod W has J_vertical[c, r]; a bond (c, r)-(c + 1, r) has J_horizontal[c, r]."""
        W = self.width

        def coupling(i, j):
            (ci, ri), (cj, rj) = divmod(int(i), W), divmod(int(j), W)
            if ci != cj:
                return model.J_horizontal[min(ci, cj), ri]
            return model.J_vertical[ci, ri if (ri + 1) % W == rj else rj]

        return np.array([coupling(i, j) for i, j in self.edges]), model.fields.ravel()

    def energy(self, X, J: float = 1.0, h: float = 0.0) -> np.ndarray:
        """E = -J sum_<ij> s_i s_j - h sum_i s_i for configurations X in {0, 1}."""
        s = 2 * np.asarray(X, dtype=np.int64) - 1
        return -J * (s[:, self.edges[:, 0]] * s[:, self.edges[:, 1]]).sum(axis=1) - h * s.sum(axis=1)

    def statistics(self, X, J: float = 1.0, h: float = 0.0) -> dict:
        s = 2 * np.asarray(X, dtype=np.int64) - 1
        m = s.mean(axis=1)
        return {"energy": self.energy(X, J, h).astype(float), "magnetisation": m, "abs_magnetisation": np.abs(m)}


def fredkin_statistics(X) -> dict:
    """Area A = sum_i h_i and the height at the middle of Dyck paths X."""
    h = heights(X)
    return {"area": h.sum(axis=1).astype(float), "mid_height": h[:, X.shape[1] // 2 - 1].astype(float)}


# ---- drivers ------------------------------------------------------------------------------------
def _run(kernel_step, X, n_steps, burn_in, observables, rng, progress, desc, info):
    """Shared loop: kernel_step(X, seed) -> per-walker acceptance; records observables(X in {0,1})."""
    n_steps, burn_in = check_nonnegative_int(n_steps, "n_steps"), check_nonnegative_int(burn_in, "burn_in")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    start = time.perf_counter()
    n_w = X.shape[0]
    accepted = np.zeros((n_steps, n_w))
    obs: dict[str, np.ndarray] = {}
    steps = range(burn_in + n_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc, unit="step")
    for t in steps:
        acc, state = kernel_step(int(rng.integers(2**31 - 1)))
        k = t - burn_in
        if k < 0:
            continue
        accepted[k] = acc
        for name, v in record_observables(observables, state()).items():
            if name not in obs:
                obs[name] = np.empty((n_steps, n_w))
            obs[name][k] = v
    return Chain(observables=obs, accepted=accepted, move_kinds=np.full(n_steps, desc), move_T=np.full(n_steps, np.nan),
                 state=state(), seconds=time.perf_counter() - start, info=info)


def _ising_setup(geometry, beta, J, h, n_walkers, initial, rng, observables):
    """(geometry, beta, J, h, S, observables, Jn, hs): Jn / hs the per-neighbour couplings and per-site fields
    (uniform J and h, or an IsingGrid's own)."""
    grid = None
    if not isinstance(geometry, IsingGeometry):
        model = geometry
        geometry = IsingGeometry.from_model(model)
        if getattr(model, "J_vertical", None) is not None:  # per-bond couplings (IsingGrid)
            if J is not None or h is not None:
                raise ValueError("an IsingGrid carries its own couplings and fields; do not pass J or h")
            grid = geometry.grid_couplings(model)
        beta = model.beta if beta is None else beta
        J = getattr(model, "J", 1.0) if J is None else J
        h = getattr(model, "h", 0.0) if h is None else h
        if observables is None and callable(getattr(model, "statistics", None)):
            observables = model.statistics
    beta = float(beta if beta is not None else 0.0)
    J = float(1.0 if J is None else J)
    h = float(0.0 if h is None else h)
    for name, v in (("beta", beta), ("J", J), ("h", h)):
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite; got {v}")
    n_walkers = check_nonnegative_int(n_walkers, "n_walkers")
    if initial is None:
        X = rng.integers(0, 2, size=(n_walkers, geometry.n_sites))
    else:
        X = as_configs(initial, geometry.n_sites, 2, name="initial")
        if X.shape[0] != n_walkers:
            raise ValueError(f"initial must have n_walkers = {n_walkers} rows; got {X.shape[0]}")
    S = (2 * X - 1).astype(np.int8)
    if observables is None:
        observables = lambda Z: geometry.statistics(Z, J, h)  # noqa: E731
    J_edges, hs = grid if grid is not None else (J, np.full(geometry.n_sites, h))
    uniform = grid is None or (np.all(J_edges == J_edges[0]) and np.all(hs == hs[0]))
    if grid is not None and uniform:
        J, h = float(J_edges[0]), float(hs[0])
    Jn = geometry.neighbour_couplings(J_edges)
    return geometry, beta, J if uniform else None, h if uniform else None, S, observables, Jn, np.asarray(hs, dtype=float)


def ising_metropolis(geometry, n_steps: int, n_walkers: int = 64, beta=None, J=None, h=None, sweeps_per_step: int = 1,
                     initial=None, seed=None, observables=None, burn_in: int = 0, progress: bool = False) -> Chain:
    """Single-spin Metropolis for Ising on an IsingGeometry (or a tnddm.lattice Ising model, IsingGrid
    with bond-dependent couplings included).

    Each recorded step is sweeps_per_step * N single-site attempts per walker; accepted holds the
    fraction of accepted flips. Default start: independent uniform spins (use burn_in).
    """
    rng = as_generator(seed)
    geo, beta, J, h, S, observables, Jn, hs = _ising_setup(geometry, beta, J, h, n_walkers, initial, rng, observables)
    n_moves = check_nonnegative_int(sweeps_per_step, "sweeps_per_step") * geo.n_sites

    def step(s):
        return _metropolis_kernel(S, geo.neighbours, geo.degree, beta, Jn, hs, n_moves, s), lambda: (S + 1) // 2

    return _run(step, S, n_steps, burn_in, observables, rng, progress, "metropolis",
                {"beta": beta, "J": J, "h": h, "sweeps_per_step": sweeps_per_step})


def ising_wolff(geometry, n_steps: int, n_walkers: int = 64, beta=None, J=None, h=None, clusters_per_step: int = 1,
                initial=None, seed=None, observables=None, burn_in: int = 0, progress: bool = False) -> Chain:
    """Wolff cluster updates for Ising (h != 0 through a Metropolis test on the cluster flip).

    Each recorded step is clusters_per_step clusters per walker; accepted holds the fraction of
    flipped clusters; info['mean_cluster_size'] the mean cluster size over the run.
    """
    rng = as_generator(seed)
    geo, beta, J, h, S, observables, _, _ = _ising_setup(geometry, beta, J, h, n_walkers, initial, rng, observables)
    if J is None:
        raise ValueError("Wolff updates need uniform couplings and fields (a ferro- or antiferromagnet)")
    n_cl = check_nonnegative_int(clusters_per_step, "clusters_per_step")
    sizes = []

    def step(s):
        acc, size = _wolff_kernel(S, geo.neighbours, geo.degree, beta, J, h, n_cl, s)
        sizes.append(size.mean())
        return acc, lambda: (S + 1) // 2

    chain = _run(step, S, n_steps, burn_in, observables, rng, progress, "wolff",
                 {"beta": beta, "J": J, "h": h, "clusters_per_step": n_cl})
    chain.info["mean_cluster_size"] = float(np.mean(sizes))
    return chain


def fredkin_exchange(n_sites, n_steps: int, n_walkers: int = 64, c=None, sweeps_per_step: int = 1,
                     rule: str = "metropolis", initial=None, seed=None, observables=None, burn_in: int = 0,
                     progress: bool = False) -> Chain:
    """Fredkin exchange moves within the Dyck set (module docstring); n_sites may be a Fredkin model.

    Each recorded step is sweeps_per_step * (N - 3) bond attempts per walker. Default start: the
    flat path up-down-up-down... (use burn_in).
    """
    if not isinstance(n_sites, (int, np.integer)):
        model = n_sites
        n_sites = model.n_sites
        c = model.c if c is None else c
        if observables is None and callable(getattr(model, "statistics", None)):
            observables = model.statistics
    N = check_nonnegative_int(n_sites, "n_sites")
    if N < 4 or N % 2:
        raise ValueError(f"n_sites must be even and >= 4 for exchange moves; got {N}")
    if c is None or not 0 < float(c) < 1:
        raise ValueError(f"c must lie in (0, 1); got {c}")
    if rule not in ("metropolis", "dynamics"):
        raise ValueError(f"rule must be 'metropolis' or 'dynamics'; got {rule!r}")
    rng = as_generator(seed)
    n_walkers = check_nonnegative_int(n_walkers, "n_walkers")
    if initial is None:
        X = np.tile(np.array([1, 0], dtype=np.int8), (n_walkers, N // 2))
    else:
        X = as_configs(initial, N, 2, name="initial").astype(np.int8)
        if X.shape[0] != n_walkers:
            raise ValueError(f"initial must have n_walkers = {n_walkers} rows; got {X.shape[0]}")
        if not np.all(is_dyck(X)):
            raise ValueError("initial must hold Dyck paths (heights >= 0, ending at 0)")
    X = np.ascontiguousarray(X)
    n_moves = check_nonnegative_int(sweeps_per_step, "sweeps_per_step") * (N - 3)
    observables = fredkin_statistics if observables is None else observables

    def step(s):
        return _fredkin_kernel(X, float(c), n_moves, rule == "dynamics", s), lambda: X.astype(np.int64)

    return _run(step, X, n_steps, burn_in, observables, rng, progress, "fredkin-" + rule,
                {"c": float(c), "rule": rule, "sweeps_per_step": sweeps_per_step})


#: local updates by name (LatticeModel.local_update): update(model, n_steps, n_walkers, sweeps_per_step=, initial=,
#: seed=, observables=) -> Chain
LOCAL_UPDATES = {"spin_flip": ising_metropolis, "fredkin_exchange": fredkin_exchange}


def local_update_of(model):
    """The local Monte Carlo update of a lattice model (LOCAL_UPDATES[model.local_update]); ValueError if it has none."""
    name = "spin_flip" if _spin_flip_model(model) else getattr(model, "local_update", None)
    if name not in LOCAL_UPDATES:
        raise ValueError(f"{getattr(model, 'kind', type(model).__name__)} has no local Monte Carlo update "
                         f"(models with one: local_update in {sorted(LOCAL_UPDATES)}; Ising and Fredkin)")
    return LOCAL_UPDATES[name]


# ---- baselines as their best users run them: whole runs in compiled code ---------------------------
@numba.njit(cache=True)
def _ising_record(S, w, nbr, deg, Jn, hs):
    """(E, m) of walker w: E = -sum_<ij> J_ij s_i s_j - sum_i h_i s_i (each bond once), m = mean s."""
    N = S.shape[1]
    e = 0.0
    m = 0.0
    for i in range(N):
        loc = 0.0
        for k in range(deg[i]):
            loc += Jn[i, k] * S[w, nbr[i, k]]
        e -= 0.5 * S[w, i] * loc + hs[i] * S[w, i]
        m += S[w, i]
    return e, m / N


@numba.njit(cache=True)
def _ising_series_kernel(S, nbr, deg, beta, Jn, hs, J, h, wolff, per_record, n_records, burn_in, seed):
    E = np.empty(n_records)
    M = np.empty(n_records)
    for t in range(burn_in + n_records):
        if wolff:
            _wolff_kernel(S, nbr, deg, beta, J, h, per_record, seed + t)
        else:
            _metropolis_kernel(S, nbr, deg, beta, Jn, hs, per_record * S.shape[1], seed + t)
        if t >= burn_in:
            E[t - burn_in], M[t - burn_in] = _ising_record(S, 0, nbr, deg, Jn, hs)
    return E, M


def ising_series(model, method: str, n_records: int, per_record: int = 1, burn_in: int = 0, seed=None, initial=None):
    """One walker's energy and magnetisation series, the whole run in compiled code (no Python per record).

    method 'metropolis': a record every per_record sweeps of N single-spin attempts; 'wolff': every
    per_record clusters (choose per_record = N / mean cluster size for one record per ~N flipped spins).
    initial: a configuration (N,) in {0, 1} to start from (default: uniform random spins).
    Returns {'energy': (n_records,), 'magnetisation': (n_records,), 'state': the final configuration,
    'seconds': wall time of the run}.
    """
    if method not in ("metropolis", "wolff"):
        raise ValueError(f"method must be 'metropolis' or 'wolff'; got {method!r}")
    rng = as_generator(seed)
    start_state = None if initial is None else np.asarray(initial).reshape(1, -1)
    geo, beta, J, h, S, _, Jn, hs = _ising_setup(model, None, None, None, 1, start_state, rng, lambda Z: {})
    if method == "wolff" and J is None:
        raise ValueError("Wolff updates need uniform couplings and fields (a ferro- or antiferromagnet)")
    n_records, per_record = check_nonnegative_int(n_records, "n_records"), check_nonnegative_int(per_record, "per_record")
    start = time.perf_counter()
    E, M = _ising_series_kernel(S, geo.neighbours, geo.degree, beta, Jn, hs, 0.0 if J is None else J,
                                0.0 if h is None else h, method == "wolff", max(per_record, 1), n_records,
                                check_nonnegative_int(burn_in, "burn_in"), int(rng.integers(2**31 - 1 - n_records - burn_in)))
    return {"energy": E, "magnetisation": M, "state": ((S[0] + 1) // 2).astype(np.int64), "seconds": time.perf_counter() - start}
