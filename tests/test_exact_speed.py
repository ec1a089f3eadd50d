"""Issue 22: int8 output, streaming, the blocked binary Markov kernel, float32 tables, MarkovTableMPS.

Exactness against enumeration, an exact k-site marginal, and the energy from d log Z / d beta; a
perturbed table must fail the same chi-square test. Fixed seeds; no timings (see benchmarks/).
"""
import numpy as np
import pytest

from tnddm import ProbMPS
from tnddm.goodness_of_fit import chisquare_test, config_index, goodness_of_fit
from tnddm.lattice import Fredkin, IsingChain, IsingCylinder
from tnddm.lattice.automaton import Automaton
from tnddm.lattice.ising import BETA_C
from tnddm.mps import MarkovTableMPS, sample_dtype

from .helpers import random_automaton, random_born, random_dense

ALPHA = 1e-3


@pytest.fixture(scope="module")
def ising64():
    model = IsingCylinder(length=64, width=12, beta=BETA_C)
    return model, model.mps()


def random_markov_automaton(n_sites, chi, seed):
    """A binary automaton in the Markov gauge whose next states are random (not a shift register)."""
    rng = np.random.default_rng(seed)
    dims = [1] + [chi] * (n_sites - 1) + [1]
    nxt = [rng.integers(0, dims[i + 1], size=(dims[i], 2)) for i in range(n_sites)]
    logw = [rng.normal(size=(dims[i], 2)) * 2 for i in range(n_sites)]
    logw[3][:, 1] = -np.inf  # a forbidden symbol: tables store +1 (x = 0 always)
    return Automaton(nxt, logw).mps


# ---- output dtype and streaming -----------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: IsingCylinder(length=6, width=3, beta=0.4).mps(),
                                  lambda: IsingCylinder(length=6, width=3, beta=0.4).mps().astype(np.float32),
                                  lambda: random_dense(7, 3, 3, seed=1), lambda: random_automaton(7, 4, 2, seed=2),
                                  lambda: random_born(6, 3, 2, seed=3), lambda: Fredkin(20, 0.6).mps()])
def test_int8_and_int64_outputs_are_identical(make):
    P = make()
    X, lp = P.sample(3000, seed=5)
    assert X.dtype == np.int8
    X64, lp64 = P.sample(3000, seed=5, dtype=np.int64)
    assert X64.dtype == np.int64
    np.testing.assert_array_equal(X, X64)
    np.testing.assert_array_equal(lp, lp64)


def test_default_dtype_by_number_of_states_and_bad_dtype():
    assert sample_dtype(2) == np.int8 and sample_dtype(128) == np.int8
    assert sample_dtype(129) == np.uint8 and sample_dtype(256) == np.uint8 and sample_dtype(257) == np.int16
    P = ProbMPS.random(3, 2, d=200, seed=0)
    X, _ = P.sample(500, seed=1)
    assert X.dtype == np.uint8 and X.max() > 127
    np.testing.assert_array_equal(X, P.sample(500, seed=1, dtype=np.int64)[0])
    for bad in (np.int8, np.float64, "nonsense"):
        with pytest.raises(ValueError, match="dtype"):
            P.sample(5, seed=1, dtype=bad)


@pytest.mark.parametrize("make", [lambda: IsingCylinder(length=6, width=3, beta=0.4).mps(),
                                  lambda: random_dense(7, 3, 2, seed=1), lambda: random_automaton(7, 4, 2, seed=2)])
