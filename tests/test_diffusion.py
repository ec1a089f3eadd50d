"""Exact diffusion identities against brute-force enumeration on the full state space."""
import functools

import numpy as np
import pytest
import scipy.linalg

from tnddm import Diffusion
from tnddm.goodness_of_fit import chisquare_test, config_index, goodness_of_fit
from tnddm.noise import BiasedFlip, Flip, Linear, Mask

from .conftest import MODEL_FACTORIES
from .helpers import enumerate_configs, perturb_site, random_automaton, random_born, random_dense

N = 4  # sites of the hand-written models below


def _flip_case(make):
    def case():
        P = make()
        return P, Flip(1.0, d=P.d)
    return case


#: every storage of the registry (tests/conftest.py MODEL_FACTORIES) under the flip noise on its d states ...
STORAGE_CASES = {f"{name}-flip": _flip_case(make) for name, make in MODEL_FACTORIES.items()}
#: ... and the other noises (mask, a time schedule, biased flip), each on a small model
NOISE_CASES = {
    "dense-mask-d3": lambda: (random_dense(N, 3, 2, seed=2), Mask(0.8, d=2)),  # 2 data states + mask
    "sparse-flip-linear": lambda: (random_automaton(N, 4, 2, seed=3), Flip(0.7, schedule=Linear(0.5, 2.0))),
    "sparse-mask": lambda: (random_automaton(N, 4, 2, seed=4), Mask(1.2, d=2)),
    "dense-biased": lambda: (random_dense(N, 3, 2, seed=6), BiasedFlip(1.0, 0.3)),
    "born-mask": lambda: (random_born(N, 3, 2, seed=8), Mask(1.2, d=2)),
}
CASES = {**STORAGE_CASES, **NOISE_CASES}


@pytest.fixture(params=sorted(CASES))
def case(request):
    P0, noise = CASES[request.param]()
    return Diffusion(P0, noise)


def full_propagator(noise, t, s=0.0, n_sites=N):
    K = noise.propagator(t, s)
    return functools.reduce(np.kron, [K] * n_sites)


def brute_p0(ddm):
    """P_0 on the d_out**N space, from the model's own probabilities of the data configurations."""
    allX = enumerate_configs(ddm.n_sites, ddm.d_out)
    p = np.zeros(len(allX))
    data = (allX < ddm.model.d).all(axis=1)
    p[data] = ddm.model.prob(allX[data])
    return allX, p


def test_marginal_matches_kron_propagation(case):
    allX, p0 = brute_p0(case)
    for t in [0.0, 0.3, 1.7]:
        np.testing.assert_allclose(case.marginal(t).prob(allX), full_propagator(case.noise, t, n_sites=case.n_sites) @ p0,
                                   atol=1e-14)


def bayes_matrix(ddm, t, s):
    """B[x, y] = P(x_s = x | x_t = y) from enumeration: P_s(x) K_{t|s}[y, x] / P_t(y)."""
    allX, p0 = brute_p0(ddm)
    ps = full_propagator(ddm.noise, s, n_sites=ddm.n_sites) @ p0
    K = full_propagator(ddm.noise, t, s, n_sites=ddm.n_sites)
    pt = K @ ps
    B = (K * ps[None, :]).T / np.where(pt > 0, pt, 1)[None, :]
    return B, pt


def transition_matrix(ddm, t, s):
    """Our log_transition evaluated on every pair (x, y) with P_t(y) > 0 (one batched call: row j * S + i of the
    batch is the pair (x_i, y_j))."""
    allX = enumerate_configs(ddm.n_sites, ddm.d_out)
    S = len(allX)
    pt = ddm.marginal(t).prob(allX)
    M = np.zeros((S, S))
    live = np.flatnonzero(pt > 0)
    logM = ddm.log_transition(np.tile(allX, (len(live), 1)), np.repeat(allX[live], S, axis=0), t, s)
    M[:, live] = np.exp(logM.reshape(len(live), S)).T
    return M, pt


def test_bayes_channel_matches_enumeration_and_maps_PT_to_P0(case):
    T = 1.1
    M, pT = transition_matrix(case, T, 0.0)
    B, pt_ref = bayes_matrix(case, T, 0.0)
    np.testing.assert_allclose(pT, pt_ref, atol=1e-14)
    np.testing.assert_allclose(M[:, pT > 0], B[:, pT > 0], atol=1e-12)
    _, p0 = brute_p0(case)
    np.testing.assert_allclose(M @ pT, p0, atol=1e-13)


