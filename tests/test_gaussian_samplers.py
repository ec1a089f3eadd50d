"""Gaussian-diffusion samplers measured against the exact law of a 10-site Ising chain.

The slope ranges below were fixed before measuring, from the theory quoted in the issue (DDPM-type
error ~ steps^(-1/2) to steps^(-1), ODE ~ steps^(-1) or faster), widened for finite-size effects:
"""
import itertools

import numpy as np
import pytest

from tnddm.gaussian import GaussianDiffusion
from tnddm.lattice import IsingChain
from tnddm.validate.gaussian_samplers import rounded_tv, sample_gaussian, vp_grid

DDPM_SLOPE_RANGE = (-1.5, -0.3)
ODE_SLOPE_RANGE = (-2.5, -0.6)


def magnetisation_tv(samples, model):
    """TV between the histograms of the magnetisation of the samples and of the exact law."""
    X = np.array(list(itertools.product([0, 1], repeat=model.n_sites)))
    p = np.exp(model.log_prob(X))
    M = X.sum(axis=1)
    exact = np.bincount(M, weights=p, minlength=model.n_sites + 1)
    emp = np.bincount(samples.sum(axis=1), minlength=model.n_sites + 1) / len(samples)
    return 0.5 * np.abs(exact - emp).sum()


@pytest.fixture(scope="module")
def chain():
    return IsingChain(10, beta=0.5, h=0.1)


@pytest.mark.parametrize("name, bounds", [("ddpm", DDPM_SLOPE_RANGE), ("ode", ODE_SLOPE_RANGE)])
def test_error_slopes_against_steps(chain, name, bounds):
    gd = GaussianDiffusion(chain.mps())
    steps = np.array([4, 8, 16])
    errs = [magnetisation_tv(sample_gaussian(name, gd, 40_000, vp_grid(int(k)), seed=1), chain) for k in steps]
    slope = np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert bounds[0] <= slope <= bounds[1], (name, slope, errs)


def test_rademacher_matches_gaussian_noise_and_misscaled_variance_does_not(chain):
    gd = GaussianDiffusion(chain.mps())
    grid = vp_grid(100)
    pi = chain.mps().to_dense()
    gauss = rounded_tv(sample_gaussian("euler_maruyama", gd, 20_000, grid, seed=2), pi)
    rade = rounded_tv(sample_gaussian("rademacher", gd, 20_000, grid, seed=3), pi)
    wrong = rounded_tv(sample_gaussian("rademacher", gd, 20_000, grid, seed=4, noise_scale=1.5), pi)
    assert abs(rade - gauss) < 0.03
    assert wrong > gauss + 0.05


def test_bad_sampler_arguments():
    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    with pytest.raises(ValueError, match="sampler must be"):
        sample_gaussian("heun", gd, 2, vp_grid(2))
    with pytest.raises(ValueError, match="delta"):
        vp_grid(4, delta=0.0)


