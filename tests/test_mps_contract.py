"""The contract every probability-MPS storage passes (tnddm.mps.base), on every model of the registry
in tests/conftest.py (MODEL_FACTORIES, fixture `mps_model`): enumeration, chi-square goodness of fit of
the sampler, exact log-probabilities of samples, marginals, and the diffusion identity
P_t = exp(t W) P_0 against the dense generator on the enumerated law.

References are independent of the contraction code under test: the enumerated law is built from
dense_cores() by brute-force products of matrices (tests/helpers.brute_weights), and the forward
law from scipy's matrix exponential of the d**N x d**N generator.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import tnddm
from tnddm.goodness_of_fit import all_configs, chisquare_test
from tnddm.mps import MPSBase, ProbMPS

from .helpers import brute_weights, random_dense

ALPHA = 1e-3  # a correct sampler fails a test with this probability (fixed seeds: never, in practice)


def enumerated_law(P: MPSBase) -> np.ndarray:
    """P(x) for every x (enumeration order), from dense_cores() by brute-force matrix products."""
    w = brute_weights(P.dense_cores(), all_configs(P.n_sites, P.d))
    assert np.all(w > -1e-12 * np.abs(w).max())
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def test_registry_covers_every_storage(mps_model):
    assert isinstance(mps_model, MPSBase)
    dims = mps_model.bond_dims
    assert len(dims) == mps_model.n_sites + 1 and dims[0] == dims[-1] == 1
    assert len(mps_model.env_dims) == len(dims)
    assert [A.shape[0] for A in mps_model.dense_cores()] == list(mps_model.env_dims[:-1])


def test_log_prob_is_normalised_and_matches_enumeration(mps_model):
    P, p = mps_model, enumerated_law(mps_model)
    X = all_configs(P.n_sites, P.d)
    lp = P.log_prob(X)
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0, rtol=1e-10)
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(P.to_dense(), p, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(P.log_z(), np.log(brute_weights(P.dense_cores(), X).sum()) + P.log_scale, rtol=1e-10)


def test_samples_pass_chi_square_against_enumeration(mps_model):
    P, p = mps_model, enumerated_law(mps_model)
    X, _ = P.sample(10000, seed=1)
    assert X.shape == (10000, P.n_sites) and X.min() >= 0 and X.max() < P.d
    assert chisquare_test(X, p, P.d)[1] > ALPHA
    # negative control: the same samples against a law with 30 % more weight on x_i = a, for the site and
    # state whose marginal is closest to 1/2, are rejected
    marg = P.marginals()
    i, a = np.unravel_index(np.argmin(np.abs(marg - 0.5)), marg.shape)
    wrong = p * np.where(all_configs(P.n_sites, P.d)[:, i] == a, 1.3, 1.0)
    assert chisquare_test(X, wrong / wrong.sum(), P.d)[1] < 1e-6


def test_sample_log_probs_equal_log_prob(mps_model):
    P = mps_model
    X, logp = P.sample(500, seed=2)
    np.testing.assert_allclose(logp, P.log_prob(X), rtol=1e-10, atol=1e-12)
    X2, logp2 = P.sample(500, seed=2)  # same seed, same output
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(logp, logp2)
    # tilted sampling: log-probabilities under the tilted law, untilted ones on request
    w = np.random.default_rng(3).random((P.n_sites, P.d)) + 0.2
    Xt, logq, logp_untilted = P.sample(300, seed=4, tilts=w, return_log_prob=True)
    p = enumerated_law(P)
    q = p * np.prod(w[np.arange(P.n_sites), all_configs(P.n_sites, P.d)], axis=1)
    idx = tnddm.goodness_of_fit.config_index(Xt, P.d)
    np.testing.assert_allclose(logq, np.log(q[idx] / q.sum()), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(logp_untilted, np.log(p[idx]), rtol=1e-9, atol=1e-12)


def test_marginals_match_enumeration(mps_model):
    P, p = mps_model, enumerated_law(mps_model)
    X = all_configs(P.n_sites, P.d)
    expected = np.stack([np.bincount(X[:, i], weights=p, minlength=P.d) for i in range(P.n_sites)])
    np.testing.assert_allclose(P.marginals(), expected, rtol=1e-9, atol=1e-13)
    i, j = 0, P.n_sites - 1
    joint = np.bincount(X[:, i] * P.d + X[:, j], weights=p, minlength=P.d**2).reshape(P.d, P.d)
    np.testing.assert_allclose(P.two_site_marginal(i, j), joint, rtol=1e-9, atol=1e-13)


def dense_generator(Q: np.ndarray, n_sites: int) -> np.ndarray:
    """W = sum_i 1 (x) ... (x) Q (at site i) (x) ... (x) 1 on d**N states (site 0 most significant)."""
    d = Q.shape[0]
    W = np.zeros((d**n_sites, d**n_sites))
    for i in range(n_sites):
        W += np.kron(np.kron(np.eye(d**i), Q), np.eye(d ** (n_sites - i - 1)))
    return W


@pytest.mark.parametrize("t", [0.15, 0.8])
def test_diffusion_marginal_is_the_matrix_exponential(mps_model, t):
    P, p = mps_model, enumerated_law(mps_model)
    noise = tnddm.noise.Flip(rate=1.0, d=P.d)
    Pt = tnddm.Diffusion(P, noise).marginal(t)
    expected = scipy.linalg.expm(t * dense_generator(noise.Q, P.n_sites)) @ p
    X = all_configs(P.n_sites, P.d)
    np.testing.assert_allclose(np.exp(Pt.log_prob(X)), expected, rtol=1e-9, atol=1e-14)
    # and the forward-noised samples of P pass chi-square against the same exact law
    Y = tnddm.Diffusion(P, noise).forward(P.sample(10000, seed=5)[0], t, seed=6)
    assert chisquare_test(Y, expected / expected.sum(), P.d)[1] > ALPHA


def test_diffusion_identity_fails_for_a_wrong_time_negative_control():
    P = random_dense(5, 2, 2, seed=21)
    noise = tnddm.noise.Flip(rate=1.0, d=2)
    expected = scipy.linalg.expm(0.3 * dense_generator(noise.Q, 5)) @ enumerated_law(P)
    got = np.exp(tnddm.Diffusion(P, noise).marginal(0.33).log_prob(all_configs(5, 2)))
    assert not np.allclose(got, expected, rtol=1e-9, atol=1e-14)


class _SeededDefault(ProbMPS):
    """A storage that asks for seeded sampling without a kernel of its own: MPSBase's default runs."""

    def _samples_from_seeds(self) -> bool:
        return True


