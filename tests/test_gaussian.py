"""Exact Gaussian-diffusion oracle against brute-force sums over all spin configurations."""
import numpy as np
import pytest
import scipy.stats

from tnddm.gaussian import GaussianDiffusion
from tnddm.goodness_of_fit import chisquare_test

from .helpers import enumerate_configs, random_automaton, random_dense

N = 6


def brute_log_p(pi, x, a, b):
    """log sum_s pi(s) prod_i N(x_i; a s_i, b^2) by enumeration of s."""
    S = 2.0 * enumerate_configs(N, 2) - 1
    p = pi.to_dense()
    logN = scipy.stats.norm.logpdf(x[:, None, :], loc=a * S[None], scale=b).sum(axis=2)  # (n, 2^N)
    return scipy.special.logsumexp(logN + np.log(np.where(p > 0, p, 1e-300))[None], axis=1, b=(p > 0)[None])


@pytest.fixture(params=["dense", "sparse"])
def gd(request):
    pi = random_dense(N, 3, 2, seed=2) if request.param == "dense" else random_automaton(N, 4, 2, seed=3)
    return GaussianDiffusion(pi)


@pytest.mark.parametrize("t", [0.05, 0.3, 0.9])
def test_log_prob_matches_enumeration(gd, t):
    a, b = gd.coefficients(t)
    x = gd.marginal(t).sample(20, seed=1)[0]
    np.testing.assert_allclose(gd.log_prob(x, t), brute_log_p(gd.model, x, a, b), rtol=1e-10)


