"""Notebook reprs of the public objects of tnddm.learn and tnddm.validate: short (< 300 characters, a few lines at
most), naming the key parameters and headline numbers, never an array."""
import numpy as np
import pytest

import tnddm
from tnddm.lattice import IsingChain, IsingCylinder
from tnddm.learn import BornTrainer, Trainer, TrainingLoop
from tnddm.noise import Flip, Mask
from tnddm.validate import (
    CallableOracle,
    ExactOracle,
    ExactProcess,
    PosteriorOracle,
    SamplerResult,
    sample,
    score_samples,
    time_grid,
)


def check(obj, *needles):
    text = repr(obj)
    assert len(text) < 300, (len(text), text)
    assert text.count("\n") <= 3, text
    assert "array(" not in text and "[[" not in text and "..." not in text, text  # no array dumps
    assert text.startswith(type(obj).__name__ + "("), text
    for needle in needles:
        assert needle in text, (needle, text)
    return text


@pytest.fixture(scope="module")
def chain():
    return IsingChain(6, beta=1.0)


@pytest.fixture(scope="module")
def samples(chain):
    return chain.sample(400, seed=0)[0]


def test_trainer_repr(chain, samples):
    tr = Trainer(tnddm.ProbMPS([np.full((1, 2, 1), 0.5)] * 6), method="sweep", chi_max=4, seed=0)
    before = check(tr, "method='sweep'", "n_sites=6", "d=2", "max_bond=1", "chi_max=4", "epoch=0")
    assert "nll" not in before  # nothing trained yet
    tr.fit(samples, 1)
    text = check(tr, "epoch=1", f"nll={tr.history['nll'][-1]:.4g}", f"max_bond={tr.max_bond()}")
    assert "lr=" not in text  # the step size only matters for adam
    adam = Trainer(tnddm.ProbMPS([np.full((1, 2, 1), 0.5)] * 6), method="adam", lr=0.02, chi_max=3, seed=0)
    check(adam, "method='adam'", "lr=0.02", "chi_max=3")


def test_born_trainer_repr(samples):
    tr = BornTrainer(n_sites=6, chi_max=4, holdout=0.25, seed=0)
    check(tr, "BornTrainer(method='born_sweep'", "n_sites=6", "chi_max=4", "holdout=0.25", "epoch=0")
    tr.fit(samples, 1)
    check(tr, "epoch=1", f"nll={tr.history['nll'][-1]:.4g}")
    assert "holdout" not in repr(BornTrainer(n_sites=6, chi_max=4, seed=0))  # no guard: not shown


def test_training_loop_repr():
    target = IsingCylinder(2, 3, beta=0.4)
    loop = TrainingLoop(target, Trainer(tnddm.ProbMPS([np.full((1, 2, 1), 0.5)] * 6), method="sweep", chi_max=4, seed=0),
                        walkers=32, mh_steps=1, buffer_rounds=2, kl_samples=200, seed=0)
    check(loop, repr(target), "trainer='sweep'", "walkers=32", "round=0")
    assert "acceptance" not in repr(loop)
    loop.run(1)
    row = {k: v[-1] for k, v in loop.history.items()}
    check(loop, "round=1", f"acceptance={row['acceptance']:.3f}", f"kl={row['kl']:.4g}")


def test_sample_report_repr(chain, samples):
    report = score_samples(chain.mps(), samples)
    text = check(report, "n_samples=400", "n_sites=6", f"passed={report.passed()}", "n_impossible=0",
                 f"mean_log_prob={report.mean_log_prob:.4g}", f"tests={len(report.pvalues())}", "min_pvalue=")
    assert f"tv={report.tv:.3g}" in text and f"kl={report.kl:.3g}" in text
    assert "statistics" not in text  # the per-statistic table stays in .report()


def test_oracle_and_process_reprs(chain):
    ddm = tnddm.Diffusion(chain.mps(), Flip(1.0))
    oracle = ExactOracle(ddm)
    check(oracle, "model=SparseMPS(n_sites=6", "n_sites=6", "noise=Flip(rate=1, d=2)", "evaluations=0")
    oracle.score(np.zeros((3, 6), dtype=int), 0.5)
    check(oracle, "evaluations=1")

    def my_score(X, t):
        return np.ones(X.shape + (2,))

    check(CallableOracle(my_score, Flip(1.0), 6), "score_fn=", "my_score", "n_sites=6", "noise=Flip", "evaluations=0")
    check(PosteriorOracle(tnddm.Diffusion(chain.mps(), Mask(1.0)), batch_size=128), "noise=Mask(rate=1, d=2)",
          "batch_size=128", "evaluations=0", "model=SparseMPS")
    proc = ExactProcess(ddm)
    check(proc, "model=SparseMPS", "noise=Flip", "process_states=64", "cached_laws=0")
    proc.law(0.5)
    check(proc, "cached_laws=1")


def test_sampler_result_repr(chain):
    ddm = tnddm.Diffusion(chain.mps(), Flip(1.0))
    res = sample("tweedie", ExactOracle(ddm), 50, time_grid(8, 3.0, delta=0.1), seed=0, start="exact")
    assert isinstance(res, SamplerResult)
    check(res, "samples (50, 6)", "steps=8", f"score_evaluations={res.score_evaluations}")


def test_every_public_class_has_its_own_repr():
    """Every class exported by tnddm.learn and tnddm.validate defines __repr__ (its own or a tnddm base class's),
    not object's default '<... object at 0x...>'."""
    import tnddm.learn as learn
    import tnddm.validate as validate

    classes = [getattr(m, name) for m in (learn, validate) for name in m.__all__
               if isinstance(getattr(m, name), type)]
    assert len(classes) >= 9, classes
    for cls in classes:
        owner = next(k for k in cls.__mro__ if "__repr__" in k.__dict__)
        assert owner is not object and owner.__module__.startswith("tnddm"), cls
