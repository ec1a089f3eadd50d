"""Extreme parameters give finite results (or a clear error), never a silent NaN."""
import numpy as np
import pytest

import tnddm
from tnddm.lattice import Fredkin, IsingChain, IsingCylinder


@pytest.mark.parametrize("make", [lambda: IsingChain(10_000, beta=10.0, h=0.5), lambda: IsingCylinder(6, 4, beta=10.0),
                                  lambda: Fredkin(1000, 0.01), lambda: Fredkin(1000, 0.99), lambda: IsingChain(10_000, beta=0.0)])
def test_extreme_models_are_finite(make):
    model = make()
    assert np.isfinite(model.log_z())
    X, logp = model.sample(200, seed=0)
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(logp, model.log_prob(X), rtol=1e-8, atol=1e-8)
    for v in model.observables().values():
        assert np.all(np.isfinite(v))


def test_extreme_diffusion_times_stay_finite():
    model = IsingChain(2000, beta=10.0)
    ddm = tnddm.Diffusion(model.mps(), tnddm.noise.Flip(1.0))
    X, _ = model.sample(20, seed=1)
    for t in (1e-9, 1e-3, 50.0):
        Y = ddm.forward(X, t, seed=2)
        lp = ddm.marginal(t).log_prob(Y)
        assert np.all(np.isfinite(lp))
        X0, l0 = ddm.denoise(Y, t, seed=3)
        assert np.all(np.isfinite(l0))


def test_zero_probability_is_minus_infinity_not_nan():
    model = Fredkin(8, 0.5)
    bad = np.array([[0, 1, 0, 1, 1, 0, 1, 0]])  # starts down: not a Dyck path
    assert model.log_weight(bad)[0] == -np.inf
    assert model.mps().log_prob(bad)[0] == -np.inf
    with pytest.raises(ValueError, match="probability zero"):
        model.mps().ratios(bad)
