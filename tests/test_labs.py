"""The theory labs: rates measured exactly, in windows that separate first from second order.

Windows, fixed from the claimed orders: first order [-1.35, -0.7], second order [-2.4, -1.6] (slopes of an
error against the number of steps). Each test has a negative control that must fall outside the window
claimed for the sampler under test.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tnddm
from tnddm.gaussian import GaussianDiffusion
from tnddm.lattice import IsingChain
from tnddm.validate.gaussian_samplers import deterministic_law_error, gaussian_path_kl, li_grid, vp_grid

ROOT = Path(__file__).resolve().parents[1]
FIRST = (-1.35, -0.7)
SECOND = (-2.4, -1.6)


def inside(window, value):
    return window[0] <= value <= window[1]


def slope(steps, values):
    return float(np.polyfit(np.log(steps), np.log(values), 1)[0])


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accel_ode_is_second_order_in_the_exact_law_of_one_spin_and_ddim_is_first():
    """Exact rounded-law error |P(x_delta > 0) - P_sampler(> 0)| (no sampling noise), uniform grid 32-128 steps."""
    gd = GaussianDiffusion(tnddm.ProbMPS.from_dense(np.array([0.3, 0.7])))
    steps = [32, 64, 128]
    slopes = {name: slope(steps, [deterministic_law_error(name, gd, vp_grid(k), n_quantiles=500)["rounded"] for k in steps])
              for name in ("ode", "accel_ode")}
    assert inside(SECOND, slopes["accel_ode"]), slopes
    assert inside(FIRST, slopes["ode"]) and not inside(SECOND, slopes["ode"]), slopes  # negative control


def test_deterministic_law_error_is_exact_for_the_exact_flow():
    """Independent check: the exact one-spin flow map F_delta^-1(F_T(x)) has zero error in both metrics."""
    from tnddm.validate import gaussian_samplers as gs

    gd = GaussianDiffusion(tnddm.ProbMPS.from_dense(np.array([0.4, 0.6])))
    times = vp_grid(8)

    def exact_flow(name, gd_, n, times_, start=None, **_):
        return gs._one_spin_quantile(gd_, times_[-1], gs._one_spin_cdf(gd_, times_[0], np.asarray(start, float)))

    original = gs.run_gaussian
    gs.run_gaussian = exact_flow
    try:
        res = gs.deterministic_law_error("ode", gd, times, n_quantiles=400)
    finally:
        gs.run_gaussian = original
    assert res["rounded"] < 1e-9 and res["w1"] < 1e-9 and res["monotone"]
    with pytest.raises(ValueError, match="one-site"):
        deterministic_law_error("ode", GaussianDiffusion(IsingChain(2, 0.5).mps()), times)
    with pytest.raises(ValueError, match="deterministic"):
        deterministic_law_error("ddpm", gd, times)


class _BiasedScore(GaussianDiffusion):
    """The exact oracle with the posterior mean shrunk by 3 %: a sampler that cannot converge."""

    def posterior_mean(self, x, t):
        return 0.97 * super().posterior_mean(x, t)


def test_ddpm_path_kl_is_first_order_and_a_biased_score_is_not():
    chain = IsingChain(4, beta=1.0, h=0.1)
    steps = [32, 64, 128]
    exact = [gaussian_path_kl("ddpm", GaussianDiffusion(chain.mps()), 3000, vp_grid(k), seed=k,
                              direction="exact_sampler") for k in steps]
    biased = [gaussian_path_kl("ddpm", _BiasedScore(chain.mps()), 3000, vp_grid(k), seed=k,
                               direction="exact_sampler") for k in steps]
    assert all(r["kl"] > 5 * r["stderr"] for r in exact + biased), (exact, biased)
    s_exact, s_biased = slope(steps, [r["kl"] for r in exact]), slope(steps, [r["kl"] for r in biased])
    assert inside(FIRST, s_exact) and not inside(SECOND, s_exact), (s_exact, exact)
    assert not inside(FIRST, s_biased), (s_biased, biased)  # negative control: the error floors


def test_li_grid_follows_the_papers_schedule():
    K = 20
    times = li_grid(K, c0=2.0, c1=4.0)
    assert times.size == K + 1 and np.all(np.diff(times) < 0) and times[-1] > 0
    sigma = 0.1 * times + 9.95 * times**2  # DDPM's linear schedule
    one_minus_alpha = -np.expm1(-np.diff(sigma[::-1], prepend=0.0))  # 1 - alpha_k from the data end
    r = 4.0 * np.log(K + 1) / (K + 1)
    expected = np.r_[(K + 1) ** -2.0, r * np.minimum((K + 1) ** -2.0 * (1 + r) ** np.arange(1, K + 1), 1.0)]
    assert np.allclose(one_minus_alpha, expected, rtol=1e-8)
    for kwargs, name in (({"steps": 1}, "steps"), ({"steps": 8, "c0": 0}, "c0"), ({"steps": 8, "c1": 50.0}, "c1")):
        with pytest.raises(ValueError, match=name):
            li_grid(**kwargs)


def test_quad_grid_is_the_authors_quadratic_skipping_in_continuous_time():
    """Li et al.'s code (skip_type 'quad'): indices int(linspace(0, sqrt(0.8 n), K)^2) of n = 1000 DDPM steps;
    here index i -> time (i + 1) / n without the integer truncation, so each time lies within 1 / n of the
    authors' (truncated) index, and the grid is strictly decreasing where their rule repeats indices."""
    from tnddm.validate.gaussian_samplers import GAUSSIAN_GRIDS, quad_grid

    for steps in (4, 10, 28):
        times = quad_grid(steps)
        authors = (np.linspace(0, np.sqrt(0.8 * 1000), steps + 1) ** 2).astype(int)[::-1]
        assert times.size == steps + 1 and np.all(np.diff(times) < 0)
        gap = times - (authors + 1) / 1000
        assert np.all((gap > -1e-12) & (gap < 1e-3)), gap
    assert len(set((np.linspace(0, np.sqrt(800), 65) ** 2).astype(int))) < 65  # the authors' rule repeats indices
    assert np.all(np.diff(quad_grid(64)) < 0)
    assert quad_grid(8)[0] == pytest.approx(0.801) and quad_grid(8)[-1] == pytest.approx(1e-3)
    np.testing.assert_allclose(GAUSSIAN_GRIDS["li"](20), li_grid(20))
    np.testing.assert_allclose(GAUSSIAN_GRIDS["uniform"](20), vp_grid(20))
    with pytest.raises(ValueError, match="steps"):
        quad_grid(0)


