"""tnddm.observables: exact values against brute-force enumeration, sample and chain estimates within
4 standard errors of them (with negative controls that must be rejected), snapshots, and the CLI
(`tnddm scan` against direct evaluation, `info --observables`, `sample` estimates)."""
import csv
import itertools
import json

import numpy as np
import pytest

from tnddm import observables as O
from tnddm.lattice import BETA_C, Fredkin, IsingChain, IsingCylinder, IsingGrid, IsingStrip, PottsCylinder, PottsGrid

from .helpers import run_cli


def enumerate_law(model):
    X = np.array(list(itertools.product(range(model.d), repeat=model.n_sites)))
    lw = model.log_weight(X)
    keep = np.isfinite(lw)
    X, lw = X[keep], lw[keep]
    p = np.exp(lw - lw.max())
    return X, p / p.sum()


def brute_force(model):
    """Every observable by direct sums over all configurations (definitions of the module docstring)."""
    X, p = enumerate_law(model)
    fam, N, out = O.family(model), model.n_sites, {}
    if fam in ("ising", "potts", "grid"):
        e = model.energy(X)
        out["energy_per_site"] = p @ e / N
        out["specific_heat"] = model.beta**2 * (p @ e**2 - (p @ e) ** 2) / N
    if fam == "ising":
        m = (2 * X - 1).mean(axis=1)
        out.update(magnetisation=p @ m, abs_magnetisation=p @ np.abs(m),
                   susceptibility=model.beta * N * (p @ m**2 - (p @ m) ** 2),
                   susceptibility_abs=model.beta * N * (p @ m**2 - (p @ np.abs(m)) ** 2),
                   binder=1 - (p @ m**4) / (3 * (p @ m**2) ** 2))
    if fam in ("ising", "potts"):
        phi = O.pair_function(model)
        G = []
        for pairs in O.correlation_pairs(model):
            g = 0.0
            for i, j in pairs:
                joint = np.zeros((model.d, model.d))
                np.add.at(joint, (X[:, i], X[:, j]), p)
                g += np.sum(phi * (joint - np.outer(joint.sum(1), joint.sum(0)))) / len(pairs)
            G.append(g)
        G = np.array(G)
        r = np.arange(G.size)
        out["correlation"] = G
        den = G[0] + 2 * G[1:].sum()  # xi is undefined (nan) when the sum of G is not positive (a glass)
        out["correlation_length"] = np.sqrt((r**2 @ G) / den) if den > 0 and r**2 @ G > 0 else np.nan
    if fam == "potts":
        q = model.d
        rho = np.stack([(X == a).mean(axis=1) for a in range(q)], axis=1)
        out["order_parameter"] = p @ ((q * rho.max(axis=1) - 1) / (q - 1))
    if fam == "fredkin":
        h = np.cumsum(2 * X - 1, axis=1)
        out.update(height_profile=p @ h, height_variance=p @ h**2 - (p @ h) ** 2, area=p @ h.sum(1),
                   mid_height=p @ h[:, N // 2 - 1], max_height=p @ h.max(1))
        P = np.zeros((N, N // 2 + 1))
        for i in range(N):
            np.add.at(P[i], h[:, i], p)
        out["height_distribution"] = P
    return out


SMALL = [IsingCylinder(4, 3, 0.4, h=0.1), IsingStrip(3, 4, 0.5), IsingChain(10, 0.7, J=0.5, h=-0.2),
         PottsCylinder(3, 3, 3, 0.8), Fredkin(12, 0.6), IsingGrid(3, 3, 0.6, disorder="pm_j", disorder_seed=2),
         PottsGrid(3, 3, 3, 1.1)]


@pytest.mark.parametrize("model", SMALL, ids=repr)
def test_exact_observables_match_enumeration(model):
    exact, brute = O.exact(model), brute_force(model)
    assert set(brute) == set(exact) == set(O.available(model))
    for name, value in brute.items():
        np.testing.assert_allclose(exact[name], value, rtol=1e-9, atol=1e-11, err_msg=name)


def test_exact_and_names_errors():
    model = IsingCylinder(4, 3, 0.4)
    with pytest.raises(ValueError, match="names: 'height_profile' is not an observable of ising_cylinder"):
        O.exact(model, ["height_profile"])
    with pytest.raises(ValueError, match="max_distance must lie in 0..3"):
        O.exact(model, "correlation", max_distance=9)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 12\)"):
        O.estimate(model, np.zeros((5, 7), dtype=int))
    assert list(O.exact(model, "correlation", max_distance=2)["correlation"].shape) == [3]


def sample_report(model, n, seed):
    X, _ = model.sample(n, seed=seed)
    return O.estimate(model, X)


def check_within(report, limit=4.0):
    for name, e in report.estimates.items():
        z = np.abs(np.atleast_1d(np.asarray(e.z, dtype=float)))
        assert np.all(np.isfinite(z) | np.isnan(z)), name
        assert np.nanmax(z) < limit, (name, e)


def test_ising_16x8_estimates_within_4_stderr_and_a_wrong_temperature_is_rejected():
    model = IsingCylinder(16, 8, BETA_C)
    report = sample_report(model, 8000, seed=5)
    assert set(report) == set(O.available(model))
    check_within(report)
    e = report["specific_heat"]
    assert e.exact == pytest.approx(O.exact(model, "specific_heat")["specific_heat"]) and 0 < e.stderr < 0.05
    # negative control: samples at beta = 0.41 compared with the exact values at beta_c
    wrong = IsingCylinder(16, 8, 0.41).sample(8000, seed=5)[0]
    bad = O.estimate(model, wrong, exact_values=report.exact)
    assert bad.max_abs_z > 8
    assert abs(bad["energy_per_site"].z) > 4 and abs(bad["binder"].z) > 4 and abs(bad["correlation_length"].z) > 4


def test_fredkin_64_estimates_within_4_stderr_and_a_wrong_c_is_rejected():
    model = Fredkin(64, 0.6)
    report = sample_report(model, 20000, seed=3)
    check_within(report)
    prof = report["height_profile"]
    assert prof.mean.shape == (64,) and prof.z[0] == 0.0  # h_1 = 1 in every sample: no fluctuation, z = 0
    dist = report["height_distribution"]
    assert dist.mean.shape == (64, 33)
    np.testing.assert_allclose(dist.mean.sum(axis=1), 1.0)
    wrong = Fredkin(64, 0.58).sample(20000, seed=3)[0]
    bad = O.estimate(model, wrong, "area,mid_height,height_profile", exact_values=report.exact)
    assert abs(bad["area"].z) > 8 and bad["height_profile"].max_abs_z > 8


def test_chain_estimates_use_autocorrelation_and_skip_what_was_not_recorded():
    from tnddm.mcmc import MetropolisHastings

    model = IsingCylinder(6, 3, 0.4)
    mh = MetropolisHastings(model, model.mps(), moves="connected", T=0.3)
    chain = mh.run(n_steps=300, n_walkers=16, seed=1, burn_in=20)
    report = O.estimate_chain(model, chain)
    assert set(report.skipped) == {"correlation", "correlation_length"}
    assert "chain of 300 steps x 16 walkers" in report.source
    assert report["energy_per_site"].tau > 1.2  # connected moves: correlated records, errors widened by tau
    check_within(report)
    # the same estimators on configurations shaped (steps, walkers, N)
    X = model.sample(2000, seed=2)[0].reshape(100, 20, -1)
    rep3 = O.estimate(model, X)
    assert rep3.n == 2000 and "100 steps x 20 walkers" in rep3.source
    check_within(rep3)
    # negative control: a wrong exact value is rejected
    wrong = O.estimate_chain(model, chain, "energy_per_site",
                             exact_values={"energy_per_site": report.exact["energy_per_site"] + 0.05})
    assert abs(wrong["energy_per_site"].z) > 4


def test_potts_estimates_and_report_forms():
    model = PottsCylinder(6, 3, 3, 0.9)
    report = sample_report(model, 4000, seed=0)
    check_within(report)
    rows = report.rows()
    assert {"observable", "index", "mean", "stderr", "exact", "z", "n"} <= set(rows[0])
    assert sum(r["observable"] == "correlation" for r in rows) == 6
    json.dumps(report.to_dict())  # JSON-ready
    text = report.table()
    assert "order_parameter" in text and "correlation[5]" in text
    assert repr(report).startswith("Report(PottsCylinder(") and "max |z|" in repr(report)
    assert repr(report["order_parameter"]).startswith("Estimate(order_parameter = ")


def test_snapshots_reshape_and_plot_without_switching_backend(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    model = IsingCylinder(5, 3, 0.4)
    X, _ = model.sample(4, seed=0)
    G = O.as_grid(model, X)
    assert G.shape == (4, 5, 3) and G[1, 2, 1] == X[1, 2 * 3 + 1]
    fig = O.plot_snapshots(model, X, tmp_path / "snap.png", n=3)
    assert (tmp_path / "snap.png").stat().st_size > 1000 and len(fig.axes) >= 3
    fk = Fredkin(10, 0.5)
    O.plot_snapshots(fk, fk.sample(3, seed=0)[0], tmp_path / "fk.png")
    assert (tmp_path / "fk.png").exists()
    assert matplotlib.get_backend() == backend
    with pytest.raises(ValueError, match="X must have 15 = 5 x 3 columns"):
        O.as_grid(model, np.zeros((2, 14), dtype=int))


# ---- CLI ------------------------------------------------------------------------------------------
run = run_cli  # (exit code, stdout, stderr) of an in-process CLI call


def test_scan_matches_direct_evaluation_at_three_grid_points(tmp_path, capsys):
    csv_path, png = tmp_path / "scan.csv", tmp_path / "scan.png"
    code, out, err = run(["scan", "--set", "model.length=6", "--set", "model.beta=0.3:0.6:4", "--set", "model.width=3,4",
                          "--observables", "specific_heat,susceptibility,binder,correlation_length",
                          "--csv", str(csv_path), "--plot", str(png)], capsys)
    assert code == 0, err
    assert f"wrote {csv_path}" in out and png.stat().st_size > 5000
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == 8 and list(rows[0]) == ["beta", "width", "specific_heat", "susceptibility", "binder",
                                                "correlation_length"]
    for k in (0, 3, 6):  # three grid points: (0.3, 3), (0.4, 4), (0.6, 3)
        row = rows[k]
        model = IsingCylinder(6, int(row["width"]), float(row["beta"]))
        direct = O.exact(model, ["specific_heat", "susceptibility", "binder", "correlation_length"])
        for name, value in direct.items():
            assert float(row[name]) == pytest.approx(value, rel=1e-12), (k, name)
    assert [(float(rows[k]["beta"]), int(rows[k]["width"])) for k in (0, 3, 6)] == [(0.3, 3), (0.4, 4), (0.6, 3)]
    code, out, _ = run(["scan", "models/fredkin.toml", "--set", "model.c=0.4,0.5,0.6", "--set", "model.n_sites=16",
                        "--json", "--csv", str(tmp_path / "f.csv"), "--plot", str(tmp_path / "f.png")], capsys)
    data = json.loads(out)
    assert code == 0 and data["observables"] == ["area", "mid_height", "max_height"]
    assert data["rows"][2]["area"] == pytest.approx(O.exact(Fredkin(16, 0.6), "area")["area"], rel=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--set", "model.beta=0.3"], "needs at least one scanned field"),
    (["--set", "sample.seed=1,2"], "only model fields can be scanned"),
    (["--set", "model.beta=0.3:0.6:1"], "num must be an integer >= 2"),
    (["--set", "model.beta=a:b:3"], "a range is start:stop:num with numbers"),
    (["--set", "model.beta=0.3,0.4", "--csv", "x.txt"], "--csv must end in .csv"),
    (["--set", "model.beta=0.3,0.4", "--observables", "correlation"], "is an array; a scan takes scalar observables"),
    (["--set", "model.beta=0.3,-1"], "beta"),
])
def test_scan_refuses_bad_input_before_work(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["scan", "--set", "model.length=4", "--set", "model.width=3", *argv], capsys)
    assert code == 2 and message in err, err
    assert not (tmp_path / "scan.csv").exists() and not (tmp_path / "scan.png").exists()


def test_info_observables_and_readable_arrays(capsys):
    code, out, _ = run(["info", "models/fredkin.toml"], capsys)
    assert code == 0 and max(len(line) for line in out.splitlines()) < 120  # the height profile is abbreviated
    assert "(64 values; --json for all)" in out
    code, out, _ = run(["info", "--set", "model.length=5", "--set", "model.width=3", "--observables", "--json"], capsys)
    info = json.loads(out)
    exact = O.exact(IsingCylinder(5, 3, BETA_C))
    assert info["observables"]["binder"] == pytest.approx(exact["binder"], rel=1e-12)
    assert np.allclose(info["observables"]["correlation"], exact["correlation"])
    code, out, _ = run(["info", "--set", "model.length=5", "--set", "model.width=3", "--observables"], capsys)
    assert "correlation_length" in out and "susceptibility" in out and "correlation[4]" in out
    code, out, _ = run(["info", "models/fredkin.toml", "--set", "model.n_sites=32", "--observables", "--n-samples",
                        "3000"], capsys)
    assert code == 0 and "observables from 3000 exact samples" in out and "max |z|" in out
    for line in out.splitlines():
        if line.startswith(("area", "mid_height", "max_height")):
            assert abs(float(line.split()[-1])) < 4, line


def test_sample_prints_estimates_beside_exact_values(tmp_path, capsys):
    args = ["sample", "-n", "2000", "--mode", "direct", "--seed", "1", "--set", "model.length=6", "--set",
            "model.width=3", "--out", str(tmp_path / "s.npz")]
    code, out, err = run(args + ["--json"], capsys)
    assert code == 0, err
    obs = json.loads(out)["observables"]
    for name in ("energy_per_site", "specific_heat", "susceptibility", "binder", "correlation_length"):
        assert abs(obs[name]["z"]) < 4 and obs[name]["stderr"] > 0 and obs[name]["exact"] is not None, name
    code, out, _ = run(args, capsys)
    assert "observables from 2000 exact samples" in out and "stderr" in out and "exact" in out


# ---- notebook friendliness --------------------------------------------------------------------------
def test_reprs_are_short_and_informative():
    import tnddm
    from tnddm.mcmc import MetropolisHastings
    from tnddm.noise import BiasedFlip, Flip, Linear, Mask

    model = Fredkin(16, 0.5)
    mh = MetropolisHastings(model, model.mps(), moves="mixed", T=0.5)
    chain = mh.run(n_steps=20, n_walkers=4, seed=0, burn_in=0)
    report = O.estimate(model, model.sample(50, seed=0)[0], "area")
    expected = [
        (Flip(rate=2.0), "Flip(rate=2, d=2)"),
        (Mask(rate=0.5, d=3), "Mask(rate=0.5, d=3)"),
        (BiasedFlip(1.0, 2.0), "BiasedFlip(up=1, down=2)"),
        (Flip(schedule="linear"), "schedule=Linear(beta_min=0.1, beta_max=2, horizon=1)"),
        (tnddm.Diffusion(model.mps(), Flip()), "Diffusion(model=SparseMPS(n_sites=16, d=2, max_bond=9), noise=Flip(rate=1, d=2))"),
        (mh, "moves=[connected p=0.5 T=0.5, disconnected p=0.5]"),
        (chain, "Chain(walkers=4, recorded=20"),
        (model, "Fredkin(n_sites=16, c=0.5)"),
        (model.automaton, "Automaton(n_sites=16"),
        (report, "Report(Fredkin(n_sites=16, c=0.5), independent samples, n=50"),
        (report["area"], "Estimate(area = "),
        (O.OBSERVABLES["binder"], "Observable('binder'"),
        (Linear(), "Linear(beta_min=0.1"),
    ]
    for obj, needle in expected:
        text = repr(obj)
        assert needle in text and len(text) < 400 and "object at 0x" not in text, text


def test_namespace_is_clean_and_subpackages_resolve():
    import tnddm

    assert not hasattr(tnddm, "os") and "os" not in dir(tnddm)
    for name in ("gaussian", "distributed", "observables", "lattice", "mcmc", "validate", "io"):
        assert name in dir(tnddm)
        assert getattr(tnddm, name).__name__ == f"tnddm.{name}"
    assert tnddm.observables.exact is O.exact
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        tnddm.nothing
