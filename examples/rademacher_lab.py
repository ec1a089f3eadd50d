"""Rademacher noise (Choi and Fan, arXiv:2506.08337): strong error with coupled noise, and steps against N.

    python examples/rademacher_lab.py OUT [--quick]

Claims tested: Euler-Maruyama on the reverse VP SDE has strong error O(steps^-1/2) (the paper's bound, under
Lipschitz assumptions, with complexity O(d / eps^2)), and Gaussian noise can be replaced by Rademacher noise with
matched mean and variance without losing the convergence guarantee.
(a) Strong error, Ising chain N = 10, beta = 1, h = 0.1, uniform grid 1 -> 1e-3, x_T ~ p_T exactly: the reference
    is Euler-Maruyama on the grid refined 16 times, driven by a Brownian path; the coarse Euler-Maruyama uses the
    sums of its increments (the same path), the coarse Rademacher scheme uses the signs of those sums (the
    coupling that maximises the correlation of each Rademacher step with its Brownian increment). Mean absolute
    distance per spin at the end point and the fraction of rounded spins that differ, against steps.
(b) Steps K* to reach rho = ||q - pi||_2 / ||pi||_2 <= 0.05 for euler_maruyama and rademacher, Ising chains
    N = 6..14 at beta = 1 (the protocol of examples/gaussian_samplers.py part (b)).
Writes OUT/summary.json, OUT/table.md, OUT/rademacher_strong_error.png.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tnddm.gaussian import GaussianDiffusion  # noqa: E402
from tnddm.lattice import IsingChain  # noqa: E402
from tnddm.rng import as_generator  # noqa: E402
from tnddm.validate.gaussian_samplers import gaussian_step, vp_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

from tnddm._plotting import log_axis  # noqa: E402

HERE = Path(__file__).resolve().parent


def _gaussian_example():
    spec = importlib.util.spec_from_file_location("gaussian_samplers_example", HERE / "gaussian_samplers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def coupled_end_points(gd, steps, factor, n, seed):
    """End points of Euler-Maruyama on the grid refined `factor` times (the reference), and of coarse Euler-Maruyama
    and Rademacher schemes driven by the same Brownian path (sums of the fine increments, and their signs)."""
    rng = as_generator(seed)
    times = vp_grid(steps)
    x_ref = gd.marginal(times[0]).sample(n, seed=rng, compute_log_prob=False)[0]
    x_em, x_rad = x_ref.copy(), x_ref.copy()
    for t, s in zip(times[:-1], times[1:]):
        fine = np.linspace(t, s, factor + 1)
        dW = rng.standard_normal((factor,) + x_ref.shape) * np.sqrt((t - s) / factor)
        for j in range(factor):
            mean, _ = gaussian_step("euler_maruyama", gd, x_ref, fine[j], fine[j + 1])
            x_ref = mean + np.sqrt(float(gd.schedule.beta(fine[j]))) * dW[j]
        total = dW.sum(axis=0)
        mean, _ = gaussian_step("euler_maruyama", gd, x_em, t, s)
        x_em = mean + np.sqrt(float(gd.schedule.beta(t))) * total
        mean, std = gaussian_step("euler_maruyama", gd, x_rad, t, s)
        x_rad = mean + std * np.sign(total)
    return x_ref, {"euler_maruyama": x_em, "rademacher": x_rad}


def fit(steps, vals):
    vals = np.asarray(vals, float)
    ok = vals > 0
    return float(np.polyfit(np.log(np.asarray(steps, float)[ok]), np.log(vals[ok]), 1)[0]) if ok.sum() >= 2 else None


def strong_error(n_sites, steps, factor, n, seed):
    gd = GaussianDiffusion(IsingChain(n_sites, 1.0, h=0.1).mps())
    rows = {name: {"distance": [], "distance_se": [], "flips": [], "flips_se": []} for name in ("euler_maruyama", "rademacher")}
    for k in steps:
        ref, ends = coupled_end_points(gd, k, factor, n, seed + k)
        for name, x in ends.items():
            per_path = np.abs(x - ref).mean(axis=1), ((x > 0) != (ref > 0)).mean(axis=1)
            for key, v in zip(("distance", "flips"), per_path):  # mean over the paths, its standard error
                rows[name][key].append(float(np.mean(v)))
                rows[name][key + "_se"].append(float(np.std(v, ddof=1) / np.sqrt(len(v))))
    for r in rows.values():
        r["slope_distance"], r["slope_flips"] = fit(steps, r["distance"]), fit(steps, r["flips"])
    return rows


def steps_against_n(sizes, n_range, k_max, seed):
    ex = _gaussian_example()
    rows = []
    for N in sizes:
        model = IsingChain(N, 1.0, h=0.1)
        gd, pi = GaussianDiffusion(model.mps()), model.mps().to_dense()
        n = ex.samples_for(pi, *n_range)
        row = {"n_sites": N, "entropy": float(model.observables()["entropy"]), "n_samples": n}
        for name in ("euler_maruyama", "rademacher"):
            k, bound, pts = ex.steps_needed(gd, pi, name, n, seed, k_max)
            row[name] = {"steps_needed": k, "upper_bound": bound, "points": pts}
        rows.append(row)
    return rows, ex.EPS


def plot(path, strong) -> None:
    """rademacher_strong_error.png: the two strong errors against steps, +-1 standard error over the paths, with the
    paper's rate steps^(-1/2) and first order as references."""

    steps = np.asarray(strong["steps"], float)
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.7))
    what = (("distance", "mean $|x - x_{\\mathrm{ref}}|$ per spin\n(end point, before rounding)"),
            ("flips", "fraction of rounded spins\nthat differ from the reference"))
    styles = {"euler_maruyama": dict(color="C0", marker="o", ls="-", label="Euler-Maruyama (Gaussian increments)"),
              "rademacher": dict(color="C3", marker="s", ls="--", label="Rademacher (signs of the same increments)")}
    for ax, (key, ylabel) in zip(axes, what):
        for name, r in strong["rows"].items():
            vals = np.asarray(r[key], float)
            ok = vals > 0  # no differing spin at all: nothing to draw on a log axis
            se = np.asarray(r.get(key + "_se", np.zeros_like(vals)), float)
            ax.errorbar(steps[ok], vals[ok], yerr=se[ok], capsize=3, ms=6, **styles[name])
        top = max(max(r[key]) for r in strong["rows"].values())
        for order, ls, text in ((0.5, ":", "slope $-1/2$ (the proven rate)"), (1, "-.", "slope $-1$")):
            ax.plot(steps, top * (steps / steps[0]) ** -order, color="0.5", ls=ls, lw=1, label=text)
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axis(ax.xaxis, strong["steps"])
        log_axis(ax.yaxis)
        ax.set_xlabel("steps of the coarse sampler")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f"Strong error against Euler-Maruyama refined {strong['factor']} times on the same Brownian path; "
                 f"Ising chain N = {strong['n_sites']}, $\\beta = 1$, h = 0.1;\nmean over {strong['paths']} coupled paths, "
                 "error bars $\\pm 1$ standard error", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "small chains, few samples (seconds)", seed=True)
    ap.add_argument("--render", action="store_true", help="redraw the plot from OUT/summary.json (no sampling)")
    args = parse_example_args(ap, argv)
    if args.render:
        summary = json.loads((args.out / "summary.json").read_text())
        plot(args.out / "rademacher_strong_error.png", summary["strong"])
        return summary
    q = args.quick
    steps = [8, 16, 32] if q else [8, 16, 32, 64, 128]
    n_strong, factor, n_chain = (300, 8, 4) if q else (1000, 16, 10)
    a = strong_error(n_chain, steps, factor, n_strong, args.seed)
    sizes, n_range, k_max = ([4, 6], (2000, 4000), 64) if q else ([6, 8, 10, 12, 14], (20_000, 200_000), 256)
    b, eps = steps_against_n(sizes, n_range, k_max, args.seed)
    command = "python examples/rademacher_lab.py OUT" + (" --quick" if q else "")
    summary = {"command": command, "strong": {"n_sites": n_chain, "steps": steps, "factor": factor, "paths": n_strong,
                                              "rows": a},
               "steps_needed": {"eps": eps, "k_max": k_max, "rows": b}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))

    def s(v):
        return "-" if v is None else f"{v:.2f}"

    lines = [f"Regenerate with `{command}`.", "",
             f"(a) Strong error, Ising chain N = {n_chain}, beta = 1, h = 0.1, {n_strong} coupled paths, reference refined "
             f"{factor} times. Cells: mean absolute distance per spin / fraction of rounded spins that differ.", "",
             "| sampler | " + " | ".join(f"{k} steps" for k in steps) + " | slope distance | slope flips |",
             "|---" * (len(steps) + 3) + "|"]
    for name, r in a.items():
        lines.append(f"| {name} | " + " | ".join(f"{d:.3g} / {f:.3g}" for d, f in zip(r["distance"], r["flips"]))
                     + f" | {s(r['slope_distance'])} | {s(r['slope_flips'])} |")
    lines += ["", f"(b) Steps K* to rho <= {eps} (K doubled from 1 up to {k_max}; log-log interpolation; '<=': reached at "
              "the first K tried or with an estimate <= 0; '-': not reached). Ising chains, beta = 1, h = 0.1.", "",
              "| N | H | samples | euler_maruyama | rademacher |", "|---|---|---|---|---|"]
    for r in b:
        cells = []
        for name in ("euler_maruyama", "rademacher"):
            k = r[name]["steps_needed"]
            cells.append("-" if k is None else ("<= " if r[name]["upper_bound"] else "") + f"{k:.1f}")
        lines.append(f"| {r['n_sites']} | {r['entropy']:.3g} | {r['n_samples']} | " + " | ".join(cells) + " |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")

    plot(args.out / "rademacher_strong_error.png", summary["strong"])
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
