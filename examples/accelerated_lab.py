"""Accelerated samplers (Li, Wei, Chen, Chi, arXiv:2306.09251; Li et al., arXiv:2403.03852): orders on spin targets.

    python examples/accelerated_lab.py OUT [--quick]

Claim tested: the accelerated deterministic sampler (accel_ode) is second order where DDIM (ode) is first order.
(a) One spin, pi(+1) = 0.7: the exact law of a deterministic sampler's output (a monotone map of x_T ~ p_T,
    tnddm.validate.gaussian_samplers.deterministic_law_error): the rounded-law error |P(x > 0) - P_delta(x > 0)|
    and W1 to p_delta, no sampling noise; on the uniform grid (vp_grid) and on li_grid (c0 = 2, c1 = 4: the
    papers' theory schedule as transcribed from memory, unverified; see its docstring) and on quad_grid (the
    quadratic time skipping of the authors' code, in continuous time); slopes against steps.
(b) Ising chain N = 10, beta = 1, h = 0.1: the coupled error of the sampler's end point against a reference on
    the same start points x_T ~ p_T (accel_ode on the grid refined 16 times): mean absolute distance per spin
    (it bounds W1 between the two output laws, per site) and the fraction of rounded spins that differ (it bounds the TV between the rounded
    laws). Slopes against steps.
Writes OUT/summary.json, OUT/table.md, OUT/accelerated_orders.png.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tnddm  # noqa: E402
from tnddm.gaussian import GaussianDiffusion  # noqa: E402
from tnddm.lattice import IsingChain  # noqa: E402
from tnddm.validate.gaussian_samplers import deterministic_law_error, li_grid, quad_grid, run_gaussian, vp_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

from tnddm._plotting import log_axis  # noqa: E402

SAMPLERS = ("ode", "accel_ode")
GRIDS = {"uniform": vp_grid, "li": li_grid, "quad": quad_grid}
STYLE = {"uniform": "o-", "li": "s--", "quad": "^:"}


def fit(steps, vals, last=3):
    x, y = np.log(np.asarray(steps[-last:], float)), np.log(np.asarray(vals[-last:], float))
    ok = np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else None


def refine(times, factor):
    """The grid with factor - 1 equally spaced times inserted in every interval."""
    pieces = [np.linspace(t, s, factor + 1)[:-1] for t, s in zip(times[:-1], times[1:])]
    return np.concatenate(pieces + [times[-1:]])


def one_spin(steps, n_quantiles):
    gd = GaussianDiffusion(tnddm.ProbMPS.from_dense(np.array([0.3, 0.7])))
    rows = []
    for grid, make in GRIDS.items():
        for name in SAMPLERS:
            res = [deterministic_law_error(name, gd, make(k), n_quantiles=n_quantiles) for k in steps]
            rows.append({"grid": grid, "sampler": name, "rounded": [r["rounded"] for r in res],
                         "w1": [r["w1"] for r in res], "monotone": [r["monotone"] for r in res],
                         "slope_rounded": fit(steps, [r["rounded"] for r in res]),
                         "slope_w1": fit(steps, [r["w1"] for r in res])})
    return rows


def chain(n_sites, steps, n, factor, seed):
    gd = GaussianDiffusion(IsingChain(n_sites, 1.0, h=0.1).mps())
    rows = []
    for grid, make in GRIDS.items():
        res = {name: {"mad": [], "mad_se": [], "flips": [], "flips_se": []} for name in SAMPLERS}
        for k in steps:
            times = make(k)
            x_T = gd.marginal(times[0]).sample(n, seed=seed + k, compute_log_prob=False)[0]
            ref = run_gaussian("accel_ode", gd, 0, refine(times, factor), start=x_T)
            for name in SAMPLERS:
                out = run_gaussian(name, gd, 0, times, start=x_T)
                per_path = np.abs(out - ref).mean(axis=1), ((out > 0) != (ref > 0)).mean(axis=1)
                for key, v in zip(("mad", "flips"), per_path):  # mean over the start points, its standard error
                    res[name][key].append(float(np.mean(v)))
                    res[name][key + "_se"].append(float(np.std(v, ddof=1) / np.sqrt(len(v))))
        for name in SAMPLERS:
            rows.append({"grid": grid, "sampler": name, **res[name], "slope_mad": fit(steps, res[name]["mad"]),
                         "slope_flips": fit(steps, [v if v > 0 else np.nan for v in res[name]["flips"]])})
    return rows


GRID_COLOUR = {"uniform": "C0", "li": "C1", "quad": "C2"}
GRID_TEXT = {"uniform": "uniform grid", "li": "li_grid (c0 = 2, c1 = 4)", "quad": "quad_grid"}


def plot(path, summary) -> None:
    """accelerated_orders.png: (a) the exact one-spin error (no sampling error), (b) the coupled chain error with
    +-1 standard error over the start points; colour: grid, filled solid: accel_ode, open dashed: ode."""

    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.8))
    a, b = summary["one_spin"], summary["chain"]
    for ax, part, key in ((axes[0], a, "rounded"), (axes[1], b, "mad")):
        steps = np.asarray(part["steps"], float)
        for r in part["rows"]:
            accel = r["sampler"] in ("accel_ode", "accel-ode")
            style = dict(color=GRID_COLOUR[r["grid"]], marker="o" if accel else "s", ls="-" if accel else "--",
                         mfc=GRID_COLOUR[r["grid"]] if accel else "none", ms=6, label=f"{r['sampler']}, {GRID_TEXT[r['grid']]}")
            vals = np.asarray(r[key], float)
            if key + "_se" in r:
                ax.errorbar(steps, vals, yerr=r[key + "_se"], capsize=3, **style)
            else:
                ax.plot(steps, vals, **style)
        top = max(max(r[key]) for r in part["rows"])
        for order, ls in ((1, ":"), (2, "-.")):  # reference slopes through the largest value
            ax.plot(steps, top * (steps / steps[0]) ** -order, color="0.5", ls=ls, lw=1,
                    label=f"slope $-{order}$ (order {order})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axis(ax.xaxis, part["steps"])
        ax.set_xlabel("steps of the sampler")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"rounded-law error $|P(x > 0) - P_\delta(x > 0)|$")
    axes[0].set_title(r"(a) one spin, $\pi(+1) = 0.7$: exact output law (no sampling error)", fontsize=10)
    axes[1].set_ylabel(r"mean $|x - x_{\mathrm{ref}}|$ per spin at the end point")
    axes[1].set_title(f"(b) Ising chain N = {b['n_sites']}, $\\beta = 1$: coupled error, "
                      f"$\\pm 1$ s.e. over {b.get('paths', 'the')} start points", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "short grids, few points (seconds)", seed=True)
    ap.add_argument("--render", action="store_true", help="redraw the plot from OUT/summary.json (no sampling)")
    args = parse_example_args(ap, argv)
    if args.render:
        summary = json.loads((args.out / "summary.json").read_text())
        plot(args.out / "accelerated_orders.png", summary)
        return summary
    q = args.quick
    steps_a = [8, 16, 32] if q else [8, 16, 32, 64, 128, 256]
    steps_b = [8, 16, 32] if q else [8, 16, 32, 64, 128]
    a = one_spin(steps_a, 300 if q else 4000)
    b = chain(4 if q else 10, steps_b, 100 if q else 1000, 4 if q else 16, args.seed)
    command = "python examples/accelerated_lab.py OUT" + (" --quick" if q else "")
    summary = {"command": command, "one_spin": {"steps": steps_a, "rows": a},
               "chain": {"n_sites": 4 if q else 10, "paths": 100 if q else 1000, "steps": steps_b, "rows": b}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))

    def s(v):
        return "-" if v is None else f"{v:.2f}"

    lines = [f"Regenerate with `{command}`.", "",
             "(a) One spin, pi(+1) = 0.7: exact rounded-law error / W1 of the output law (no sampling noise). "
             "Slopes over the last three step counts.", "",
             "| grid | sampler | " + " | ".join(f"{k} steps" for k in steps_a) + " | slope rounded | slope W1 |",
             "|---" * (len(steps_a) + 4) + "|"]
    for r in a:
        cells = [f"{x:.3g} / {w:.3g}" + ("" if m else "*") for x, w, m in zip(r["rounded"], r["w1"], r["monotone"])]
        lines.append(f"| {r['grid']} | {r['sampler']} | " + " | ".join(cells)
                     + f" | {s(r['slope_rounded'])} | {s(r['slope_w1'])} |")
    lines += ["", "*: the sampler's map is not monotone at this step count (W1 is then an upper bound).", "",
              f"(b) Ising chain N = {summary['chain']['n_sites']}, beta = 1, h = 0.1: coupled error against accel_ode on "
              "the refined grid, same x_T. Cells: mean absolute distance / fraction of rounded spins that differ.", "",
              "| grid | sampler | " + " | ".join(f"{k} steps" for k in steps_b) + " | slope distance | slope flips |",
              "|---" * (len(steps_b) + 4) + "|"]
    for r in b:
        cells = [f"{x:.3g} / {f:.3g}" for x, f in zip(r["mad"], r["flips"])]
        lines.append(f"| {r['grid']} | {r['sampler']} | " + " | ".join(cells) + f" | {s(r['slope_mad'])} | {s(r['slope_flips'])} |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")

    plot(args.out / "accelerated_orders.png", summary)
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
