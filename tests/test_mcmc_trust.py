"""Monte Carlo estimates that never mislead: diagnostics, automatic burn-in, exact references,
honest error bars over 20 seeds (with a negative control), T adaptation confined to burn-in, importance sampling."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from tnddm.goodness_of_fit import all_configs, chisquare_test
from tnddm.lattice import BETA_C, Fredkin, IsingCylinder, IsingStrip, PottsCylinder
from tnddm.mcmc import (
    MetropolisHastings,
    Move,
    exact_reference,
    importance_sampling,
    is_converged,
    stats,
    support_check,
    truncate,
)
from tnddm.mcmc.chain import compare

from .mcmc_reference import BruteIsing

ALPHA = 1e-3


# ---- diagnostics ------------------------------------------------------------------------------------
def ar1(n, walkers, phi, seed):
    """AR(1) chains x_t = phi x_{t-1} + e_t started in stationarity: tau = (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, walkers))
    x[0] = rng.normal(size=walkers) / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal(size=walkers)
    return x


def test_summary_carries_every_diagnostic_and_tau_error_covers_the_truth():
    phi = 0.8
    s = stats.summarize(ar1(4000, 16, phi, seed=0))
    for key in ("mean", "stderr", "tau", "tau_stderr", "ess", "rhat", "records", "records_per_tau", "converged"):
        assert key in s
    assert abs(s["tau"] - (1 + phi) / (1 - phi)) < 3 * s["tau_stderr"]
    assert s["records_per_tau"] == pytest.approx(4000 / s["tau"])
    assert s["converged"]


def test_short_or_unmixed_chains_are_not_converged():
    short = stats.summarize(ar1(60, 16, 0.95, seed=1))  # 60 records, tau ~ 39
    assert short["records_per_tau"] < 50 and not short["converged"]
    x = ar1(2000, 16, 0.5, seed=2)
    x[:, :8] += 1.0  # half of the walkers sit elsewhere: R-hat far above 1.01
    stuck = stats.summarize(x)
    assert stuck["rhat"] > 1.01 and not stuck["converged"]
    assert not is_converged(float("nan"), 1e6) and is_converged(1.005, 50.0) and not is_converged(1.005, 49.9)


def test_compare_gives_z_with_both_errors():
    assert compare(1.0, 0.3, 0.4)["z"] == pytest.approx(2.0)
    c = compare(1.0, 0.3, (0.5, 0.4))
    assert c["z"] == pytest.approx(1.0) and c["exact_stderr"] == 0.4


# ---- exact references ---------------------------------------------------------------------------------
def test_exact_reference_matches_enumeration():
    m, b = IsingStrip(4, 3, 0.5, h=0.15), BruteIsing(4, 3, False, beta=0.5, h=0.15)
    ref = exact_reference(m, n_samples=0)
    for name in ("energy", "magnetisation", "abs_magnetisation"):
        assert ref[name] == (pytest.approx(b.exact(name), abs=1e-12), 0.0)
    f = Fredkin(12, 0.6)
    X = all_configs(12, 2)
    p = np.exp(f.log_prob(X))
    h = np.cumsum(2 * X - 1, axis=1)
    ref = exact_reference(f, n_samples=0)
    assert ref["max_height"][0] == pytest.approx(p @ h.max(axis=1), abs=1e-12)
    assert ref["area"][0] == pytest.approx(p @ h.sum(axis=1), abs=1e-9)
    # a statistic without a formula gets an exact-sample reference with its standard error
    potts = PottsCylinder(3, 3, 3, 0.9)
    value, err = exact_reference(potts, ["order_parameter"], n_samples=4000, seed=1)["order_parameter"]
    Xp = all_configs(9, 3)
    pp = np.exp(potts.log_prob(Xp))
    assert err > 0 and abs(value - pp @ potts.statistics(Xp)["order_parameter"]) < 4 * err


# ---- automatic burn-in and flags ---------------------------------------------------------------------
def test_auto_burn_in_discards_a_far_start_and_converges():
    m = IsingCylinder(4, 3, 0.6)
    ref = exact_reference(m, n_samples=0)
    mh = MetropolisHastings(m, truncate(m.mps(), 2, method="born"), moves=[Move("connected", 0.5, 0.2), Move("disconnected", 0.5)])
    chain = mh.run(100, 32, initial=np.zeros((1, 12), dtype=int), seed=3)  # all walkers in one ground state
    s = chain.summary(exact=ref)
    assert chain.info["stop"] == "converged" and chain.converged and chain.burn_in > 0
    assert chain.info["total_steps"] == chain.burn_in + chain.n_steps
    for name in ("energy", "abs_magnetisation"):
        assert abs(s[name]["z"]) < 4


