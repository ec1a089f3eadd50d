"""Exact error of approximate discrete-diffusion samplers against the number of steps.

    python examples/validate_samplers.py OUT_DIR [--quick]

On an Ising chain (exact path KL and output-law KL by enumeration) for Euler, tau-leaping,
exponential Euler, Tweedie and theta-trapezoidal with flip noise, and the masked sampler with mask
noise; writes kl_vs_steps.png, path_kl_vs_steps.png, results.md (table with fitted slopes).
"""
from __future__ import annotations

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
    args = parse_example_args(ap, argv)
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
    for idx, fname, ylabel in ((0, "kl_vs_steps.png", "KL(P_delta || sampler output)"), (1, "path_kl_vs_steps.png", "path KL(sampler || exact)")):
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for label, vals in curves.items():
            ax.loglog(steps, vals[idx], "o-", label=label)
        ax.set_xlabel("steps")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.out / fname, dpi=110)
        plt.close(fig)
    header = "| sampler | " + " | ".join(f"path KL, {k} steps" for k in steps) + " | slope (last two) |"
    table = "\n".join([f"Ising chain N={n_sites}, beta=1, T={T}, delta={delta}, exact start (x_T ~ P_T)", "", header,
                       "|" + "---|" * (len(steps) + 2), *rows])
    table += ("\n\n" + order_in_law(args, T, delta) + "\n\n" + against_size(args, T, delta) + "\n\n"
              + float32_vs_float64(args, T, delta))
    (args.out / "results.md").write_text(table + "\n")
    print(table)


def against_size(args, T, delta) -> str:
    """Monte Carlo path KL(exact || euler) at fixed steps against N, on three models (PNG + table)."""
    steps, n = (8, 300) if args.quick else (32, 2000)
    families = {
        "Ising chain beta=1": [IsingChain(N, beta=1.0) for N in ((4, 8) if args.quick else (8, 16, 32, 64))],
        "Ising cylinder W=4 beta_c": [IsingCylinder(L, 4, beta=0.4406868) for L in ((1 + 1, 3) if args.quick else (2, 4, 8, 16))],
        "Fredkin c=0.6": [Fredkin(N, 0.6) for N in ((4, 8) if args.quick else (8, 16, 32, 64))],
    }
    lines = [f"Path KL(exact || euler) against N, {steps} steps, T={T}, delta={delta}, {n} exact paths", "",
             "| model | N | path KL | stderr |", "|---|---|---|---|"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, models in families.items():
        Ns, vals = [], []
        for m in models:
            ddm = tnddm.Diffusion(m.mps(), Flip(1.0))
            res = path_kl_mc("euler", ExactOracle(ddm), ddm, time_grid(steps, T, delta=delta), n, seed=0,
                             direction="exact_sampler", start="exact")
            Ns.append(m.n_sites)
            vals.append(res["kl"])
            lines.append(f"| {label} | {m.n_sites} | {res['kl']:.4g} | {res['stderr']:.2g} |")
        ax.plot(Ns, vals, "o-", label=label)
    ax.set_xlabel("N")
    ax.set_ylabel("path KL(exact || euler)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "path_kl_vs_N.png", dpi=110)
    plt.close(fig)
    return "\n".join(lines)


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
