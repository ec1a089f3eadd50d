"""Gaussian (VP) diffusion samplers of spins against the exact law: error against steps, steps against N and entropy.

    python examples/gaussian_samplers.py OUT [--quick]

Metrics (exact law pi by enumeration, N <= 14): the TV of the rounded samples' empirical law (biased upward by
Monte Carlo noise: its floor is shown by the TV of exact samples of the same size), and the relative L2 error
rho = ||q - pi||_2 / ||pi||_2 of the sampler's law q, from the unbiased U-statistic of ||q - pi||_2^2
(tnddm.validate.gaussian_samplers.l2_error: no noise floor, standard errors).
(a) 10-site Ising chain (beta = 1, h = 0.1; 8 sites with --quick): TV and rho against steps for ddpm, ode,
    accel-sde, accel-ode, euler_maruyama, rademacher and a mis-scaled rademacher (noise +-1.5), with slopes of
    log error against log steps fitted on the resolved points.
(b) steps K* needed to reach rho <= EPS for ode, accel-ode, ddpm and accel-sde (doubling K from 1 and
    interpolating log rho linearly in log K): Ising chains N = 6..14 at beta = 1 (against N), and a 10-site chain
    and a 4 x 3 Ising cylinder at several beta (against the exact entropy H(pi) = log Z + beta <E>; Aghapour and
    Bayraktar, arXiv:2605.07969: complexity follows entropy, not dimension). All with h = 0.1.
Writes OUT/summary.json, OUT/table.md, OUT/error_vs_steps.png, OUT/steps_vs_N.png, OUT/steps_vs_entropy.png.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tnddm.gaussian import GaussianDiffusion  # noqa: E402
from tnddm.lattice import IsingChain, IsingCylinder  # noqa: E402
from tnddm.validate.gaussian_samplers import l2_error, rounded_tv, sample_gaussian, vp_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

RUNS_A = [("ddpm", 1.0), ("ode", 1.0), ("accel_sde", 1.0), ("accel_ode", 1.0), ("euler_maruyama", 1.0),
          ("rademacher", 1.0), ("rademacher", 1.5)]
SAMPLERS_B = ("ode", "accel_ode", "ddpm", "accel_sde")
EPS = 0.05  # target relative L2 error of part (b)
H = 0.1  # field of every model


def label(name, scale):
    return name if scale == 1.0 else f"{name} x{scale:g}"


def slope(steps, vals, ok):
    """Least-squares slope of log vals against log steps on the points flagged ok (None if fewer than 2)."""
    steps, vals, ok = np.asarray(steps, float), np.asarray(vals, float), np.asarray(ok, bool)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(steps[ok]), np.log(vals[ok]), 1)[0])


def rel_l2(X, pi):
    """(rho, standard error) with rho = sign(U) sqrt(|U|) / ||pi||_2 and U the unbiased estimate of ||q - pi||_2^2."""
    u, se = l2_error(X, pi)
    norm2 = float(pi @ pi)
    rho = float(np.sign(u) * np.sqrt(abs(u) / norm2))
    return rho, float(se / (2 * np.sqrt(max(abs(u), se) * norm2)))  # delta method, capped where U ~ its noise


def samples_for(pi, n_min, n_max):
    """Sample size with the null noise of U, sqrt(2 sum pi^2) / n, below (EPS ||pi||)^2 / 5 (clipped)."""
    norm2 = float(pi @ pi)
    return int(np.clip(5 * np.sqrt(2 * norm2) / (EPS**2 * norm2), n_min, n_max))


def part_a(n_sites, steps, n, seed):
    chain = IsingChain(n_sites, beta=1.0, h=H)
    gd, pi = GaussianDiffusion(chain.mps()), chain.mps().to_dense()
    exact, _ = chain.sample(n, seed=seed + 1)
    floor = rounded_tv(exact, pi)
    rows = []
    for name, scale in RUNS_A:
        pts = []
        for k in steps:
            X = sample_gaussian(name, gd, n, vp_grid(k), seed=seed, noise_scale=scale)
            rho, se = rel_l2(X, pi)
            pts.append({"steps": k, "tv": rounded_tv(X, pi), "rel_l2": rho, "rel_l2_se": se})
        resolved = [p["rel_l2"] > 3 * p["rel_l2_se"] for p in pts]
        above_floor = [p["tv"] > 2 * floor for p in pts]
        rows.append({"sampler": label(name, scale), "points": pts,
                     "slope_rel_l2": slope(steps, [max(p["rel_l2"], 1e-300) for p in pts], resolved),
                     "slope_tv": slope(steps, [p["tv"] for p in pts], above_floor)})
    return {"model": chain.to_spec(), "n_samples": n, "tv_floor_exact_samples": floor, "samplers": rows}


def steps_needed(gd, pi, name, n, seed, k_max):
    """(K*, is_upper_bound, points): K* (interpolated in log-log) with rho <= EPS, doubling K from 1."""
    pts, k = [], 1
    while k <= k_max:
        rho, se = rel_l2(sample_gaussian(name, gd, n, vp_grid(k), seed=seed), pi)
        pts.append({"steps": k, "rel_l2": rho, "rel_l2_se": se})
        if rho <= EPS:
            break
        k *= 2
    last = pts[-1]
    if last["rel_l2"] > EPS:
        return None, False, pts  # not reached by k_max
    if len(pts) == 1 or last["rel_l2"] <= 0:
        return float(last["steps"]), True, pts  # no interpolation possible: K is an upper bound
    prev = pts[-2]
    t = (np.log(EPS) - np.log(prev["rel_l2"])) / (np.log(last["rel_l2"]) - np.log(prev["rel_l2"]))
    return float(np.exp(np.log(prev["steps"]) + t * np.log(last["steps"] / prev["steps"]))), False, pts


def part_b(models, n_range, seed, k_max):
    rows = []
    for family, model in models:
        gd, pi = GaussianDiffusion(model.mps()), model.mps().to_dense()
        n = samples_for(pi, *n_range)
        row = {"family": family, "model": model.to_spec(), "n_sites": model.n_sites, "beta": model.beta,
               "entropy": float(model.observables()["entropy"]), "max_entropy": model.n_sites * float(np.log(2)),
               "n_samples": n, "steps_needed": {}, "upper_bound": {}, "points": {}}
        for name in SAMPLERS_B:
            k_star, bound, pts = steps_needed(gd, pi, name, n, seed, k_max)
            row["steps_needed"][name], row["upper_bound"][name], row["points"][name] = k_star, bound, pts
        rows.append(row)
    return rows


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def write_table(path, a, b, k_max, cmd):
    pts0 = a["samplers"][0]["points"]
    lines = [f"Regenerate: `{cmd}`", "",
             f"### (a) Error against steps: Ising chain N = {a['model']['n_sites']}, beta = {a['model']['beta']:g}, "
             f"h = {a['model']['h']:g}; n = {a['n_samples']} samples", "",
             f"Cells: TV of the rounded samples / relative L2 error rho. TV of exact samples of the same size (the TV "
             f"floor): {a['tv_floor_exact_samples']:.4f}.", "",
             "| sampler | " + " | ".join(f"{p['steps']} steps" for p in pts0) + " | slope rho | slope TV |",
             "|---" * (len(pts0) + 3) + "|"]
    for r in a["samplers"]:
        cells = [f"{p['tv']:.3f} / {p['rel_l2']:.3f}" for p in r["points"]]
        lines.append(f"| {r['sampler']} | " + " | ".join(cells) + f" | {fmt(r['slope_rel_l2'], '.2f')} | "
                     f"{fmt(r['slope_tv'], '.2f')} |")
    se = max(p["rel_l2_se"] for r in a["samplers"] for p in r["points"])
    lines += ["", f"Largest standard error of rho: {se:.3f}. Slopes: least squares of log error against log steps over the "
              "points with rho > 3 standard errors (rho) or TV > 2 x floor (TV).", "",
              f"### (b) Steps K* to reach rho <= {EPS} (K doubled from 1 up to {k_max}, log-log interpolation; "
              "'<= K': reached at the first K tried or with an estimate <= 0, an upper bound; '-' = not reached)", "",
              "| model | N | beta | H(pi) | H / (N log 2) | samples | " + " | ".join(SAMPLERS_B) + " |",
              "|---" * (6 + len(SAMPLERS_B)) + "|"]
    for r in b:
        spec = r["model"]
        name = spec["kind"] + (f" {spec['length']}x{spec['width']}" if spec["kind"] == "ising_cylinder" else "")
        lines.append(f"| {name} | {r['n_sites']} | {r['beta']:g} | {r['entropy']:.3f} | "
                     f"{r['entropy'] / r['max_entropy']:.2f} | {r['n_samples']} | "
                     + " | ".join(("<= " if r["upper_bound"][s] else "") + fmt(r["steps_needed"][s], ".1f")
                                  for s in SAMPLERS_B) + " |")
    path.write_text("\n".join(lines) + "\n")


def plots(out, a, b):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for r in a["samplers"]:
        k = np.array([p["steps"] for p in r["points"]])
        axes[0].loglog(k, [p["tv"] for p in r["points"]], "o-", label=r["sampler"])
        rho = np.array([p["rel_l2"] for p in r["points"]])
        err = np.array([p["rel_l2_se"] for p in r["points"]])
        good = rho > 0
        axes[1].errorbar(k[good], rho[good], yerr=err[good], fmt="o-", capsize=2, label=r["sampler"])
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[0].axhline(a["tv_floor_exact_samples"], color="k", ls=":", label="TV of exact samples")
    axes[0].set_ylabel("TV(rounded samples, pi)")
    axes[1].set_ylabel("rho = ||q - pi||_2 / ||pi||_2 (unbiased)")
    for ax in axes:
        ax.set_xlabel("steps")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    m = a["model"]
    fig.suptitle(f"Ising chain N={m['n_sites']} beta={m['beta']:g} h={m['h']:g}")
    fig.tight_layout()
    fig.savefig(out / "error_vs_steps.png", dpi=120)
    plt.close(fig)

    colours = dict(zip(SAMPLERS_B, ("C0", "C1", "C2", "C3")))
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    chains = [r for r in b if r["family"].startswith("chain, beta = 1")]
    for s in SAMPLERS_B:
        pts = [(r["n_sites"], r["steps_needed"][s]) for r in chains if r["steps_needed"][s] is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", color=colours[s], label=s)
    ax.set_xlabel("N (Ising chain, beta = 1)")
    ax.set_ylabel(f"steps to rho <= {EPS}")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "steps_vs_N.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    markers = {}
    for r in b:
        mk = markers.setdefault(r["family"], "osD^v"[len(markers) % 5])
        for s in SAMPLERS_B:
            if r["steps_needed"][s] is not None:
                ax.plot(r["entropy"], r["steps_needed"][s], mk, color=colours[s], alpha=0.8)
    for s in SAMPLERS_B:
        ax.plot([], [], "-", color=colours[s], label=s)
    for fam, mk in markers.items():
        ax.plot([], [], mk, color="gray", label=fam)
    ax.set_xlabel("entropy H(pi) (nats)")
    ax.set_ylabel(f"steps to rho <= {EPS}")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out / "steps_vs_entropy.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "small models, few steps and samples (seconds)")
    args = parse_example_args(ap, argv)
    t0 = time.time()
    seed = 0
    if args.quick:
        a = part_a(8, [4, 8, 16], 4000, seed)
        models = [("chain, beta = 1", IsingChain(n, 1.0, h=H)) for n in (6, 8)]
        models += [("chain N = 8, varying beta", IsingChain(8, b, h=H)) for b in (0.5, 1.5)]
        models += [("cylinder 3x3, varying beta", IsingCylinder(3, 3, 0.44, h=H))]
        n_range, k_max = (2000, 6000), 16
    else:
        a = part_a(10, [4, 8, 16, 32, 64, 128], 50_000, seed)
        models = [("chain, beta = 1", IsingChain(n, 1.0, h=H)) for n in (6, 8, 10, 12, 14)]
        models += [("chain N = 10, varying beta", IsingChain(10, b, h=H)) for b in (0.25, 0.5, 0.75, 1.5)]
        models += [("cylinder 4x3, varying beta", IsingCylinder(4, 3, b, h=H)) for b in (0.1, 0.2, 0.3, 0.44, 0.6)]
        n_range, k_max = (20_000, 200_000), 128
    b = part_b(models, n_range, seed, k_max)
    cmd = "python examples/gaussian_samplers.py OUT" + (" --quick" if args.quick else "")
    summary = {"command": cmd, "eps_rel_l2": EPS, "k_max": k_max, "error_vs_steps": a, "steps_needed": b,
               "seconds": time.time() - t0}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    write_table(args.out / "table.md", a, b, k_max, cmd)
    plots(args.out, a, b)
    print((args.out / "table.md").read_text())
    print(f"wrote {args.out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
