"""Exact autoregressive sampling: chi-square goodness of fit, exact log-probs, reproducibility."""
import numpy as np
import pytest

from tnddm.goodness_of_fit import chisquare_test, config_index, goodness_of_fit

from .helpers import perturb_site, random_automaton, random_born, random_dense

ALPHA = 1e-3  # combined p-value threshold; fixed seeds make every test deterministic


def test_unconditional_sampling_passes_chisquare(mps_model):
    """Every storage of the registry (tests/conftest.py MODEL_FACTORIES)."""
    P = mps_model
    probs = P.to_dense()
    res = goodness_of_fit(lambda n, rng: P.sample(n, seed=rng), probs, P.d, n_samples=20000, n_draws=4, seed=10)
    assert res.passed(ALPHA), res.pvalues


def test_perturbed_sampler_fails_chisquare():
    P = random_dense(6, 3, 2, seed=1)
    wrong = perturb_site(P, site=3, factor=1.05)
    res = goodness_of_fit(lambda n, rng: wrong.sample(n, seed=rng), P.to_dense(), 2, n_samples=20000, n_draws=4, seed=10)
    assert not res.passed(ALPHA)
    B = random_born(6, 3, 2, seed=5)  # the same test discriminates for the generic (Born) sampler
    cores = [A.copy() for A in B.cores]
    cores[3][:, 0, :] *= 1.05
    res = goodness_of_fit(lambda n, rng: type(B)(cores).sample(n, seed=rng), B.to_dense(), 2, n_samples=20000, n_draws=4,
                          seed=10)
    assert not res.passed(ALPHA)


def test_per_sample_tilted_sampling_is_exact(mps_model):
    """Every row gets its own tilt; rows sharing one tilt follow P(x) prod w_i[x_i] / norm (every storage)."""
    P = mps_model
    rng = np.random.default_rng(0)
    tilt_a, tilt_b = rng.random((P.n_sites, P.d)), rng.random((P.n_sites, P.d))
    n = 30000
    tilts = np.where((np.arange(n) % 2 == 0)[:, None, None], tilt_a[None], tilt_b[None])
    X, logp = P.sample(n, seed=1, tilts=tilts)
    for tilt, rows in ((tilt_a, slice(0, n, 2)), (tilt_b, slice(1, n, 2))):
        Q = P.tilt(tilt)
        _, pval = chisquare_test(X[rows], Q.to_dense(), P.d)
        assert pval > ALPHA
        np.testing.assert_allclose(logp[rows], Q.log_prob(X[rows]), rtol=1e-10)


def test_sample_log_probs_are_exact_and_seeded():
    P = random_dense(12, 8, 2, seed=3)
    X, logp = P.sample(500, seed=42)
    np.testing.assert_allclose(logp, P.log_prob(X), rtol=1e-11)
    X2, logp2 = P.sample(500, seed=42, batch_size=37)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_allclose(logp, logp2, rtol=1e-13)
    X3, _ = P.sample(500, seed=43)
    assert not np.array_equal(X, X3)
    S = random_automaton(12, 16, 2, seed=3)
    Y, lq = S.sample(500, seed=np.random.SeedSequence(5))
    np.testing.assert_allclose(lq, S.log_prob(Y), rtol=1e-11)
    np.testing.assert_array_equal(Y, S.sample(500, seed=np.random.SeedSequence(5), batch_size=64)[0])


def test_sparse_samples_never_hit_forbidden_configurations():
    S = random_automaton(9, 6, 2, seed=21, zero_fraction=0.5)
    X, logp = S.sample(20000, seed=0)
    assert np.all(np.isfinite(S.log_prob(X)))
    probs = S.to_dense()
    assert np.all(probs[config_index(X, 2)] > 0)


def test_goodness_of_fit_flags_impossible_states_and_bad_input():
    probs = np.array([0.5, 0.5, 0.0, 0.0])
    assert chisquare_test(np.array([[1, 0]] * 10 + [[0, 0]] * 10), probs, 2)[1] == 0.0
    with pytest.raises(ValueError, match="probability vector"):
        chisquare_test(np.array([[0, 0]]), np.array([0.5, 0.6, 0, 0]), 2)


def test_float32_mode_matches_float64_log_probs():
    P = random_dense(64, 16, 2, seed=9)
    P32 = P.astype(np.float32)
    X, lp32 = P32.sample(2000, seed=4)
    X64, lp64 = P.sample(2000, seed=4)
    lp_ref = P.log_prob(X)
    np.testing.assert_allclose(lp32, lp_ref, rtol=1e-5)
    np.testing.assert_allclose(P32.log_prob(X), lp_ref, rtol=1e-5)
    assert (X == X64).mean() > 0.99  # same uniforms: only rare near-ties may differ
    small = random_dense(6, 3, 2, seed=1).astype(np.float32)
    res = goodness_of_fit(lambda n, rng: small.sample(n, seed=rng), small.astype(np.float64).to_dense(), 2,
                          n_samples=20000, n_draws=3, seed=2)
    assert res.passed(ALPHA)


@pytest.mark.parametrize("tilt_rows", [0, 1, 300])
def test_sampling_returns_the_untilted_log_probability(mps_model, tilt_rows):
    """return_log_prob gives log P(x) of the untilted MPS (kernel by-product for dense per-sample tilts), for
    every storage of the registry."""
    P = mps_model
    rng = np.random.default_rng(5)
    tilts = None if tilt_rows == 0 else rng.random((tilt_rows, P.n_sites, P.d)) + 0.05
    X, logp, logw = P.sample(300, seed=6, tilts=tilts, return_log_prob=True)
    np.testing.assert_allclose(logw, P.log_prob(X), rtol=1e-10, atol=1e-10)
    X2, logp2 = P.sample(300, seed=6, tilts=tilts)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(logp, logp2)


def test_markov_gauge_kernel_across_tiles_and_blocks():
    """The seeded Markov-gauge kernel (automata of lattice models) over several site tiles (N = 36 > 32)
    and sample blocks (n = 5000 > 2048): exact log-probabilities of the written states, batch-size
    invariance, and the energy mean within 4 standard errors of the exact value."""
    from tnddm.lattice import IsingCylinder

    model = IsingCylinder(length=12, width=3, beta=0.4)
    P = model.mps()
    assert P._samples_from_seeds()  # the kernel under test
    X, logp = P.sample(5000, seed=7)
    np.testing.assert_allclose(logp, P.table_log_prob(X), rtol=1e-12)  # log q of the float32 tables sampled
    assert np.abs(logp - P.log_prob(X)).max() <= P.sample_table_bound
    X64, logp64 = P.astype(np.float64).sample(5000, seed=7)
    np.testing.assert_allclose(logp64, P.log_prob(X64), rtol=1e-10)
    np.testing.assert_array_equal(X, P.sample(5000, seed=7, batch_size=1500)[0])
    energy = model.energy(X)
    exact = model.observables()["energy_per_site"] * model.n_sites
    assert abs(energy.mean() - exact) < 4 * energy.std(ddof=1) / np.sqrt(len(energy))
