"""Born MPS of exact models (psi = sqrt(pi)) and their variational compression, against enumeration."""
import numpy as np
import pytest

from tnddm import BornMPS, ProbMPS, SparseMPS
from tnddm.lattice import Fredkin, IsingCylinder
from tnddm.mps.compress import compress, fidelity

from .helpers import brute_weights, enumerate_configs, random_automaton, random_born


def amplitudes(psi: BornMPS, X):
    return brute_weights(psi.cores, X)


@pytest.mark.parametrize("d", [2, 3])
def test_born_form_of_an_automaton_squares_to_it(d):
    P = random_automaton(6, 4, d, seed=d)
    psi = BornMPS.from_automaton(P)
    X = enumerate_configs(6, d)
    p = brute_weights(P.dense_cores(), X)
    a = amplitudes(psi, X)
    assert np.all(a >= 0)
    np.testing.assert_allclose(a * a, p, rtol=1e-12, atol=1e-300)


def test_exact_models_have_a_born_form_with_psi_squared_equal_to_pi():
    for model in (IsingCylinder(length=3, width=4, beta=0.4), Fredkin(n_sites=8, c=0.6)):
        X = enumerate_configs(model.n_sites, model.d)
        logpi = model.mps().log_prob(X)
        lp = model.born_mps().log_prob(X)
        finite = np.isfinite(logpi)
        assert np.array_equal(np.isfinite(lp), finite)
        np.testing.assert_allclose(lp[finite], logpi[finite], atol=1e-10)


def test_born_form_needs_a_deterministic_automaton():
    with pytest.raises(ValueError, match="deterministic automaton"):
        BornMPS.from_automaton(ProbMPS.random(4, 2, seed=0))
    two_paths = SparseMPS([np.zeros((1, 2, 2), np.int64)] * 3, [np.full((1, 2, 2), 0.25)] * 3)
    with pytest.raises(ValueError, match="k = 2"):
        BornMPS.from_automaton(two_paths)


def test_fidelity_matches_enumerated_amplitudes():
    a, b = random_born(7, 3, 2, seed=1), random_born(7, 2, 2, seed=2)
    X = enumerate_configs(7, 2)
    va, vb = amplitudes(a, X), amplitudes(b, X)
    expected = abs(va @ vb) / np.sqrt((va @ va) * (vb @ vb))
    assert fidelity(a, b) == pytest.approx(expected, rel=1e-10)
    assert fidelity(a, a) == pytest.approx(1.0, rel=1e-12)


def test_compression_at_full_bond_is_exact():
    phi = random_born(7, 3, 2, seed=3)
    psi, F = compress(phi, chi=8, sweeps=2)
    assert F[-1] == pytest.approx(1.0, abs=1e-10)
    X = enumerate_configs(7, 2)
    np.testing.assert_allclose(psi.log_prob(X), phi.log_prob(X), atol=1e-9)


def test_compression_never_loses_fidelity_and_ends_at_a_local_maximum():
    phi = random_born(10, 6, 2, seed=4)
    psi, F = compress(phi, chi=2, sweeps=30)
    assert max(psi.bond_dims) == 2
    assert np.all(np.diff(F) >= -1e-12), F
    assert F[-1] > F[0] + 1e-3, "the sweeps must improve on the SVD truncation"
    assert fidelity(psi, phi) == pytest.approx(F[-1], rel=1e-10)
    rng = np.random.default_rng(0)  # no small change of any core raises F (a first-order gain would show)
    for _ in range(20):
        cores = [B + 1e-3 * rng.normal(size=B.shape) * np.abs(B).max() for B in psi.cores]
        assert fidelity(BornMPS(cores), phi) <= F[-1] + 1e-8
    with pytest.raises(ValueError, match="chi"):
        compress(phi, chi=0)
    with pytest.raises(TypeError, match="phi must be a BornMPS"):
        compress(ProbMPS.random(4, 2, seed=0), chi=2)


def test_kl_of_a_compressed_exact_model_is_four_times_minus_log_fidelity_to_second_order():
    """With psi_chi / ||psi_chi|| = sqrt(pi) (1 + e): KL(pi || P_chi) = 2 Var_pi(e) + O(e^3) and
    -2 log F = Var_pi(e) + O(e^3), so KL ≈ -4 log F (docs/learning.md uses this to bound what any
    bond-chi model can reach). Exact KL by enumeration, Ising 4 x 3 cylinder at beta_c (bond 8)."""
    model = IsingCylinder(length=4, width=3, beta=0.4406868)
    X = enumerate_configs(model.n_sites, 2)
    log_pi = model.mps().log_prob(X)
    ratios = []
    for chi in (2, 4, 6, 7):
        psi, F = compress(model.born_mps(), chi, sweeps=4)
        kl = float(np.exp(log_pi) @ (log_pi - psi.log_prob(X)))
        ratios.append(kl / (-4 * np.log(F[-1])))
    assert all(0.95 < r < 1.25 for r in ratios), ratios
    assert abs(ratios[-1] - 1) < 0.01 and abs(ratios[-1] - 1) < abs(ratios[0] - 1), ratios
