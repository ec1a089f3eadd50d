"""The trained MPS checkpoints of models/ as Monte Carlo proposals: KL(pi || P_theta) and MH acceptance.

For each shipped checkpoint of Fredkin N = 64 at c = 0.6 and the Ising 8 x 16 cylinder at beta_c
(trained by the Monte Carlo loop at chi 8, 16, 32, and by sweeps on exact samples at chi 32, 1-norm
and Born: see docs/learning.md), the example loads the model with tnddm.io.checkpoint.load_model; as
a reference for what a bond-32 model can do, it adds the best-fidelity Born compression of the exact
Ising model at chi = 32 (tnddm.mcmc.truncate(..., method="born")). For each it estimates

    KL(pi || P_theta) = E_pi[log pi(x) - log P_theta(x)]   (exact samples of pi, exact log P_theta),

and runs Metropolis-Hastings targeting pi with the model as proposal: disconnected (independent)
moves, and connected moves (flip noise for time T, exact denoising) at several T. It writes the
table (table.md) and one plot per checkpoint (acceptance and tau against T).

    python examples/trained_proposals.py OUT_DIR            # every checkpoint (about 10 minutes)
    python examples/trained_proposals.py OUT_DIR --quick    # the two sweep-trained checkpoints, short chains
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tnddm.io.checkpoint import load_model
from tnddm.lattice import BETA_C, Fredkin, IsingCylinder
from tnddm.learn import kl_from_exact_samples
from tnddm.mcmc import plot_scan, scan_T, truncate

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "models"


def checkpoints(quick: bool) -> list[tuple[str, object, str]]:
    """(checkpoint name, target model, observable): the sweep-trained ones first."""
    fredkin, ising = Fredkin(n_sites=64, c=0.6), IsingCylinder(length=16, width=8, beta=BETA_C)
    out = [("fredkin_64_chi32_data", fredkin, "area"), ("ising_8x16_chi32_data", ising, "energy")]
    if not quick:
        out += [(f"fredkin_64_chi{chi}", fredkin, "area") for chi in (8, 16, 32)]
        out += [(f"ising_8x16_chi{chi}", ising, "energy") for chi in (8, 16, 32)]
        out += [("ising_8x16_chi32_born", ising, "energy"), ("compressed_ising_8x16_chi32", ising, "energy")]
    return out


def proposal(name: str, target):
    """A checkpoint of models/, or for compressed_<system>_chi<chi> the Born compression of the exact target."""
    if name.startswith("compressed_"):
        return truncate(target.mps(), int(name.rsplit("chi", 1)[1]), method="born")
    return load_model(MODELS / f"{name}.npz")[0]


def main(argv=None):
    ap = example_parser(__doc__, "the two sweep-trained checkpoints, short chains",
                        out="output folder for table.md and the PNG plots", seed=True, summary=True)
    args = parse_example_args(ap, argv)
    out = args.out
    Ts = (0.1, 1.0) if args.quick else (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    steps, walkers, n_kl = (30, 32, 1000) if args.quick else (200, 64, 4000)
    seeds = iter(np.random.SeedSequence(args.seed).spawn(100))
    lines = ["| checkpoint | chi | KL(pi \\|\\| P_theta) | scheme | T | acceptance | observable | tau |",
             "|---|---|---|---|---|---|---|---|"]
    results = {}
    start = time.perf_counter()
    for name, target, observable in checkpoints(args.quick):
        model = proposal(name, target)
        chi = max(model.bond_dims)
        kl, se = kl_from_exact_samples(target, model, n_kl, seed=args.seed)
        rows = []
        for scheme in ("disconnected", "connected"):
            rows += scan_T(target, model, Ts, scheme, n_steps=steps, n_walkers=walkers, observable=observable,
                           seed=next(seeds), burn_in=steps // 10)
        for r in rows:
            r.pop("chain")
            T_text = "-" if np.isnan(r["T"]) else f"{r['T']:g}"
            lines.append(f"| {name} | {chi} | {kl:.4f} ± {se:.4f} | {r['scheme']} | {T_text} | {r['acceptance']:.3f} | "
                         f"{observable} | {r['tau']:.3g} |")
            print(lines[-1], flush=True)
        plot_scan(rows, out / f"{name}.png", title=f"{name} as proposal: KL {kl:.3g}")
        results[name] = {"kl": kl, "kl_stderr": se, "rows": rows}
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'table.md'} and {len(results)} plots in {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    main()