def test_multistep_reverse_equals_one_step(case):
    T, mid = 1.0, 0.35
    one, pT = transition_matrix(case, T, 0.0)
    first, _ = transition_matrix(case, T, mid)
    second, _ = transition_matrix(case, mid, 0.0)
    live = pT > 0
    np.testing.assert_allclose((second @ first)[:, live], one[:, live], atol=1e-12)


def test_scores_equal_enumerated_ratios(case):
    t = 0.45
    allX = enumerate_configs(case.n_sites, case.d_out)
    pt = case.marginal(t).prob(allX)
    rows = np.flatnonzero(pt > 0)[::3]
    S = case.score(allX[rows], t)
    for r, k in enumerate(rows):
        for i in range(case.n_sites):
            for b in range(case.d_out):
                y = allX[k].copy()
                y[i] = b
                assert np.isclose(S[r, i, b], pt[config_index(y[None], case.d_out)[0]] / pt[k], rtol=1e-10, atol=1e-13)


def reverse_generator(ddm, u):
    """G[x', x] = reverse rate x -> x' from ddm.reverse_rates on the full space (columns sum to 0)."""
    allX = enumerate_configs(ddm.n_sites, ddm.d_out)
    pu = ddm.marginal(u).prob(allX)
    G = np.zeros((len(allX), len(allX)))
    live = np.flatnonzero(pu > 0)
    R = ddm.reverse_rates(allX[live], u)
    for r, k in enumerate(live):
        for i in range(ddm.n_sites):
            for b in range(ddm.d_out):
                if R[r, i, b] > 0:
                    y = allX[k].copy()
                    y[i] = b
                    G[config_index(y[None], ddm.d_out)[0], k] += R[r, i, b]
        G[k, k] = -G[:, k].sum()
    return G


@pytest.mark.parametrize("name", ["dense-flip", "sparse-mask", "dense_d3-flip"])
def test_reverse_rates_integrate_to_the_bayes_channel(name):
    """Time-ordered exponential of the reverse generator from t down to s converges (first order) to B."""
    ddm = Diffusion(*CASES[name]())
    t, s = 0.8, 0.3
    B, pt = bayes_matrix(ddm, t, s)
    live = pt > 0
    errors = []
    for steps in (8, 32):
        grid = np.linspace(t, s, steps + 1)
        U = np.eye(len(pt))
        for a, b in zip(grid[:-1], grid[1:]):
            U = scipy.linalg.expm((a - b) * reverse_generator(ddm, (a + b) / 2)) @ U
        errors.append(np.abs(U[:, live] - B[:, live]).max())
    assert errors[1] < 1e-3
    assert errors[1] < errors[0] / 8  # midpoint rule: second order in the step


def test_denoise_samples_follow_the_posterior_and_a_wrong_model_fails():
    P0 = random_dense(6, 3, 2, seed=11)
    ddm = Diffusion(P0, Flip(1.0))
    y = np.array([[1, 0, 0, 1, 1, 0]])
    Y = np.repeat(y, 200000, axis=0)
    X, logp = ddm.denoise(Y, 0.7, 0.0, seed=3)
    post = ddm.posterior(y, 0.7, 0.0)
    assert chisquare_test(X, post.to_dense(), 2)[1] > 1e-3
    np.testing.assert_allclose(logp, ddm.log_transition(X, Y, 0.7, 0.0), rtol=1e-10)
    site = int(np.argmin(np.abs(post.marginals()[:, 0] - 0.5)))  # the least certain site
    wrong = Diffusion(perturb_site(P0, site, 1.05), Flip(1.0))
    Xw, _ = wrong.denoise(Y, 0.7, 0.0, seed=3)
    assert chisquare_test(Xw, post.to_dense(), 2)[1] < 1e-3


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("name", sorted(MODEL_FACTORIES))
def test_reverse_paths_are_exact(name, backwards):
    """Paths drawn forwards (default) or backwards by exact denoising from x_T ~ P_T have the law
    of the process: x_0 ~ P_0 and (x_T, x_0) ~ K_T(x_T | x_0) P_0(x_0), on every storage of the registry
    (flip noise on its d states). The joint tests live on d^(2N) pairs (3^10 for the registry's d = 3, N = 5
    models): 20000 paths, or one per pair where there are more pairs (20000 paths on 3^10 pairs leave the
    chi-square too few bins of 5 expected counts to test)."""
    P0 = MODEL_FACTORIES[name]()
    n_sites, d = P0.n_sites, P0.d
    ddm = Diffusion(P0, Flip(1.0, d=d))
    n = max(20000, d ** (2 * n_sites))
    times = [1.2, 0.6, 0.2, 0.0]
    start = ddm.marginal(times[0]).sample(n, seed=4)[0] if backwards else None
    paths, logp = ddm.reverse_path(n, times, seed=5, start=start)
    if backwards:  # the reverse chain's log-probability against the forward factorisation
        np.testing.assert_allclose(logp, ddm.log_path_prob(paths, times), rtol=1e-10)
    p0 = P0.to_dense()
    assert chisquare_test(paths[:, -1], p0, d)[1] > 1e-3
    joint = np.concatenate([paths[:, 0], paths[:, -1]], axis=1)  # (x_T, x_0) jointly
    K = functools.reduce(np.kron, [ddm.noise.propagator(times[0])] * n_sites)
    ref = (K * p0[None, :]).ravel()  # index y * d^N + x
    assert chisquare_test(joint, ref, d)[1] > 1e-3
    middle = np.concatenate([paths[:, 1], paths[:, 2]], axis=1)  # (x_0.6, x_0.2) jointly
    K1, K2 = (functools.reduce(np.kron, [ddm.noise.propagator(a, b)] * n_sites) for a, b in ((0.6, 0.2), (0.2, 0.0)))
    ref_mid = (K1 * (K2 @ p0)[None, :]).ravel()
    assert chisquare_test(middle, ref_mid, d)[1] > 1e-3