def test_validate_runs_the_papers_grids_with_gaussian_noise_and_refuses_them_for_discrete_noise(tmp_path, capsys):
    import json

    from tnddm.cli import main

    card = tmp_path / "chain.toml"
    card.write_text("[model]\nkind = 'ising_chain'\nn_sites = 4\nbeta = 0.5\n")
    tvs = {}
    for grid in ("uniform", "quad", "li"):
        try:
            main(["validate", str(card), "--noise", "gaussian", "--sampler", "ode", "--grid", grid, "--steps", "12",
                  "-n", "3000", "--json"])
        except SystemExit as exc:
            assert exc.code == 0
        out = json.loads(capsys.readouterr().out)
        assert out["grid"] == grid
        tvs[grid] = out["results"][0]["tv"]
    assert len(set(tvs.values())) == 3, tvs  # three different grids, three different output laws
    for args, message in ((["--grid", "quad"], "use it with --noise gaussian"),
                          (["--noise", "gaussian", "--grid", "cosine"], "does not apply to --noise gaussian")):
        with pytest.raises(SystemExit) as exc:
            main(["validate", str(card), *args, "--steps", "4"])
        assert exc.value.code == 2 and message in capsys.readouterr().err


# ---- each lab in its reduced mode -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_runs(tmp_path_factory):
    cache = {}

    def run(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(name)
            cache[name] = (load_example(name).main([str(out), "--quick"]), out)
        return cache[name]

    return run


def test_random_walk_lab_reduced_mode(lab_runs):
    summary, out = lab_runs("random_walk_lab")
    assert (out / "table.md").read_text().count("|") > 20 and (out / "random_walk_vs_steps.png").stat().st_size > 0
    rows = {r["sampler"]: r for r in summary["against_steps"]["rows"]}
    for name in ("euler", "tau_leaping", "exponential_euler"):  # single-jump samplers: the reverse direction is infinite
        assert all(np.isinf(rows[name]["path_kl_reverse"])), name
    assert all(np.isfinite(rows["tweedie"]["path_kl_reverse"]))
    for name, r in rows.items():  # first order on paths, and not second order
        assert inside(FIRST, r["slope_path_kl"]) and not inside(SECOND, r["slope_path_kl"]), (name, r["slope_path_kl"])
    mc = summary["against_n"]["euler_path_kl_mc"]
    per_site = [r["kl"] / r["n_sites"] for r in mc]
    assert abs(per_site[1] / per_site[0] - 1) < 0.2, mc  # linear in N
    exact = summary["against_n"]["euler_exact"]
    assert all(b["path_kl"] > a["path_kl"] for a, b in zip(exact, exact[1:]))
    for r in summary["against_n"]["masked"]:
        assert 0 < r["kl_reverse"] < np.inf and np.isfinite(r["kl"])


def test_entropy_lab_reduced_mode_padding(lab_runs):
    """Padding with deterministic sites leaves DDPM's and Tweedie's path KL unchanged; fair sites (negative control)
    raise DDPM's; deterministic sites raise Euler's (its per-site error does not vanish on a fixed site)."""
    summary, _ = lab_runs("entropy_lab")
    pad = {(r["pad_kind"], r["pad"]): r for r in summary["rows"] if r["part"] == "padding"}
    k = max(p for _, p in pad)
    base, fixed, fair = pad[("fixed", 0)], pad[("fixed", k)], pad[("fair", k)]
    key = f"ddpm_{summary['pad_steps'][-1]}"
    tw, eu = f"tweedie_{summary['flip_steps']}", f"euler_{summary['flip_steps']}"

    def z(a, b, name):
        return (b[name][0] - a[name][0]) / np.hypot(a[name][1], b[name][1])

    assert abs(z(base, fixed, key)) < 3 and abs(z(base, fixed, tw)) < 3, (base, fixed)
    assert z(base, fair, key) > 3, (base, fair)  # negative control
    assert z(base, fixed, eu) > 3, (base, fixed)
    ratios = [r[f"ddpm_{summary['gauss_steps'][-1]}"][0] / r["entropy"] for r in summary["rows"] if r["part"] != "padding"]
    assert max(ratios) / min(ratios) < 2.0, ratios  # DDPM's path KL / H within a factor 2 over every chain


def test_accelerated_lab_reduced_mode(lab_runs):
    summary, _ = lab_runs("accelerated_lab")
    one = {(r["grid"], r["sampler"]): r for r in summary["one_spin"]["rows"]}
    assert one[("uniform", "accel_ode")]["rounded"][-1] < 0.2 * one[("uniform", "ode")]["rounded"][-1]
    assert inside(FIRST, one[("uniform", "ode")]["slope_rounded"])
    chain = {(r["grid"], r["sampler"]): r for r in summary["chain"]["rows"]}
    assert chain[("uniform", "accel_ode")]["mad"][-1] < chain[("uniform", "ode")]["mad"][-1]


def test_rademacher_lab_reduced_mode(lab_runs):
    """Euler-Maruyama converges strongly at least at the claimed rate 1/2; the Rademacher scheme, coupled by the signs
    of the same Brownian increments, does not (negative control), although it converges in law (table (b))."""
    summary, _ = lab_runs("rademacher_lab")
    rows = summary["strong"]["rows"]
    em, rad = rows["euler_maruyama"], rows["rademacher"]
    assert em["slope_distance"] <= -0.5 and em["slope_flips"] <= -0.5, em
    assert rad["slope_flips"] > -0.5 and rad["flips"][-1] > 5 * em["flips"][-1], rad
    for r in summary["steps_needed"]["rows"]:
        for name in ("euler_maruyama", "rademacher"):
            assert r[name]["steps_needed"] is not None and r[name]["steps_needed"] <= summary["steps_needed"]["k_max"]
