"""Exact error of approximate discrete-diffusion samplers against the number of steps.

    python examples/validate_samplers.py OUT_DIR [--quick]

On an Ising chain (exact path KL and output-law KL by enumeration) for Euler, tau-leaping,
exponential Euler, Tweedie and theta-trapezoidal with flip noise, and the masked sampler with mask
noise; writes kl_vs_steps.png, path_kl_vs_steps.png, path_kl_vs_N.png, results.md (tables with fitted slopes) and
results.json (the plotted values; `--render` redraws the plots from it without recomputing).
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
from tnddm.goodness_of_fit import config_index  # noqa: E402
from tnddm.lattice import Fredkin, IsingChain, IsingCylinder  # noqa: E402
from tnddm.noise import Flip, Mask  # noqa: E402
from tnddm.validate import ExactOracle, output_law, path_kl_exact, path_kl_mc, sample, time_grid, tv  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402


def main(argv=None):
    ap = example_parser(__doc__, "6 sites and few step counts (seconds)")
    ap.add_argument("--render", action="store_true", help="redraw the plots from OUT_DIR/results.json (no computation)")
    args = parse_example_args(ap, argv)
    if args.render:
        saved = json.loads((args.out / "results.json").read_text())
        plot_against_steps(args.out, saved["steps"], saved["curves"], saved["n_sites"], saved["T"], saved["delta"])
        size = saved["against_size"]
        plot_against_size(args.out / "path_kl_vs_N.png", {k: tuple(np.array(v) for v in vals) for k, vals in size["data"].items()},
                          size["steps"], size["paths"], saved["T"], saved["delta"])
        return saved
    n_sites = 6 if args.quick else 10
    steps = [4, 8, 16] if args.quick else [16, 32, 64, 128]
    model = IsingChain(n_sites, beta=1.0)
    runs = [("euler", Flip(1.0)), ("tau_leaping", Flip(1.0)), ("exponential_euler", Flip(1.0)), ("tweedie", Flip(1.0)),
            ("theta_trapezoidal", Flip(1.0)), ("masked", Mask(1.0)), ("tweedie", Mask(1.0))]
    if args.quick or n_sites > 8:
        runs = [r for r in runs if r[0] != "theta_trapezoidal" or n_sites <= 8]
    T, delta = 3.0, 0.1
    rows, curves = [], {}
    for name, noise in runs:
        size = n_sites
        while noise.d_out**size > 2**12:  # exact metrics build d_out^N x d_out^N matrices (mask noise: 3^N)
            size -= 1
        run_model = model if size == n_sites else IsingChain(size, beta=1.0)
        ddm = tnddm.Diffusion(run_model.mps(), noise)
        label = f"{name} ({type(noise).__name__.lower()}, N={size})"
        kls, pkls = [], []
        for k in steps:
            oracle = ExactOracle(ddm)
            times = time_grid(k, T, delta=delta)
            kls.append(output_law(name, oracle, ddm, times, start="exact")["kl_exact_sampler"])
            pkls.append(path_kl_exact(name, oracle, ddm, times, start="exact")["kl_sampler_exact"])
        slope = np.polyfit(np.log(steps[-2:]), np.log(pkls[-2:]), 1)[0]
        curves[label] = (kls, pkls)
        rows.append(f"| {label} | " + " | ".join(f"{v:.3g}" for v in pkls) + f" | {slope:.2f} |")
    plot_against_steps(args.out, steps, curves, n_sites, T, delta)
    header = "| sampler | " + " | ".join(f"path KL, {k} steps" for k in steps) + " | slope (last two) |"
    table = "\n".join([f"Ising chain N={n_sites}, beta=1, T={T}, delta={delta}, exact start (x_T ~ P_T)", "", header,
                       "|" + "---|" * (len(steps) + 2), *rows])
    size_table, size = against_size(args, T, delta)
    table += ("\n\n" + order_in_law(args, T, delta) + "\n\n" + size_table + "\n\n" + float32_vs_float64(args, T, delta))
    (args.out / "results.md").write_text(table + "\n")
    saved = {"n_sites": n_sites, "T": T, "delta": delta, "steps": steps, "curves": curves, "against_size": size}
    (args.out / "results.json").write_text(json.dumps(saved, indent=1, default=float))
    print(table)


# One style per run, so that curves that coincide (the masked sampler and Tweedie with mask noise are the same
# kernel) or nearly coincide stay distinguishable: colour, marker and line style all differ.
STYLES = [dict(color="C0", marker="o", ls="-"), dict(color="C1", marker="s", ls="--"),
          dict(color="C2", marker="^", ls="-."), dict(color="C3", marker="D", ls=":"),
          dict(color="C4", marker="v", ls="-"), dict(color="C5", marker="o", ls="-", mfc="none", ms=11),
          dict(color="C6", marker="x", ls="--", ms=7)]


def steps_axis(ax, steps) -> None:
    """Log x axis with a plain tick at every step count (no 2 x 10^1 labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.set_xticks(list(steps))
    ax.set_xticklabels([str(k) for k in steps])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("steps of the sampler (uniform grid)")


def pretty(label: str) -> str:
    """'masked (mask, N=7)' -> 'masked, mask noise, N = 7'; Tweedie with mask noise says it is the masked kernel."""
    name, rest = label.split(" (", 1)
    noise, size = rest.rstrip(")").split(", ")
    text = f"{name}, {noise} noise, {size.replace('=', ' = ')}"
    return text + " (same kernel as masked)" if name == "tweedie" and noise == "mask" else text


def plot_against_steps(out, steps, curves, n_sites, T, delta) -> None:
    """kl_vs_steps.png and path_kl_vs_steps.png: exact values (enumeration), so no error bars."""
    what = ((0, "kl_vs_steps.png", r"output-law KL$(P_\delta \,\|\,$ sampler output$)$ (nats)"),
            (1, "path_kl_vs_steps.png", r"grid-path KL(sampler $\|$ exact) (nats)"))
    for idx, fname, ylabel in what:
        fig, ax = plt.subplots(figsize=(7, 4.8))
        for k, (label, vals) in enumerate(curves.items()):
            style = dict(STYLES[k % len(STYLES)])
            ax.plot(steps, vals[idx], label=pretty(label), lw=1.6, ms=style.pop("ms", 6), **style)
        ax.set_yscale("log")
        steps_axis(ax, steps)
        ax.set_ylabel(ylabel)
        ax.set_title(f"Ising chain $\\beta = 1$, $T = {T:g}$ to $\\delta = {delta:g}$, exact start $x_T \\sim P_T$\n"
                     "exact values by enumeration (no sampling error)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left", framealpha=0.9)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)


