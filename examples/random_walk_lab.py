"""Random-walk and masked noise (Conforti, Durmus, Pham, Raoul, arXiv:2512.00580): Euler's error against steps and N.

    python examples/random_walk_lab.py OUT [--quick]

Target: an m = 4 state Potts chain, P(x) ∝ exp(beta sum_i [x_i == x_{i+1}] + h sum_i [x_i == 0]), beta = 1, h = 0.5.
Noise: tnddm.noise.RandomWalk(4, rate=1, ring=True) (nearest-neighbour jumps on a ring of 4 states), and for
part (c) tnddm.noise.Mask(rate=1). Grid: uniform from T = 3 to delta = 0.1, exact start x_T ~ P_T.
(a) N = 5 (1024 states), exact by enumeration: path KL in both directions and the output-law KL
    KL(P_delta || q) for euler, tau_leaping, exponential_euler, tweedie against steps, with slopes.
    KL(exact || single-jump sampler) is infinite: within one step the exact process moves a site by
    2 with probability ~ h^2 > 0, which a sampler that jumps at most once per site and step gives
    probability 0. The finite direction is KL(sampler || exact).
(b) Euler, 32 steps, against N: Monte Carlo path KL(sampler || exact) (exact path log-probabilities,
    N = 8..64, standard errors) and the exact output-law KL for N = 2..5.
(c) Mask noise, masked (MDLM ancestral) sampler, 32 steps, against N: path KL in both directions (finite: the
    exact kernel and the sampler unmask to the same support).
Writes OUT/summary.json, OUT/table.md, OUT/random_walk_vs_steps.png, OUT/path_kl_vs_N.png.
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
from tnddm.noise import Mask, RandomWalk  # noqa: E402
from tnddm.validate import ExactOracle, output_law, path_kl_exact, path_kl_exact_paths, path_kl_mc, time_grid  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

M, BETA, FIELD, T, DELTA = 4, 1.0, 0.5, 3.0, 0.1
SAMPLERS = ("euler", "tau_leaping", "exponential_euler", "tweedie")


def potts_chain(n_sites: int, m: int = M, beta: float = BETA, field: float = FIELD) -> tnddm.ProbMPS:
    """Dense MPS of P(x) ∝ exp(beta sum_i [x_i == x_{i+1}] + field sum_i [x_i == 0]) (bond m: the last symbol)."""
    w = np.exp(field * (np.arange(m) == 0))
    core = np.zeros((m, m, m))
    for a in range(m):
        for x in range(m):
            core[a, x, x] = np.exp(beta * (a == x)) * w[x]
    first = np.zeros((1, m, m))
    first[0, np.arange(m), np.arange(m)] = w
    last = core.sum(axis=2, keepdims=True)
    return tnddm.ProbMPS([first] + [core] * (n_sites - 2) + [last])


def fit(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y) & (y > 0)
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else None


def against_steps(n_sites, steps):
    ddm = tnddm.Diffusion(potts_chain(n_sites), RandomWalk(M, 1.0, ring=True))
    rows = []
    for name in SAMPLERS:
        r = {"sampler": name, "steps": list(steps), "path_kl": [], "path_kl_reverse": [], "law_kl": []}
        for k in steps:
            times = time_grid(k, T, delta=DELTA)
            o = ExactOracle(ddm)
            pk = path_kl_exact(name, o, ddm, times, start="exact")
            r["path_kl"].append(pk["kl_sampler_exact"])
            r["path_kl_reverse"].append(pk["kl_exact_sampler"])
            r["law_kl"].append(output_law(name, o, ddm, times, start="exact")["kl_exact_sampler"])
        r["slope_path_kl"] = fit(steps[-2:], r["path_kl"][-2:])
        r["slope_law_kl"] = fit(steps[-2:], r["law_kl"][-2:])
        rows.append(r)
    return rows


def against_n(sizes_mc, sizes_exact, steps, n_paths, seed):
    times = time_grid(steps, T, delta=DELTA)
    rw, mc_rows, exact_rows, mask_rows = RandomWalk(M, 1.0, ring=True), [], [], []
    for N in sizes_mc:
        ddm = tnddm.Diffusion(potts_chain(N), rw)
        r = path_kl_mc("euler", ExactOracle(ddm), ddm, times, n_paths, seed=seed + N, start="exact")
        mc_rows.append({"n_sites": N, "kl": r["kl"], "stderr": r["stderr"]})
        ddm_m = tnddm.Diffusion(potts_chain(N), Mask(1.0, d=M))
        o = ExactOracle(ddm_m)
        fwd = path_kl_mc("masked", o, ddm_m, times, n_paths, seed=seed + 100 + N, start="exact")
        rev = path_kl_exact_paths(("masked",), o, ddm_m, times, n_paths, seed=seed + 200 + N, start="exact",
                                  coupling="independent_steps")["masked"]
        mask_rows.append({"n_sites": N, "kl": fwd["kl"], "stderr": fwd["stderr"], "kl_reverse": rev["kl"],
                          "stderr_reverse": rev["stderr"]})
    for N in sizes_exact:
        ddm = tnddm.Diffusion(potts_chain(N), rw)
        o = ExactOracle(ddm)
        exact_rows.append({"n_sites": N, "law_kl": output_law("euler", o, ddm, times, start="exact")["kl_exact_sampler"],
                           "path_kl": path_kl_exact("euler", o, ddm, times, start="exact")["kl_sampler_exact"]})
    return mc_rows, exact_rows, mask_rows


def main(argv=None):
    ap = example_parser(__doc__, "3 sites, short grids, few paths (seconds)", seed=True)
    args = parse_example_args(ap, argv)
    q = args.quick
    n_steps_model = 3 if q else 5
    steps = [8, 16, 32] if q else [8, 16, 32, 64, 128]
    sizes_mc = [4, 8] if q else [8, 16, 32, 64]
    sizes_exact = [2, 3] if q else [2, 3, 4, 5]
    steps_n, n_paths = (8, 200) if q else (32, 2000)
    a = against_steps(n_steps_model, steps)
    mc_rows, exact_rows, mask_rows = against_n(sizes_mc, sizes_exact, steps_n, n_paths, args.seed)
    command = "python examples/random_walk_lab.py OUT" + (" --quick" if q else "")
    summary = {"command": command, "model": {"kind": "potts_chain", "m": M, "beta": BETA, "field": FIELD},
               "T": T, "delta": DELTA, "against_steps": {"n_sites": n_steps_model, "rows": a},
               "against_n": {"steps": steps_n, "paths": n_paths, "euler_path_kl_mc": mc_rows, "euler_exact": exact_rows,
                             "masked": mask_rows}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))

    lines = [f"Regenerate with `{command}`.", "",
             f"(a) Potts chain m = {M}, N = {n_steps_model}, random-walk noise (ring), T = {T}, delta = {DELTA}, exact start;"
             " exact by enumeration. Cells: path KL(sampler || exact) / KL(P_delta || output law).", "",
             "| sampler | " + " | ".join(f"{k} steps" for k in steps) + " | path KL(exact \\|\\| sampler) | slope path KL | slope law KL |",
             "|---" * (len(steps) + 4) + "|"]
    for r in a:
        rev = "inf" if all(np.isinf(r["path_kl_reverse"])) else " / ".join(f"{v:.3g}" for v in r["path_kl_reverse"])
        lines.append(f"| {r['sampler']} | " + " | ".join(f"{p:.3g} / {k:.3g}" for p, k in zip(r["path_kl"], r["law_kl"]))
                     + f" | {rev} | {r['slope_path_kl']:.2f} | {r['slope_law_kl']:.2f} |")
    lines += ["", f"(b) Euler, random-walk noise, {steps_n} steps, against N: Monte Carlo path KL(sampler || exact) over "
              f"{n_paths} sampler paths, and exact values for small N.", "",
              "| N | path KL | stderr | path KL / N | exact path KL | exact KL(P_delta \\|\\| output law) |", "|---|---|---|---|---|---|"]
    exact_by_n = {r["n_sites"]: r for r in exact_rows}
    for N in sorted(set(sizes_mc) | set(sizes_exact)):
        mc = next((r for r in mc_rows if r["n_sites"] == N), None)
        ex = exact_by_n.get(N)
        lines.append(f"| {N} | " + (f"{mc['kl']:.4g} | {mc['stderr']:.2g} | {mc['kl'] / N:.4g}" if mc else "- | - | -")
                     + " | " + (f"{ex['path_kl']:.4g} | {ex['law_kl']:.3g}" if ex else "- | -") + " |")
    lines += ["", f"(c) Mask noise, masked sampler, {steps_n} steps, against N ({n_paths} paths each way).", "",
              "| N | path KL(sampler \\|\\| exact) | stderr | path KL(exact \\|\\| sampler) | stderr | per site (sampler \\|\\| exact) |",
              "|---|---|---|---|---|---|"]
    for r in mask_rows:
        lines.append(f"| {r['n_sites']} | {r['kl']:.4g} | {r['stderr']:.2g} | {r['kl_reverse']:.4g} | {r['stderr_reverse']:.2g}"
                     f" | {r['kl'] / r['n_sites']:.4g} |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in a:
        ax.loglog(steps, r["path_kl"], "o-", label=f"{r['sampler']} path KL")
    ax.loglog(steps, a[0]["law_kl"], "s--", label="euler law KL")
    ax.set_xlabel("steps")
    ax.set_ylabel("KL")
    ax.set_title(f"random walk m = {M}, N = {n_steps_model}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "random_walk_vs_steps.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.errorbar(sizes_mc, [r["kl"] for r in mc_rows], [r["stderr"] for r in mc_rows], fmt="o-", label="euler, random walk")
    ax.errorbar(sizes_mc, [r["kl"] for r in mask_rows], [r["stderr"] for r in mask_rows], fmt="s-", label="masked, mask")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("path KL(sampler || exact)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "path_kl_vs_N.png", dpi=110)
    plt.close(fig)
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
