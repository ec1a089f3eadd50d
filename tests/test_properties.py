"""Property-based checks (hypothesis) of the engine's identities on random small MPS and noise."""
import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tnddm import Diffusion, ProbMPS
from tnddm.noise import BiasedFlip, Flip, Mask

from .helpers import enumerate_configs, random_automaton

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)  # deterministic in CI


@st.composite
def models(draw):
    n_sites = draw(st.integers(2, 4))
    d = draw(st.integers(2, 3))
    chi = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    if draw(st.booleans()):
        return ProbMPS.random(n_sites, chi, d=d, seed=seed)
    return random_automaton(n_sites, chi, d, seed=seed)


@st.composite
def noises(draw, d):
    kind = draw(st.sampled_from(["flip", "mask", "biased"] if d == 2 else ["flip", "mask"]))
    rate = draw(st.floats(0.1, 3.0))
    if kind == "flip":
        return Flip(rate, d=d)
    if kind == "mask":
        return Mask(rate, d=d)
    return BiasedFlip(rate, draw(st.floats(0.0, 2.0)))


@st.composite
def diffusions(draw):
    P = draw(models())
    return Diffusion(P, draw(noises(P.d)))


times = st.floats(0.01, 3.0)


@SETTINGS
@given(diffusions(), times)
def test_marginal_is_normalised_and_non_negative(ddm, t):
    p = ddm.marginal(t).to_dense()
    assert np.isclose(p.sum(), 1.0, atol=1e-12)
    assert p.min() >= -1e-15


@SETTINGS
@given(diffusions(), times, st.floats(0.0, 1.0))
def test_bayes_channel_maps_P_t_back_to_P_s(ddm, t, frac):
    s = t * frac
    N, do = ddm.n_sites, ddm.d_out
    allX = enumerate_configs(N, do)
    pt = ddm.marginal(t).prob(allX)
    ps = ddm.marginal(s).prob(allX)
    live = np.flatnonzero(pt > 0)
    back = np.zeros(len(allX))
    for j in live:
        back += pt[j] * np.exp(ddm.log_transition(allX, np.repeat(allX[j : j + 1], len(allX), axis=0), t, s))
    np.testing.assert_allclose(back, ps, atol=1e-12)


@SETTINGS
@given(diffusions(), times, st.integers(0, 2**31 - 1))
def test_score_identities(ddm, t, seed):
    """s_{i, x_i} = 1, and sum_b s_{i,b} = P_t(x_{-i}) / P_t(x) (the site-i marginal ratio)."""
    Pt = ddm.marginal(t)
    X, _ = Pt.sample(5, seed=seed)
    S = ddm.score(X, t)
    np.testing.assert_allclose(np.take_along_axis(S, X[:, :, None], axis=2)[..., 0], 1.0, rtol=1e-10)
    for i in range(ddm.n_sites):
        f = np.ones((ddm.n_sites, ddm.d_out))
        for r in range(len(X)):
            onehot = np.zeros((ddm.n_sites, ddm.d_out))
            onehot[np.arange(ddm.n_sites), X[r]] = 1.0
            w = onehot.copy()
            w[i] = f[i]
            ratio = np.exp(Pt.log_contract(w)[0] - Pt.log_contract(onehot)[0])
            assert np.isclose(S[r, i].sum(), ratio, rtol=1e-10)


@SETTINGS
@given(diffusions(), times, st.integers(0, 2**31 - 1))
def test_sampler_log_probs_equal_log_prob(ddm, t, seed):
    Pt = ddm.marginal(t)
    X, logp = Pt.sample(20, seed=seed)
    np.testing.assert_allclose(logp, Pt.log_prob(X), rtol=1e-10, atol=1e-12)
    X0, lp0 = ddm.denoise(X, t, 0.0, seed=seed)
    np.testing.assert_allclose(lp0, ddm.log_transition(X0, X, t, 0.0), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(diffusions(), times)
def test_propagator_is_the_kron_of_site_kernels(ddm, t):
    K = ddm.noise.propagator(t)
    full = functools.reduce(np.kron, [K] * ddm.n_sites)
    allX = enumerate_configs(ddm.n_sites, ddm.d_out)
    p0 = np.zeros(len(allX))
    data = (allX < ddm.model.d).all(axis=1)
    p0[data] = ddm.model.prob(allX[data])
    np.testing.assert_allclose(ddm.marginal(t).prob(allX), full @ p0, atol=1e-13)
