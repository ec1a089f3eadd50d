"""Monte Carlo with diffusion proposals: acceptance and autocorrelation time against T.

Reproduces the study of the paper: for the Fredkin chain (c in {0.4, 0.5, 0.6}, N = 64) and the
Ising cylinder (8 x 16 at beta in {0.3, beta_c, 0.6}), proposals are the exact model MPS
truncated to bond chi in {4, 8, 16} (tnddm.mcmc.truncate, lumped: a valid distribution with
exact log-probabilities covering the target). For each proposal, connected moves (noise for
time T, denoise exactly) at several T and disconnected moves (independent proposals) are run,
and the acceptance, the integrated autocorrelation time of the energy (Ising) or area (Fredkin), in MH steps, and the
effective samples per second are written as a table (table.md, results.json) and plots
(<system>.png) in the output folder.

    python examples/mcmc_study.py OUT_DIR            # the full study (minutes)
    python examples/mcmc_study.py OUT_DIR --quick    # reduced sizes, under a minute
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from tnddm.lattice import Fredkin, IsingCylinder
from tnddm.mcmc import plot_scan, scan_T, truncate

BETA_C = math.log(1 + math.sqrt(2)) / 2


def systems(quick: bool):
    if quick:
        return [("fredkin_c0.4", Fredkin(n_sites=16, c=0.4)), ("fredkin_c0.6", Fredkin(n_sites=16, c=0.6)),
                ("ising_betac", IsingCylinder(length=6, width=3, beta=BETA_C, J=1.0, h=0.0))]
    out = [(f"fredkin_c{c}", Fredkin(n_sites=64, c=c)) for c in (0.4, 0.5, 0.6)]
    for name, beta in (("0.3", 0.3), ("c", BETA_C), ("0.6", 0.6)):
        out.append((f"ising_beta{name}", IsingCylinder(length=16, width=8, beta=beta, J=1.0, h=0.0)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output folder for table.md, results.json and the PNG plots")
    ap.add_argument("--quick", action="store_true", help="small systems and short chains (under a minute)")
    ap.add_argument("--steps", type=int, default=None, help="recorded MH steps per chain")
    ap.add_argument("--walkers", type=int, default=None, help="walkers per chain")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chis = (2, 4) if args.quick else (4, 8, 16)
    Ts = (0.05, 0.3, 1.5) if args.quick else (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    steps = args.steps or (40 if args.quick else 400)
    walkers = args.walkers or (16 if args.quick else 64)
    burn_in = steps // 10
    results, lines = [], ["| system | chi | scheme | T | acceptance | observable | tau | ESS/s | mean |",
                          "|---|---|---|---|---|---|---|---|---|"]
    seeds = iter(np.random.SeedSequence(args.seed).spawn(1000))
    start = time.perf_counter()
    for name, model in systems(args.quick):
        observable = "area" if "area" in model.statistics(model.sample(1, seed=0)[0]) else "energy"
        exact = model.mps()
        plot_rows = []
        for chi in chis:
            P = truncate(exact, chi)
            rows = []
            for scheme in ("connected", "disconnected"):
                rows += scan_T(model, P, Ts, scheme, n_steps=steps, n_walkers=walkers, observable=observable,
                               seed=next(seeds), burn_in=burn_in)
            for r in rows:
                r.pop("chain")
                r.update(system=name, chi=chi, group=f"chi={chi}")
                T_text = "-" if np.isnan(r["T"]) else f"{r['T']:g}"
                lines.append(f"| {name} | {chi} | {r['scheme']} | {T_text} | {r['acceptance']:.3f} | {observable} | {r['tau']:.3g} | "
                             f"{r['ess_per_second']:.3g} | {r['mean']:.5g} ± {r['stderr']:.2g} |")
                print(lines[-1], flush=True)
            results += rows
            plot_rows += rows
        plot_scan(plot_rows, out / f"{name}.png", title=f"{name}: acceptance and tau of the {observable}")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(
        {"chis": chis, "T": Ts, "steps": steps, "walkers": walkers, "burn_in": burn_in, "seed": args.seed,
         "seconds": time.perf_counter() - start, "rows": results}, indent=1, default=float))
    print(f"wrote {out / 'table.md'}, {out / 'results.json'} and {len(systems(args.quick))} plots "
          f"in {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    main()
