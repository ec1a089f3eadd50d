"""The package's shape: model specs round-trip, and every public name resolves after `import tnddm`."""
import importlib
import pkgutil

import numpy as np
import pytest

import tnddm
from tnddm import lattice

#: one small instance of every model kind in the registry (tnddm.lattice.MODELS); a kind added there without
#: an entry here fails test_every_kind_has_an_instance
INSTANCES = {
    "fredkin": lambda: lattice.Fredkin(8, 0.6),
    "ising": lambda: lattice.Ising(3, 3, 0.4, J=0.7, h=0.1, periodic=True),
    "ising_chain": lambda: lattice.IsingChain(7, 0.5, J=-0.8, h=0.2),
    "ising_cylinder": lambda: lattice.IsingCylinder(3, 3, 0.4, h=0.05),
    "ising_strip": lambda: lattice.IsingStrip(3, 2, 0.4, J=1.3),
    "potts_cylinder": lambda: lattice.PottsCylinder(2, 3, 3, 0.5, J=0.9),
    "ising_grid": lambda: lattice.IsingGrid(3, 3, 0.4, disorder="pm_j", disorder_seed=4, periodic=True),
    "potts_grid": lambda: lattice.PottsGrid(3, 2, 3, 0.6, J=-0.5),
    "grid": lambda: _explicit_grid2d(),
}


def _explicit_grid2d(L=3, W=3, d=3, periodic=True):
    """A Grid2D with random (seeded) energy tables: every entry differs, so a dropped or transposed table shows."""
    rng = np.random.default_rng(11)
    return lattice.Grid2D(rng.normal(size=(L, W, d)), rng.normal(size=(L, W if periodic else W - 1, d, d)),
                          rng.normal(size=(L - 1, W, d, d)), 0.7, periodic=periodic)


def _explicit_ising_grid(**kw):
    """An IsingGrid with explicit (seeded random) couplings and fields."""
    rng = np.random.default_rng(5)
    L, W = 3, 3
    return lattice.IsingGrid(L, W, 0.6, J_vertical=rng.normal(size=(L, W - 1)), J_horizontal=rng.normal(size=(L - 1, W)),
                             fields=rng.normal(scale=0.3, size=(L, W)), **kw)
#: variants whose parameters differ from the defaults in ways a spec could drop
VARIANTS = [
    lambda: lattice.Ising(3, 2, 0.4),
    lambda: lattice.Ising(2, 3, 0.3, periodic=False),
    lambda: lattice.IsingGrid(2, 3, 0.5, h=0.3),
    lambda: lattice.PottsGrid(2, 3, 3, 0.4, periodic=True),
    lambda: lattice.IsingGrid(3, 3, 0.5, J=-0.8, disorder="pm_j", disorder_seed=7),  # seeded EA disorder, open
    _explicit_ising_grid,  # explicit couplings and fields
    lambda: lattice.IsingGrid(3, 3, 0.5, disorder="pm_j", disorder_seed=3, periodic=True,  # EA + one explicit table
                              J_vertical=np.arange(9.0).reshape(3, 3) / 9 - 0.4),
    lambda: _explicit_grid2d(3, 2, 2, periodic=False),
]


def test_every_kind_has_an_instance():
    assert set(INSTANCES) == set(lattice.MODELS)
    for kind, make in INSTANCES.items():
        assert make().kind == kind


@pytest.mark.parametrize("make", list(INSTANCES.values()) + VARIANTS,
                         ids=list(INSTANCES) + [f"variant{i}" for i in range(len(VARIANTS))])
def test_from_spec_round_trips(make):
    model = make()
    spec = model.to_spec()
    again = lattice.from_spec(spec)
    assert type(again) is type(model)
    assert again.to_spec() == spec
    assert repr(again) == repr(model)
    # the same distribution, not just the same table
    X, logp = model.sample(64, seed=1)
    np.testing.assert_allclose(again.log_prob(X), logp, rtol=1e-10, atol=1e-10)
    assert again.log_z() == pytest.approx(model.log_z(), rel=1e-12)


def test_explicit_grid_couplings_round_trip_through_json():
    """Explicit coupling arrays are kept in the spec (nested lists), survive JSON, and matter: the spec without
    them is another model (the negative control)."""
    import json

    model = _explicit_ising_grid()
    spec = model.to_spec()
    assert isinstance(spec["J_vertical"], list) and np.shape(spec["J_horizontal"]) == (2, 3)
    again = lattice.from_spec(json.loads(json.dumps(spec)))
    np.testing.assert_array_equal(again.J_vertical, model.J_vertical)
    np.testing.assert_array_equal(again.J_horizontal, model.J_horizontal)
    np.testing.assert_array_equal(again.fields, model.fields)
    assert again.log_z() == model.log_z()
    dropped = lattice.from_spec({k: v for k, v in spec.items() if k not in ("J_vertical", "J_horizontal", "fields")})
    assert abs(dropped.log_z() - model.log_z()) > 0.1
    assert "J_vertical=<3 x 2 array>" in repr(model)  # arrays shown by shape, not printed in full
    grid = _explicit_grid2d()
    again = lattice.from_spec(json.loads(json.dumps(grid.to_spec())))
    for name in ("site", "vertical", "horizontal"):
        np.testing.assert_array_equal(getattr(again, name), getattr(grid, name))


