"""Metropolis-Hastings with DDM proposals: exact acceptance, invariance of the exact transition
matrix, one-step chi-square of the implemented kernel, and chain estimates against enumeration."""
import numpy as np
import pytest

import tnddm.mcmc.driver as driver
from tnddm import ProbMPS, noise
from tnddm.goodness_of_fit import all_configs, chisquare_test, config_index
from tnddm.mcmc import MetropolisHastings, Move, log_acceptance, truncate

from .mcmc_reference import BruteFredkin, BruteIsing

ALPHA = 1e-3


def targets():
    return {"ising": BruteIsing(3, 3, True, beta=0.5, h=0.2), "fredkin": BruteFredkin(10, 0.6)}


@pytest.mark.parametrize("name", ["ising", "fredkin"])
@pytest.mark.parametrize("scheme", ["connected", "disconnected"])
def test_exact_proposal_accepts_every_move(name, scheme):
    tgt = targets()[name]
    mh = MetropolisHastings(tgt, tgt.mps(), moves=scheme, T=[0.1, 0.5, 2.0])
    chain = mh.run(30, n_walkers=50, seed=1)
    assert chain.acceptance() == 1.0
    X = chain.state
    lp = mh.proposal.log_prob(X)
    # the log acceptance is zero to rounding: log pi - log P is the constant log Z
    la = log_acceptance(tgt.log_weight(X[::-1]), lp[::-1], tgt.log_weight(X), lp)
    assert np.all(la > -1e-10)


