"""Brute-force references shared by the engine tests (independent of tnddm's contraction code)."""
from __future__ import annotations

import itertools

import numpy as np

from tnddm import BornMPS, ProbMPS, SparseMPS


def enumerate_configs(n_sites, d):
    return np.array(list(itertools.product(range(d), repeat=n_sites)), dtype=np.int64)


def brute_weights(cores, X):
    """Unnormalised P(x) by multiplying the core matrices of each configuration in turn."""
    out = np.empty(len(X))
    for k, x in enumerate(X):
        v = np.ones(1)
        for A, xi in zip(cores, x):
            v = v @ A[:, xi, :]
        out[k] = v[0]
    return out


def random_automaton(n_sites, chi, d, seed, zero_fraction=0.2):
    """A random weighted automaton (SparseMPS, k = 1) with some forbidden transitions."""
    rng = np.random.default_rng(seed)
    dims = [1] + [chi] * (n_sites - 1) + [1]
    nxt, W = [], []
    for i in range(n_sites):
        nx = rng.integers(0, dims[i + 1], size=(dims[i], d))
        w = rng.random((dims[i], d)) + 0.1
        w[rng.random((dims[i], d)) < zero_fraction] = 0.0
        w[:, 0] = np.maximum(w[:, 0], 0.05)  # every state keeps a way forward
        nxt.append(nx)
        W.append(w)
    return SparseMPS(nxt, W)


def random_born(n_sites, chi, d, seed):
    """A random Born MPS with signed Gaussian cores (psi changes sign, P = psi^2 does not)."""
    rng = np.random.default_rng(seed)
    dims = [1] + [chi] * (n_sites - 1) + [1]
    return BornMPS([rng.normal(size=(dims[i], d, dims[i + 1])) for i in range(n_sites)])


def random_dense(n_sites, chi, d, seed):
    return ProbMPS.random(n_sites, chi, d=d, seed=seed)


def perturb_site(P: ProbMPS, site: int, factor: float = 1.05) -> ProbMPS:
    """The same MPS with symbol 0 of one site reweighted by `factor` (a deliberately wrong model)."""
    cores = [A.copy() for A in P.dense_cores()]
    cores[site][:, 0, :] *= factor
    return ProbMPS(cores)


def run_cli(argv, capsys):
    """Run the tnddm CLI in-process; return (exit code, stdout, stderr)."""
    from tnddm.cli import main

    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err
