"""Exact lattice models against brute-force enumeration and independent transfer matrices."""
import itertools
import math

import numpy as np
import pytest

from tnddm.goodness_of_fit import chisquare_test, config_index, goodness_of_fit
from tnddm.lattice import (
    BETA_C,
    Fredkin,
    IsingChain,
    IsingCylinder,
    IsingStrip,
    PottsCylinder,
    finite_range,
    from_spec,
    is_dyck,
    lattice_bonds,
)

from .mcmc_reference import ising_edges


def configs(n, d=2):
    return np.array(list(itertools.product(range(d), repeat=n)), dtype=np.int64)


def brute_ising(length, width, periodic, beta, J, h):
    """Energies and weights of all configurations from an explicit bond list."""
    N = length * width
    bonds = ising_edges(length, width, periodic)
    X = configs(N)
    s = 2 * X - 1
    E = -J * sum(s[:, i] * s[:, j] for i, j in bonds) - h * s.sum(axis=1)
    return X, E, len(bonds)


ISING_CASES = [
    (IsingChain, dict(n_sites=9, beta=0.7, J=1.0, h=0.3), (9, 1, False)),
    (IsingChain, dict(n_sites=8, beta=3.0, J=-1.0, h=0.0), (8, 1, False)),
    (IsingCylinder, dict(length=3, width=3, beta=BETA_C, J=1.0, h=0.0), (3, 3, True)),
    (IsingCylinder, dict(length=3, width=4, beta=3.0, J=1.0, h=0.2), (3, 4, True)),
    (IsingStrip, dict(length=4, width=3, beta=0.3, J=0.5, h=-0.4), (4, 3, False)),
    (IsingStrip, dict(length=2, width=2, beta=1.0, J=1.0, h=0.0), (2, 2, False)),
]


@pytest.mark.parametrize("cls, params, geom", ISING_CASES)
def test_ising_log_z_and_observables_match_enumeration(cls, params, geom):
    model = cls(**params)
    X, E, n_bonds = brute_ising(*geom, params["beta"], params["J"], params["h"])
    beta, N = params["beta"], X.shape[1]
    logw = -beta * E
    logz = np.log(np.exp(logw - logw.max()).sum()) + logw.max()
    assert np.isclose(model.log_z(), logz, rtol=1e-12)
    np.testing.assert_allclose(model.log_weight(X), logw, rtol=1e-12, atol=1e-12)
    p = np.exp(logw - logz)
    np.testing.assert_allclose(model.mps().log_prob(X), np.log(p), rtol=1e-9, atol=1e-9)
    s = 2 * X - 1
    M = s.sum(axis=1)
    obs = model.observables()
    assert np.isclose(obs["energy_per_site"], (p * E).sum() / N, rtol=1e-10, atol=1e-12)
    assert np.isclose(obs["specific_heat_per_site"], beta**2 * ((p * E**2).sum() - (p * E).sum() ** 2) / N, rtol=1e-8, atol=1e-10)
    assert np.isclose(obs["magnetisation"], (p * M).sum() / N, atol=1e-12)
    assert np.isclose(obs["m2"], (p * M**2).sum() / N**2, rtol=1e-10)
    bonds = lattice_bonds(*geom)
    assert len(bonds) == n_bonds
    nn = sum((p * s[:, i] * s[:, j]).sum() for i, j in bonds) / n_bonds
    assert np.isclose(obs["nn_correlation"], nn, rtol=1e-10, atol=1e-12)
    sampled = model.observables(n_samples=20000, seed=1)
    exact_abs_m = (p * np.abs(M)).sum() / N
    assert abs(sampled["abs_magnetisation_sampled"] - exact_abs_m) < 4 * sampled["abs_magnetisation_sampled_stderr"] + 1e-6


def test_ising_samples_pass_chisquare_and_a_wrong_temperature_fails():
    model = IsingCylinder(length=3, width=3, beta=0.5, h=0.1)
    X, E, _ = brute_ising(3, 3, True, 0.5, 1.0, 0.1)
    p = np.exp(-0.5 * E)
    p /= p.sum()
    assert goodness_of_fit(lambda n, rng: model.sample(n, seed=rng), p, 2, n_samples=20000, n_draws=3).passed(1e-3)
    wrong = IsingCylinder(length=3, width=3, beta=0.5 * 1.05, h=0.1)
    assert not goodness_of_fit(lambda n, rng: wrong.sample(n, seed=rng), p, 2, n_samples=20000, n_draws=3).passed(1e-3)


