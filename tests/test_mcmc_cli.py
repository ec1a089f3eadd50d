"""`tnddm mcmc` and examples/mcmc_study.py --quick on the real lattice models; chain estimates are
checked against the brute-force references of tests/mcmc_reference.py."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from .mcmc_reference import BruteFredkin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reference_lattice():
    """The real lattice models (the brute-force references in mcmc_reference check their values)."""
    import tnddm.lattice

    return tnddm.lattice


def write_card(tmp_path):
    card = tmp_path / "card.toml"
    card.write_text('[model]\nkind = "fredkin"\nn_sites = 10\nc = 0.6\n\n[mcmc]\nsteps = 40\nwalkers = 16\n')
    return card


def test_mcmc_command_writes_chains_summary_and_plot(tmp_path, reference_lattice):
    from tnddm.cli.mcmc import command

    card = write_card(tmp_path)
    out, png = tmp_path / "chain.npz", tmp_path / "scan.png"
    res = CliRunner().invoke(command, [str(card), "--scheme", "connected", "--T", "0.1,1.0", "--chi", "2", "--seed", "2",
                                       "--burn-in", "10", "--out", str(out), "--plot", str(png), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.stdout
    summary = json.loads(res.stdout)
    assert summary["proposal_bond"] == 2 and [r["T"] for r in summary["runs"]] == [0.1, 1.0]
    exact = BruteFredkin(10, 0.6).exact("area")
    for run in summary["runs"]:
        assert 0 < run["acceptance"] < 1
        s = run["observables"]["area"]
        assert s["exact"] == pytest.approx(exact) and s["z"] == pytest.approx((s["mean"] - exact) / s["stderr"])
        assert run["converged"] == all(o["converged"] for o in run["observables"].values())
        assert run["converged"] or "warning: not converged" in res.stderr  # a short fixed run is flagged
    z = np.load(out)
    assert z["T0_obs_area"].shape == (summary["runs"][0]["recorded"], 16)
    assert z["T1_accepted"].shape == (summary["runs"][1]["recorded"], 16)
    assert json.loads(str(z["metadata"]))["chi"] == 2
    assert png.stat().st_size > 1000
    # the same seed gives the same chain
    res2 = CliRunner().invoke(command, [str(card), "--scheme", "connected", "--T", "0.1,1.0", "--chi", "2", "--seed", "2", "--burn-in", "10",
                                        "--json"])
    again = json.loads(res2.stdout)["runs"][0]["observables"]["area"]
    first = summary["runs"][0]["observables"]["area"]
    assert {k: again[k] for k in ("mean", "stderr", "tau")} == {k: first[k] for k in ("mean", "stderr", "tau")}


def test_mcmc_command_disconnected_with_exact_proposal_accepts_all(tmp_path, reference_lattice):
    from tnddm.cli.mcmc import command

    res = CliRunner().invoke(command, [str(write_card(tmp_path)), "--scheme", "disconnected", "--json"],
                             catch_exceptions=False)
    run = json.loads(res.stdout)["runs"][0]
    assert run["T"] is None and run["acceptance"] == 1.0


def test_mcmc_command_with_a_born_truncated_proposal_estimates_the_exact_energy(tmp_path, reference_lattice):
    from tnddm.cli.mcmc import command

    from .mcmc_reference import BruteIsing

    card = tmp_path / "ising.toml"
    card.write_text('[model]\nkind = "ising_cylinder"\nlength = 4\nwidth = 3\nbeta = 0.4406868\n\n'
                    '[mcmc]\nsteps = 60\nwalkers = 32\nscheme = "mixed"\ntruncation = "born"\n')
    res = CliRunner().invoke(command, [str(card), "--chi", "2", "--T", "0.5", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    run = summary["runs"][0]
    assert summary["proposal_bond"] == 2 and 0.2 < run["acceptance"] < 1
    exact = BruteIsing(4, 3, True, beta=0.4406868).exact("energy")
    s = run["observables"]["energy"]
    assert abs(s["mean"] - exact) < 5 * s["stderr"] and s["exact"] == pytest.approx(exact)


def test_mcmc_command_rejects_bad_options(tmp_path, reference_lattice):
    from tnddm.cli.mcmc import command

    card = str(write_card(tmp_path))
    for args, msg in ((["--T", "0.1,x"], "--T must be"), (["--T", "-1"], "--T values"), (["--walkers", "0"], "--walkers"),
                      (["--chi", "0"], "--chi"), (["--burn-in", "x"], "--burn-in"), (["--max-seconds", "0"], "--max-seconds"),
                      (["--T", "auto", "--burn-in", "0", "--scheme", "connected"], "--T auto"),
                      (["--init", "nowhere.npz"], "--init"), (["--out", card], "--out")):
        with pytest.raises(ValueError, match=msg):
            CliRunner().invoke(command, [card, *args], catch_exceptions=False)


@pytest.mark.parametrize("card, exact_names", [("ising_cylinder.toml", ("energy", "energy_per_site", "magnetisation",
                                                                         "abs_magnetisation")),
                                                ("fredkin.toml", ("area", "mid_height", "max_height"))])
def test_shipped_cards_converge_at_their_defaults_with_exact_values_beside(card, exact_names):
    """The default `tnddm mcmc models/<card> --json`: converged, every observable within 4 standard
    errors of its exact value (exact formulas: exact_stderr 0)."""
    from tnddm.cli.mcmc import command

    res = CliRunner().invoke(command, [str(ROOT / "models" / card), "--json"], catch_exceptions=False)
    assert res.exit_code == 0 and "warning" not in res.stderr, res.output
    out = json.loads(res.stdout)
    assert out["converged"] is True
    obs = out["runs"][0]["observables"]
    assert set(exact_names) <= set(obs)
    for name, s in obs.items():
        assert s["converged"] and abs(s["z"]) < 4, (name, s)
        assert s["exact_stderr"] == 0.0 or name not in exact_names


def test_example_quick_mode_writes_table_and_plots(tmp_path, reference_lattice, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mcmc_study.py", str(tmp_path), "--quick", "--steps", "20", "--walkers", "8"])
    runpy.run_path(str(ROOT / "examples" / "mcmc_study.py"), run_name="__main__")
    text = (tmp_path / "table.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| lump") or line.startswith("| svd")
             or line.startswith("| born")]
    per_system = 3 * 2 + 2 * 3  # methods x chis disconnected + (born, lump) x (2 T values + auto) connected
    assert len(table) == 3 * per_system
    assert text.count("### ") == 3 and "exact" in text and "R-hat" in text and "ESS/s" in text
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert len(rows) == 3 * per_system
    # acceptance None: the proposal misses part of the target's support and is not run (support_check)
    assert all(r["acceptance"] is None or 0 <= r["acceptance"] <= 1 for r in rows)
    for r, line in zip(rows, table):
        if r["converged"]:  # a result: beside its exact value, ESS/s from a chain >= 50 tau long
            assert r["ess_per_second"] > 0 and r["min_records_per_tau"] >= 50 and r["max_rhat"] < 1.01
            # z is reported, not bounded: with 8 walkers x 20 steps a chi = 2 proposal that underweights part of
            # the target can look converged yet be biased (fredkin_c0.4 svd/born chi 2: |z| up to 7.9)
            assert np.isfinite(r["max_abs_z"]) and line.endswith("| yes |")
        else:  # never presented as a result
            assert r["ess_per_second"] is None and "not converged" in line and "| no:" in line
    assert any(r["T_setting"] == "auto" for r in rows)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["fredkin_c0.4.png", "fredkin_c0.6.png", "ising_betac.png"]
