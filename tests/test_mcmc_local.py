"""numba local-move baselines: estimates against enumeration, Dyck set preserved, exact kernels."""
import numpy as np
import pytest

from tnddm.goodness_of_fit import all_configs, chisquare_test, config_index
from tnddm.mcmc.local import (
    IsingGeometry,
    _fredkin_kernel,
    _metropolis_kernel,
    fredkin_exchange,
    is_dyck,
    ising_metropolis,
    ising_wolff,
)

from .mcmc_reference import BruteFredkin, BruteIsing

ALPHA = 1e-3
GEOMETRIES = {"chain": (10, 1, False), "cylinder": (4, 3, True), "strip": (3, 4, False)}


@pytest.mark.parametrize("geo", list(GEOMETRIES))
@pytest.mark.parametrize("algo", [ising_metropolis, ising_wolff])
def test_ising_estimates_agree_with_enumeration(geo, algo):
    L, W, per = GEOMETRIES[geo]
    beta, J, h = 0.45, 1.0, (0.15 if algo is ising_metropolis else 0.1)
    tgt = BruteIsing(L, W, per, beta=beta, J=J, h=h)
    geometry = IsingGeometry(L, W, per)
    assert sorted(tuple(sorted(e)) for e in geometry.edges) == sorted(tuple(sorted(e)) for e in tgt.edges)
    X0, _ = tgt.mps().sample(64, seed=0)
    chain = algo(geometry, 1500, 64, beta=beta, J=J, h=h, initial=X0, seed=1)
    s = chain.summary()
    for obs in ("energy", "magnetisation"):
        assert abs(s[obs]["mean"] - tgt.exact(obs)) < 4 * s[obs]["stderr"], (obs, s[obs], tgt.exact(obs))
    assert 0 < chain.acceptance() <= 1


def test_antiferromagnetic_wolff_agrees_with_enumeration():
    tgt = BruteIsing(4, 3, True, beta=0.5, J=-1.0, h=0.0)
    X0, _ = tgt.mps().sample(64, seed=0)
    chain = ising_wolff(IsingGeometry(4, 3, True), 1000, 64, beta=0.5, J=-1.0, h=0.0, initial=X0, seed=2)
    s = chain.summary()["energy"]
    assert abs(s["mean"] - tgt.exact("energy")) < 4 * s["stderr"]


@pytest.mark.parametrize("rule", ["metropolis", "dynamics"])
@pytest.mark.parametrize("c", [0.35, 0.65])
def test_fredkin_estimates_agree_and_stay_dyck(rule, c):
    tgt = BruteFredkin(12, c)
    X0, _ = tgt.mps().sample(64, seed=0)
    chain = fredkin_exchange(12, 1500, 64, c=c, rule=rule, initial=X0, seed=3,
                             observables=lambda X: {**tgt.statistics(X), "dyck": is_dyck(X)})
    s = chain.summary()
    for obs in ("area", "mid_height"):
        assert abs(s[obs]["mean"] - tgt.exact(obs)) < 4 * s[obs]["stderr"], (obs, s[obs], tgt.exact(obs))
    assert np.all(chain.observables["dyck"] == 1)


def fredkin_matrix(N, c, rule):
    """One attempted move: bond i uniform in 1..N-3, swap with the rule's probability (brute force)."""
    X = all_configs(N, 2)
    M = np.zeros((len(X), len(X)))
    r, lam = c / (1 - c), 2 * max(c, 1 - c)
    for a, x in enumerate(X):
        for i in range(1, N - 2):
            f = 1 + x[i - 1] - x[i + 2]
            if x[i] == x[i + 1] or f == 0:
                continue
            up = x[i] == 0
            p = (c * f if up else (1 - c) * f) / lam if rule == "dynamics" else min(1, r if up else 1 / r)
            y = x.copy()
            y[i], y[i + 1] = x[i + 1], x[i]
            M[a, config_index(y[None], 2)[0]] += p / (N - 3)
        M[a, a] = 1 - M[a].sum()
    return M


