"""Exact dense sampling against N (16 to 4096) and chi (4 to 256), tnddm vs quimb vs TeNPy.

Each peer samples the same-size random MPS (quimb: MatrixProductState.sample, TeNPy:
MPS.sample_measurements on a canonical MPS); peers get a fixed time budget per point.
The cost of tnddm should be linear in N: the fitted log-log slope from N = 64 to 4096 is printed.
"""
from __future__ import annotations

import time

import numpy as np

import tnddm

from .common import best_time


def tnddm_rate(N: int, chi: int, n: int) -> float:
    P = tnddm.ProbMPS.random(N, chi, d=2, seed=0)
    P.sample(2, seed=0)
    return n / best_time(lambda: P.sample(n, seed=1), repeat=2, min_time=0.2)


def _timed_loop(step, budget: float) -> float:
    """Samples per second of step() (one sample per call) within a time budget (at least 2 calls)."""
    step()
    k, start = 0, time.perf_counter()
    while k < 2 or time.perf_counter() - start < budget:
        step()
        k += 1
    return k / (time.perf_counter() - start)


def quimb_rate(N: int, chi: int, budget: float) -> float:
    import quimb.tensor as qtn

    mps = qtn.MPS_rand_state(N, chi, phys_dim=2, seed=0, dtype="float64")
    start = time.perf_counter()
    k = 0
    for _ in mps.sample(10**9, seed=1):  # quimb canonicalises once, then samples in a generator
        k += 1
        if k >= 2 and time.perf_counter() - start > budget:
            break
    return k / (time.perf_counter() - start)


def tenpy_rate(N: int, chi: int, budget: float) -> float:
    from tenpy.networks.mps import MPS
    from tenpy.networks.site import SpinHalfSite

    rng = np.random.default_rng(0)
    site = SpinHalfSite(conserve=None)
    dims = [1] + [min(chi, 2 ** min(i, N - i)) for i in range(1, N)] + [1]
    Bs = [rng.normal(size=(2, dims[i], dims[i + 1])) for i in range(N)]
    psi = MPS.from_Bflat([site] * N, Bs, bc="finite", form=None)
    psi.canonical_form()
    gen = np.random.default_rng(1)
    return _timed_loop(lambda: psi.sample_measurements(rng=gen), budget)


def run(quick: bool = False) -> tuple[list[dict], dict]:
    Ns = [16, 64, 256, 1024] if quick else [16, 64, 256, 1024, 4096]
    chis = [4, 16, 64] if quick else [4, 16, 64, 256]
    budget = 0.5 if quick else 2.0
    rows, curves = [], {"N": {}, "chi": {}}
    for N in Ns:
        n = max(200, min(100_000, 4_000_000 // N))
        ours = tnddm_rate(N, 32, n // (4 if quick else 1))
        q = quimb_rate(N, 32, budget) if N <= 1024 else float("nan")
        tp = tenpy_rate(N, 32, budget) if N <= 1024 else float("nan")
        rows.append({"scan": "N", "N": N, "chi": 32, "tnddm samples/s": ours, "quimb samples/s": q, "TeNPy samples/s": tp,
                     "ratio vs quimb": ours / q, "ratio vs TeNPy": ours / tp})
        curves["N"][N] = (ours, q, tp)
    for chi in chis:
        n = max(200, min(100_000, 20_000_000 // chi**2))
        ours = tnddm_rate(64, chi, n // (4 if quick else 1))
        q = quimb_rate(64, chi, budget)
        tp = tenpy_rate(64, chi, budget)
        rows.append({"scan": "chi", "N": 64, "chi": chi, "tnddm samples/s": ours, "quimb samples/s": q, "TeNPy samples/s": tp,
                     "ratio vs quimb": ours / q, "ratio vs TeNPy": ours / tp})
        curves["chi"][chi] = (ours, q, tp)
    big = [N for N in Ns if N >= 64]
    slope = np.polyfit(np.log(big), np.log([1 / curves["N"][N][0] for N in big]), 1)[0]
    return rows, {"curves": curves, "cost_slope_N": float(slope)}


def plot(curves: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, xlabel in ((axes[0], "N", "N (chi = 32)"), (axes[1], "chi", "chi (N = 64)")):
        xs = sorted(curves[key])
        for j, name in enumerate(["tnddm", "quimb", "TeNPy"]):
            ax.loglog(xs, [curves[key][x][j] for x in xs], "o-", label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("exact samples / s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
