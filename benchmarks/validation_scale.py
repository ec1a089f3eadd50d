"""Path KL of approximate samplers at scale: Euler and Tweedie tau-leaping, 256 steps, Ising 64 x 12 at beta_c.

    python -m benchmarks.validation_scale [--quick] [--budget 600] [--batch 16]

Path KL(exact || sampler) = E_p[log p(path) - log q(path)] over exact reverse paths (drawn forwards:
x_0 ~ P_0, then noised up the grid; log p by the forward factorisation). log q needs the sampler's
step kernel at every grid point, i.e. all single-site ratios of P_t (one pair of environment sweeps of
the bond-4096 automaton per path and step): that is the whole cost. Batches of paths run until the
time budget (split between the samplers) is spent; the table gives the estimate, its standard
error, the relative error and the number of paths a 5 % relative error would need at this variance.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tnddm
from tnddm.lattice import IsingCylinder
from tnddm.validate import ExactOracle, time_grid
from tnddm.validate.metrics import path_kl_mc

from .common import markdown_table

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)


def run(quick: bool = False, budget: float = 600.0, batch: int = 16, steps: int = 256, progress: bool = True):
    L, W = (16, 6) if quick else (64, 12)
    model = IsingCylinder(length=L, width=W, beta=BETA_C)
    ddm = tnddm.Diffusion(model.mps(), tnddm.noise.Flip(rate=1.0))
    oracle = ExactOracle(ddm)
    times = time_grid(steps, 1.0)
    rows = []
    samplers = ("euler", "tweedie")
    for name in samplers:
        start, values, k = time.perf_counter(), [], 0
        while time.perf_counter() - start < budget / len(samplers) or not values:
            res = path_kl_mc(name, oracle, ddm, times, batch, seed=np.random.SeedSequence([7, k]), direction="exact_sampler", start="exact",
                             return_values=True)
            values.append(res["values"])
            k += 1
            if progress:
                v = np.concatenate(values)
                print(f"  {name}: {v.size} paths, KL {v.mean():.4f} +- {v.std(ddof=1) / np.sqrt(v.size):.4f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
        v = np.concatenate(values)
        kl, se = v.mean(), v.std(ddof=1) / np.sqrt(v.size)
        rows.append({"system": f"Ising {L}x{W} cylinder, beta_c", "sampler": name, "steps": steps, "paths": v.size,
                     "path KL(exact||sampler)": kl, "stderr": se, "relative stderr": se / kl,
                     "paths for 5 %": int(np.ceil((v.std(ddof=1) / (0.05 * kl)) ** 2)),
                     "seconds": time.perf_counter() - start})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Ising 16 x 6 instead of 64 x 12")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for both samplers together")
    ap.add_argument("--batch", type=int, default=16, help="paths per batch")
    ap.add_argument("--steps", type=int, default=256)
    args = ap.parse_args(argv)
    print(markdown_table(run(args.quick, args.budget, args.batch, args.steps)))


if __name__ == "__main__":
    main()