def exact_mh_matrix(log_pi, q, Kn, acceptance=log_acceptance):
    """M[x, x'] = K_T(x'|x) alpha(x -> x') off the diagonal, rejection on the diagonal, with
    K_T(x'|x) = sum_y Noise(y|x) q(x') Noise(y|x') / q_T(y) (brute force, all configurations)."""
    qT = Kn @ q
    Kc = np.einsum("yx,yz,y->xz", Kn, Kn * q[None, :], 1.0 / np.where(qT > 0, qT, np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        lq = np.log(q)
        la = acceptance(log_pi[None, :], lq[None, :], log_pi[:, None], lq[:, None])
    la = np.where(np.isnan(la), -np.inf, la)  # only from states with pi = q = 0, which a chain never holds
    M = np.where(Kc > 0, Kc * np.exp(la), 0.0)  # rows of states with q(x) = 0 are never used
    np.fill_diagonal(M, 0.0)
    M[np.diag_indices_from(M)] = 1.0 - M.sum(axis=1)
    return M, Kc


def noise_matrix(nz, T, n_sites):
    K = nz.propagator(T)[:, : nz.d]
    Kn = np.ones((1, 1))
    for _ in range(n_sites):
        Kn = np.kron(Kn, K)
    return Kn


def approximate_proposal(tgt, chi):
    Q = truncate(tgt.mps(), chi)
    assert max(Q.bond_dims) <= chi < max(tgt.mps().bond_dims)
    return Q


@pytest.mark.parametrize("name", ["ising", "fredkin"])
@pytest.mark.parametrize("nz", [noise.Flip(1.0, 2), noise.Mask(1.0, 2)], ids=["flip", "mask"])
def test_connected_kernel_leaves_target_invariant(name, nz):
    tgt = {"ising": BruteIsing(7, 1, False, beta=0.7, h=0.3), "fredkin": BruteFredkin(8, 0.35)}[name]
    Q = approximate_proposal(tgt, 2)
    q = Q.to_dense()
    X = all_configs(tgt.n_sites, 2)
    log_pi = tgt.log_weight(X)
    pi = tgt.p
    for T in (0.2, 1.0):
        M, Kc = exact_mh_matrix(log_pi, q, noise_matrix(nz, T, tgt.n_sites))
        live = q > 0
        assert np.all(live[pi > 0])  # the proposal covers the target's support
        np.testing.assert_allclose(Kc[live].sum(axis=1), 1.0, atol=1e-12)
        # the proposal kernel is reversible w.r.t. q (the acceptance rule relies on it)
        np.testing.assert_allclose(q[:, None] * Kc, (q[:, None] * Kc).T, atol=1e-14)
        assert np.all(M >= -1e-15)
        np.testing.assert_allclose(pi @ M, pi, atol=1e-12, rtol=0)
        # deliberately wrong acceptance (Metropolis without the proposal ratio) breaks invariance
        wrong = lambda a, b, c, d: np.minimum(np.where(np.isneginf(a), -np.inf, a - c), 0.0)  # noqa: E731
        Mw, _ = exact_mh_matrix(log_pi, q, noise_matrix(nz, T, tgt.n_sites), acceptance=wrong)
        assert np.abs(pi @ Mw - pi).max() > 1e-4
        # moves into pi = 0 have zero probability
        assert np.all(M[:, pi == 0][pi > 0] == 0)


@pytest.mark.parametrize("kind", ["connected", "disconnected"])
def test_implemented_step_matches_exact_transition_row(kind):
    """Many walkers start at one x0; the histogram of one step is chi-square tested against M[x0]."""
    tgt = BruteIsing(6, 1, False, beta=0.6, h=0.2)
    Q = approximate_proposal(tgt, 2)
    nz = noise.Flip(1.0, 2)
    T = 0.4
    X = all_configs(tgt.n_sites, 2)
    Kn = noise_matrix(nz, T, tgt.n_sites) if kind == "connected" else np.ones((1, X.shape[0]))
    M, _ = exact_mh_matrix(tgt.log_weight(X), Q.to_dense(), Kn)
    mh = MetropolisHastings(tgt, Q, moves=kind, T=T, noise=nz)
    x0 = np.array([[1, 1, 0, 1, 0, 0]])
    row = M[config_index(x0, 2)[0]]
    rng = np.random.default_rng(7)
    n = 40000
    X0 = np.repeat(x0, n, axis=0)
    Xn, *_ = mh.step(X0, tgt.log_weight(X0), Q.log_prob(X0), kind, T, rng)
    assert chisquare_test(Xn, row, 2)[1] > ALPHA


def test_wrong_acceptance_fails_the_one_step_test(monkeypatch):
    """Negative control: a sampler that ignores the proposal ratio is caught by the same test."""
    tgt = BruteIsing(6, 1, False, beta=0.6, h=0.2)
    Q = approximate_proposal(tgt, 2)
    X = all_configs(tgt.n_sites, 2)
    M, _ = exact_mh_matrix(tgt.log_weight(X), Q.to_dense(), np.ones((1, X.shape[0])))
    monkeypatch.setattr(driver, "log_alpha", lambda lpi_new, lpi_old, hastings: np.minimum(lpi_new - lpi_old, 0.0))
    mh = MetropolisHastings(tgt, Q, moves="disconnected")
    x0 = np.array([[1, 1, 0, 1, 0, 0]])
    X0 = np.repeat(x0, 40000, axis=0)
    Xn, *_ = mh.step(X0, tgt.log_weight(X0), Q.log_prob(X0), "disconnected", 0.0, np.random.default_rng(7))
    assert chisquare_test(Xn, M[config_index(x0, 2)[0]], 2)[1] < ALPHA


@pytest.mark.parametrize("name", ["ising", "fredkin"])
@pytest.mark.parametrize("moves", ["connected", "disconnected", "mixed"])
def test_chain_estimates_agree_with_exact_values(name, moves):
    tgt = {"ising": BruteIsing(4, 3, True, beta=0.44, h=0.1), "fredkin": BruteFredkin(12, 0.6)}[name]
    mh = MetropolisHastings(tgt, tgt.mps(), moves=moves, T=[0.3, 1.0], chi=4)
    assert max(mh.proposal.bond_dims) == 4
    chain = mh.run(300, n_walkers=64, seed=11, burn_in=20)
    assert 0.05 < chain.acceptance() < 0.95  # an approximate proposal: some moves are rejected
    summary = chain.summary()
    for obs in ("energy", "magnetisation"):
        s = summary[obs]
        assert abs(s["mean"] - tgt.exact(obs)) < 4 * s["stderr"], (obs, s, tgt.exact(obs))
    if name == "fredkin":
        assert np.all(tgt.is_dyck(chain.state))


def test_zero_weight_candidates_are_always_rejected():
    fk = BruteFredkin(8, 0.5)
    uniform = ProbMPS.from_dense(np.ones(2**8))  # proposes mostly non-Dyck configurations
    chain = MetropolisHastings(fk, uniform, moves="disconnected").run(50, n_walkers=40, seed=3)
    assert 0 < chain.acceptance() < 0.2
    assert np.all(fk.is_dyck(chain.state))
    la = log_acceptance(np.array([-np.inf]), np.array([-50.0]), np.array([0.0]), np.array([0.0]))
    assert la[0] == -np.inf


def test_seeded_runs_are_reproducible_and_record_moves():
    tgt = BruteIsing(6, 1, False, beta=0.5)
    moves = [Move("connected", 0.7, lambda rng: rng.uniform(0.1, 1.0)), Move("disconnected", 0.3)]
    mh = MetropolisHastings(tgt, tgt.mps(), moves=moves, chi=2)
    a = mh.run(40, 8, seed=np.random.SeedSequence(5))
    b = mh.run(40, 8, seed=np.random.SeedSequence(5))
    np.testing.assert_array_equal(a.observables["energy"], b.observables["energy"])
    np.testing.assert_array_equal(a.accepted, b.accepted)
    assert set(a.move_kinds) == {"connected", "disconnected"}
    conn = a.move_kinds == "connected"
    assert np.all((a.move_T[conn] >= 0.1) & (a.move_T[conn] <= 1.0)) and np.all(np.isnan(a.move_T[~conn]))
    assert set(a.acceptance_by_kind()) == {"connected", "disconnected"}


def test_bad_input_raises():
    tgt = BruteIsing(4, 1, False)
    with pytest.raises(ValueError, match="move kind"):
        MetropolisHastings(tgt, tgt.mps(), moves=[("local", 1.0)])
    with pytest.raises(ValueError, match="T must be finite"):
        MetropolisHastings(tgt, tgt.mps(), T=-1.0)
    with pytest.raises(ValueError, match="scheme"):
        MetropolisHastings(tgt, tgt.mps(), moves="sideways")
    mh = MetropolisHastings(tgt, tgt.mps())
    with pytest.raises(ValueError, match="initial"):
        mh.run(5, 3, initial=np.zeros((2, 4), dtype=int))
    fk = BruteFredkin(4, 0.5)
    with pytest.raises(ValueError, match="zero target"):
        MetropolisHastings(fk, fk.mps()).run(5, 1, initial=[[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="target must"):
        MetropolisHastings(42, tgt.mps())