@pytest.mark.parametrize("t", [0.05, 0.4])
def test_score_matches_finite_differences_and_enumeration(gd, t):
    a, b = gd.coefficients(t)
    x = gd.marginal(t).sample(5, seed=2)[0]
    score = gd.score(x, t)
    eps = 1e-5
    for i in range(N):
        dx = np.zeros(N)
        dx[i] = eps
        fd = (gd.log_prob(x + dx, t) - gd.log_prob(x - dx, t)) / (2 * eps)
        np.testing.assert_allclose(score[:, i], fd, rtol=1e-5, atol=1e-5)
    S = 2.0 * enumerate_configs(N, 2) - 1
    logw = np.log(np.maximum(gd.model.to_dense(), 1e-300)) + (a * x / b**2) @ S.T
    post = np.exp(logw - logw.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(gd.posterior_mean(x, t), post @ S, atol=1e-12)


def test_log_space_is_stable_at_768_sites():
    pi = random_automaton(768, 8, 2, seed=4)
    gd = GaussianDiffusion(pi)
    for t in [1e-3, 0.5]:
        x = gd.marginal(t).sample(4, seed=0)[0]
        assert np.all(np.isfinite(gd.log_prob(x, t)))
        assert np.all(np.isfinite(gd.score(x, t)))


def test_posterior_sampling_then_forward_noise_reproduces_p_t():
    """x ~ p_t, s' ~ P(s | x), x' = a s' + b z': s' ~ pi (chi-square), x' ~ p_t (signs chi-square, KS)."""
    pi = random_dense(N, 3, 2, seed=5)
    gd = GaussianDiffusion(pi)
    t, n = 0.3, 40000
    x = gd.marginal(t).sample(n, seed=6)[0]
    S, logp = gd.denoise(x, t, seed=7)
    assert chisquare_test(S, pi.to_dense(), 2)[1] > 1e-3
    x2 = gd.forward(S, t, seed=8)
    a, b = gd.coefficients(t)
    spins = 2.0 * enumerate_configs(N, 2) - 1
    sign_states = enumerate_configs(N, 2)  # sign pattern sigma (0: negative, 1: positive)
    # P(sign(x) = sigma) = sum_s pi(s) prod_i Phi(sigma_i a s_i / b)
    pos = scipy.stats.norm.cdf(a * spins / b)  # P(x_i > 0 | s)
    probs = np.array([(pi.to_dense() * np.prod(np.where(sig == 1, pos, 1 - pos), axis=1)).sum() for sig in sign_states])
    assert chisquare_test((x2 > 0).astype(int), probs, 2)[1] > 1e-3
    fresh = gd.marginal(t).sample(n, seed=9)[0]
    assert scipy.stats.ks_2samp(x2.sum(axis=1), fresh.sum(axis=1)).pvalue > 1e-3
    # the joint law of (s', sign x) must be pi(s) prod_i Phi(sigma_i a s_i / b); a sampler that ignores x fails
    joint = (pi.to_dense()[:, None] * np.array([np.prod(np.where(sig == 1, pos, 1 - pos), axis=1) for sig in sign_states]).T)
    signs = (x > 0).astype(int)
    assert chisquare_test(np.concatenate([S, signs], axis=1), joint.ravel(), 2)[1] > 1e-3
    ignoring = pi.sample(n, seed=10)[0]
    assert chisquare_test(np.concatenate([ignoring, signs], axis=1), joint.ravel(), 2)[1] < 1e-3
    np.testing.assert_allclose(logp[:50], [gd.model.tilt(w).log_prob(s)[0] for w, s in zip(gd._tilts(x[:50], t)[0], S[:50])], rtol=1e-10)


def _moments_of_spins(pi):
    """E[s] and Cov[s] under pi by enumeration (s = 2x - 1)."""
    S = 2.0 * enumerate_configs(N, 2) - 1
    p = pi.to_dense()
    mean = p @ S
    return mean, (S * p[:, None]).T @ S - np.outer(mean, mean)


def _moment_z_scores(x, mean, cov):
    """z-scores of the sample mean and of every sample covariance entry (taken about the given mean)."""
    n = x.shape[0]
    z_mean = (x.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / n)
    dev = x - mean
    prods = dev[:, :, None] * dev[:, None, :]  # (n, N, N), its mean estimates cov without bias
    z_cov = (prods.mean(axis=0) - cov) / (prods.std(axis=0, ddof=1) / np.sqrt(n))
    return np.abs(z_mean).max(), np.abs(z_cov[np.triu_indices(N)]).max()


@pytest.mark.parametrize("t", [0.05, 0.4])
def test_marginal_is_the_exact_forward_law(gd, t):
    """marginal(t): mean a E[s] and covariance a^2 Cov[s] + b^2 I against enumeration of pi; its samples match those
    moments (z-scores) and come with log p_t from an independent formula (enumeration of s); controls: samples of
    another time fail the same moment test, and their log p_t differs."""
    a, b = gd.coefficients(t)
    marginal = gd.marginal(t)
    mean_s, cov_s = _moments_of_spins(gd.model)
    mean, cov = a * mean_s, a**2 * cov_s + b**2 * np.eye(N)
    np.testing.assert_allclose(marginal.mean(), mean, atol=1e-12)
    np.testing.assert_allclose(marginal.covariance(), cov, atol=1e-12)
    x, logp = marginal.sample(30000, seed=3)
    assert x.shape == (30000, N) and logp.shape == (30000,)
    np.testing.assert_allclose(logp, brute_log_p(gd.model, x, a, b), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(marginal.log_prob(x[:50]), logp[:50], rtol=0, atol=0)
    z_mean, z_cov = _moment_z_scores(x, mean, cov)
    assert z_mean < 4.5 and z_cov < 4.5, (z_mean, z_cov)
    # controls: the law at another time is resolved as different, by the moments and by log p_t
    other, _ = gd.marginal(t + 0.3).sample(30000, seed=3, compute_log_prob=False)
    assert max(_moment_z_scores(other, mean, cov)) > 10
    assert np.abs(marginal.log_prob(other[:50]) - brute_log_p(gd.model, other[:50], *gd.coefficients(t + 0.3))).max() > 0.1
    # the same seed gives the same points; the deprecated sample_marginal gives them too
    again, none = marginal.sample(30000, seed=3, compute_log_prob=False)
    np.testing.assert_array_equal(again, x)
    assert none is None
    with pytest.warns(DeprecationWarning, match=r"marginal\(t\)\.sample"):
        np.testing.assert_array_equal(gd.sample_marginal(30000, t, seed=3), x)


def test_bad_gaussian_input():
    gd = GaussianDiffusion(random_dense(4, 2, 2, seed=0))
    with pytest.raises(ValueError, match="t must be > 0"):
        gd.score(np.zeros((1, 4)), 0.0)
    with pytest.raises(ValueError, match="t must be > 0"):
        gd.marginal(0.0)
    with pytest.raises(ValueError, match="x must be a finite array"):
        gd.log_prob(np.zeros((1, 5)), 0.5)
    with pytest.raises(ValueError, match="d = 2"):
        GaussianDiffusion(random_dense(4, 2, 3, seed=0))