def against_size(args, T, delta) -> tuple[str, dict]:
    """Monte Carlo path KL(exact || euler) at fixed steps against N, on three models (PNG + table, plotted data)."""
    steps, n = (8, 300) if args.quick else (32, 2000)
    families = {
        "Ising chain beta=1": [IsingChain(N, beta=1.0) for N in ((4, 8) if args.quick else (8, 16, 32, 64))],
        "Ising cylinder W=4 beta_c": [IsingCylinder(L, 4, beta=0.4406868) for L in ((1 + 1, 3) if args.quick else (2, 4, 8, 16))],
        "Fredkin c=0.6": [Fredkin(N, 0.6) for N in ((4, 8) if args.quick else (8, 16, 32, 64))],
    }
    lines = [f"Path KL(exact || euler) against N, {steps} steps, T={T}, delta={delta}, {n} exact paths", "",
             "| model | N | path KL | stderr |", "|---|---|---|---|"]
    data = {}
    for label, models in families.items():
        Ns, vals, errs = [], [], []
        for m in models:
            ddm = tnddm.Diffusion(m.mps(), Flip(1.0))
            res = path_kl_mc("euler", ExactOracle(ddm), ddm, time_grid(steps, T, delta=delta), n, seed=0,
                             direction="exact_sampler", start="exact")
            Ns.append(m.n_sites)
            vals.append(res["kl"])
            errs.append(res["stderr"])
            lines.append(f"| {label} | {m.n_sites} | {res['kl']:.4g} | {res['stderr']:.2g} |")
        data[label] = (np.array(Ns), np.array(vals), np.array(errs))
    plot_against_size(args.out / "path_kl_vs_N.png", data, steps, n, T, delta)
    return "\n".join(lines), {"steps": steps, "paths": n, "data": {k: [v.tolist() for v in vals] for k, vals in data.items()}}


