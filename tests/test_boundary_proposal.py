"""Column-by-column boundary-MPS proposals for 2D grids (tnddm.mcmc.boundary) and the grid models
(tnddm.lattice.grid), against enumeration and brute-force Ising energies."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from tnddm.goodness_of_fit import all_configs, chisquare_test
from tnddm.lattice import BETA_C, IsingGrid, PottsGrid, from_spec
from tnddm.mcmc import MetropolisHastings, Move
from tnddm.mcmc.boundary import BoundaryProposal
from tnddm.mcmc.local import IsingGeometry, ising_metropolis

from .mcmc_reference import BruteIsing, ising_edges

ALPHA = 1e-3


@pytest.fixture(scope="module", params=[False, True], ids=["strip", "cylinder"])
def strip(request):
    """4 x 3 strip or cylinder (ring columns) with fields (enumerable: 4096 configurations)."""
    periodic = request.param
    return (IsingGrid(4, 3, 0.5, h=0.1, periodic=periodic), BruteIsing(4, 3, periodic, beta=0.5, h=0.1),
            all_configs(12, 2))


def test_grid_models_match_brute_force_energies():
    X = all_configs(12, 2)
    rng = np.random.default_rng(0)
    Jv, Jh, h = rng.normal(size=(4, 2)), rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    m = IsingGrid(4, 3, 0.7, J_vertical=Jv, J_horizontal=Jh, fields=h)
    s = 2 * X - 1
    e = -(s * h.ravel()).sum(axis=1)
    for c in range(4):
        for r in range(3):
            n = c * 3 + r
            if r < 2:
                e -= Jv[c, r] * s[:, n] * s[:, n + 1]
            if c < 3:
                e -= Jh[c, r] * s[:, n] * s[:, n + 3]
    np.testing.assert_allclose(m.energy(X), e, atol=1e-12)
    np.testing.assert_allclose(m.log_z(), np.log(np.exp(-0.7 * e).sum()), atol=1e-10)
    ea = IsingGrid(5, 4, 1.0, disorder="pm_j", disorder_seed=7)
    assert set(np.unique(ea.J_vertical)) == {-1.0, 1.0}
    np.testing.assert_array_equal(ea.J_vertical, IsingGrid(5, 4, 1.0, disorder="pm_j", disorder_seed=7).J_vertical)
    assert not np.array_equal(ea.J_vertical, IsingGrid(5, 4, 1.0, disorder="pm_j", disorder_seed=8).J_vertical)
    edges = ising_edges(4, 3, False)
    np.testing.assert_allclose(IsingGrid(4, 3, 1.0, J=-1.0).energy(X), ((2 * X - 1)[:, edges[:, 0]] * (2 * X - 1)[:, edges[:, 1]]).sum(axis=1))
    potts = PottsGrid(3, 3, 3, 0.9)
    Xp = all_configs(9, 3)
    same = sum((Xp[:, i] == Xp[:, j]) for i, j in ising_edges(3, 3, False))
    np.testing.assert_allclose(potts.energy(Xp), -same)
    ring = sum((Xp[:, i] == Xp[:, j]) for i, j in ising_edges(3, 3, True))
    np.testing.assert_allclose(PottsGrid(3, 3, 3, 0.9, periodic=True).energy(Xp), -ring)


def test_periodic_grid_is_the_cylinder():
    """Ring columns: the energy with random couplings on every bond (the ring bond (c, W-1)-(c, 0) included)
    against the spin formula, and log Z of the uniform ferromagnet against IsingCylinder's transfer matrix."""
    X = all_configs(12, 2)
    rng = np.random.default_rng(1)
    Jv, Jh, h = rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    m = IsingGrid(4, 3, 0.7, J_vertical=Jv, J_horizontal=Jh, fields=h, periodic=True)
    s = (2.0 * X - 1).reshape(-1, 4, 3)
    e = -(s * h).sum(axis=(1, 2)) - (s * np.roll(s, -1, axis=2) * Jv).sum(axis=(1, 2)) - (s[:, :-1] * s[:, 1:] * Jh).sum(axis=(1, 2))
    np.testing.assert_allclose(m.energy(X), e, atol=1e-12)
    np.testing.assert_allclose(m.log_z(), np.log(np.exp(-0.7 * e).sum()), atol=1e-10)
    from tnddm.lattice import IsingCylinder

    assert IsingGrid(5, 4, 0.6, periodic=True).log_z() == pytest.approx(IsingCylinder(5, 4, 0.6).log_z(), abs=1e-10)
    assert abs(IsingGrid(5, 4, 0.6).log_z() - IsingCylinder(5, 4, 0.6).log_z()) > 0.5  # the open strip differs
    with pytest.raises(ValueError, match="width >= 3"):
        IsingGrid(4, 2, 0.5, periodic=True)


