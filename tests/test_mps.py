"""Probability MPS: contractions, marginals, ratios and conversions against brute force."""
import numpy as np
import pytest

from tnddm import ProbMPS, SparseMPS

from .helpers import brute_weights, enumerate_configs, random_automaton, random_dense


@pytest.fixture
def model(mps_model):
    """Every storage of the registry (tests/conftest.py MODEL_FACTORIES) with its enumerated weights."""
    P = mps_model
    X = enumerate_configs(P.n_sites, P.d)
    w = brute_weights(P.dense_cores(), X)
    return P, X, w


def test_log_z_and_log_prob_match_enumeration(model):
    P, X, w = model
    assert np.isclose(P.log_z(), np.log(w.sum()), rtol=1e-12)
    lp = P.log_prob(X)
    pos = w > 0
    np.testing.assert_allclose(lp[pos], np.log(w[pos] / w.sum()), rtol=1e-10, atol=1e-12)
    assert np.all(np.isneginf(lp[~pos]))
    np.testing.assert_allclose(P.to_dense(), w / w.sum(), atol=1e-14)


def test_marginals_match_enumeration(model):
    P, X, w = model
    p = w / w.sum()
    N, d = P.n_sites, P.d
    m = P.marginals()
    for i in range(N):
        np.testing.assert_allclose(m[i], [p[X[:, i] == a].sum() for a in range(d)], atol=1e-13)
    for i, j in [(0, N - 1), (1, 3), (3, 1), (2, 3)]:
        ref = np.array([[p[(X[:, i] == a) & (X[:, j] == b)].sum() for b in range(d)] for a in range(d)])
        np.testing.assert_allclose(P.two_site_marginal(i, j), ref, atol=1e-13)


def test_expect_product_with_signed_functions(model):
    P, X, w = model
    p = w / w.sum()
    rng = np.random.default_rng(0)
    f = rng.normal(size=(P.n_sites, P.d))
    ref = (p * np.prod(f[np.arange(P.n_sites), X], axis=1)).sum()
    assert np.isclose(P.expect_product(f), ref, rtol=1e-10, atol=1e-14)
    g = {1: np.arange(P.d) - 0.5}
    assert np.isclose(P.expect_product(g), (p * (X[:, 1] - 0.5)).sum(), atol=1e-13)


def test_ratios_match_enumeration(model):
    P, X, w = model
    idx = {tuple(x): k for k, x in enumerate(X)}
    rows = np.flatnonzero(w > 0)[:12]
    R = P.ratios(X[rows])
    for r, k in enumerate(rows):
        for i in range(P.n_sites):
            for b in range(P.d):
                y = X[k].copy()
                y[i] = b
                assert np.isclose(R[r, i, b], w[idx[tuple(y)]] / w[k], rtol=1e-10, atol=1e-14)


def test_ratios_reject_zero_probability():
    P = random_automaton(6, 3, 2, seed=11, zero_fraction=0.5)
    X = enumerate_configs(6, 2)
    zero = X[P.prob(X) == 0]
    assert len(zero) > 0
    with pytest.raises(ValueError, match="probability zero"):
        P.ratios(zero[:1])


def test_sparse_equals_its_dense_form():
    S = random_automaton(8, 6, 2, seed=7)
    D = S.to_dense_mps()
    X = enumerate_configs(8, 2)
    np.testing.assert_allclose(S.log_prob(X), D.log_prob(X), rtol=1e-12)
    assert np.isclose(S.log_z(), D.log_z(), rtol=1e-13)


def test_from_dense_is_exact_and_nonnegative():
    rng = np.random.default_rng(3)
    for N, d in [(1, 3), (4, 2), (5, 2), (3, 3)]:
        p = rng.random(d**N)
        p[rng.random(d**N) < 0.2] = 0
        P = ProbMPS.from_dense(p, d=d)
        assert all(A.min() >= 0 for A in P.cores)  # (the constructor refuses negative cores: checked below)
        np.testing.assert_allclose(P.to_dense(), p / p.sum(), atol=1e-15)
        assert P.bond_dims == tuple(d ** min(i, N - i) for i in range(N + 1))  # the documented bond dimensions
    # what makes the non-negativity hold: negative input is refused, by from_dense and by the constructor
    with pytest.raises(ValueError, match="non-negative"):
        ProbMPS.from_dense([0.5, -0.1, 0.3, 0.3], d=2)
    with pytest.raises(ValueError, match="negative entry"):
        ProbMPS([np.array([1.0, -0.5]).reshape(1, 2, 1)])


def test_log_z_at_ten_thousand_sites_is_finite_and_scales_exactly():
    P = ProbMPS.random(10_000, 32, d=2, seed=0)
    logz = P.log_z()
    assert np.isfinite(logz)
    c = 1e-3  # each core times c: Z times c**N, far below the float range
    Q = ProbMPS([A * c for A in P.cores])
    assert np.isclose(Q.log_z(), logz + 10_000 * np.log(c), rtol=1e-12)
    X, lp = Q.sample(3, seed=0)
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp, Q.log_prob(X), rtol=1e-9)