def plot_against_size(path, data, steps, n, T, delta) -> None:
    """path_kl_vs_N.png: the path KL and the path KL per site against N, with +-1 standard error bars."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for (label, (Ns, vals, errs)), mk in zip(data.items(), "os^"):
        text = (label.replace("beta=1", r"$\beta = 1$").replace(" beta_c", r" at $\beta_c$").replace("c=", "c = ")
                .replace("W=", "W = "))
        axes[0].errorbar(Ns, vals, yerr=errs, fmt=mk + "-", capsize=4, ms=5, label=text)
        axes[1].errorbar(Ns, vals / Ns, yerr=errs / Ns, fmt=mk + "-", capsize=4, ms=5, label=text)
    axes[0].set_ylabel(r"path KL(exact $\|$ Euler) (nats)")
    axes[0].set_ylim(0, None)
    axes[0].set_xlim(0, None)
    axes[1].set_ylabel(r"path KL per site, KL / N (nats)")
    axes[1].set_xscale("log")
    Ns = sorted({int(v) for Ns, _, _ in data.values() for v in Ns})
    axes[1].set_xticks(Ns)
    axes[1].set_xticklabels([str(v) for v in Ns])
    axes[1].minorticks_off()
    for ax in axes:
        ax.set_xlabel("number of sites N")
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle(f"Euler sampler, {steps} steps, $T = {T:g}$ to $\\delta = {delta:g}$, flip noise; mean over {n} exact "
                 "paths, error bars $\\pm 1$ standard error", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def order_in_law(args, T, delta) -> str:
    """Order of accuracy in the output law (TV and KL to P_delta) and on paths, Ising chain N = 6 (enumerable)."""
    steps = [8, 16] if args.quick else [8, 16, 32, 64]
    ddm = tnddm.Diffusion(IsingChain(6, beta=1.0).mps(), Flip(1.0))
    lines = [f"Order of accuracy, Ising chain N=6, beta=1, T={T}, delta={delta}, exact start; slopes against steps "
             f"between {steps[-2]} and {steps[-1]}", "",
             "| sampler | " + " | ".join(f"TV, {k}" for k in steps) + " | TV slope | KL slope | path KL slope |",
             "|" + "---|" * (len(steps) + 4)]
    for name in ("euler", "tweedie", "theta_trapezoidal"):
        tvs, kls, pkls = [], [], []
        for k in steps:
            times = time_grid(k, T, delta=delta)
            law = output_law(name, ExactOracle(ddm), ddm, times, start="exact")
            tvs.append(law["tv"])
            kls.append(law["kl_exact_sampler"])
            pkls.append(path_kl_exact(name, ExactOracle(ddm), ddm, times, start="exact")["kl_sampler_exact"])
        slopes = [np.polyfit(np.log(steps[-2:]), np.log(v[-2:]), 1)[0] for v in (tvs, kls, pkls)]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3g}" for v in tvs) + " | " + " | ".join(f"{v:.2f}" for v in slopes) + " |")
    return "\n".join(lines)


def float32_vs_float64(args, T, delta) -> str:
    """TV of the sampler's empirical output law from the exact law, float32 vs float64 categorical draws."""
    model = IsingChain(6, beta=1.0)
    n = 20_000 if args.quick else 200_000
    n_steps = 16 if args.quick else 128
    exact = model.mps().to_dense()
    lines = [f"Categorical draws in float32 vs float64 (Ising chain N=6, masked sampler, {n_steps} steps, {n} samples; "
             "TV of the empirical law from the exact law, whose sampling noise alone is about "
             f"{np.sqrt(exact.size / (2 * np.pi * n)):.3g})", "", "| precision | TV |", "|---|---|"]
    ddm = tnddm.Diffusion(model.mps(), Mask(1.0))
    for precision in (np.float64, np.float32):
        res = sample("masked", ExactOracle(ddm), n, time_grid(n_steps, T, delta=0.0), seed=1,
                     start="exact", precision=precision)
        done = res.samples.max(axis=1) < 2
        emp = np.bincount(config_index(res.samples[done], 2), minlength=exact.size) / max(done.sum(), 1)
        lines.append(f"| {np.dtype(precision).name} | {tv(emp, exact):.4g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