@pytest.mark.parametrize("chi", [1, 2])
def test_proposal_law_is_normalised_and_sampled_with_its_own_log_q(strip, chi):
    m, _, X = strip
    q = m.proposal(chi)
    lq = q.log_prob(X)
    assert np.exp(lq).sum() == pytest.approx(1.0, abs=1e-12)
    Xs, l = q.sample(20_000, seed=chi)
    np.testing.assert_allclose(l, q.log_prob(Xs), atol=1e-12)
    assert chisquare_test(Xs, np.exp(lq), 2)[1] > ALPHA
    # negative control: the draws fail the test against a slightly different law
    wrong = np.exp(lq) * np.exp(0.3 * (2 * X[:, 0] - 1))
    assert chisquare_test(Xs, wrong / wrong.sum(), 2)[1] < ALPHA


def test_large_enough_chi_is_exact_and_accepts_every_move(strip):
    m, _, X = strip
    q = m.proposal(2)  # d^(W // 2) = 2 for W = 3
    np.testing.assert_allclose(q.log_prob(X), m.log_prob(X), atol=1e-12)
    potts = PottsGrid(3, 3, 3, 0.9, periodic=m.periodic)
    np.testing.assert_allclose(potts.proposal(3).log_prob(all_configs(9, 3)), potts.log_prob(all_configs(9, 3)), atol=1e-12)
    chain = MetropolisHastings(m, q, moves=[Move("connected", 0.5, 0.4), Move("disconnected", 0.5)]).run(10, 16, seed=0, burn_in=0)
    assert chain.acceptance() == 1.0


def test_truncated_proposal_is_not_exact(strip):
    m, _, X = strip
    assert np.abs(m.proposal(1).log_prob(X) - m.log_prob(X)).max() > 0.1


def _energy_hist_pvalue(m, brute, states):
    e = np.round(m.energy(states), 8)
    levels, inverse = np.unique(np.round(brute.energy(brute.X), 8), return_inverse=True)
    probs = np.bincount(inverse, weights=brute.p)
    return chisquare_test(np.searchsorted(levels, e)[:, None], probs, len(levels))[1]


@pytest.mark.parametrize("moves", ["disconnected", "connected"])
def test_chain_started_in_pi_stays_in_pi_with_a_truncated_proposal(strip, moves):
    m, brute, _ = strip
    mh = MetropolisHastings(m, m.proposal(1), moves=moves, T=0.5)
    n = 1500 if moves == "disconnected" else 600  # connected moves build environments per walker
    start = m.mps().sample(n, seed=5)[0]
    chain = mh.run(3 if moves == "disconnected" else 2, n, initial=start, seed=6, burn_in=0)
    assert 0.05 < chain.acceptance() < 0.99  # the proposal is approximate: some moves are rejected
    assert _energy_hist_pvalue(m, brute, chain.state) > ALPHA
    # negative control: the same proposals accepted without the Metropolis-Hastings test leave pi
    Xq, _ = m.proposal(1).sample(1500, seed=7)
    assert _energy_hist_pvalue(m, brute, Xq) < ALPHA


def test_16x16_estimate_agrees_with_local_monte_carlo():
    """Above exact sizes: the boundary-MPS chain and an independent single-spin Metropolis agree."""
    m = IsingGrid(16, 16, 0.35)
    mh = MetropolisHastings(m, m.proposal(4), moves="disconnected",
                            observables=lambda X: {"energy": m.energy(X)})
    chain = mh.run(60, 32, seed=1, max_seconds=120)
    tn = chain.summary()["energy"]
    assert chain.converged and chain.acceptance() > 0.5
    local = ising_metropolis(IsingGeometry(16, 16, False), 3000, 16, beta=0.35, J=1.0, h=0.0, seed=3, burn_in=500,
                             observables=lambda X: {"energy": m.energy(X)})
    loc = local.summary()["energy"]
    assert loc["converged"], loc
    assert abs(tn["mean"] - loc["mean"]) < 4 * np.hypot(tn["stderr"], loc["stderr"]), (tn, loc)


