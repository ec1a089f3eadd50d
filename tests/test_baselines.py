"""The benchmarks' fair local baselines sample the right law: a wrong baseline would make every ratio wrong.

benchmarks.fredkin_local (Dyck-path exchange Metropolis) against the exact mean area, and
benchmarks.wolff against the exact energy, each with a negative control (the same chain at a wrong
parameter must fail the same 4-standard-error check). Fixed seeds; no timings.
"""
import pytest

from benchmarks.fredkin_local import fair_fredkin
from benchmarks.wolff import fair_wolff
from tnddm.lattice import Fredkin, IsingCylinder
from tnddm.lattice.ising import BETA_C
from tnddm.mcmc import exact_reference


def z_area(c_chain, c_exact, N=32):
    r = fair_fredkin(N, c_chain, n_records=100_000, chains=2, burn_sweeps=2000, seed=3)
    exact = exact_reference(Fredkin(n_sites=N, c=c_exact), ["area"])["area"][0]
    assert r["tau"] * 50 < 100_000  # enough records for the error bar
    return (r["area"] - exact) / r["area_stderr"]


@pytest.mark.parametrize("c", [0.4, 0.5, 0.6])
def test_fredkin_baseline_samples_the_fredkin_law(c):
    assert abs(z_area(c, c)) < 4


def test_fredkin_baseline_negative_control():
    """The chain at c = 0.55 is far from the exact area at c = 0.5."""
    assert abs(z_area(0.55, 0.5)) > 10


def z_energy(beta_chain, beta_exact, L=8, W=4):
    r = fair_wolff(L, W, beta_chain, n_records=40_000, chains=2, burn_sweeps=200, seed=5)
    exact = exact_reference(IsingCylinder(length=L, width=W, beta=beta_exact), ["energy_per_site"])["energy_per_site"][0]
    assert r["tau"] * 50 < 40_000
    return (r["energy_per_site"] - exact) / r["energy_per_site_stderr"]


def test_wolff_baseline_samples_the_ising_law():
    assert abs(z_energy(BETA_C, BETA_C)) < 4


def test_wolff_baseline_negative_control():
    assert abs(z_energy(0.9 * BETA_C, BETA_C)) > 10
