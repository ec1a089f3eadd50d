"""Noise processes: propagators, schedules, forward sampling, MPO export, bad input."""
import numpy as np
import pytest
import scipy.integrate

from tnddm import Diffusion, ProbMPS
from tnddm.goodness_of_fit import chisquare_test
from tnddm.noise import BiasedFlip, Constant, Flip, Geometric, Linear, LogLinear, Mask, Noise, make_noise


def test_flip_d2_closed_form():
    for rate, t in [(1.0, 0.3), (0.5, 2.0)]:
        K = Flip(rate).propagator(t)
        p = (1 - np.exp(-2 * rate * t)) / 2
        np.testing.assert_allclose(K, [[1 - p, p], [p, 1 - p]], atol=1e-14)


def test_flip_any_d_and_mask_closed_forms():
    d, rate, t = 4, 1.3, 0.7
    K = Flip(rate, d).propagator(t)
    stay = 1 / d + (1 - 1 / d) * np.exp(-d * rate * t / (d - 1))
    np.testing.assert_allclose(np.diag(K), stay, atol=1e-14)
    np.testing.assert_allclose(K.sum(axis=0), 1, atol=1e-14)
    M = Mask(2.0, d=3).propagator(0.4)
    keep = np.exp(-0.8)
    np.testing.assert_allclose(M[:3, :3], keep * np.eye(3), atol=1e-14)
    np.testing.assert_allclose(M[3], [1 - keep] * 3 + [1.0], atol=1e-14)


@pytest.mark.parametrize("sched", [Constant(), Linear(0.2, 3.0, 2.0), Geometric(0.01, 5.0, 1.5), LogLinear(1e-2, 1.0)])
def test_schedule_sigma_is_integral_of_beta(sched):
    for t in [0.1, 0.5, 0.9]:
        integral, _ = scipy.integrate.quad(lambda u: float(sched.beta(u)), 0, t)
        assert np.isclose(float(sched.sigma(t)), integral, rtol=1e-9)
    assert float(sched.sigma(0.0)) == 0.0


def test_propagators_compose():
    noise = BiasedFlip(0.7, 0.2, schedule=Linear(0.5, 2.0))
    np.testing.assert_allclose(noise.propagator(0.9, 0.4) @ noise.propagator(0.4), noise.propagator(0.9), atol=1e-14)
    Q = np.array([[-1.0, 0.5, 0.2], [0.6, -0.5, 0.3], [0.4, 0.0, -0.5]])
    user = Noise(Q)
    np.testing.assert_allclose(user.propagator(1.0, 0.25) @ user.propagator(0.25), user.propagator(1.0), atol=1e-13)
    np.testing.assert_allclose(Q @ user.stationary(), 0, atol=1e-12)


def test_forward_sampling_follows_the_propagator():
    noise = Flip(1.0, d=3)
    K = noise.propagator(0.3)
    X = np.repeat(np.array([[0, 1, 2]]), 20000, axis=0)
    Y = noise.forward(X, 0.3, seed=0)
    for i, x in enumerate([0, 1, 2]):
        _, p = chisquare_test(Y[:, i : i + 1], K[:, x], 3)
        assert p > 1e-3
    assert np.array_equal(Y, noise.forward(X, 0.3, seed=0))
    wrong = Flip(1.0, d=3).propagator(0.33)[:, 0]
    assert chisquare_test(Y[:, :1], wrong, 3)[1] < 1e-3


def test_mpo_export_matches_marginal():
    P = ProbMPS.random(5, 3, d=2, seed=0)
    noise = Mask(1.0, d=2)
    mpo = noise.mpo(5, 0.6)
    q = P.emit(np.eye(3)[:, :2]).to_quimb()
    applied = mpo.apply(q)
    dense_q = applied.to_dense().ravel()
    np.testing.assert_allclose(dense_q / dense_q.sum(), Diffusion(P, noise).marginal(0.6).to_dense(), atol=1e-14)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Flip(-1.0), "rate > 0"),
        (lambda: Noise([[-1.0, -0.5], [1.0, 0.5]]), "non-negative off-diagonal"),
        (lambda: Noise([[-1.0, 0.5], [0.5, -0.5]]), "columns that sum to zero"),
        (lambda: Flip(1.0).propagator(-0.1), "t must be"),
        (lambda: Flip(1.0).propagator(0.2, 0.5), "s must not exceed t"),
        (lambda: LogLinear(0.1).sigma(1.5), "t must be below"),
        (lambda: make_noise({"kind": "gaussian"}), "noise kind"),
        (lambda: Flip(1.0).forward(np.array([[0, 2]]), 0.1), "outside"),
    ],
)
def test_bad_noise_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