def test_models_and_proposals_from_cards_and_cli(tmp_path):
    m = from_spec({"kind": "ising_grid", "length": 64, "width": 64, "beta": BETA_C})
    assert not m.exact_available and m.n_sites == 4096
    with pytest.raises(ValueError, match="exact MPS"):
        m.mps()
    card = tmp_path / "grid.toml"
    card.write_text('[model]\nkind = "ising_grid"\nlength = 8\nwidth = 8\nbeta = 0.4\ndisorder = "pm_j"\n\n'
                    '[mcmc]\nwalkers = 16\nsteps = 40\n')
    from tnddm.cli.mcmc import command

    res = CliRunner().invoke(command, [str(card), "--proposal", "tn", "--chi-boundary", "4", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.stdout
    out = json.loads(res.stdout)
    assert out["proposal"].startswith("boundary MPS") and out["runs"][0]["acceptance"] > 0.5
    obs = out["runs"][0]["observables"]
    assert "energy" in obs and out["converged"]
    for name, s in obs.items():  # 8 x 8 still has an exact MPS: the estimates sit beside exact values
        assert "exact" in s and abs(s["z"]) < 4, (name, s)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="chi"):
        IsingGrid(3, 3, 0.4).proposal(0)
    with pytest.raises(ValueError, match="disorder"):
        IsingGrid(3, 3, 0.4, disorder="gauss")
    with pytest.raises(ValueError, match="J_vertical"):
        IsingGrid(3, 3, 0.4, J_vertical=np.ones((2, 2)))
    with pytest.raises(ValueError, match="Grid2D"):
        BoundaryProposal(object(), 4)
    q = IsingGrid(3, 3, 0.4).proposal(2)
    with pytest.raises(ValueError, match="log_tilts"):
        q.tilted(np.zeros((2, 9, 3)))


def test_quimb_compression_gives_a_valid_proposal_exact_at_full_bond(strip):
    """quimb's compress truncates differently from tnddm's SVD sweep at small chi (both valid laws); at
    chi = d^(W/2) both are exact."""
    m, _, X = strip
    np.testing.assert_allclose(m.proposal(2, compress="quimb").log_prob(X), m.log_prob(X), atol=1e-10)
    lq = m.proposal(1, compress="quimb").log_prob(X)
    assert np.exp(lq).sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs(lq - m.proposal(1).log_prob(X)).max() < 0.05
    with pytest.raises(ValueError, match="compress"):
        m.proposal(2, compress="zip")


def test_ising_grid_energy_equals_the_spin_formula():
    """The compiled table energy against -sum J_ij s_i s_j - sum h_i s_i written out with spins."""
    rng = np.random.default_rng(3)
    Jv, Jh, h = rng.normal(size=(5, 3)), rng.normal(size=(4, 4)), rng.normal(size=(5, 4))
    m = IsingGrid(5, 4, 0.7, J_vertical=Jv, J_horizontal=Jh, fields=h)
    X = rng.integers(0, 2, size=(50, 20))
    s = (2.0 * X - 1).reshape(50, 5, 4)
    e = -(s * h).sum(axis=(1, 2)) - (s[:, :, :-1] * s[:, :, 1:] * Jv).sum(axis=(1, 2)) - (s[:, :-1] * s[:, 1:] * Jh).sum(axis=(1, 2))
    np.testing.assert_allclose(m.energy(X), e, atol=1e-12)
    assert np.abs(IsingGrid(5, 4, 0.7).energy(X) - e).max() > 0.1  # negative control: other couplings differ


def test_baseline_error_check_quick_mode(tmp_path):
    """examples/baseline_error_check.py --quick in its own process (process pool, as the study): a converged
    reference, one row per chain with z against it, the chi-square summary and the plot."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(root / "examples" / "baseline_error_check.py"), str(out), "--quick"],
                   check=True, capture_output=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    text = (out / "table.md").read_text()
    assert "NOT converged" not in text and "reference (boundary MPS" in text
    z = [float(v) for v in re.findall(r"^\| \d+ \| .* \| ([+-]\d+\.\d+) \|$", text, flags=re.M)]
    assert len(z) == 4 and max(abs(v) for v in z) < 4  # 4 chains of 4,000 sweeps on a 6 x 6 glass agree
    chi2 = float(re.search(r"chi\^2 = ([\d.]+)", text).group(1))
    assert abs(chi2 - sum(v * v for v in z)) < 0.1 * len(z)
    assert (out / "chains.png").stat().st_size > 0


def test_boundary_study_quick_mode(tmp_path):
    """examples/boundary_study.py --quick in its own process (its chains run in process pools, which must not be forked
    from a test process whose numba threads are running): table, ratios, results and plots, converged proposal chains
    whose energies agree with the baselines'."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(root / "examples" / "boundary_study.py"), str(out), "--quick", "--budget", "1.5"],
                   check=True, capture_output=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["method"] for r in rows} == {"boundary MPS", "wolff", "metropolis"}
    for system in {r["system"] for r in rows}:
        ref = [r for r in rows if r["system"] == system and r["method"] == "metropolis"][0]
        for r in (r for r in rows if r["system"] == system and r["method"] == "boundary MPS" and r["converged"]):
            diff = abs(r["energy_per_site"] - ref["energy_per_site"])
            assert diff < 5 * np.hypot(r["energy_per_site_stderr"], ref["energy_per_site_stderr"]), (system, r, ref)
    assert any(r["converged"] and r["acceptance"] > 0.5 for r in rows if r["method"] == "boundary MPS")
    assert "| ratio |" in (out / "table.md").read_text() and (out / "ising_6.png").stat().st_size > 0
    # --paired: the best converged proposal chain against each converged baseline in interleaved rounds
    subprocess.run([sys.executable, str(root / "examples" / "boundary_study.py"), str(out), "--quick", "--paired", "2"],
                   check=True, capture_output=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    paired = (out / "paired_table.md").read_text()
    expected = sum(1 for system in {r["system"] for r in rows}
                   if any(r["converged"] for r in rows if r["system"] == system and r["method"] == "boundary MPS")
                   for r in rows if r["system"] == system and r["method"] != "boundary MPS" and r["converged"])
    medians = [float(v) for v in __import__("re").findall(r"\| ([\d.]+)x \| [\d.]+x-[\d.]+x \| 2 \|", paired)]
    assert len(medians) == expected > 0 and all(m > 0 for m in medians), paired


@pytest.mark.parametrize("periodic", [False, True], ids=["strip", "cylinder"])
def test_unrolled_small_bond_kernel_draws_what_the_generic_kernel_draws(periodic):
    """small_kernel (bond padded to 4 or 8, compile-time sizes) and draw_columns (any bond) are two
    implementations of the same conditionals and draw rule: the same uniforms give the same configurations
    and log q (to rounding), forced evaluations agree, and padding lanes of a partial block are not written."""
    from tnddm.mcmc._boundary_kernel import (
        SMALL_BLOCK,
        draw_columns,
        pack_environments,
        pad_environments,
        small_bond,
        small_kernel,
    )

    m = IsingGrid(6, 5, 0.9, disorder="pm_j", disorder_seed=3, h=0.2, periodic=periodic)
    for chi in (1, 2, 4):
        q = m.proposal(chi)
        cores = q.column_cores(q.envs)
        bond = max(max(G.shape[0], G.shape[2]) for col in cores for G in col)
        small = small_bond(bond, 2)
        assert small is not None and small >= bond
        n = 2 * SMALL_BLOCK + 5  # a partial last block
        S = np.random.default_rng(chi).integers(0, 2**63, size=n, dtype=np.uint64)  # stream seeds
        none = np.zeros((1, 1), np.int64)
        X1, l1 = np.full((n, m.n_sites), -1), np.full(n, np.nan)
        small_kernel(2, small)(pad_environments(cores, small, 2), q._tables, q._V, S, none, False, q.floor,
                               0, -(-n // SMALL_BLOCK), X1, l1)
        X2, l2 = np.full((n, m.n_sites), -1), np.full(n, np.nan)
        data, offsets, shapes, chi_max = pack_environments(cores)
        draw_columns(data, offsets, shapes, chi_max, q._tables, q._V, S, none, False, q.floor, 32, X2, l2)
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_allclose(l1, l2, rtol=0, atol=1e-12)
        F = np.ascontiguousarray(X1.T)
        l3 = np.full(n, np.nan)
        draw_columns(data, offsets, shapes, chi_max, q._tables, q._V, np.zeros(1, np.uint64), F, True, q.floor, 32, X2, l3)
        np.testing.assert_allclose(l3, l1, rtol=0, atol=1e-12)
        np.testing.assert_allclose(q.log_prob(X1), l1, rtol=0, atol=1e-12)  # the proposal's own dispatch
    # negative control: the environments of another bond give other log q for the same configurations
    other = m.proposal(1)
    assert np.abs(other.log_prob(X1) - l1).max() > 1e-3


def _log_q_numpy(q, x, E):
    """log q(x) recomputed column by column in numpy from the padded environments E (the conditionals of
    tnddm.mcmc.boundary's docstring, one site at a time): an independent check of the compiled kernels."""
    L, W, chi = q.L, q.W, E.shape[2]
    G, total = np.asarray(x).reshape(L, W), 0.0
    for c in range(L):
        R, T = np.zeros((q.d, chi)), np.zeros((W, q.d, chi))
        R[:, 0] = 1.0
        for r in range(W - 1, -1, -1):
            w = q._tables[c, r, G[c - 1, r] if c > 0 else 0]
            T[r] = w[:, None] * np.einsum("axb,xb->xa", E[c, r], R)
            if r > 0:
                R = q._V[c, r - 1] @ T[r]
                R /= np.abs(R).max()
        Lv = np.zeros(chi)
        Lv[0] = 1.0
        for r in range(W):
            u = T[r] @ Lv * (q._V[c, r - 1, G[c, r - 1]] if r > 0 else 1.0)
            u = np.maximum(u, q.floor * u.max())
            total += np.log(u[G[c, r]] / u.sum())
            Lv = Lv @ E[c, r, :, G[c, r], :]
            Lv /= np.abs(Lv).max()
    return total


def test_kernels_log_q_against_a_numpy_recomputation_on_long_columns():
    """Columns of 40 rows (more than the FLUSH = 16 rows between flushes of the running product): both kernels'
    log q equal an independent numpy recomputation of the conditionals actually used."""
    from tnddm.mcmc._boundary_kernel import pad_environments

    m = IsingGrid(5, 40, 0.6, disorder="pm_j", disorder_seed=2, h=0.1)
    q = m.proposal(4)
    E = pad_environments(q.column_cores(q.envs), 4, 2)
    for n in (70, 5):  # the unrolled kernel (n >= 32 per thread) and the generic one
        X, lq = q.sample(n, seed=n)
        ref = np.array([_log_q_numpy(q, x, E) for x in X[:5]])
        np.testing.assert_allclose(lq[:5], ref, rtol=0, atol=1e-9)
    # negative control: the recomputation of another configuration differs
    assert abs(_log_q_numpy(q, X[1], E) - lq[0]) > 1e-6


@pytest.mark.parametrize("shape,periodic", [((1, 5), False), ((5, 1), False), ((4, 2), False), ((3, 4), True), ((2, 3), True)],
                         ids=["one-column", "one-row", "width-2", "ring", "short-ring"])
def test_grid_energy_table_on_thin_grids_matches_the_bond_sum(shape, periodic):
    """Grid2D.energy (one lookup per site in the combined site/down/right table, missing bonds ignored) against
    the bond-by-bond sum of the module docstring, with random tables and a d = 3 model; negative control:
    dropping the horizontal bonds changes the energies."""
    from tnddm.lattice.grid import Grid2D

    L, W = shape
    rng = np.random.default_rng(L * 10 + W)
    nv = W if periodic else W - 1
    site, vert, hor = rng.normal(size=(L, W, 3)), rng.normal(size=(L, nv, 3, 3)), rng.normal(size=(L - 1, W, 3, 3))
    m = Grid2D(site, vert, hor, 0.7, periodic=periodic)
    X = rng.integers(0, 3, size=(40, L * W))
    G = X.reshape(-1, L, W)
    ref = site[np.arange(L)[:, None], np.arange(W)[None, :], G].sum(axis=(1, 2))
    for c in range(L):
        for r in range(nv):
            ref += vert[c, r, G[:, c, r], G[:, c, (r + 1) % W]]
        for r in range(W):
            ref += hor[c, r, G[:, c, r], G[:, c + 1, r]] if c + 1 < L else 0.0
    np.testing.assert_allclose(m.energy(X), ref, atol=1e-12)
    if L > 1:
        assert np.abs(Grid2D(site, vert, 0 * hor, 0.7, periodic=periodic).energy(X) - ref).max() > 1e-3
