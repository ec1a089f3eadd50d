"""Path KL of approximate samplers at scale: Euler and Tweedie tau-leaping, 256 steps, Ising 64 x 12 at beta_c.

    python -m benchmarks.validation_scale [--quick] [--budget 600] [--batch 16] [--estimator autoregressive]
                                          [--coupling independent_steps]

Path KL(exact || sampler) = sum_k E[KL(p_k(. | x_k) || q_k(. | x_k))] with the estimator of
tnddm.validate.path_kl_exact_paths: per step, the per-site KLs are exact (Tweedie marginals of the
exact score) and the total correlation of the exact reverse kernel is the sum of KL(c_i || p_i) over
its autoregressive conditionals c_i along one exact draw. With coupling "independent_steps" each
step gets its own exact pair (x_k, x_{k+1}), so a row is one independent replicate of the whole sum.
Both samplers are scored on the same draws; per step and row the cost is one score evaluation (all
single-site ratios of P_t) and one conditionals sweep of P_s, on the bond-4096 automaton. Batches
run while the next one (taken to be as long as the last) still ends within the time budget; the
table gives the estimate, its standard error, the relative error, the split into total correlation
and per-site KL, and the rows a 5 % relative error needs.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tnddm
from tnddm.lattice import IsingCylinder
from tnddm.validate import ExactOracle, path_kl_exact_paths, time_grid
from tnddm.validate.metrics import COUPLINGS, ESTIMATORS

from .common import markdown_table

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)
SAMPLERS = ("euler", "tweedie")


def run(quick: bool = False, budget: float = 600.0, batch: int = 16, steps: int = 256, progress: bool = True,
        estimator: str = "autoregressive", coupling: str = "independent_steps"):
    L, W = (16, 6) if quick else (64, 12)
    model = IsingCylinder(length=L, width=W, beta=BETA_C)
    ddm = tnddm.Diffusion(model.mps(), tnddm.noise.Flip(rate=1.0))
    oracle = ExactOracle(ddm)
    times = time_grid(steps, 1.0)
    start, k = time.perf_counter(), 0
    values = {name: [] for name in SAMPLERS}
    split = {name: [] for name in SAMPLERS}
    batch_seconds = 0.0
    while not values[SAMPLERS[0]] or time.perf_counter() - start + batch_seconds <= budget:  # no batch past the budget
        began = time.perf_counter()
        res = path_kl_exact_paths(SAMPLERS, oracle, ddm, times, batch, seed=np.random.SeedSequence([7, k]),
                                  start="exact", estimator=estimator, coupling=coupling, return_values=True)
        k += 1
        batch_seconds = time.perf_counter() - began
        for name in SAMPLERS:
            values[name].append(res[name]["values"])
            split[name].append((res[name].get("total_correlation", np.nan), res[name].get("per_site_kl", np.nan)))
            if progress:
                v = np.concatenate(values[name])
                print(f"  {name}: {v.size} rows, KL {v.mean():.4f} +- {v.std(ddof=1) / np.sqrt(v.size):.4f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    rows = []
    for name in SAMPLERS:
        v = np.concatenate(values[name])
        kl, se = v.mean(), v.std(ddof=1) / np.sqrt(v.size)
        tc, site = np.mean(split[name], axis=0)  # equal batches: the mean of batch means
        rows.append({"system": f"Ising {L}x{W} cylinder, beta_c", "sampler": name, "steps": steps,
                     "estimator": f"{estimator}, {coupling}", "rows": v.size,
                     "path KL(exact||sampler)": kl, "stderr": se, "relative stderr": se / kl,
                     "total correlation": tc, "per-site KL": site,
                     "rows for 5 %": int(np.ceil((v.std(ddof=1) / (0.05 * kl)) ** 2)),
                     "seconds (both samplers)": time.perf_counter() - start})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Ising 16 x 6 instead of 64 x 12")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds (both samplers share the paths)")
    ap.add_argument("--batch", type=int, default=16, help="paths per batch")
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--estimator", default="autoregressive", choices=ESTIMATORS)
    ap.add_argument("--coupling", default="independent_steps", choices=COUPLINGS)
    args = ap.parse_args(argv)
    print(markdown_table(run(args.quick, args.budget, args.batch, args.steps, estimator=args.estimator,
                             coupling=args.coupling)))


if __name__ == "__main__":
    main()