def test_ising_spec_keeps_periodic():
    assert lattice.Ising(3, 3, 0.4, periodic=True).to_spec()["periodic"] is True
    assert lattice.from_spec(lattice.Ising(3, 3, 0.4, periodic=True).to_spec()).periodic
    assert not lattice.from_spec(lattice.Ising(3, 3, 0.4).to_spec()).periodic


def test_all_names_resolve():
    assert len(set(tnddm.__all__)) == len(tnddm.__all__)
    for name in tnddm.__all__:
        assert getattr(tnddm, name) is not None, name


def _public_modules(package):
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            yield info


def test_every_subpackage_and_module_resolves():
    names = [info.name for info in _public_modules(tnddm)]
    assert {"lattice", "mps", "mcmc", "validate", "learn", "io", "cli", "gaussian", "distributed"} <= set(names)
    for name in names:
        assert getattr(tnddm, name) is importlib.import_module(f"tnddm.{name}"), name
    assert set(names) <= set(dir(tnddm))
    with pytest.raises(AttributeError):
        tnddm.no_such_module


@pytest.mark.parametrize("name", sorted(info.name for info in _public_modules(tnddm) if info.ispkg))
def test_subpackage_all_resolves(name):
    package = importlib.import_module(f"tnddm.{name}")
    for info in _public_modules(package):
        importlib.import_module(f"tnddm.{name}.{info.name}")
    for item in getattr(package, "__all__", ()):
        assert getattr(package, item) is not None, f"tnddm.{name}.{item}"


def test_version_written_once():
    from importlib.metadata import version
    from pathlib import Path

    assert version("tnddm") == tnddm.__version__
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and tnddm.__version__ not in pyproject


@pytest.mark.parametrize("kind", sorted(INSTANCES))
def test_model_behaviour_lives_on_the_model(kind):
    """Annealing parameter, local update, typical state and geometry come from the model, not from kind tables."""
    from tnddm.mcmc.local import LOCAL_UPDATES, local_update_of

    model = INSTANCES[kind]()
    if model.anneal_parameter is not None:
        assert model.anneal_parameter in model.to_spec()
    if model.local_update is not None:
        assert model.local_update in LOCAL_UPDATES
        assert local_update_of(model) is LOCAL_UPDATES[model.local_update]
    geo = model.geometry()
    assert geo.n_sites == model.n_sites
    assert np.all(geo.edges < model.n_sites)
    X = model.typical_state(5, np.random.default_rng(0))
    assert X.shape == (5, model.n_sites) and np.all(np.isfinite(model.log_weight(X)))
    from tnddm import observables
    from tnddm.mcmc.reference import EXACT_FORMULAS

    assert observables.family(model) == model.observable_family == observables.FAMILIES[kind]
    exact = model.exact_statistics()
    assert set(exact) <= set(model.statistics(X))
    assert (kind in EXACT_FORMULAS) == bool(exact)


def test_a_new_model_is_one_class():
    """A model kind no table knows gets its observables and exact references from its class alone."""
    from tnddm import observables
    from tnddm.mcmc import exact_reference

    class Chain(lattice.IsingChain):
        kind = "my_chain"
        observable_family = "ising"

        def exact_statistics(self):
            return {"magnetisation": 0.25}

    model = Chain(6, 0.4)
    assert "binder" in observables.available(model)
    assert exact_reference(model, ["magnetisation"], n_samples=0) == {"magnetisation": (0.25, 0.0)}
    model.observable_family = None  # a model that names no family is refused, not guessed from its kind
    with pytest.raises(ValueError, match="observable_family"):
        observables.available(model)


def test_name_tables_match_their_public_tuples():
    from tnddm.mcmc import proposals
    from tnddm.noise import NOISE_KINDS, NOISES
    from tnddm.validate import gaussian_samplers, samplers

    assert tuple(NOISES) == NOISE_KINDS
    assert tuple(proposals.TRUNCATIONS) == proposals.METHODS
    assert set(samplers._PRODUCT_KERNELS) | set(samplers._INTERVAL_STEPS) == set(samplers.SAMPLERS)
    assert tuple(gaussian_samplers._GAUSSIAN_STEPS) == gaussian_samplers.GAUSSIAN_SAMPLERS
    for bad, call in [("noise kind", lambda: __import__("tnddm.noise").noise.make_noise({"kind": "nope"})),
                      ("method", lambda: proposals.truncate(lattice.IsingChain(4, 0.3).mps(), 1, method="nope")),
                      ("sampler", lambda: samplers.sample("nope", None, 1, [1.0, 0.0]))]:
        with pytest.raises(ValueError, match=bad):
            call()


def test_one_home_for_distances():
    from tnddm import divergences
    from tnddm.learn import kl_from_exact_samples
    from tnddm.mcmc.proposals import kl_divergence
    from tnddm.validate import histogram_tv, kl, tv

    assert kl is divergences.kl and tv is divergences.tv and histogram_tv is divergences.histogram_tv
    assert kl_divergence is divergences.kl_enumerated and kl_from_exact_samples is divergences.kl_from_exact_samples
