"""Entropy, not dimension (Aghapour and Bayraktar, arXiv:2605.07969): path KL against H(pi) and against N.

    python examples/entropy_lab.py OUT [--quick]

Claim tested: the discretisation error of a diffusion sampler is controlled by the entropy H(pi) of the
target, not by the number of sites N. Measured exactly (exact scores, exact path log-probabilities):
- DDPM with VP Gaussian noise of the spins (tnddm.gaussian; DDPM linear schedule, uniform grid 1 -> 1e-3,
  x_T ~ p_T): Monte Carlo path KL(exact || ddpm) from tnddm.validate.gaussian_samplers.gaussian_path_kl;
- discrete flip noise (rate 1, uniform grid T = 3 -> delta = 0.1, x_T ~ P_T): path KL(exact || sampler) for
  Euler and Tweedie tau-leaping from tnddm.validate.path_kl_exact_paths (autoregressive estimator).
(a) against H at fixed N: Ising chains, N = 10, h = 0.1, beta from 0.25 to 2;
(b) against N at fixed H: chains of N = 6..40 sites with beta solved so that H(pi) = 2 nats, and, for
    contrast, at fixed beta = 1 (H grows with N);
(c) padding: the N = 10, beta = 1 chain with k extra sites that are always +1 (H unchanged, N grows), and
    as the negative control k extra independent fair spins (H grows by k log 2). DDPM's steps to reach
    path KL <= EPS are interpolated from 8..64 steps.
Writes OUT/summary.json, OUT/table.md, OUT/path_kl_vs_entropy.png.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

import tnddm  # noqa: E402
from tnddm.gaussian import GaussianDiffusion  # noqa: E402
from tnddm.lattice import IsingChain  # noqa: E402
from tnddm.noise import Flip  # noqa: E402
from tnddm.validate import ExactOracle, path_kl_exact_paths, time_grid  # noqa: E402
from tnddm.validate.gaussian_samplers import gaussian_path_kl, vp_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

FIELD, EPS = 0.1, 0.5


def entropy(model: IsingChain) -> float:
    return float(model.observables()["entropy"])


def beta_for_entropy(n_sites: int, target: float) -> float:
    """The beta of the N-site chain (h = FIELD) whose entropy is `target` nats."""
    return float(brentq(lambda b: entropy(IsingChain(n_sites, b, h=FIELD)) - target, 1e-3, 20.0, xtol=1e-6))


def padded(model: IsingChain, k: int, kind: str) -> tnddm.ProbMPS:
    """The model's MPS with k extra sites: always +1 (kind 'fixed') or independent fair spins ('fair')."""
    cores = list(tnddm.ProbMPS.from_quimb(model.mps().to_quimb()).cores)
    site = np.array([0.0, 1.0]) if kind == "fixed" else np.array([0.5, 0.5])
    return tnddm.ProbMPS(cores + [site.reshape(1, 2, 1)] * k)


def measure(P, steps_gauss, steps_flip, n_gauss, n_flip, seed):
    """DDPM path KL at each of steps_gauss, and Euler / Tweedie path KL under flip noise at steps_flip."""
    out = {}
    gd = GaussianDiffusion(P)
    for k in steps_gauss:
        r = gaussian_path_kl("ddpm", gd, n_gauss, vp_grid(k), seed=seed + k, direction="exact_sampler")
        out[f"ddpm_{k}"] = (r["kl"], r["stderr"])
    ddm = tnddm.Diffusion(P, Flip(1.0))
    res = path_kl_exact_paths(("euler", "tweedie"), ExactOracle(ddm), ddm, time_grid(steps_flip, 3.0, delta=0.1), n_flip,
                              seed=seed, start="exact", coupling="independent_steps")
    for name, r in res.items():
        out[f"{name}_{steps_flip}"] = (r["kl"], r["stderr"])
    return out


def steps_needed(steps, kls, eps=EPS):
    """Steps at which the path KL reaches eps, interpolating log KL linearly in log steps (None if never)."""
    kls = np.asarray(kls, float)
    for i in range(1, len(steps)):
        if kls[i] <= eps < kls[i - 1]:
            u = (np.log(kls[i - 1]) - np.log(eps)) / (np.log(kls[i - 1]) - np.log(kls[i]))
            return float(np.exp(np.log(steps[i - 1]) + u * (np.log(steps[i]) - np.log(steps[i - 1]))))
    return float(steps[0]) if kls[0] <= eps else None


