"""Boundary-MPS compression for the 2D proposals: tnddm's SVD truncation against quimb's
MatrixProductState.compress, side by side on the same environments.

    python -m benchmarks.boundary_compression [--size 64] [--chis 4,8,16]

For the Ising L x L strip at beta_c and each chi_b: seconds to build all L - 1 environments with
each compressor, their ratio, and the disconnected acceptance of the resulting proposals (one
Metropolis-Hastings chain each, 64 walkers, 40 steps after 20 burn-in steps).
"""
from __future__ import annotations

import argparse
import time

from tnddm.lattice import BETA_C, IsingGrid
from tnddm.mcmc import MetropolisHastings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--chis", default="4,8,16")
    args = ap.parse_args()
    model = IsingGrid(args.size, args.size, BETA_C)
    print(f"Ising {args.size}x{args.size} strip at beta_c")
    print(f"{'chi_b':>5} {'tnddm svd (s)':>14} {'quimb (s)':>10} {'quimb/tnddm':>12} {'acc tnddm':>10} {'acc quimb':>10}")
    for chi in (int(c) for c in args.chis.split(",")):
        row = {}
        for name in ("svd", "quimb"):
            t = time.perf_counter()
            q = model.proposal(chi, compress=name)
            row[name] = time.perf_counter() - t
            chain = MetropolisHastings(model, q, moves="disconnected", observables=lambda X: {}).run(40, 64, seed=1, burn_in=20)
            row["acc_" + name] = chain.acceptance()
        print(f"{chi:>5} {row['svd']:>14.2f} {row['quimb']:>10.2f} {row['quimb'] / row['svd']:>12.2f} "
              f"{row['acc_svd']:>10.3f} {row['acc_quimb']:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