@pytest.mark.parametrize("batch", [1, 333, 5000])
def test_streaming_in_chunks_gives_the_samples_of_one_call(make, batch):
    P = make()
    X, lp = P.sample(2500, seed=9)
    chunks = list(P.iter_samples(2500, batch=batch, seed=9))
    assert all(c[0].shape[0] <= batch for c in chunks) and len(chunks) == -(-2500 // batch)
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    np.testing.assert_allclose(np.concatenate([c[1] for c in chunks]), lp, rtol=1e-13)  # dense: summation order


def test_streaming_with_per_sample_tilts_and_log_prob():
    P = random_automaton(6, 4, 2, seed=4)
    tilts = np.random.default_rng(0).random((700, 6, 2)) + 0.1
    X, lp, lw = P.sample(700, seed=2, tilts=tilts, return_log_prob=True)
    parts = list(P.iter_samples(700, batch=128, seed=2, tilts=tilts, return_log_prob=True))
    for k, ref in enumerate((X, lp, lw)):
        np.testing.assert_allclose(np.concatenate([p[k] for p in parts]), ref, rtol=1e-12)


def test_cli_writes_the_samples_of_one_call_in_chunks(tmp_path, monkeypatch):
    from tnddm.cli import main
    from tnddm.cli import sample as cli_sample
    from tnddm.io import load_samples

    monkeypatch.setattr(cli_sample, "STREAM_BYTES", 18 * 100)  # chunks of 100 samples
    card = tmp_path / "ising.toml"
    card.write_text("[model]\nkind = 'ising_cylinder'\nlength = 6\nwidth = 3\nbeta = 0.4\n")
    for out in ("s.npz", "s.h5"):
        if out.endswith(".h5"):
            pytest.importorskip("h5py")
        try:
            main(["sample", str(card), "--mode", "direct", "-n", "1050", "--seed", "4", "--out", str(tmp_path / out),
                  "--json"])
        except SystemExit as exc:
            assert exc.code == 0
        data = load_samples(tmp_path / out)
        X, lp = IsingCylinder(length=6, width=3, beta=0.4).mps().sample(1050, seed=4)
        assert data["samples"].dtype == np.int8
        np.testing.assert_array_equal(data["samples"], X)
        np.testing.assert_array_equal(data["log_prob"], lp)
        assert data["stat_energy"].shape == (1050,) and data["metadata"]["n_samples"] == 1050


# ---- the blocked binary Markov kernel: exactness ------------------------------------------------
@pytest.mark.parametrize("make", [lambda: IsingCylinder(length=4, width=3, beta=0.6, h=0.2).mps(),
                                  lambda: IsingCylinder(length=4, width=3, beta=0.6, h=0.2).mps().astype(np.float32),
                                  lambda: random_markov_automaton(11, 5, seed=7),
                                  lambda: random_markov_automaton(11, 5, seed=7).astype(np.float32)])
def test_blocked_kernel_passes_chisquare_against_enumeration(make):
    P = make()
    assert P._samples_from_seeds() and P.d == 2
    probs = P.to_dense()
    res = goodness_of_fit(lambda n, rng: P.sample(n, seed=rng), probs, 2, n_samples=20000, n_draws=3, seed=11)
    assert res.passed(ALPHA), res.pvalues
    X, lp = P.sample(3000, seed=1)
    np.testing.assert_allclose(lp, P.table_log_prob(X), rtol=1e-12, atol=1e-12)
    assert np.all(probs[config_index(X, 2)] > 0)


def recent_spins_marginal(P, j, k):
    """Exact law of the k spins before site j of a shift-register automaton: the low k bits of the state
    before site j, whose distribution is a forward pass of the float64 transition probabilities."""
    p = np.ones(1)
    for i in range(j):
        nx, W = P.next_states[i][:, :, 0], P.weights[i][:, :, 0]
        p = np.bincount(nx.ravel(), weights=(p[:, None] * W).ravel(), minlength=P.bond_dims[i + 1])
    return np.bincount(np.arange(p.size) & (2**k - 1), weights=p, minlength=2**k)


def test_blocked_kernel_on_ising_64x12_chisquare_energy_and_perturbed_table(ising64):
    """The 8 spins before site 32 W + 6 (column 31 rows 10-11, column 32 rows 0-5) against their exact
    law; the sampled energy against -d log Z / d beta (central difference of two exact sweeps); tables
    whose smaller probabilities are 10 % too large at the window's sites fail the same test."""
    model, P = ising64
    W, k = model.width, 8
    j = 32 * W + 6
    sites = list(range(j - k, j))  # config_index: site j - k most significant, as the state's bits
    exact = recent_spins_marginal(P, j, k)
    assert abs(exact.sum() - 1) < 1e-10
    delta = 1e-4
    lz = [IsingCylinder(length=64, width=12, beta=b).table_mps(np.float64).exact_log_z
          for b in (BETA_C - delta, BETA_C + delta)]
    e_exact = -(lz[1] - lz[0]) / (2 * delta)
    for Q in (P, P.astype(np.float32)):
        X, lp = Q.sample(50000, seed=3)
        _, pval = chisquare_test(X[:, sites], exact, 2)
        assert pval > ALPHA
        energy = model.energy(X)
        assert abs(energy.mean() - e_exact) < 4 * energy.std(ddof=1) / np.sqrt(len(energy))
    T = model.table_mps()
    table = T.table.copy()
    seg = slice(T.table_off[j - k], T.table_off[j])
    table[seg] = np.where(np.abs(table[seg]) < 0.5, table[seg] * np.float32(1.1), table[seg])
    wrong = MarkovTableMPS(table, T.table_off, T.bond_dims, T.exact_log_z)
    X, _ = wrong.sample(50000, seed=3)
    _, pval = chisquare_test(X[:, sites], exact, 2)
    assert pval < 1e-6


# ---- float32 tables and MarkovTableMPS ----------------------------------------------------------
def test_float32_tables_log_probabilities_within_1e5_of_float64(ising64):
    model, P = ising64
    P32 = P.astype(np.float32)
    X, lp = P32.sample(10000, seed=8)
    exact = P.log_prob(X)  # float64 path weights
    assert np.abs(lp - exact).max() < 1e-5
    assert np.abs(lp - exact).max() <= P32.sample_table_bound < 1e-4
    np.testing.assert_allclose(lp, P32.table_log_prob(X), rtol=1e-12)  # log q is that of the tables sampled
    T = model.table_mps()
    XT, lpT = T.sample(10000, seed=8)
    np.testing.assert_array_equal(XT, X)  # the same tables and uniforms
    np.testing.assert_array_equal(lpT, lp)
    assert np.abs(lpT - model.log_prob(XT)).max() < 1e-5
    assert abs(T.exact_log_z - model.log_z()) < 1e-9 * abs(model.log_z())
    assert abs(T.sample_table_bound - P32.sample_table_bound) < 1e-9


def test_markov_tables_match_the_exact_model_on_small_cylinders():
    model = IsingCylinder(length=4, width=3, beta=0.5, h=-0.3)
    T = model.table_mps()
    np.testing.assert_allclose(T.to_dense(), model.mps().to_dense(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(T.marginals(), model.mps().marginals(), atol=1e-7)
    res = goodness_of_fit(lambda n, rng: T.sample(n, seed=rng), model.mps().to_dense(), 2, n_samples=20000, n_draws=3,
                          seed=12)
    assert res.passed(ALPHA), res.pvalues


def test_tiny_probabilities_keep_exact_log_q():
    """beta = 12 on a chain: conditionals ~ e^-48 are below float32's 2^-29 grid limit; log q stays that of the
    tables, and the sampler never draws a symbol the tables forbid."""
    model = IsingChain(30, beta=12.0, h=0.05)
    for P in (model.mps(), model.mps().astype(np.float32), model.table_mps()):
        X, lp = P.sample(4000, seed=2)
        np.testing.assert_allclose(lp, P.table_log_prob(X), rtol=1e-12, atol=1e-12)
        assert np.all(np.isfinite(lp))