def plot(path, rows, gstep, fstep, n_fix, h_target, n_gauss, n_flip) -> None:
    """path_kl_vs_entropy.png: path KL against H (all chains) and against N at fixed H, +-1 standard error bars.
    Colour: the sampler; marker: the family of chains."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    samplers = {f"ddpm_{gstep}": (f"DDPM, {gstep} steps (Gaussian noise)", "C0"),
                f"tweedie_{fstep}": (f"Tweedie, {fstep} steps (flip noise)", "C1"),
                f"euler_{fstep}": (f"Euler, {fstep} steps (flip noise)", "C2")}
    def span(part, key):
        values = [r[key] for r in rows if r["part"] == part]
        return f"{min(values):g} to {max(values):g}"

    families = {"entropy": ("o", f"N = {n_fix}, $\\beta$ = {span('entropy', 'beta')}"),
                "fixed_entropy": ("s", f"H = {h_target:g} nats, N = {span('fixed_entropy', 'n_sites')}"),
                "fixed_beta": ("^", f"$\\beta$ = 1, N = {span('fixed_beta', 'n_sites')}")}
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.8))
    for part, (mk, _) in families.items():
        sel = sorted((r for r in rows if r["part"] == part), key=lambda r: r["entropy"])
        for key, (_, colour) in samplers.items():
            if key.startswith("euler"):
                continue  # Euler's error grows with N at fixed H (right panel); against H it would hide the others
            axes[0].errorbar([r["entropy"] for r in sel], [r[key][0] for r in sel], yerr=[r[key][1] for r in sel],
                             fmt=mk, color=colour, mfc=colour if key.startswith("ddpm") else "none", capsize=3, ms=6)
    fixed = sorted((r for r in rows if r["part"] == "fixed_entropy"), key=lambda r: r["n_sites"])
    for key, (label, colour) in samplers.items():
        axes[1].errorbar([r["n_sites"] for r in fixed], [r[key][0] for r in fixed], yerr=[r[key][1] for r in fixed],
                         fmt="s-", color=colour, mfc=colour if key.startswith("ddpm") else "none", capsize=3, ms=6)
    axes[0].set_xscale("log")
    axes[0].set_xlabel(r"entropy $H(\pi)$ of the target (nats)")
    axes[0].set_title("against the entropy (every chain of parts (a) and (b))", fontsize=10)
    axes[1].set_xscale("log")
    Ns = [r["n_sites"] for r in fixed]
    axes[1].set_xticks(Ns)
    axes[1].set_xlabel(f"number of sites N (entropy fixed at H = {h_target:g} nats)")
    axes[1].set_title(f"against N at fixed entropy H = {h_target:g} nats", fontsize=10)
    for ax in axes:
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            if axis is ax.yaxis or ax is axes[0]:
                axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(r"path KL(exact $\|$ sampler) (nats)")
        ax.grid(True, which="both", alpha=0.3)
    colour_handles = [Line2D([], [], ls="none", marker="o", color=c, mfc=c if k.startswith("ddpm") else "none", label=t)
                      for k, (t, c) in samplers.items()]
    family_handles = [Line2D([], [], ls="none", marker=mk, color="0.3", label=t) for mk, t in families.values()]
    fig.legend(handles=colour_handles + family_handles, loc="lower center", ncol=2, fontsize=9, frameon=False,
               title="colour: sampler (filled: Gaussian noise, open: flip noise); marker: Ising chains (h = 0.1)",
               title_fontsize=9)
    fig.suptitle(f"Path KL with $x_T \\sim p_T$ exactly; mean of {n_gauss} DDPM paths or {n_flip} flip-noise rows, "
                 "error bars $\\pm 1$ standard error", fontsize=11)
    fig.tight_layout(rect=(0, 0.19, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "small chains, few paths (seconds)", seed=True)
    ap.add_argument("--render", action="store_true", help="redraw the plot from OUT/summary.json (no sampling)")
    args = parse_example_args(ap, argv)
    if args.render:
        saved = json.loads((args.out / "summary.json").read_text())
        plot(args.out / "path_kl_vs_entropy.png", saved["rows"], saved["gauss_steps"][0], saved["flip_steps"],
             next(r["n_sites"] for r in saved["rows"] if r["part"] == "entropy"),
             next(r["entropy"] for r in saved["rows"] if r["part"] == "fixed_entropy"), saved["n_gauss"], saved["n_flip"])
        return saved
    q = args.quick
    n_fix = 6 if q else 10
    betas = [0.25, 1.0, 2.0] if q else [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
    sizes = [4, 8] if q else [6, 12, 24, 40]
    h_target = 1.0 if q else 2.0
    pads = [0, 4] if q else [0, 4, 8, 16]
    gsteps = [16, 32] if q else [32, 64]
    pad_steps = [16, 32] if q else [16, 32, 64, 128]
    fsteps = 8 if q else 32
    n_gauss, n_flip = (400, 200) if q else (4000, 1000)
    rows = []

    def row(part, P, H, N, beta, steps_g, extra=None):
        r = {"part": part, "n_sites": N, "beta": beta, "entropy": H, **(extra or {})}
        r.update(measure(P, steps_g, fsteps, n_gauss, n_flip, args.seed))
        rows.append(r)
        print(part, {k: (v if not isinstance(v, tuple) else round(v[0], 4)) for k, v in r.items()}, flush=True)
        return r

    for beta in betas:
        m = IsingChain(n_fix, beta, h=FIELD)
        row("entropy", m.mps(), entropy(m), n_fix, beta, gsteps)
    for N in sizes:
        b = beta_for_entropy(N, h_target)
        m = IsingChain(N, b, h=FIELD)
        row("fixed_entropy", m.mps(), entropy(m), N, b, gsteps)
        m = IsingChain(N, 1.0, h=FIELD)
        row("fixed_beta", m.mps(), entropy(m), N, 1.0, gsteps)
    base = IsingChain(n_fix, 1.0, h=FIELD)
    for kind in ("fixed", "fair"):
        for k in pads:
            if kind == "fair" and k == 0:
                continue
            H = entropy(base) + (k * np.log(2) if kind == "fair" else 0.0)
            r = row("padding", padded(base, k, kind), H, n_fix + k, 1.0, pad_steps, {"pad": k, "pad_kind": kind})
            r["ddpm_steps_needed"] = steps_needed(pad_steps, [r[f"ddpm_{s}"][0] for s in pad_steps])

    command = "python examples/entropy_lab.py OUT" + (" --quick" if q else "")
    summary = {"command": command, "field": FIELD, "eps": EPS, "gauss_steps": gsteps, "pad_steps": pad_steps,
               "flip_steps": fsteps, "n_gauss": n_gauss, "n_flip": n_flip, "rows": rows}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))

    def cell(r, key, per_h=False):
        v, se = r[key]
        return f"{v / r['entropy']:.3f}" if per_h else f"{v:.3g} ± {se:.2g}"

    gk = [f"ddpm_{k}" for k in gsteps]
    fk = [f"euler_{fsteps}", f"tweedie_{fsteps}"]
    head = ("| N | beta | H | " + " | ".join(f"DDPM {k} steps | /H" for k in gsteps) + f" | Euler {fsteps} (flip) | /H"
            f" | Tweedie {fsteps} (flip) | /H |")
    sep = "|---" * (3 + 2 * len(gk) + 4) + "|"
    lines = [f"Regenerate with `{command}`.", "",
             f"Path KL(exact || sampler) with standard errors ({n_gauss} DDPM paths, {n_flip} flip rows); /H: divided by "
             "the entropy H(pi) in nats. Ising chains, h = 0.1."]
    for part, title in (("entropy", f"(a) against H at N = {n_fix}"),
                        ("fixed_entropy", f"(b) against N at fixed H = {h_target:g}"),
                        ("fixed_beta", "(b') against N at fixed beta = 1")):
        lines += ["", title, "", head, sep]
        for r in rows:
            if r["part"] == part:
                cells = [f"{cell(r, k)} | {cell(r, k, True)}" for k in gk + fk]
                lines.append(f"| {r['n_sites']} | {r['beta']:.3g} | {r['entropy']:.3g} | " + " | ".join(cells) + " |")
    pk = [f"ddpm_{k}" for k in pad_steps]
    lines += ["", f"(c) padding the N = {n_fix}, beta = 1 chain with k sites: 'fixed' = always +1 (H unchanged), "
              f"'fair' = independent fair spins (negative control, H + k log 2). Steps to DDPM path KL <= {EPS}.", "",
              "| pad | k | H | " + " | ".join(f"DDPM {k}" for k in pad_steps) + f" | DDPM steps to {EPS} | Euler {fsteps} "
              f"(flip) | Tweedie {fsteps} (flip) |", "|---" * (6 + len(pk)) + "|"]
    for r in rows:
        if r["part"] == "padding":
            need = r["ddpm_steps_needed"]
            lines.append(f"| {r['pad_kind']} | {r['pad']} | {r['entropy']:.3g} | " + " | ".join(cell(r, k) for k in pk)
                         + f" | {'-' if need is None else f'{need:.1f}'} | {cell(r, fk[0])} | {cell(r, fk[1])} |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")

    plot(args.out / "path_kl_vs_entropy.png", rows, gsteps[0], fsteps, n_fix, h_target, n_gauss, n_flip)
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
