"""Exact 2D Ising cylinders of width W = 20 (and more): build the sampling tables, draw samples.

IsingCylinder(length, width).table_mps() stores one float32 per (site, automaton state), built by one
log-space sweep (tnddm.mps.markov). Reports build seconds, table bytes, peak resident memory of the
process, sampling seconds for n samples, and checks the sampled energy against the exact
<E> = -d log Z / d beta from two more builds at beta +- delta (central difference, error O(delta^2)).

    python -m benchmarks.wide_cylinder [--length 40] [--width 20] [-n 10000] [--seed 1] [--no-check]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from tnddm.lattice import IsingCylinder
from tnddm.lattice.ising import BETA_C


def peak_rss_gib() -> float:
    """Peak resident memory of this process in GiB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run(length: int = 40, width: int = 20, n: int = 10_000, check: bool = True, beta: float = BETA_C, seed: int = 1) -> dict:
    model = IsingCylinder(length=length, width=width, beta=beta)
    start = time.perf_counter()
    T = model.table_mps()
    build = time.perf_counter() - start
    T.sample(2, seed=0)  # compile
    start = time.perf_counter()
    X, logp = T.sample(n, seed=seed)
    sample_s = time.perf_counter() - start
    peak = peak_rss_gib()  # build + sampling (the energy below works in chunks of 10^4 rows)
    energy = np.concatenate([model.energy(X[a:a + 10_000]) for a in range(0, n, 10_000)]) / model.n_sites
    out = {"system": f"Ising {length}x{width} cylinder, beta_c", "states": 2**width, "build s": build,
           "table GiB": T.nbytes / 2**30, f"sample {n} s": sample_s, "samples/s": n / sample_s,
           "peak RSS GiB (build + sample)": peak, "log Z": T.exact_log_z, "bound |log q - log pi|": T.sample_table_bound,
           "E/N sampled": float(energy.mean()), "stderr": float(energy.std(ddof=1) / np.sqrt(n))}
    del T
    if check:
        delta = 1e-4
        lz = [IsingCylinder(length=length, width=width, beta=b).table_mps().exact_log_z for b in (beta - delta, beta + delta)]
        out["E/N exact (-dlogZ/dbeta)"] = -(lz[1] - lz[0]) / (2 * delta) / model.n_sites
        out["z"] = (out["E/N sampled"] - out["E/N exact (-dlogZ/dbeta)"]) / out["stderr"]
    out["peak RSS GiB (all)"] = peak_rss_gib()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=40)
    ap.add_argument("--width", type=int, default=20)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-check", action="store_true", help="skip the two extra builds of the energy check")
    args = ap.parse_args(argv)
    for k, v in run(args.length, args.width, args.n, not args.no_check, seed=args.seed).items():
        print(f"{k:>28}: {v:.6g}" if isinstance(v, float) else f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
