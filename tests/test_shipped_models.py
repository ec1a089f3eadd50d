"""The trained checkpoints shipped in models/: they load, are distributions over the right lattice, and
have the quality docs/learning.md reports, measured against exact samples of the target."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tnddm import ProbMPS
from tnddm.io.checkpoint import load_model
from tnddm.lattice import BETA_C, Fredkin, IsingCylinder
from tnddm.learn import kl_from_exact_samples
from tnddm.mcmc import MetropolisHastings, truncate

MODELS = Path(__file__).resolve().parents[1] / "models"
FREDKIN = Fredkin(n_sites=64, c=0.6)
ISING = IsingCylinder(length=16, width=8, beta=BETA_C)


@pytest.mark.parametrize("name, target", [(f"fredkin_64_chi{chi}", FREDKIN) for chi in (8, 16, 32)]
                         + [(f"ising_8x16_chi{chi}", ISING) for chi in (8, 16, 32)]
                         + [("fredkin_64_chi32_data", FREDKIN), ("ising_8x16_chi32_data", ISING),
                            ("ising_8x16_chi32_born", ISING)])
def test_shipped_checkpoint_is_a_distribution_over_the_target_lattice(name, target):
    model, meta = load_model(MODELS / f"{name}.npz")
    assert model.n_sites == target.n_sites and model.d == 2
    # a distribution: its samples' log-probabilities are its log_prob (normalised by its own log_z), and they
    # lie in the target's support (Fredkin: Dyck paths only)
    X, logp = model.sample(200, seed=1)
    np.testing.assert_allclose(model.log_prob(X), logp, atol=1e-9)
    assert np.all(np.isfinite(target.log_prob(X))), name
    # KL(target || model) from exact target samples: >= 0 within its error (a mis-normalised model, log_prob off by
    # c, shifts it by -c: see the control below) and below the quality docs/learning.md reports for the family
    kl, se = kl_from_exact_samples(target, model, 500, seed=0)
    assert np.isfinite(kl) and kl > -4 * se, (name, kl, se)  # a KL estimate: non-negative within its error
    assert kl < KL_BOUND[target.kind], (name, kl, se)


#: upper bounds on KL(target || checkpoint) per family (measured: Fredkin 0.005-0.035, Ising 0.59-2.5); the uniform
#: law is at KL = N log 2 - H(pi), tens of nats, for both targets
KL_BOUND = {"fredkin": 0.2, "ising_cylinder": 3.5}


def test_checkpoint_quality_checks_can_fail():
    """Controls: a log_prob off by 0.3 nats fails the lower KL bound, the uniform law the upper one."""
    model, _ = load_model(MODELS / "fredkin_64_chi16.npz")

    class Shifted:
        def log_prob(self, X):
            return model.log_prob(X) + 0.3

    kl, se = kl_from_exact_samples(FREDKIN, Shifted(), 500, seed=0)
    assert not kl > -4 * se, (kl, se)
    uniform = ProbMPS([np.ones((1, 2, 1))] * FREDKIN.n_sites)
    assert kl_from_exact_samples(FREDKIN, uniform, 500, seed=0)[0] > KL_BOUND["fredkin"]


def test_sweep_trained_checkpoints_have_the_documented_quality_as_proposals():
    """Fredkin N = 64 chi = 32 (docs: KL 0.004, acceptance 0.97) and Ising 8 x 16 chi = 32 (docs: KL about 1).

    A poor model fails the thresholds: the lumped truncation of the exact Ising MPS to chi = 8."""
    fredkin, _ = load_model(MODELS / "fredkin_64_chi32_data.npz")
    kl, se = kl_from_exact_samples(FREDKIN, fredkin, 2000, seed=0)
    assert kl < 0.05, (kl, se)
    chain = MetropolisHastings(FREDKIN, fredkin, moves="disconnected").run(30, 32, seed=1, burn_in=0)
    assert chain.acceptance() > 0.9
    ising, _ = load_model(MODELS / "ising_8x16_chi32_data.npz")
    kl, se = kl_from_exact_samples(ISING, ising, 2000, seed=0)
    assert kl < 2.0, (kl, se)
    chain = MetropolisHastings(ISING, ising, moves="disconnected").run(30, 32, seed=2, burn_in=0)
    assert chain.acceptance() > 0.2
    poor = truncate(ISING.mps(), 8)  # negative control (KL about 12): the thresholds separate good from poor
    assert kl_from_exact_samples(ISING, poor, 500, seed=0)[0] > 2.0
    assert MetropolisHastings(ISING, poor, moves="disconnected").run(30, 32, seed=3, burn_in=0).acceptance() < 0.2


def test_born_checkpoint_has_the_documented_quality_as_a_proposal():
    """The Born MPS of Ising 8 x 16 at chi = 32 (docs: KL 0.62, disconnected acceptance 0.55; guarded sweeps on
    fresh exact samples) loads as a BornMPS and keeps that quality; the lumped chi = 8 truncation fails both
    thresholds (test above), and the unguarded Born and 1-norm checkpoints (KL 0.95-1.17) fail the KL one."""
    from tnddm import BornMPS

    born, meta = load_model(MODELS / "ising_8x16_chi32_born.npz")
    assert isinstance(born, BornMPS) and max(born.bond_dims) == 32 and meta["loop"]["born"]
    kl, se = kl_from_exact_samples(ISING, born, 2000, seed=0)
    assert kl < 0.8, (kl, se)
    assert MetropolisHastings(ISING, born, moves="disconnected").run(30, 32, seed=2, burn_in=0).acceptance() > 0.3