def test_quimb_round_trip_and_contraction():
    import quimb.tensor as qtn

    P = random_dense(6, 3, 2, seed=5)
    q = P.to_quimb()
    ones = qtn.MPS_product_state([np.ones(2)] * 6)
    assert np.isclose(float(q.H @ ones), np.exp(P.log_z()), rtol=1e-12)  # H: real data, conj is a no-op
    x = [1, 0, 1, 1, 0, 0]
    basis = qtn.MPS_computational_state("".join(map(str, x)))
    assert np.isclose(float(q.H @ basis), np.exp(P.log_prob(np.array(x))[0] + P.log_z()), rtol=1e-12)
    back = ProbMPS.from_quimb(q)
    np.testing.assert_allclose(back.to_dense(), P.to_dense(), atol=1e-15)
    S = random_automaton(5, 4, 2, seed=6)
    np.testing.assert_allclose(ProbMPS.from_quimb(S.to_quimb()).to_dense(), S.to_dense(), atol=1e-15)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ProbMPS([np.ones((1, 2, 2)), -np.ones((2, 2, 1))]), "negative"),
        (lambda: ProbMPS([np.ones((1, 2, 3)), np.ones((2, 2, 1))]), r"arrays\[1\]"),
        (lambda: ProbMPS([np.ones((1, 2)), np.ones((2, 2, 1))]), r"arrays\[0\]"),
        (lambda: ProbMPS([np.ones((1, 2, 2)), np.ones((2, 3, 1))]), "physical dimension"),
        (lambda: ProbMPS([np.full((1, 2, 1), np.nan)]), "non-finite"),
        (lambda: SparseMPS([np.zeros((1, 2), int)], [-np.ones((1, 2))]), r"weights\[0\]"),
        (lambda: SparseMPS([np.array([[0, 1]])], [np.ones((1, 2))]), r"next_states\[0\]"),
        (lambda: ProbMPS.from_dense(np.ones(6), d=2), "length d\\*\\*N"),
    ],
)
def test_bad_construction_is_a_clear_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_configurations_are_clear_errors():
    P = random_dense(4, 2, 2, seed=0)
    with pytest.raises(ValueError, match="X must have shape"):
        P.log_prob(np.zeros((3, 5), int))
    with pytest.raises(ValueError, match="outside 0..1"):
        P.log_prob(np.array([[0, 1, 2, 0]]))
    with pytest.raises(ValueError, match="tilts must have shape"):
        P.log_contract(np.ones((4, 3)))
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        P.sample(-1)
    with pytest.raises(ValueError, match="seed"):
        P.sample(2, seed="abc")
    with pytest.raises(ValueError, match="i and j must differ"):
        P.two_site_marginal(1, 1)


def test_tilted_marginals_match_enumeration(model):
    P, X, w = model
    rng = np.random.default_rng(1)
    tilts = rng.random((3, P.n_sites, P.d))
    M = P.marginals(tilts)
    for k in range(3):
        pk = w * np.prod(tilts[k][np.arange(P.n_sites), X], axis=1)
        pk = pk / pk.sum()
        for i in range(P.n_sites):
            np.testing.assert_allclose(M[k, i], [pk[X[:, i] == a].sum() for a in range(P.d)], atol=1e-13)


def test_autoregressive_conditionals_match_enumeration(model):
    """c[s, i, b] = P(x_i = b | x_<i = X_<i) of the (tilted) law, and sum_i log c[s, i, X_i] = log P(X | tilt)."""
    P, X, w = model
    rng = np.random.default_rng(2)
    rows = rng.choice(np.flatnonzero(w > 0), size=4, replace=False)
    tilts = rng.random((4, P.n_sites, P.d)) + 0.1
    for tilt in (None, tilts):
        C = P.conditionals(X[rows], tilt)
        for r, k in enumerate(rows):
            pk = w if tilt is None else w * np.prod(tilt[r][np.arange(P.n_sites), X], axis=1)
            for i in range(P.n_sites):
                prefix = np.all(X[:, :i] == X[k, :i], axis=1)
                expected = np.array([pk[prefix & (X[:, i] == b)].sum() for b in range(P.d)])
                np.testing.assert_allclose(C[r, i], expected / expected.sum(), atol=1e-13)
            log_pk = np.log(pk[k] / pk.sum())
            assert np.isclose(np.log(C[r, np.arange(P.n_sites), X[k]]).sum(), log_pk, rtol=1e-10)


def test_conditionals_reject_an_impossible_prefix_and_bad_tilts():
    P = random_automaton(6, 3, 2, seed=11, zero_fraction=0.5)
    X = enumerate_configs(6, 2)
    p = P.prob(X)
    # prefix x_<5 of probability zero: no completion of the first five symbols has weight
    prefix_zero = np.array([p[np.all(X[:, :5] == x[:5], axis=1)].sum() == 0 for x in X])
    assert prefix_zero.any() and (~prefix_zero).any()
    assert P.conditionals(X[~prefix_zero]).shape == (int((~prefix_zero).sum()), 6, 2)
    with pytest.raises(ValueError, match=r"X rows \[1\] have a prefix of probability zero"):
        P.conditionals(X[[np.flatnonzero(~prefix_zero)[0], np.flatnonzero(prefix_zero)[0]]])
    with pytest.raises(ValueError, match="tilts must have 1 or n = 2 rows"):
        P.conditionals(X[~prefix_zero][:2], np.ones((3, 6, 2)))