def column_transfer_log_z(length, width, beta, J, h):
    """Independent log Z of the cylinder: V(sigma) T(sigma, sigma') V(sigma') ... with 2^W x 2^W matrices."""
    S = 2 * configs(width) - 1
    intra = J * (S * np.roll(S, -1, axis=1)).sum(axis=1) if width > 2 else J * S[:, 0] * S[:, 1]
    logV = beta * (intra + h * S.sum(axis=1))
    logT = beta * J * (S @ S.T)
    v = np.exp(logV - logV.max())
    logz = logV.max()
    for _ in range(length - 1):
        v = (v @ np.exp(logT - logT.max())) * np.exp(logV - logV.max())
        logz += logT.max() + logV.max() + np.log(v.sum())
        v /= v.sum()
    return logz + np.log(v.sum())


@pytest.mark.parametrize("width", [3, 5, 8, 10])
def test_cylinder_log_z_matches_column_transfer_matrix(width):
    for beta, h in [(BETA_C, 0.0), (0.9, 0.15)]:
        model = IsingCylinder(length=5, width=width, beta=beta, h=h)
        assert np.isclose(model.log_z(), column_transfer_log_z(5, width, beta, 1.0, h), rtol=1e-12)


@pytest.mark.parametrize("n", [2, 4, 6, 8, 10, 14, 20, 30])
def test_number_of_dyck_paths_is_catalan(n):
    assert np.isclose(np.exp(Fredkin(n, 0.5).log_z()), math.comb(n, n // 2) / (n // 2 + 1), rtol=1e-10)


@pytest.mark.parametrize("c", [0.02, 0.3, 0.5, 0.75, 0.98])
def test_fredkin_log_z_and_observables_match_enumeration(c):
    N = 12
    model = Fredkin(N, c)
    X = configs(N)
    dyck = is_dyck(X)
    h = np.cumsum(2 * X - 1, axis=1)
    A = h.sum(axis=1)
    logw = np.where(dyck, 0.5 * A * np.log(c / (1 - c)), -np.inf)
    logz = np.log(np.exp(logw[dyck] - logw[dyck].max()).sum()) + logw[dyck].max()
    assert np.isclose(model.log_z(), logz, rtol=1e-12)
    np.testing.assert_array_equal(model.log_weight(X) == -np.inf, ~dyck)
    np.testing.assert_allclose(model.log_weight(X)[dyck], logw[dyck], rtol=1e-12)
    p = np.where(dyck, np.exp(logw - logz), 0.0)
    obs = model.observables()
    assert np.isclose(obs["mean_area"], (p * A).sum(), rtol=1e-10)
    np.testing.assert_allclose(obs["mean_height_profile"], p @ h, atol=1e-10)
    for i in (1, 5, 6, 12):
        ref = np.array([p[h[:, i - 1] == k].sum() for k in range(N // 2 + 1)])
        np.testing.assert_allclose(model.height_distribution(i), ref, atol=1e-12)
    np.testing.assert_allclose(np.exp(model.mps().log_prob(X[dyck])), p[dyck], rtol=1e-9)


def test_fredkin_uniform_at_half_and_a_biased_sampler_fails():
    N = 10
    model = Fredkin(N, 0.5)
    X = configs(N)
    probs = is_dyck(X) / is_dyck(X).sum()
    assert goodness_of_fit(lambda n, rng: model.sample(n, seed=rng), probs, 2, n_samples=20000, n_draws=3).passed(1e-3)
    biased = Fredkin(N, 0.52)
    assert not goodness_of_fit(lambda n, rng: biased.sample(n, seed=rng), probs, 2, n_samples=20000, n_draws=3).passed(1e-3)


def test_fredkin_samples_never_leave_the_dyck_set():
    model = Fredkin(256, 0.5)
    X, logp = model.sample(100_000, seed=3)
    assert np.all(is_dyck(X))
    np.testing.assert_allclose(logp[:1000], model.log_prob(X[:1000]), rtol=1e-9)


def test_potts_and_builder_match_enumeration():
    model = PottsCylinder(length=2, width=3, q=3, beta=0.8, J=1.2)
    X = configs(6, 3)
    E = model.energy(X)
    bonds = lattice_bonds(2, 3, True)
    assert np.allclose(E, -1.2 * sum((X[:, i] == X[:, j]) for i, j in bonds))
    logz = np.log(np.exp(-0.8 * E).sum())
    assert np.isclose(model.log_z(), logz, rtol=1e-12)
    p = np.exp(-0.8 * E - logz)
    assert np.isclose(model.observables()["energy_per_site"], (p * E).sum() / 6, rtol=1e-10)
    # a hard-core constraint through the generic builder: no two neighbouring 1s on a chain of 10
    auto, _ = finite_range(10, 2, 1, lambda i, w: np.where((w[:, -1] == 1) & (w[:, 0] == 1) & (i > 0), -np.inf, 0.0))
    X = configs(10)
    allowed = ~np.any((X[:, 1:] == 1) & (X[:, :-1] == 1), axis=1)
    assert np.isclose(np.exp(auto.log_z), allowed.sum())  # Fibonacci(12) = 144
    assert allowed.sum() == 144


def test_numerical_range_large_systems():
    f = Fredkin(1024, 0.9)
    assert np.isfinite(f.log_z())
    X, logp = f.sample(500, seed=0)
    assert np.all(is_dyck(X)) and np.all(np.isfinite(logp))
    ising = IsingCylinder(length=64, width=12, beta=2.0)
    assert np.isfinite(ising.log_z())
    X, logp = ising.sample(200, seed=0)
    np.testing.assert_allclose(logp, ising.log_prob(X), rtol=1e-9)
    assert np.abs((2 * X - 1).mean(axis=1)).min() > 0.99  # deep in the ordered phase
    for c in (0.01, 0.99):
        assert np.isfinite(Fredkin(512, c).log_z())


def test_width_16_cylinder_builds_and_gives_log_z():
    model = IsingCylinder(length=8, width=16, beta=BETA_C)
    assert np.isfinite(model.log_z())
    # the free energy per site lies between the W = 8 and W = 12 cylinders' values (finite-size ordering)
    f = [-IsingCylinder(length=8, width=w, beta=BETA_C).log_z() / (8 * w) for w in (8, 12)]
    f16 = -model.log_z() / (8 * 16)
    assert min(f) - 0.01 < f16 < max(f) + 0.01
    X, logp = model.sample(50, seed=0)
    np.testing.assert_allclose(logp, model.log_prob(X), rtol=1e-9)


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"kind": "fredkin", "n_sites": 7, "c": 0.5}, "even"),
        ({"kind": "fredkin", "n_sites": 8, "c": 1.0}, "c must lie"),
        ({"kind": "fredkin", "n_sites": 8}, "model.c is required"),
        ({"kind": "ising_cylinder", "length": 4, "width": 2, "beta": 0.3}, "width >= 3"),
        ({"kind": "ising_chain", "n_sites": 8, "beta": -1.0}, "beta must lie"),
        ({"kind": "ising_chain", "n_sites": 8, "beta": 0.1, "temperature": 3}, "model.temperature"),
        ({"kind": "spin_glass"}, "model.kind"),
    ],
)
def test_bad_model_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        from_spec(spec)


def test_spec_round_trip():
    for m in (Fredkin(8, 0.3), IsingChain(5, 0.2, h=0.1), IsingCylinder(3, 4, 0.4), IsingStrip(3, 2, 0.4), PottsCylinder(2, 3, 3, 0.5)):
        again = from_spec(m.to_spec())
        assert type(again) is type(m) and np.isclose(again.log_z(), m.log_z())
    assert config_index(np.array([[1, 0]]), 2)[0] == 2
    assert chisquare_test(np.array([[0]] * 10 + [[1]] * 10), np.array([0.5, 0.5]), 2)[1] > 0.5