def test_validate_command_with_gaussian_noise(tmp_path, capsys):
    import json

    from tnddm.cli import main

    card = tmp_path / "chain.toml"
    card.write_text("[model]\nkind = 'ising_chain'\nn_sites = 6\nbeta = 0.5\n")
    try:
        main(["validate", str(card), "--noise", "gaussian", "--sampler", "ode", "--steps", "2,16", "-n", "4000", "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert rows[1]["tv"] < rows[0]["tv"]
    assert "path_kl" not in rows[0]  # a deterministic sampler has no path density
    try:
        main(["validate", str(card), "--noise", "gaussian", "--sampler", "ddpm", "--steps", "2,16", "-n", "2000", "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert rows[1]["path_kl"] + 3 * rows[1]["path_kl_stderr"] < rows[0]["path_kl"] - 3 * rows[0]["path_kl_stderr"]


# ---- accelerated samplers (Li, Huang, Efimov, Wei, Chi, Chen, arXiv:2403.03852) ------------------------------
# Ranges fixed from the theory before measuring: accel-ode is second order (TV O(steps^-2)), accel-sde first
# order (O(steps^-1)). Caveat, measured afterwards: at 4-8 steps on this chain DDIM (ode) is pre-asymptotic with a
# slope of about -1.8, inside the accel-ode range, so the order itself is checked against the exact flow of a
# Gaussian target (test_accel_ode_is_second_order...) and the gain by the equal-steps comparison below.
ACCEL_ODE_SLOPE_RANGE = (-3.5, -1.3)
ACCEL_SDE_SLOPE_RANGE = (-2.0, -0.6)
# The beta = 0.5 chain of the tests above is too easy: rounded samplers are within the Monte Carlo floor after
# ~8 steps. The beta = 1 chain keeps the errors resolvable, and the metric is the unbiased U-statistic of
# ||q - pi||_2^2 over all 2^10 configurations (l2_error), which has no noise floor.
_RUNS = {}


@pytest.fixture(scope="module")
def strong_chain():
    chain = IsingChain(10, beta=1.0, h=0.1)
    return chain, GaussianDiffusion(chain.mps()), chain.mps().to_dense()


def _l2(strong_chain, name, steps, n):
    """||q - pi||^2 estimate and standard error, rounded TV and its bootstrap standard error (cached per module)."""
    from tnddm.goodness_of_fit import config_index
    from tnddm.validate.gaussian_samplers import l2_error

    key = (name, steps, n)
    if key not in _RUNS:
        _, gd, pi = strong_chain
        X = sample_gaussian(name, gd, n, vp_grid(steps), seed=11)
        freq = np.bincount(config_index(X, 2), minlength=pi.size) / n
        boot = np.random.default_rng(0).multinomial(n, freq, size=200) / n
        _RUNS[key] = (*l2_error(X, pi), rounded_tv(X, pi), float(np.std(0.5 * np.abs(boot - pi).sum(axis=1))))
    return _RUNS[key]


def test_l2_error_is_unbiased_with_calibrated_standard_error():
    from tnddm.validate.gaussian_samplers import l2_error

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(16))
    q = 0.8 * p + 0.2 * rng.dirichlet(np.ones(16))
    X = np.array(list(itertools.product([0, 1], repeat=4)))
    est = np.array([l2_error(X[rng.choice(16, size=2000, p=q)], p) for _ in range(2000)])
    truth = np.sum((q - p) ** 2)
    assert abs(est[:, 0].mean() - truth) < 4 * est[:, 0].std() / np.sqrt(len(est))
    assert 0.8 < est[:, 1].mean() / est[:, 0].std() < 1.3
    null = np.array([l2_error(X[rng.choice(16, size=2000, p=p)], p)[0] for _ in range(500)])
    assert abs(null.mean()) < 4 * null.std() / np.sqrt(len(null))  # no floor: centred on 0 when q = pi
    with pytest.raises(ValueError, match="pi_dense"):
        l2_error(X, p[:8])


class _GaussianTarget:
    """Oracle with the interface of GaussianDiffusion for spins s ~ N(0, v): x_t ~ N(0, a^2 v + b^2), exact
    posterior mean E[s | x] = a v x / (a^2 v + b^2), and the exact probability-flow map
    x_s = x_t sqrt(V_s / V_t), V_t = a_t^2 v + b_t^2. marginal(t).sample returns fixed quantiles of p_t."""

    def __init__(self, v):
        from tnddm.noise import Linear

        self.v, self.n_sites, self.schedule = v, 1, Linear(0.1, 20.0, 1.0)
        self.z = np.linspace(-3, 3, 7)[:, None]

    def coefficients(self, t):
        sig = self.schedule.sigma(t)
        return float(np.exp(-sig / 2)), float(np.sqrt(-np.expm1(-sig)))

    def var(self, t):
        a, b = self.coefficients(t)
        return a * a * self.v + b * b

    def posterior_mean(self, x, t):
        return self.coefficients(t)[0] * self.v * x / self.var(t)

    def score(self, x, t):
        return -x / self.var(t)

    def marginal(self, t):
        quantiles = self.z * np.sqrt(self.var(t))

        class Marginal:
            def sample(self, n, seed=None, compute_log_prob=True):
                return quantiles, None

        return Marginal()


def test_accel_ode_is_second_order_against_the_exact_flow_of_a_gaussian():
    """Deterministic: the pathwise error against the exact flow map; declared before measuring."""
    from tnddm.validate.gaussian_samplers import run_gaussian

    g = _GaussianTarget(0.05)
    steps = np.array([128, 256, 512])
    slopes = {}
    for name in ("ode", "accel_ode"):
        errs = [np.abs(run_gaussian(name, g, 7, vp_grid(int(k))) - g.z * np.sqrt(g.var(1e-3))).max() for k in steps]
        slopes[name] = np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert -1.2 < slopes["ode"] < -0.8, slopes
    assert -2.3 < slopes["accel_ode"] < -1.7, slopes


def test_accel_ode_first_step_is_ddim_and_matches_its_defining_integral():
    """accel_ode_step = a_s (x/a_t + int_{sigma_t}^{sigma_s} eps(sigma) dsigma), sigma = b/a, eps linear in a^2."""
    from scipy.integrate import quad

    from tnddm.validate.gaussian_samplers import accel_ode_step

    rng = np.random.default_rng(5)
    for _ in range(5):
        a0, a, a2 = np.sort(rng.uniform(0.05, 0.99, 3))
        b0, b, b2 = np.sqrt(1 - np.array([a0, a, a2]) ** 2)
        x, e, e0 = rng.normal(size=3)
        f = lambda s: e + (1 / (1 + s * s) - a * a) * (e0 - e) / (a0 * a0 - a * a)  # noqa: E731
        ref = a2 * (x / a + quad(f, b / a, b2 / a2, epsabs=1e-14, epsrel=1e-13)[0])
        got = accel_ode_step(np.array([x]), np.array([e]), np.array([e0]), (a, b), (a2, b2), (a0, b0))[0]
        assert abs(got - ref) < 1e-10 * max(1.0, abs(ref))
        ddim = a2 * (x - b * e) / a + b2 * e  # a' m + b' eps with m = (x - b eps) / a
        assert np.isclose(accel_ode_step(np.array([x]), np.array([e]), None, (a, b), (a2, b2), None)[0], ddim)


@pytest.mark.parametrize("name, bounds, steps, n", [("accel_ode", ACCEL_ODE_SLOPE_RANGE, (4, 6, 8), 200_000),
                                                    ("accel_sde", ACCEL_SDE_SLOPE_RANGE, (4, 8, 16), 100_000)])
def test_accelerated_error_slopes_against_steps(strong_chain, name, bounds, steps, n):
    res = [_l2(strong_chain, name, k, n)[:2] for k in steps]
    assert all(u > 3 * se for u, se in res), res  # every point resolved above its statistical error
    slope = np.polyfit(np.log(steps), 0.5 * np.log([u for u, _ in res]), 1)[0]  # slope of ||q - pi||_2
    assert bounds[0] <= slope <= bounds[1], (name, slope, res)


@pytest.mark.parametrize("fast, base, steps, n", [("accel_ode", "ode", 8, 200_000), ("accel_sde", "ddpm", 8, 100_000),
                                                  ("accel_sde", "ddpm", 16, 100_000)])
def test_accelerated_samplers_beat_their_baselines_in_l2_at_equal_steps(strong_chain, fast, base, steps, n):
    """||q - pi||_2^2 of the accelerated sampler is smaller by more than 3 combined standard errors.

    In TV the ranking of accel-sde and ddpm is the other way round at these steps (accel-sde over-disperses on
    coarse grids and spreads mass over many improbable configurations, which TV counts and L2 hardly sees): measured
    TV 0.141 vs 0.093 at 8 steps, equal at 32, accel-sde ahead (0.016 vs 0.019, ~2.6 standard errors) only at 64
    steps with 300000 samples. accel-ode beats ode in both metrics (TV checked below)."""
    u_fast, se_fast, tv_fast, tv_se_fast = _l2(strong_chain, fast, steps, n)
    u_base, se_base, tv_base, tv_se_base = _l2(strong_chain, base, steps, n)
    assert u_base - u_fast > 3 * np.hypot(se_fast, se_base), (u_fast, se_fast, u_base, se_base)
    if fast == "accel_ode":
        assert tv_base - tv_fast > 3 * np.hypot(tv_se_fast, tv_se_base), (tv_fast, tv_se_fast, tv_base, tv_se_base)


def test_validate_command_with_accelerated_sampler_names(tmp_path, capsys):
    import json

    from tnddm.cli import main

    card = tmp_path / "chain.toml"
    card.write_text("[model]\nkind = 'ising_chain'\nn_sites = 6\nbeta = 0.5\n")
    for name in ("accel_ode", "accel_sde"):
        try:
            main(["validate", str(card), "--noise", "gaussian", "--sampler", name, "--steps", "2,16", "-n", "4000", "--json"])
        except SystemExit as exc:
            assert exc.code == 0
        out = json.loads(capsys.readouterr().out)
        assert out["sampler"] == name and out["results"][1]["tv"] < out["results"][0]["tv"]


def test_bad_accelerated_sampler_arguments():
    from tnddm.validate.gaussian_samplers import accel_sde_step

    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    with pytest.raises(ValueError, match="alpha"):
        accel_sde_step(np.zeros((2, 4)), lambda y: y, 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="decreasing"):
        sample_gaussian("accel_ode", gd, 2, [0.1, 0.5, 1.0])
    with pytest.raises(ValueError, match="decreasing"):
        sample_gaussian("accel_sde", gd, 2, [1.0, 0.5, 0.0])


def _quadrature_path_kl(pi_up: float, gd, times, name) -> float:
    """KL(exact || sampler) on the grid for ONE spin by 2D quadrature:
    sum_k E_{x_t ~ p_t} int p(x_s | x_t) log(p(x_s | x_t) / q(x_s | x_t)) dx_s,
    with p_t(x) = sum_sigma pi_sigma N(x; a_t sigma, b_t^2) and p(x_s | x_t) = p_s(x_s) K(x_t | x_s) / p_t(x_t)."""
    from scipy.integrate import trapezoid
    from scipy.stats import norm

    from tnddm.validate.gaussian_samplers import gaussian_step

    pis = {-1.0: 1 - pi_up, 1.0: pi_up}
    grid = np.linspace(-4.5, 4.5, 3001)

    def density(x, t):
        a, b = gd.coefficients(t)
        return sum(w * norm.pdf(x, a * sig, b) for sig, w in pis.items())

    total = 0.0
    for t, s in zip(times[:-1], times[1:]):
        (a, b), (a2, b2) = gd.coefficients(t), gd.coefficients(s)
        v = b**2 - (a / a2) ** 2 * b2**2
        xt, xs = grid[:, None], grid[None, :]
        p_cond = density(xs, s) * norm.pdf(xt, (a / a2) * xs, np.sqrt(v)) / density(xt, t)
        mean, std = gaussian_step(name, gd, grid[:, None], t, s)
        q_cond = norm.pdf(xs, mean, std)
        integrand = np.where(p_cond > 1e-300, p_cond * (np.log(np.maximum(p_cond, 1e-300)) - np.log(q_cond)), 0.0)
        total += trapezoid(density(grid, t) * trapezoid(integrand, grid, axis=1), grid)
    return float(total)


@pytest.mark.parametrize("name", ["ddpm", "euler_maruyama"])
def test_gaussian_path_kl_matches_quadrature_for_one_spin(name):
    """Monte Carlo path KL(exact || sampler) over exact paths equals an independent 2D quadrature."""
    import tnddm
    from tnddm.validate.gaussian_samplers import gaussian_path_kl

    gd = GaussianDiffusion(tnddm.ProbMPS.from_dense(np.array([0.3, 0.7])))
    times = vp_grid(4, delta=0.2)
    ref = _quadrature_path_kl(0.7, gd, times, name)
    mc = gaussian_path_kl(name, gd, 100_000, times, seed=3, direction="exact_sampler")
    assert ref > 0.01
    assert abs(mc["kl"] - ref) < 3 * mc["stderr"] + 1e-3 * ref, (mc, ref)
    # the other direction is positive, and both shrink with more steps
    fine = gaussian_path_kl(name, gd, 40000, vp_grid(32, delta=0.2), seed=4, direction="exact_sampler")
    assert fine["kl"] + 3 * fine["stderr"] < mc["kl"] - 3 * mc["stderr"]
    rev = gaussian_path_kl(name, gd, 40000, times, seed=5)
    assert rev["kl"] > 3 * rev["stderr"]


def test_gaussian_path_kl_rejects_samplers_without_path_density():
    from tnddm.validate.gaussian_samplers import gaussian_path_kl

    gd = GaussianDiffusion(IsingChain(n_sites=3, beta=0.5).mps())
    for name in ("ode", "rademacher", "accel_sde"):
        with pytest.raises(ValueError, match="Gaussian steps"):
            gaussian_path_kl(name, gd, 10, vp_grid(2))