def test_fixed_short_run_is_flagged_and_budget_exhaustion_is_reported():
    m = IsingCylinder(4, 3, 0.6)
    mh = MetropolisHastings(m, truncate(m.mps(), 2, method="lump"), moves="connected", T=0.05)
    fixed = mh.run(20, 8, initial="proposal", seed=0, burn_in=0)
    assert fixed.n_steps == 20 and fixed.burn_in == 0 and fixed.info["stop"] == "steps" and not fixed.converged
    capped = mh.run(20, 8, seed=0, max_steps=60)
    assert capped.info["stop"] == "max_steps" and capped.info["total_steps"] == 60 and not capped.converged


# ---- honest error bars: z-scores over 20 seeds, with a negative control -------------------------------
def test_error_bars_are_honest_over_20_seeds():
    """RMS of z = (mean - exact) / stderr over converged runs lies in [0.6, 1.5]; the naive error bar
    (tau = 1) of the same chains fails that window (negative control: the test can fail)."""
    tgt = BruteIsing(4, 3, True, beta=0.44, h=0.1)
    exact = tgt.exact("energy")
    mh = MetropolisHastings(tgt, tgt.mps(), moves="disconnected", chi=2,
                            observables=lambda X: {"energy": tgt.energy(X)})
    z, naive = [], []
    for seed in range(20):
        chain = mh.run(100, 16, seed=seed, max_steps=4000)
        if not chain.converged:
            continue
        x = chain.observables["energy"]
        z.append((x.mean() - exact) / chain.summary()["energy"]["stderr"])
        naive.append((x.mean() - exact) / stats.standard_error(x, tau=1.0))
    assert len(z) >= 18  # the runs converge
    rms = float(np.sqrt(np.mean(np.square(z))))
    assert 0.6 <= rms <= 1.5, (rms, z)
    assert float(np.sqrt(np.mean(np.square(naive)))) > 1.5


# ---- T adaptation happens in burn-in only --------------------------------------------------------------
def test_adapted_chain_started_in_pi_stays_in_pi():
    tgt = BruteIsing(3, 3, True, beta=0.5, h=0.2)
    mh = MetropolisHastings(tgt, tgt.mps(), moves="connected", T="auto", chi=2)
    chain = mh.run(40, 3000, initial="exact", seed=0, burn_in=40)
    T = chain.info["T"]["connected[0]"]
    assert 1e-4 <= T <= 20 and np.all(chain.move_T == T)  # frozen after burn-in, and reported
    assert 0.2 < chain.acceptance() < 0.8
    e = tgt.energy(chain.state)
    levels, inverse = np.unique(tgt.energy(tgt.X).round(8), return_inverse=True)
    probs = np.bincount(inverse, weights=tgt.p)
    observed = np.searchsorted(levels, e.round(8))
    assert chisquare_test(observed[:, None], probs, len(levels))[1] > ALPHA


def test_chi_square_fails_for_a_kernel_that_ignores_the_proposal_ratio():
    """Negative control: accept with pi(x') / pi(x) only (not pi / P): the walkers leave pi."""
    tgt = BruteIsing(3, 3, True, beta=0.5, h=0.2)
    mh = MetropolisHastings(tgt, tgt.mps(), moves="disconnected", chi=2)
    mh.proposal = _UniformLogProb(mh.proposal)  # log P reported as 0: the MH ratio loses its P factor
    chain = mh.run(40, 3000, initial="exact", seed=0, burn_in=0)
    e = tgt.energy(chain.state)
    levels, inverse = np.unique(tgt.energy(tgt.X).round(8), return_inverse=True)
    probs = np.bincount(inverse, weights=tgt.p)
    observed = np.searchsorted(levels, e.round(8))
    assert chisquare_test(observed[:, None], probs, len(levels))[1] < ALPHA


class _UniformLogProb:
    def __init__(self, P):
        self.P, self.n_sites, self.d, self.bond_dims = P, P.n_sites, P.d, P.bond_dims

    def sample(self, n, seed=None):
        X, lp = self.P.sample(n, seed=seed)
        return X, np.zeros_like(lp)

    def log_prob(self, X):
        return np.zeros(len(X))


# ---- importance sampling -------------------------------------------------------------------------------
def test_importance_sampling_agrees_with_exact_values():
    m = IsingCylinder(4, 3, BETA_C, h=0.1)
    ref = exact_reference(m, n_samples=0)
    res = importance_sampling(m, truncate(m.mps(), 2, method="born"), 20_000, seed=4, exact=ref)
    assert 0 < res["ess"] < 20_000
    for name in ("energy", "magnetisation", "abs_magnetisation"):
        assert abs(res["observables"][name]["z"]) < 4, (name, res["observables"][name])


