"""Old spellings kept for one release (issue 20): each still works, warns, and gives what the new spelling gives."""
import numpy as np
import pytest

from tnddm import BornMPS, Diffusion, ProbMPS
from tnddm.lattice import IsingChain
from tnddm.noise import Flip


def test_denoise_return_log_prior_is_return_log_prob():
    ddm = Diffusion(IsingChain(6, 0.4).mps(), Flip(1.0))
    Y = ddm.marginal(0.7).sample(20, seed=0)[0]
    new = ddm.denoise(Y, 0.7, 0.2, seed=3, return_log_prob=True)
    with pytest.warns(DeprecationWarning, match="return_log_prob"):
        old = ddm.denoise(Y, 0.7, 0.2, seed=3, return_log_prior=True)
    assert len(new) == len(old) == 3
    for a, b in zip(new, old):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(new[2], ddm.marginal(0.2).log_prob(new[0]), atol=1e-10)


def test_hyphenated_gaussian_sampler_names():
    from tnddm.gaussian import GaussianDiffusion
    from tnddm.validate.gaussian_samplers import GAUSSIAN_ALIASES, GAUSSIAN_SAMPLERS, run_gaussian, vp_grid

    assert set(GAUSSIAN_ALIASES.values()) <= set(GAUSSIAN_SAMPLERS)
    assert not any("-" in name for name in GAUSSIAN_SAMPLERS)
    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    for old, new in GAUSSIAN_ALIASES.items():
        with pytest.warns(DeprecationWarning, match=new):
            a = run_gaussian(old, gd, 50, vp_grid(4), seed=2)
        np.testing.assert_array_equal(a, run_gaussian(new, gd, 50, vp_grid(4), seed=2))
    with pytest.raises(ValueError, match="sampler must be one of"):
        run_gaussian("accel", gd, 5, vp_grid(4))


def test_renamed_helpers():
    from tnddm.learn import train
    from tnddm.validate import samplers

    q = np.full((4, 3, 2), 0.5)
    with pytest.warns(DeprecationWarning, match="draw_categorical"):
        old = samplers.draw(q, np.random.default_rng(0))
    np.testing.assert_array_equal(old, samplers.draw_categorical(q, np.random.default_rng(0)))
    B = np.random.default_rng(1).random((1, 2, 2, 1))
    args = (B, np.ones(1), np.ones(1), 2, 1e-12, 20, 1e-12)
    with pytest.warns(DeprecationWarning, match="split_two_site_nonnegative"):
        old = train.split_two_site(*args, move="right")
    for a, b in zip(old, train.split_two_site_nonnegative(*args, move="right")):
        np.testing.assert_array_equal(a, b)


def test_gaussian_sample_posterior_is_denoise():
    from tnddm.gaussian import GaussianDiffusion

    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    x, _ = gd.marginal(0.3).sample(10, seed=1)
    with pytest.warns(DeprecationWarning, match="denoise"):
        old = gd.sample_posterior(x, 0.3, seed=2)
    for a, b in zip(old, gd.denoise(x, 0.3, seed=2)):
        np.testing.assert_array_equal(a, b)


def test_anneal_parameter_table_moved_to_the_models():
    from tnddm.lattice import MODELS
    from tnddm.learn import loop

    with pytest.warns(DeprecationWarning, match="anneal_parameter"):
        table = loop.ANNEAL_PARAMETER
    assert table["fredkin"] == "c" and table["ising_cylinder"] == "beta" and table["potts_cylinder"] == "beta"
    assert all(MODELS[kind].anneal_parameter == p for kind, p in table.items())


@pytest.mark.parametrize("make", [lambda: IsingChain(6, 0.4).mps(), lambda: ProbMPS.random(5, 3, seed=1),
                                  lambda: BornMPS([np.random.default_rng(2).normal(size=(1 if i == 0 else 2, 2, 1 if i == 4 else 2))
                                                   for i in range(5)])])
def test_log_norm_is_log_z(make):
    P = make()
    with pytest.warns(DeprecationWarning, match="log_z"):
        old = P.log_norm()
    assert old == P.log_z()


def test_learn_log_norm_is_log_z():
    import importlib

    from tnddm import learn

    nll = importlib.import_module("tnddm.learn.nll")  # (tnddm.learn.nll is the function nll)
    cores = ProbMPS.random(5, 3, seed=3).cores
    for module in (nll, learn):
        with pytest.warns(DeprecationWarning, match="log_z"):
            old = module.log_norm(cores)
        assert old == nll.log_z(cores) == learn.log_z(cores)


def test_mps_draw_is_draw_from_weights():
    from tnddm.mps import base, numerics

    rng = np.random.default_rng(4)
    weight, u = rng.random((50, 3)), rng.random(50)
    new = numerics.draw_from_weights(weight, u)
    for module in (numerics, base):  # base: the old import path
        with pytest.warns(DeprecationWarning, match="draw_from_weights"):
            old = module.draw(weight, u)
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("move", ["right", "left"])
def test_mps_split_two_site_is_split_two_site_svd(move):
    from tnddm.mps import born, canonical

    theta = np.random.default_rng(5).normal(size=(2, 2, 2, 3))
    new = canonical.split_two_site_svd(theta, 2, 1e-12, move)
    for module in (canonical, born):  # born: the old import path
        with pytest.warns(DeprecationWarning, match="split_two_site_svd"):
            old = module.split_two_site(theta, 2, 1e-12, move)
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)


def test_born_bond_dims_is_bond_dims():
    P = BornMPS([np.random.default_rng(6).normal(size=(1 if i == 0 else 3, 2, 1 if i == 3 else 3)) for i in range(4)])
    with pytest.warns(DeprecationWarning, match="bond_dims"):
        old = P.born_bond_dims
    assert old == P.bond_dims == (1, 3, 3, 3, 1)
    assert P.env_dims == (1, 9, 9, 9, 1)
