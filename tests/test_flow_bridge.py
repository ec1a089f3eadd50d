"""flow_matching's discrete Euler solver driven by tnddm's exact posterior, against tnddm's exact law of that solver."""
import numpy as np
import pytest
import torch
from flow_matching.path.scheduler import PolynomialConvexScheduler

import tnddm
from tnddm.bridges.flow_matching import EulerKernel, ExactPosteriorModel, make_path, sample_euler, source_states
from tnddm.goodness_of_fit import all_configs, chisquare_test
from tnddm.lattice import IsingChain
from tnddm.noise import Flip, Mask
from tnddm.validate import PosteriorOracle, output_law, path_kl_exact


def _data_law(law, n_sites, d_out, d):
    """The part of a law over d_out^N states on configurations without the mask, in d^N enumeration order."""
    keep = np.all(all_configs(n_sites, d_out) < d, axis=1)
    out = law[keep]
    assert abs(out.sum() - 1) < 1e-12
    return out


def test_solver_with_the_bridge_matches_the_exact_law_of_its_kernel_mask():
    """8 Euler steps, 10^5 samples: chi-square against tnddm's exact output law of EulerKernel passes, and
    against the exact model P_0 fails (negative control: the solver's error is real and detected)."""
    model = IsingChain(6, beta=0.9, h=0.3)
    ddm = tnddm.Diffusion(model.mps(), Mask(1.0))
    kern = EulerKernel(ddm, 8)
    assert kern.times[0] == np.inf and kern.times[-1] == 0.0 and np.all(np.diff(kern.times) < 0)
    law = output_law(kern, None, ddm, kern.times)
    q = _data_law(law["law"], 6, 3, 2)
    assert law["kl_exact_sampler"] > 1e-3
    X = sample_euler(ddm, 100_000, 8, seed=5)
    assert X.shape == (100_000, 6) and X.max() < 2
    assert chisquare_test(X, q, 2)[1] > 1e-3
    assert chisquare_test(X, model.mps().to_dense(), 2)[1] < 1e-6
    np.testing.assert_array_equal(sample_euler(ddm, 50, 8, seed=5), sample_euler(ddm, 50, 8, seed=5))
    pk = path_kl_exact(kern, None, ddm, kern.times)
    assert pk["kl_sampler_exact"] >= law["kl_sampler_exact"] - 1e-12  # data processing inequality
    assert pk["kl_exact_sampler"] >= law["kl_exact_sampler"] - 1e-12


def test_solver_with_the_bridge_matches_the_exact_law_of_its_kernel_flip():
    """Uniform source (Flip noise), a quadratic scheduler, 6 steps, 4 x 10^4 samples."""
    model = IsingChain(5, beta=0.8, h=0.2)
    ddm = tnddm.Diffusion(model.mps(), Flip(1.0))
    sched = PolynomialConvexScheduler(n=2.0)
    kern = EulerKernel(ddm, 6, scheduler=sched)
    q = output_law(kern, None, ddm, kern.times)["law"]
    X = sample_euler(ddm, 40_000, 6, scheduler=sched, seed=7)
    assert chisquare_test(X, q, 2)[1] > 1e-3
    assert chisquare_test(X, model.mps().to_dense(), 2)[1] < 1e-6


def test_model_wrapper_returns_the_exact_posterior():
    ddm = tnddm.Diffusion(IsingChain(5, beta=0.8, h=0.2).mps(), Mask(2.0))
    path = make_path()
    wrapper = ExactPosteriorModel(ddm, path)
    x = torch.tensor([[2, 0, 2, 1, 2], [0, 0, 1, 2, 2], [2, 2, 2, 2, 2]])
    u = torch.tensor([0.3, 0.3, 0.0], dtype=torch.float64)
    out = wrapper(x=x, t=u).numpy()
    assert out.shape == (3, 5, 3) and np.allclose(out.sum(axis=2), 1) and np.all(out[:, :, 2] == 0)
    po = PosteriorOracle(ddm)
    t = po.time_of_kappa(0.3)
    assert abs(po.kappa(t) - 0.3) < 1e-14
    np.testing.assert_allclose(out[:2], po.data_posterior(x.numpy()[:2], t, pad=True), atol=1e-12)
    np.testing.assert_allclose(out[2], po.data_posterior(x.numpy()[2:], np.inf, pad=True)[0], atol=1e-12)
    assert torch.all(source_states(ddm, 4) == 2)
    with pytest.raises(ValueError, match="noise"):
        ExactPosteriorModel(tnddm.Diffusion(ddm.model, tnddm.noise.BiasedFlip(1.0, 2.0)))
    kern = EulerKernel(ddm, 4)
    with pytest.raises(ValueError, match="own grid"):
        kern(x.numpy(), 1.0, 0.5)
    t, s = kern.times[1], kern.times[2]
    with pytest.warns(DeprecationWarning, match=r"EulerKernel\(X, t, s\)"):  # the old order, for one release
        q_old = kern(t, s, x.numpy())
    np.testing.assert_array_equal(q_old, kern(x.numpy(), t, s))
    assert q_old.shape == (3, 5, 3) and np.allclose(q_old.sum(axis=2), 1)
    with pytest.raises(ValueError, match="steps"):
        EulerKernel(ddm, 0)