def test_generate_gives_exact_samples_of_P0():
    S = random_automaton(6, 5, 2, seed=14)
    ddm = Diffusion(S, Mask(1.0, d=2))
    res = goodness_of_fit(lambda n, rng: ddm.generate(n, 2.0, steps=3, seed=rng), S.to_dense(), 2, n_samples=20000, n_draws=3)
    assert res.passed(1e-3)
    X, logp = ddm.generate(100, 2.0, steps=2, seed=0)
    np.testing.assert_allclose(logp, S.log_prob(X), rtol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda d: d.denoise(np.zeros((2, N), int), 0.5, 0.7), "s must not exceed t"),
        (lambda d: d.denoise(np.zeros((2, N), int), -0.5), "t must be"),
        (lambda d: d.denoise(np.zeros((2, N + 1), int), 0.5), "Y must have shape"),
        (lambda d: d.marginal(-1.0), "t must be"),
        (lambda d: d.reverse_path(3, [0.0, 1.0]), "strictly decreasing"),
        (lambda d: d.score(np.full((1, N), 7), 0.5), "outside"),
        (lambda d: Diffusion(d.model, Flip(1.0, d=3)), "d = 3"),
        (lambda d: d.generate(3, 1.0, steps=0), "steps"),
    ],
)
def test_bad_diffusion_input(call, match):
    ddm = Diffusion(random_dense(N, 2, 2, seed=0), Flip(1.0))
    with pytest.raises(ValueError, match=match):
        call(ddm)


@pytest.mark.parametrize("noise", [Flip(1.0), Mask(1.3, d=2)])
def test_path_log_probability_by_forward_factorisation_equals_the_reverse_chain(noise):
    """log p(path) = log P_{t_K}(x_K) + sum log K (forward) equals log P_T(x_T) + sum log P(x_s | x_t) (reverse),
    on arbitrary paths, impossible ones included (-inf on both sides)."""
    P0 = random_automaton(5, 4, 2, seed=21)
    ddm = Diffusion(P0, noise)
    times = [1.1, 0.7, 0.25, 0.0]
    rng = np.random.default_rng(3)
    paths = rng.integers(0, noise.d_out, size=(300, len(times), 5))
    paths[:100] = ddm.reverse_path(100, times, seed=4)[0]
    reverse = ddm.marginal(times[0]).log_prob(paths[:, 0])
    for k in range(1, len(times)):
        reverse = reverse + ddm.log_transition(paths[:, k], paths[:, k - 1], times[k - 1], times[k])
    forward = ddm.log_path_prob(paths, times)
    assert np.all(np.isneginf(forward) == np.isneginf(reverse))
    live = np.isfinite(reverse)
    assert live[:100].all() and (~live).any()
    np.testing.assert_allclose(forward[live], reverse[live], rtol=1e-10)
