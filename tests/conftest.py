"""Test-session setup and shared fixtures.

- One BLAS thread per process (the suite runs as two xdist workers on two cores): set before numpy
  or tnddm is imported.
- MODEL_FACTORIES: one registry of small, enumerable probability MPS, one per storage and view
  (dense ProbMPS, sparse automaton SparseMPS, BornMPS, the sparse EmittedMPS of a noised automaton,
  the generic Emitted and Tilted views, MarkovTableMPS tables). The `mps_model` fixture runs a test on
  every entry; tests/test_mps_contract.py holds the contract every storage must pass. A new storage
  is added here once and is then checked by every contract test.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tnddm.mps import MarkovTableMPS  # noqa: E402
from tnddm.mps.base import Tilted  # noqa: E402

from .helpers import random_automaton, random_born, random_dense  # noqa: E402


def _emission(d_out: int, d: int, seed: int) -> np.ndarray:
    """A non-negative, column-stochastic channel K (d_out, d) with every entry > 0."""
    K = np.random.default_rng(seed).random((d_out, d)) + 0.2
    return K / K.sum(axis=0, keepdims=True)


def _tilt_weights(n_sites: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_sites, d)) + 0.3


#: name -> factory of a small model (d**N <= 243 configurations, so every law is enumerable)
MODEL_FACTORIES = {
    "dense": lambda: random_dense(6, 3, 2, seed=11),
    "dense_d3": lambda: random_dense(4, 2, 3, seed=12),
    "sparse": lambda: random_automaton(6, 4, 2, seed=13),
    "sparse_d3": lambda: random_automaton(5, 3, 3, seed=14),
    "born": lambda: random_born(6, 3, 2, seed=15),
    "emitted_sparse": lambda: random_automaton(6, 4, 2, seed=16).emit(_emission(2, 2, 1)),  # EmittedMPS
    "emitted_view": lambda: random_born(5, 2, 2, seed=17).emit(_emission(3, 2, 2)),  # Emitted view, d_out = 3
    "tilted_view": lambda: Tilted(random_dense(6, 3, 2, seed=18), _tilt_weights(6, 2, 3)),
    "markov_table": lambda: MarkovTableMPS.from_pair_couplings(
        6, 2, dist=np.tile([1, 2], (6, 1)) * (np.arange(6)[:, None] >= [1, 2]),
        coup=np.tile([0.4, -0.3], (6, 1)), field=0.2, dtype=np.float64),
}


@pytest.fixture(params=sorted(MODEL_FACTORIES))
def mps_model(request):
    """Every model of MODEL_FACTORIES in turn (a fresh instance per test)."""
    return MODEL_FACTORIES[request.param]()
