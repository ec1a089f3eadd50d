"""Exact sampling speed against fair baselines, side by side in one process (issue 22).

Ising 64 x 12 cylinder at beta_c: exact samples/s of the blocked binary Markov kernel (float64 and
float32 tables, int8 and int64 output, n = 20,000 and 200,000), of the previous kernel, and of the
kernel's memory work alone (the table walk along the exact samples' own paths: one table read, a state
shift and an int8 write per site, no uniforms, no log q; a ceiling for any sampler that reads one
table entry per site), against
benchmarks.wolff (a plain numba Wolff, one record per ~N flipped spins, E and |m| in numba) run as one
independent chain per core on the same cores. Exact samples are independent, so their effective
rate is their rate. Dense N = 64, chi = 32: tnddm against quimb's MatrixProductState.sample, and the
fraction of the measured GEMM rate (2 N chi^2 d flops per sample). Prints the machine load beside.

    python -m benchmarks.exact_speed [--quick]
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from numba import njit, prange

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


@njit(parallel=True, cache=True)
def _table_walk(table, table_off, masks, XT, X, check, block):
    """The sampler's memory work alone: walk the tables along given paths XT (N, n) site-major, site-major in
    blocks like sample_binary_markov (gather the state's table entry, shift the state, write int8 X); no
    uniforms, no comparison, no log q. check[s] = the sum of the entries read (so that the reads are kept)."""
    N, n = XT.shape
    for blk in prange((n + block - 1) // block):
        s0 = blk * block
        m = min(n, s0 + block) - s0
        state = np.zeros(m, np.int64)
        acc = np.zeros(m)
        buf = np.empty((16, m), np.int8)
        for i0 in range(0, N, 16):
            i1 = min(N, i0 + 16)
            for i in range(i0, i1):
                off, mask, row, src = table_off[i], masks[i], buf[i - i0], XT[i, s0:s0 + m]
                for j in range(m):
                    acc[j] += table[off + state[j]]
                    x = np.int64(src[j])
                    row[j] = x
                    state[j] = ((state[j] << 1) | x) & mask
            for j in range(m):
                for i in range(i0, i1):
                    X[s0 + j, i] = buf[i - i0, j]
        for j in range(m):
            check[s0 + j] = acc[j]


def table_walk_rate(P, n: int) -> float:
    """Samples/s of _table_walk replaying n exact samples of P (their own paths, so the same table entries are
    read as by the sampler): the floor of any sampler that reads one table entry per site and state."""
    X0, _ = P.sample(n, seed=1)
    table, table_off, _, _, masks = P._binary_tables()
    XT, check = np.ascontiguousarray(X0.T), np.empty(n)

    def run():
        X = np.empty_like(X0)
        _table_walk(table, table_off, masks, XT, X, check, 4096)
        return X

    if not np.array_equal(run(), X0):
        raise AssertionError("the table walk must reproduce the paths it replays")
    return n / best_time(run, repeat=2, min_time=0.0)


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
    for label, Q in (("float64", P), ("float32", P32)):
        rows.append({"system": name, "method": f"table walk only ({label} tables): no uniforms, no log q", "n": n,
                     "ESS/s": table_walk_rate(Q, n), "tau": float("nan"),
                     "note": "replays exact samples' paths: the floor of one table read per site"})
    w = fair_wolff(L, W, BETA_C, n_records=2000 if quick else 20000)
    rows.append({"system": name, "method": f"Wolff, {w['chains']} chains (one per core), record per ~N flips",
                 "n": w["chains"] * (2000 if quick else 20000), "ESS/s": w["ess_per_second"], "tau": w["tau"],
                 "note": f"mean cluster {w['mean_cluster']:.0f}; a record every round(N / mean) clusters"})
    best = {r["method"]: r["ESS/s"] for r in rows if r["n"] == n}
    for label in ("float64 tables, int8", "float32 tables, int8"):
        rows.append({"system": name, "method": f"ratio exact ({label}, n = {n}) / Wolff", "n": n,
                     "ESS/s": best[f"tnddm exact, {label}"] / w["ess_per_second"], "tau": float("nan"), "note": ""})
    for label in ("float64", "float32"):
        rows.append({"system": name, "method": f"ratio table walk only ({label}) / Wolff", "n": n,
                     "ESS/s": best[f"table walk only ({label} tables): no uniforms, no log q"] / w["ess_per_second"],
                     "tau": float("nan"), "note": "an upper bound for per-site table samplers"})
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