@pytest.mark.parametrize("rule", ["metropolis", "dynamics"])
def test_fredkin_kernel_is_exactly_invariant_and_implemented(rule):
    N, c = 8, 0.6
    tgt = BruteFredkin(N, c)
    M = fredkin_matrix(N, c, rule)
    np.testing.assert_allclose(tgt.p @ M, tgt.p, atol=1e-14)
    dyck = tgt.p > 0
    assert np.all(M[dyck][:, ~dyck] == 0)  # never leaves the Dyck set
    P = tgt.p[:, None] * M
    np.testing.assert_allclose(P, P.T, atol=1e-15)  # detailed balance
    # the numba kernel's one-move distribution from a fixed path matches the matrix row
    x0 = np.array([1, 1, 0, 1, 0, 1, 0, 0], dtype=np.int8)
    Xs = np.repeat(x0[None], 30000, axis=0)
    _fredkin_kernel(Xs, c, 1, rule == "dynamics", 5)
    assert chisquare_test(Xs, M[config_index(x0[None], 2)[0]], 2)[1] > ALPHA
    # negative control: the same histogram against the other rule's row fails
    other = fredkin_matrix(N, c, "dynamics" if rule == "metropolis" else "metropolis")
    assert chisquare_test(Xs, other[config_index(x0[None], 2)[0]], 2)[1] < ALPHA


def test_ising_metropolis_kernel_is_exactly_invariant_and_implemented():
    tgt = BruteIsing(3, 3, True, beta=0.6, h=0.2)
    geo = IsingGeometry(3, 3, True)
    X = all_configs(9, 2)
    E = tgt.energy(X)
    M = np.zeros((512, 512))
    for i in range(9):
        Y = X.copy()
        Y[:, i] = 1 - Y[:, i]
        M[np.arange(512), config_index(Y, 2)] += np.minimum(1, np.exp(-0.6 * (tgt.energy(Y) - E))) / 9
    M[np.diag_indices(512)] = 1 - M.sum(axis=1)
    np.testing.assert_allclose(tgt.p @ M, tgt.p, atol=1e-14)
    x0 = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1])
    S = np.repeat((2 * x0 - 1)[None].astype(np.int8), 30000, axis=0)
    _metropolis_kernel(S, geo.neighbours, geo.degree, 0.6, geo.neighbour_couplings(1.0), np.full(9, 0.2), 1, 9)
    assert chisquare_test((S + 1) // 2, M[config_index(x0[None], 2)[0]], 2)[1] > ALPHA


def test_seeded_and_bad_input():
    a = fredkin_exchange(10, 20, 4, c=0.6, seed=1)
    b = fredkin_exchange(10, 20, 4, c=0.6, seed=1)
    np.testing.assert_array_equal(a.observables["area"], b.observables["area"])
    with pytest.raises(ValueError, match="c must lie"):
        fredkin_exchange(10, 5, 2, c=1.0)
    with pytest.raises(ValueError, match="Dyck"):
        fredkin_exchange(4, 5, 1, c=0.5, initial=[[0, 1, 1, 0]])
    with pytest.raises(ValueError, match="width >= 3"):
        IsingGeometry(4, 2, periodic=True)
    with pytest.raises(ValueError, match="IsingChain"):
        IsingGeometry.from_model(object())


@pytest.mark.parametrize("periodic", [False, True])
def test_metropolis_on_an_edwards_anderson_grid_matches_enumeration(periodic):
    """Bond-dependent couplings and fields (IsingGrid, open or ring columns): chain estimate against the
    enumerated energy."""
    from tnddm.lattice import IsingGrid

    m = IsingGrid(3, 3, 0.6, h=0.2, disorder="pm_j", disorder_seed=2, periodic=periodic)
    X = all_configs(9, 2)
    exact = np.exp(m.log_prob(X)) @ m.energy(X)
    s = ising_metropolis(m, 3000, 16, seed=1, burn_in=200).summary()["energy"]
    assert abs(s["mean"] - exact) < 4 * s["stderr"]
    with pytest.raises(ValueError, match="uniform couplings"):
        ising_wolff(m, 10, 2)


@pytest.mark.parametrize("method, per_record", [("metropolis", 1), ("wolff", 2)])
def test_compiled_series_match_enumeration(method, per_record):
    """ising_series (the fair baselines: whole runs in numba) against the enumerated energy; Wolff on a ferromagnet,
    Metropolis on an Edwards-Anderson instance with fields."""
    from tnddm.lattice import IsingGrid
    from tnddm.mcmc import stats
    from tnddm.mcmc.local import ising_series

    m = IsingGrid(3, 3, 0.6) if method == "wolff" else IsingGrid(3, 3, 0.6, h=0.2, disorder="pm_j", disorder_seed=2)
    X = all_configs(9, 2)
    p = np.exp(m.log_prob(X))
    r = ising_series(m, method, 20000, per_record, 100, seed=1)
    for name, values in (("energy", m.energy(X)), ("magnetisation", (2 * X - 1).mean(axis=1))):
        s = stats.summarize(r[name])
        assert abs(s["mean"] - p @ values) < 4 * s["stderr"], (name, s["mean"], p @ values)
