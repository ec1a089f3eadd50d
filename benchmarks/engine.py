"""Exact sampling: tnddm against quimb's MatrixProductState.sample, and against the GEMM bound.

Dense N = 64, chi = 32, d = 2 (issue targets: >= 1000x quimb, >= 50% of the matrix-multiply
rate counting 2 N chi^2 d flops per sample; the column "flops done" counts what the kernel does,
N (2 chi^2 + 2 chi d), half of that); conditional (denoising) sampling of the same MPS;
log-probability evaluation; a sparse automaton MPS of bond 4096.
"""
from __future__ import annotations

import time

import numpy as np

import tnddm
from tnddm.noise import Flip

from .common import best_time


def quimb_samples_per_second(n_sites: int, chi: int, n: int = 100) -> float:
    """quimb's exact MPS sampler (Born-rule MPS of the same size), canonicalisation included."""
    import quimb.tensor as qtn

    mps = qtn.MPS_rand_state(n_sites, chi, phys_dim=2, seed=0, dtype="float64")
    start = time.perf_counter()
    for _config, _omega in mps.sample(n, seed=1):
        pass
    return n / (time.perf_counter() - start)


def random_automaton(n_sites: int, chi: int, d: int = 2, seed: int = 0) -> tnddm.SparseMPS:
    rng = np.random.default_rng(seed)
    dims = [1] + [chi] * (n_sites - 1) + [1]
    nxt = [rng.integers(0, dims[i + 1], size=(dims[i], d)) for i in range(n_sites)]
    W = [rng.random((dims[i], d)) + 0.1 for i in range(n_sites)]
    return tnddm.SparseMPS(nxt, W)


def run(gemm_rate: float, quick: bool = False) -> list[dict]:
    N, chi, d = 64, 32, 2
    n = 20_000 if quick else 200_000
    P = tnddm.ProbMPS.random(N, chi, d=d, seed=0)
    rows = []
    t = best_time(lambda: P.sample(n, seed=1), repeat=2 if quick else 3)
    ours = n / t
    theirs = quimb_samples_per_second(N, chi, n=20 if quick else 100)
    flops = 2 * N * chi**2 * d * ours
    done = N * (2 * chi**2 + 2 * chi * d) * ours  # the kernel forms one product l A_i[x] per site
    rows.append({"benchmark": f"dense sample N={N} chi={chi}", "tnddm samples/s": ours, "peer": "quimb MPS.sample",
                 "peer samples/s": theirs, "ratio": ours / theirs, "GEMM fraction": flops / gemm_rate,
                 "GEMM fraction (flops done)": done / gemm_rate})

    ddm = tnddm.Diffusion(P, Flip(1.0))
    nc = n // 10
    Y = ddm.forward(P.sample(nc, seed=2)[0], 0.5, seed=3)
    t = best_time(lambda: ddm.denoise(Y, 0.5, 0.0, seed=4), repeat=2)
    cond = nc / t
    rows.append({"benchmark": f"conditional (denoise) N={N} chi={chi}", "tnddm samples/s": cond, "peer": "-",
                 "peer samples/s": float("nan"), "ratio": float("nan"),
                 "GEMM fraction": 2 * N * chi**2 * d * cond / gemm_rate, "GEMM fraction (flops done)": float("nan")})

    X = P.sample(n, seed=5)[0]
    t = best_time(lambda: P.log_prob(X), repeat=2)
    rows.append({"benchmark": f"log_prob N={N} chi={chi}", "tnddm samples/s": n / t, "peer": "-",
                 "peer samples/s": float("nan"), "ratio": float("nan"), "GEMM fraction": float("nan"),
                 "GEMM fraction (flops done)": float("nan")})

    S = random_automaton(N, 4096, d=2)
    ns = n // 4
    S.sample(10, seed=0)  # one environment sweep, cached
    t = best_time(lambda: S.sample(ns, seed=6), repeat=2)
    rows.append({"benchmark": f"sparse automaton sample N={N} chi=4096", "tnddm samples/s": ns / t, "peer": "-",
                 "peer samples/s": float("nan"), "ratio": float("nan"), "GEMM fraction": float("nan"),
                 "GEMM fraction (flops done)": float("nan")})
    return rows
