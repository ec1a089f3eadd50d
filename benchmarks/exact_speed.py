"""Exact sampling speed against fair baselines, side by side in one process (issue 22).

Ising 64 x 12 cylinder at beta_c: exact samples/s of the blocked binary Markov kernel (float64 and
float32 tables, int8 and int64 output, n = 20,000 and 200,000) and of the previous kernel, against
benchmarks.wolff (a plain numba Wolff, one record per ~N flipped spins, E and |m| in numba) run as one
independent chain per core on the same cores. Exact samples are independent, so their effective
rate is their rate. The ratios that count are paired: 7 interleaved rounds of exact sampling and a
short Wolff run (this VM's speed drifts by up to 1.5x within minutes), the median of the
per-round ratios. Dense N = 64, chi = 32: tnddm against quimb's MatrixProductState.sample, and the
fraction of the measured GEMM rate (2 N chi^2 d flops per sample). Prints the machine load beside.

    python -m benchmarks.exact_speed [--quick]
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

import tnddm
from tnddm.lattice import IsingCylinder
from tnddm.lattice.ising import BETA_C
from tnddm.mps import _sparse_kernels as kern

from .common import best_time, markdown_table, matmul_rate
from .engine import quimb_samples_per_second
from .wolff import fair_wolff


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def old_kernel(P, n: int) -> float:
    """Samples/s of the previous Markov-gauge kernel (sample_markov_seeded: float64 tables, inverse CDF with
    branches, log W table), writing int8 like the new one."""
    nxt, W, core_off, _, _ = P._flat_cores()
    logw = P._logw()
    seeds = np.random.default_rng(0).integers(0, 2**63, size=n, dtype=np.uint64)

    def run():
        X = np.empty((n, P.n_sites), dtype=np.int8)
        kern.sample_markov_seeded(nxt, W, logw, core_off, 2, P.n_sites, seeds, X, np.empty(n))

    return n / best_time(run, repeat=2, min_time=0.0)


def paired_rounds(P, P32, L: int, W: int, tau: float, n: int, rounds: int, wolff_records: int) -> list[dict]:
    """Exact sampling and Wolff timed in `rounds` interleaved rounds, so that every ratio compares runs made
    seconds apart (this VM's speed drifts by up to 1.5x within minutes). Per round: exact samples/s (float64
    and float32 tables, n samples, int8), and Wolff ESS/s = chains x records / (tau x seconds) with tau from
    the long Wolff run. Returns the median and range of the per-round ratios to Wolff."""
    runs = {"exact, float64 tables": lambda: P.sample(n, seed=1), "exact, float32 tables": lambda: P32.sample(n, seed=1)}
    ratios = {k: [] for k in runs}
    for k in range(rounds):
        rate = {}
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            rate[name] = n / (time.perf_counter() - start)
        w = fair_wolff(L, W, BETA_C, n_records=wolff_records, burn_sweeps=50, seed=100 + k)
        wolff = w["chains"] * wolff_records / (tau * w["seconds"])
        for name in runs:
            ratios[name].append(rate[name] / wolff)
    return [{"system": f"Ising {L}x{W} cylinder, beta_c", "method": f"paired ratio {name} / Wolff, {rounds} rounds",
             "n": n, "ESS/s": float(np.median(r)), "tau": float("nan"),
             "note": f"median; range {min(r):.1f}-{max(r):.1f}"} for name, r in ratios.items()]


def ising_rows(quick: bool = False) -> list[dict]:
    L, W = (32, 8) if quick else (64, 12)
    model = IsingCylinder(length=L, width=W, beta=BETA_C)
    name = f"Ising {L}x{W} cylinder, beta_c"
    start = time.perf_counter()
    P = model.mps()
    build = time.perf_counter() - start
    P32 = P.astype(np.float32)
    rows = []
    sizes = (20_000,) if quick else (20_000, 200_000)
    for n in sizes:
        for label, Q, dtype in (("float64 tables, int8", P, None), ("float32 tables, int8", P32, None),
                                ("float64 tables, int64", P, np.int64)):
            if dtype is not None and n != sizes[-1]:
                continue
            Q.sample(10, seed=0, dtype=dtype)
            t = best_time(lambda: Q.sample(n, seed=1, dtype=dtype), repeat=2 if n > 20_000 else 3, min_time=0.0)
            rows.append({"system": name, "method": f"tnddm exact, {label}", "n": n, "ESS/s": n / t, "tau": 1.0,
                         "note": f"automaton build {build:.2f} s"})
    n = sizes[-1]
    rows.append({"system": name, "method": "previous kernel (sample_markov_seeded), int8", "n": n,
                 "ESS/s": old_kernel(P, n), "tau": 1.0, "note": ""})
    w = fair_wolff(L, W, BETA_C, n_records=2000 if quick else 20000)
    rows.append({"system": name, "method": f"Wolff, {w['chains']} chains (one per core), record per ~N flips",
                 "n": w["chains"] * (2000 if quick else 20000), "ESS/s": w["ess_per_second"], "tau": w["tau"],
                 "note": f"mean cluster {w['mean_cluster']:.0f}; a record every round(N / mean) clusters"})
    best = {r["method"]: r["ESS/s"] for r in rows if r["n"] == n}
    for label in ("float64 tables, int8", "float32 tables, int8"):
        rows.append({"system": name, "method": f"ratio exact ({label}, n = {n}) / Wolff", "n": n,
                     "ESS/s": best[f"tnddm exact, {label}"] / w["ess_per_second"], "tau": float("nan"), "note": ""})
    rows += paired_rounds(P, P32, L, W, w["tau"], n, 3 if quick else 7, 1000 if quick else 5000)
    return rows


def dense_rows(gemm: float, quick: bool = False) -> list[dict]:
    N, chi, d = 64, 32, 2
    n = 20_000 if quick else 200_000
    P = tnddm.ProbMPS.random(N, chi, d=d, seed=0)
    P.sample(10, seed=0)
    ours = n / best_time(lambda: P.sample(n, seed=1), repeat=2 if quick else 3)
    theirs = quimb_samples_per_second(N, chi, n=20 if quick else 100)
    return [{"benchmark": f"dense N={N} chi={chi}, n = {n}, int8", "tnddm samples/s": ours, "quimb samples/s": theirs,
             "ratio": ours / theirs, "GEMM fraction (2 N chi^2 d flops)": 2 * N * chi**2 * d * ours / gemm,
             "GEMM fraction (flops done)": N * (2 * chi**2 + 2 * chi * d) * ours / gemm}]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    print(f"tnddm {tnddm.__version__}, {os.cpu_count()} cores, {numba.get_num_threads()} numba threads; {load()}")
    gemm = matmul_rate(1024 if args.quick else 2048)
    print(f"measured float64 GEMM rate {gemm / 1e9:.1f} GFlop/s")
    print(markdown_table(ising_rows(args.quick)))
    print()
    print(markdown_table(dense_rows(gemm, args.quick)))
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
