"""Gaussian-diffusion samplers measured against the exact law of a 10-site Ising chain.

The slope ranges below were fixed before measuring, from the theory quoted in the issue (DDPM-type
error ~ steps^(-1/2) to steps^(-1), ODE ~ steps^(-1) or faster), widened for finite-size effects:
"""
import itertools

import numpy as np
import pytest

from tnddm.gaussian import GaussianDiffusion
from tnddm.lattice import IsingChain
from tnddm.validate.gaussian_samplers import rounded_tv, sample_gaussian, vp_grid

DDPM_SLOPE_RANGE = (-1.5, -0.3)
ODE_SLOPE_RANGE = (-2.5, -0.6)


def magnetisation_tv(samples, model):
    """TV between the histograms of the magnetisation of the samples and of the exact law."""
    X = np.array(list(itertools.product([0, 1], repeat=model.n_sites)))
    p = np.exp(model.log_prob(X))
    M = X.sum(axis=1)
    exact = np.bincount(M, weights=p, minlength=model.n_sites + 1)
    emp = np.bincount(samples.sum(axis=1), minlength=model.n_sites + 1) / len(samples)
    return 0.5 * np.abs(exact - emp).sum()


@pytest.fixture(scope="module")
def chain():
    return IsingChain(10, beta=0.5, h=0.1)


@pytest.mark.parametrize("name, bounds", [("ddpm", DDPM_SLOPE_RANGE), ("ode", ODE_SLOPE_RANGE)])
def test_error_slopes_against_steps(chain, name, bounds):
    gd = GaussianDiffusion(chain.mps())
    steps = np.array([4, 8, 16])
    errs = [magnetisation_tv(sample_gaussian(name, gd, 40_000, vp_grid(int(k)), seed=1), chain) for k in steps]
    slope = np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert bounds[0] <= slope <= bounds[1], (name, slope, errs)


def test_rademacher_matches_gaussian_noise_and_misscaled_variance_does_not(chain):
    gd = GaussianDiffusion(chain.mps())
    grid = vp_grid(100)
    pi = chain.mps().to_dense()
    gauss = rounded_tv(sample_gaussian("euler_maruyama", gd, 20_000, grid, seed=2), pi)
    rade = rounded_tv(sample_gaussian("rademacher", gd, 20_000, grid, seed=3), pi)
    wrong = rounded_tv(sample_gaussian("rademacher", gd, 20_000, grid, seed=4, noise_scale=1.5), pi)
    assert abs(rade - gauss) < 0.03
    assert wrong > gauss + 0.05


def test_bad_sampler_arguments():
    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    with pytest.raises(ValueError, match="sampler must be"):
        sample_gaussian("heun", gd, 2, vp_grid(2))
    with pytest.raises(ValueError, match="delta"):
        vp_grid(4, delta=0.0)


def test_validate_command_with_gaussian_noise(tmp_path, capsys):
    import json

    from tnddm.cli import main

    card = tmp_path / "chain.toml"
    card.write_text("[model]\nkind = 'ising_chain'\nn_sites = 6\nbeta = 0.5\n")
    try:
        main(["validate", str(card), "--noise", "gaussian", "--sampler", "ode", "--steps", "2,16", "-n", "4000", "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert rows[1]["tv"] < rows[0]["tv"]
