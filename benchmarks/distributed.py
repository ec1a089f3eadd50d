"""Dask scaling: exact sampling of 10^6 samples on a local cluster of 1 and of 2 single-threaded workers.

    python -m benchmarks.distributed [--quick] [--n 1000000] [--tasks 16]

Both clusters run the same tasks (same seed, same task count, so the same samples, checked);
the in-process rate with numba's threads on all cores is printed beside them for reference.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tnddm
from tnddm import distributed

from .common import markdown_table


def _models(quick: bool):
    yield "dense N=64 chi=32", tnddm.ProbMPS.random(64, 32, d=2, seed=0)
    if not quick:
        yield "Ising 8x16 cylinder (automaton)", tnddm.lattice.IsingCylinder(length=16, width=8, beta=0.4406868).mps()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(quick: bool = False, n: int | None = None, tasks: int = 16) -> list[dict]:
    n = n or (100_000 if quick else 1_000_000)
    rows = []
    for name, P in _models(quick):
        P.sample(1000, seed=0)  # compile the kernels in this process
        t_local, _ = _timed(lambda: P.sample(n, seed=1))
        results = {}
        for workers in (1, 2):
            with distributed.dask_client(n_workers=workers) as client:
                distributed.sample(P, 2 * tasks, seed=0, tasks=tasks, client=client)  # warm the workers
                results[workers] = _timed(lambda: distributed.sample(P, n, seed=1, tasks=tasks, client=client))
        (t1, (X1, l1)), (t2, (X2, l2)) = results[1], results[2]
        same = bool(np.array_equal(X1, X2) and np.array_equal(l1, l2))
        rows.append({"model": name, "samples": n, "tasks": tasks, "in-process samples/s": n / t_local,
                     "1 worker samples/s": n / t1, "2 workers samples/s": n / t2,
                     "2 workers / 1 worker": t1 / t2, "same samples": same})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None, help="samples per run (default 10^6, 10^5 with --quick)")
    ap.add_argument("--tasks", type=int, default=16)
    args = ap.parse_args(argv)
    print(markdown_table(run(args.quick, args.n, args.tasks)))


if __name__ == "__main__":
    main()
