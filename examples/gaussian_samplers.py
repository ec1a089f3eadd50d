"""Gaussian (VP) diffusion samplers of spins against the exact law: error against steps, steps against N and entropy.

    python examples/gaussian_samplers.py OUT [--quick]

Metrics (exact law pi by enumeration, N <= 14): the TV of the rounded samples' empirical law (biased upward by
Monte Carlo noise: its floor is shown by the TV of exact samples of the same size), and the relative L2 error
rho = ||q - pi||_2 / ||pi||_2 of the sampler's law q, from the unbiased U-statistic of ||q - pi||_2^2
(tnddm.validate.gaussian_samplers.l2_error: no noise floor, standard errors).
(a) 10-site Ising chain (beta = 1, h = 0.1; 8 sites with --quick): TV and rho against steps for ddpm, ode,
    accel_sde, accel_ode, euler_maruyama, rademacher and a mis-scaled rademacher (noise +-1.5), with slopes of
    log error against log steps fitted on the resolved points.
(b) steps K* needed to reach rho <= EPS for ode, accel_ode, ddpm and accel_sde (doubling K from 1 and
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

from tnddm.divergences import tv  # noqa: E402
from tnddm.gaussian import GaussianDiffusion  # noqa: E402
from tnddm.goodness_of_fit import config_index  # noqa: E402
from tnddm.lattice import IsingChain, IsingCylinder  # noqa: E402
from tnddm.rng import as_generator  # noqa: E402
from tnddm.validate.gaussian_samplers import l2_error, rounded_tv, sample_gaussian, vp_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args

from tnddm._plotting import log_axis  # noqa: E402

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


def tv_stderr(X, pi, reps: int = 200, seed: int = 12345) -> float:
    """Standard error of the TV of the rounded samples' empirical law, by a parametric bootstrap (counts redrawn
    from the empirical law; a generator of its own, so the samples and every other number are unchanged)."""
    n = len(X)
    emp = np.bincount(config_index(X, 2), minlength=pi.size) / n
    counts = as_generator(seed).multinomial(n, emp, size=reps)
    return float(np.std([tv(c / n, pi) for c in counts], ddof=1))


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
            pts.append({"steps": k, "tv": rounded_tv(X, pi), "tv_se": tv_stderr(X, pi), "rel_l2": rho, "rel_l2_se": se})
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


def k_star_interval(pts):
    """(low, high) of K* from rho -+ one standard error at the two step counts that bracket EPS (the same
    log-log interpolation as steps_needed; high is None where rho + se does not fall with K)."""
    if len(pts) < 2 or pts[-1]["rel_l2"] <= 0:
        return None, None
    prev, last = pts[-2], pts[-1]
    k0, k1 = np.log(prev["steps"]), np.log(last["steps"])

    def solve(r0, r1):
        if r0 <= EPS:
            return float(prev["steps"])
        if r1 <= 0:
            return float(prev["steps"])
        if r1 >= r0:
            return None
        return float(np.exp(k0 + (np.log(r0) - np.log(EPS)) / (np.log(r0) - np.log(r1)) * (k1 - k0)))

    low = solve(prev["rel_l2"] - prev["rel_l2_se"], last["rel_l2"] - last["rel_l2_se"])
    high = solve(prev["rel_l2"] + prev["rel_l2_se"], last["rel_l2"] + last["rel_l2_se"])
    return low, high


STEP_TICKS = [1, 2, 3, 5, 7, 10, 20, 30, 50, 70, 100, 200]


def shown(name: str) -> str:
    """Sampler names as the page writes them (the registered names, e.g. accel_ode)."""
    return name


def k_star_points(ax, xs, rows_pts, values, bounds, colour, marker, label):
    """K* with its interval as an error bar; upper bounds as open down-triangles (no interval)."""
    xs_e, ys_e, lo_e, hi_e, xs_b, ys_b = [], [], [], [], [], []
    for x, pts, k, bound in zip(xs, rows_pts, values, bounds):
        if k is None:
            continue
        if bound:
            xs_b.append(x)
            ys_b.append(k)
            continue
        low, high = k_star_interval(pts)
        xs_e.append(x)
        ys_e.append(k)
        lo_e.append(k - min(low if low is not None else k, k))
        hi_e.append((max(high, k) if high is not None else 2 * k) - k)
    if xs_e:
        ax.errorbar(xs_e, ys_e, yerr=[lo_e, hi_e], fmt=marker, color=colour, capsize=3, ms=6, label=label)
    if xs_b:
        ax.plot(xs_b, ys_b, "v", mfc="none", color=colour, ms=8, label=None if xs_e else label)


def plots(out, a, b):
    """error_vs_steps.png, steps_vs_N.png and steps_vs_entropy.png from the summary (a, b)."""
    m = a["model"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for r, mk in zip(a["samplers"], "osD^vPX"):
        k = np.array([p["steps"] for p in r["points"]])
        tvs = np.array([p["tv"] for p in r["points"]])
        tv_se = np.array([p.get("tv_se", np.nan) for p in r["points"]])
        axes[0].errorbar(k, tvs, yerr=tv_se, fmt=mk + "-", capsize=2, ms=5, label=shown(r["sampler"]))
        rho = np.array([p["rel_l2"] for p in r["points"]])
        err = np.array([p["rel_l2_se"] for p in r["points"]])
        good = rho > 2 * err
        line = axes[1].errorbar(k[good], rho[good], yerr=err[good], fmt=mk + "-", capsize=2, ms=5)
        if (~good).any():  # not resolved: rho within 2 standard errors of 0, drawn as its upper bound
            axes[1].plot(k[~good], np.maximum(rho[~good], 0) + 2 * err[~good], "v", mfc="none", ms=8,
                         color=line[0].get_color())
    axes[0].axhline(a["tv_floor_exact_samples"], color="k", ls=":", label=f"TV of {a['n_samples']} exact samples (floor)")
    axes[1].plot([], [], "kv", mfc="none", ms=8, label=r"not resolved ($\rho < 2\,$s.e.): upper bound $\rho + 2\,$s.e.")
    axes[0].set_ylabel(r"TV(law of rounded samples, $\pi$)")
    axes[1].set_ylabel(r"relative L2 error $\rho = \|q - \pi\|_2 \,/\, \|\pi\|_2$")
    axes[0].set_title("total variation (biased up by sampling noise)", fontsize=10)
    axes[1].set_title(r"relative L2 error (unbiased U-statistic)", fontsize=10)
    steps = [p["steps"] for p in a["samplers"][0]["points"]]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axis(ax.xaxis, steps)
        log_axis(ax.yaxis)
        ax.set_xlabel("steps of the sampler (uniform grid)")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    more, more_labels = axes[1].get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"Ising chain N = {m['n_sites']}, $\\beta = {m['beta']:g}$, h = {m['h']:g}: {a['n_samples']} samples "
                 "per point, exact scores; error bars $\\pm 1$ standard error", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out / "error_vs_steps.png", dpi=120)
    plt.close(fig)

    colours = dict(zip(SAMPLERS_B, ("C0", "C1", "C2", "C3")))
    markers = dict(zip(SAMPLERS_B, "osD^"))
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    chains = [r for r in b if r["family"].startswith("chain, beta = 1")]
    for s in SAMPLERS_B:
        k_star_points(ax, [r["n_sites"] for r in chains], [r["points"][s] for r in chains],
                      [r["steps_needed"][s] for r in chains], [r["upper_bound"][s] for r in chains],
                      colours[s], markers[s] + "-", shown(s))
    ax.plot([], [], "kv", mfc="none", ms=8, label="upper bound (reached at the first K tried)")
    ax.set_xlabel(r"number of sites N (Ising chain, $\beta = 1$, h = 0.1)")
    ax.set_ylabel(f"steps $K^*$ to reach $\\rho \\leq {EPS:g}$")
    ax.set_yscale("log")
    log_axis(ax.yaxis, STEP_TICKS)
    ax.set_xticks(sorted({r["n_sites"] for r in chains}))
    ax.set_title(r"error bars: $K^*$ from $\rho \mp 1$ standard error at the bracketing step counts", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "steps_vs_N.png", dpi=120)
    plt.close(fig)

    families = list(dict.fromkeys(r["family"] for r in b))
    fam_marker = {f: "osD^v"[k % 5] for k, f in enumerate(families)}
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, sharey=True)
    for ax, s in zip(axes.ravel(), SAMPLERS_B):
        for fam in families:
            sel = sorted((r for r in b if r["family"] == fam), key=lambda r: r["entropy"])
            k_star_points(ax, [r["entropy"] for r in sel], [r["points"][s] for r in sel],
                          [r["steps_needed"][s] for r in sel], [r["upper_bound"][s] for r in sel],
                          colours[s], fam_marker[fam], None)
        ax.set_title(shown(s), color=colours[s], fontsize=11)
        ax.set_yscale("log")
        log_axis(ax.yaxis, STEP_TICKS)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel(r"entropy $H(\pi)$ (nats)")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"steps $K^*$ to $\\rho \\leq {EPS:g}$")
    handles = [plt.Line2D([], [], ls="none", marker=fam_marker[f], color="0.3", label=f.replace("beta", r"$\beta$"))
               for f in families]
    handles.append(plt.Line2D([], [], ls="none", marker="v", mfc="none", color="0.3", ms=8,
                              label="upper bound (reached at the first K tried)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(r"Steps to $\rho \leq$" + f" {EPS:g} against the entropy, h = 0.1; error bars: $K^*$ from $\\rho \\mp 1$ "
                 "standard error", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out / "steps_vs_entropy.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "small models, few steps and samples (seconds)")
    ap.add_argument("--render", action="store_true", help="redraw the plots from OUT/summary.json (no sampling)")
    args = parse_example_args(ap, argv)
    if args.render:
        summary = json.loads((args.out / "summary.json").read_text())
        plots(args.out, summary["error_vs_steps"], summary["steps_needed"])
        return summary
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