def test_importance_sampling_refuses_a_proposal_missing_part_of_the_support():
    f = Fredkin(8, 0.6)
    P = truncate(f.mps(), 1, method="svd")  # bond 1: a product law; abs() may leave Dyck paths with q = 0
    X = all_configs(8, 2)
    on = np.isfinite(f.log_prob(X))
    if np.all(np.isfinite(P.log_prob(X[on]))):  # make the hole explicit if the truncation happened to cover it
        from tnddm import ProbMPS

        q = np.exp(f.log_prob(X))
        q[np.flatnonzero(on)[0]] = 0.0
        P = ProbMPS.from_dense(q / q.sum())
    with pytest.raises(ValueError, match="zero probability at .* exact samples"):
        importance_sampling(f, P, 1000, seed=0)
    with pytest.raises(ValueError, match="zero probability"):
        support_check(f, P)


# ---- the command line ----------------------------------------------------------------------------------
def _card(tmp_path, text):
    card = tmp_path / "card.toml"
    card.write_text(text)
    return str(card)


ISING_CARD = '[model]\nkind = "ising_cylinder"\nlength = 6\nwidth = 3\nbeta = 0.4406868\n\n[mcmc]\nchi = 2\nwalkers = 32\nsteps = 100\n'


def test_cli_reports_converged_runs_with_exact_values_and_z(tmp_path):
    from tnddm.cli.mcmc import command

    res = CliRunner().invoke(command, [_card(tmp_path, ISING_CARD), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["converged"] is True
    run = out["runs"][0]
    assert run["stop"] == "converged" and run["burn_in"] >= 0
    for name, s in run["observables"].items():
        assert s["converged"] and s["rhat"] < 1.01 and s["records_per_tau"] >= 50
        assert abs(s["z"]) < 4 and "exact" in s, (name, s)
    text = CliRunner().invoke(command, [_card(tmp_path, ISING_CARD)], catch_exceptions=False).output
    assert "exact" in text and "R-hat" in text and "rec/tau" in text and "converged" in text
    no_exact = json.loads(CliRunner().invoke(command, [_card(tmp_path, ISING_CARD), "--json", "--no-exact"]).output)
    assert all("exact" not in s for s in no_exact["runs"][0]["observables"].values())


def test_cli_flags_a_bad_run_and_strict_exits_3(tmp_path):
    from tnddm.cli.mcmc import command

    args = [_card(tmp_path, ISING_CARD), "--init", "proposal", "--burn-in", "0", "--steps", "30", "--chi", "1",
            "--scheme", "connected", "--T", "0.02", "--truncation", "lump"]
    res = CliRunner().invoke(command, [*args, "--json"])
    assert res.exit_code == 0
    assert "warning: not converged" in res.stderr
    assert json.loads(res.stdout)["converged"] is False
    strict = CliRunner().invoke(command, [*args, "--strict"])
    assert strict.exit_code == 3 and "NOT CONVERGED" in strict.stdout


def test_cli_importance_sampling_init_file_and_checkpoint_proposal(tmp_path):
    from tnddm.cli.mcmc import command
    from tnddm.io.checkpoint import save_model

    card = _card(tmp_path, ISING_CARD)
    res = CliRunner().invoke(command, [card, "--estimator", "is", "--n-samples", "20000", "--json"], catch_exceptions=False)
    out = json.loads(res.stdout)
    assert out["kish_ess"] > 100 and all(abs(s["z"]) < 4 for s in out["observables"].values())
    model = IsingCylinder(6, 3, 0.4406868)
    ckpt = tmp_path / "born.npz"
    save_model(ckpt, truncate(model.mps(), 3, method="born"))
    X, _ = model.mps().sample(32, seed=9)
    init = tmp_path / "start.npz"
    np.savez(init, samples=X)
    res = CliRunner().invoke(command, [card, "--proposal", str(ckpt), "--init", str(init), "--json"], catch_exceptions=False)
    out = json.loads(res.stdout)
    assert out["proposal"] == str(ckpt) and out["proposal_bond"] == 3 and out["converged"]
    with pytest.raises(ValueError, match="--proposal"):
        CliRunner().invoke(command, [_card(tmp_path, ISING_CARD.replace("length = 6", "length = 5")), "--proposal", str(ckpt)],
                           catch_exceptions=False)


def test_short_anti_correlated_chain_is_not_converged():
    """A 4-record alternating chain (Sokal window sum negative, tau tiny) is never called converged."""
    s = stats.summarize(np.tile([[0.0], [1.0], [0.0], [1.0]], (1, 8)))
    assert not s["converged"] and s["records_per_tau"] <= 4


def test_metropolis_hastings_refuses_a_proposal_that_misses_part_of_the_target():
    """Such a chain cannot reach the missing states and would look converged while biased."""
    from tnddm import ProbMPS

    f = Fredkin(8, 0.6)
    X = all_configs(8, 2)
    q = np.exp(f.log_prob(X))
    q[np.argmax(q)] = 0.0  # the most probable Dyck path is unreachable
    with pytest.raises(ValueError, match="could not reach"):
        MetropolisHastings(f, ProbMPS.from_dense(q / q.sum()), moves="disconnected").run(10, 4, seed=0)
