"""The two compiled draws of the boundary-MPS proposal side by side: the unrolled small-bond kernel
(tnddm.mcmc._boundary_kernel.small_kernel, bond padded to 4 or 8) against the generic one (draw_columns).

    python -m benchmarks.boundary_kernel [--n 512] [--chis 2,4,8]

For the +-J Edwards-Anderson 32 x 32 glass at beta = 1 (disorder seed 1) and the Ising 64 x 64 strip at
beta_c, and each chi_b: microseconds per draw with its log q on one core (numba and BLAS single-threaded,
the same uniforms, best of 7 runs of n draws) for each kernel, their ratio, and whether the draws agree.
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from tnddm.lattice import BETA_C, IsingGrid
from tnddm.mcmc._boundary_kernel import SMALL_BLOCK, draw_columns, pack_environments, pad_environments, small_bond, small_kernel


def best_of(f, reps: int = 7) -> float:
    f()  # compile (cached on disk after the first run)
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def row(name, model, chi, n):
    q = model.proposal(chi)
    cores = q.column_cores(q.envs)
    bond = max(max(G.shape[0], G.shape[2]) for col in cores for G in col)
    small = small_bond(bond, model.d)
    S = np.random.default_rng(0).integers(0, 2**63, size=n, dtype=np.uint64)  # stream seeds
    none = np.zeros((1, 1), np.int64)
    X1, l1, X2, l2 = np.empty((n, model.n_sites), np.int64), np.empty(n), np.empty((n, model.n_sites), np.int64), np.empty(n)
    data, offsets, shapes, chi_max = pack_environments(cores)
    generic = best_of(lambda: draw_columns(data, offsets, shapes, chi_max, q._tables, q._V, S, none, False, q.floor,
                                           SMALL_BLOCK, X2, l2))
    if small is None:
        return f"{name:<22} {chi:>5} {generic / n * 1e6:>12.1f} {'-':>12} {'-':>7} (no small kernel for bond {bond})"
    E, draw = pad_environments(cores, small, model.d), small_kernel(model.d, small)
    fast = best_of(lambda: draw(E, q._tables, q._V, S, none, False, q.floor, 0, -(-n // SMALL_BLOCK), X1, l1))
    same = bool(np.array_equal(X1, X2)) and float(np.abs(l1 - l2).max()) < 1e-10
    return f"{name:<22} {chi:>5} {generic / n * 1e6:>12.1f} {fast / n * 1e6:>12.1f} {generic / fast:>7.2f} {'yes' if same else 'NO'}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512, help="draws per timed run")
    ap.add_argument("--chis", default="2,4,8")
    args = ap.parse_args()
    numba.set_num_threads(1)
    systems = [("EA 32x32, beta = 1", IsingGrid(32, 32, 1.0, disorder="pm_j", disorder_seed=1)),
               ("Ising 64x64, beta_c", IsingGrid(64, 64, BETA_C))]
    print(f"{'system':<22} {'chi_b':>5} {'generic (us)':>12} {'small (us)':>12} {'ratio':>7} same draws")
    for name, model in systems:
        for chi in (int(c) for c in args.chis.split(",")):
            print(row(name, model, chi, args.n), flush=True)


if __name__ == "__main__":
    main()
