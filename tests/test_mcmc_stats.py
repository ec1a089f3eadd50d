"""Chain statistics: autocorrelation time of AR(1), error bars, split R-hat, importance sampling."""
import numpy as np
import pytest

from tnddm.mcmc import stats


def ar1(phi, steps, walkers, seed):
    """x_t = phi x_{t-1} + eps_t, started in equilibrium; tau = (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    x = np.empty((steps, walkers))
    x[0] = rng.normal(size=walkers) / np.sqrt(1 - phi**2)
    eps = rng.normal(size=(steps, walkers))
    for t in range(1, steps):
        x[t] = phi * x[t - 1] + eps[t]
    return x


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ar1_integrated_time_within_10_percent(phi):
    x = ar1(phi, 20000, 32, seed=1)
    tau = stats.integrated_time(x)
    exact = (1 + phi) / (1 - phi)
    assert abs(tau - exact) < 0.1 * exact, (tau, exact)
    # the naive estimate (tau = 1) would be far off: the estimator is not trivially 1
    assert tau > 2.5


def test_error_bars_agree_with_the_spread_of_independent_runs():
    """stderr from tau and from binning both match the true standard deviation of the mean."""
    phi = 0.8
    means, se_tau, se_bin = [], [], []
    for seed in range(40):
        x = ar1(phi, 4000, 4, seed=100 + seed)
        means.append(x.mean())
        se_tau.append(stats.standard_error(x))
        se_bin.append(stats.binning_error(x, n_bins=20))
    true_se = np.sqrt((1 + phi) / (1 - phi) / (1 - phi**2) / (4000 * 4))  # var * tau / n
    assert abs(np.mean(se_tau) / true_se - 1) < 0.1
    assert abs(np.mean(se_bin) / true_se - 1) < 0.15
    assert abs(np.std(means) / true_se - 1) < 0.3


def test_iid_chain_has_tau_one_and_full_ess():
    x = np.random.default_rng(3).normal(size=(5000, 8))
    assert abs(stats.integrated_time(x) - 1) < 0.1
    assert abs(stats.effective_sample_size(x) / x.size - 1) < 0.1
    np.testing.assert_allclose(stats.autocorrelation(x)[0], 1.0)


def test_split_rhat_flags_unmixed_walkers():
    rng = np.random.default_rng(4)
    good = rng.normal(size=(2000, 8))
    assert stats.split_rhat(good) < 1.01
    bad = good + np.arange(8)[None, :]  # walkers stuck around different means
    assert stats.split_rhat(bad) > 1.5
    drift = good + np.linspace(0, 3, 2000)[:, None]  # a trend within each walker
    assert stats.split_rhat(drift) > 1.1


def test_importance_sampling_recovers_exact_mean_and_kish_ess():
    """Target N(1, 1) from proposal N(0, 2^2): E[x] = 1; Kish ESS = 1 / sum w^2."""
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, size=200000)
    log_q = -x**2 / 8 - np.log(2)
    log_pi = -(x - 1) ** 2 / 2  # unnormalised
    res = stats.importance_estimate(x, log_pi, log_q)
    assert abs(res["mean"] - 1) < 4 * res["stderr"]
    w = res["weights"]
    np.testing.assert_allclose(w.sum(), 1.0)
    np.testing.assert_allclose(res["ess"], 1 / np.sum(w**2))
    assert 0.3 * x.size < res["ess"] < x.size
    # zero target weight gives zero weight
    lp = log_pi.copy()
    lp[:10] = -np.inf
    assert np.all(stats.importance_weights(lp, log_q)[:10] == 0)


def test_acceptance_and_summary():
    acc = np.array([[True, False], [True, True]])
    assert stats.acceptance_rate(acc) == 0.75
    s = stats.summarize(ar1(0.5, 1000, 4, seed=6))
    assert set(s) == {"mean", "stderr", "tau", "tau_stderr", "ess", "rhat", "stderr_binning", "records", "records_per_tau",
                      "converged"}


def test_bad_input_raises():
    with pytest.raises(ValueError, match="x must have shape"):
        stats.integrated_time(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="n_bins"):
        stats.binning_error(np.zeros((10, 2)), n_bins=1)
    with pytest.raises(ValueError, match="log_proposal must be finite"):
        stats.importance_weights([0.0], [-np.inf])
    with pytest.raises(ValueError, match="x must be finite"):
        stats.standard_error([1.0, np.nan, 2.0])