def test_default_seeded_sampler_is_exact():
    P = _SeededDefault(random_dense(5, 3, 2, seed=22).cores)
    X, logp = P.sample(4000, seed=7)
    np.testing.assert_allclose(logp, P.log_prob(X), rtol=1e-10)
    assert chisquare_test(X, enumerated_law(P), 2)[1] > ALPHA
    np.testing.assert_array_equal(X, P.sample(4000, seed=7)[0])
    np.testing.assert_array_equal(X[:100], P.sample(100, seed=7)[0])  # prefix-stable, like every sampler


def test_a_storage_missing_a_primitive_cannot_be_built():
    class Incomplete(MPSBase):
        n_sites, d = 2, 2

        @property
        def bond_dims(self):
            return (1, 1, 1)

        def _transfer_right(self, i, r, w):
            return r * w.sum(axis=1, keepdims=True)

        def _transfer_left(self, i, l, w):
            return l * w.sum(axis=1, keepdims=True)

        def dense_cores(self):
            return [np.ones((1, 2, 1))] * 2

    with pytest.raises(TypeError, match="_site_values"):
        Incomplete()


def test_caches_belong_to_the_instance():
    P = random_dense(4, 2, 2, seed=23)
    assert P._caches == {}
    P.sample(10, seed=0)
    assert "log_z" in P._caches or "shared_right" in P._caches
    P._reset_caches()
    assert P._caches == {}
    Q = random_dense(4, 2, 2, seed=23)
    assert Q._caches is not P._caches
