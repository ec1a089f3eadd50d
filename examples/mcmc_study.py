"""Monte Carlo with tensor-network proposals: which proposal, which move, which T, checked against exact values.

For the Fredkin chain (N = 64, c in {0.4, 0.5, 0.6}) and the Ising cylinder (8 x 16 at beta in
{0.3, beta_c, 0.6}) the exact model MPS is truncated to bond chi by three methods
(tnddm.mcmc.truncate: 'lump', 'svd', 'born') and used as the Metropolis-Hastings proposal:

- disconnected moves (independent proposals) for every method at every chi (equal chi: a fair
  comparison of the methods);
- connected moves (noise for a time T, denoise exactly) at a few T and with T = 'auto' (adapted
  during burn-in towards acceptance 0.4, then frozen), for the Born and the lumped proposal at the
  smallest chi (where T matters most).

Every chain starts from exact samples of the model and burns in automatically (until split
R-hat < 1.01 and at least 50 tau recorded, tnddm.mcmc.MetropolisHastings.run), within a step and
time budget per row (a proposal that gives zero probability to exact samples of the model is
not run: the chain could not reach all of the target, tnddm.mcmc.support_check): a probe of --probe-seconds first; a row whose probe converged is done, a row
whose probe accepted fewer than --min-acceptance of its moves stops there (not converged), any
other row runs afresh with the full --max-seconds. Each row reports the estimate of the main observable (energy for Ising, area
for Fredkin) with its standard error beside the exact value (tnddm.mcmc.exact_reference) and its
z-score, the largest |z| over all recorded observables, tau with its error bar, split R-hat,
records / tau, acceptance and ESS per second. A row whose chain did not converge is marked
'not converged': its estimate, z and ESS/s are not reported (they are kept, flagged, in
results.json for diagnosis only).

Outputs in OUT_DIR: table.md (one table per system), results.json, and one PNG per system
(acceptance and tau against chi for disconnected moves, against T for connected moves).

    python examples/mcmc_study.py docs/mcmc_study                      # full study (about 20 minutes on 2 busy cores)
    python examples/mcmc_study.py OUT_DIR --quick                      # small systems, under a minute
    python examples/mcmc_study.py OUT_DIR --only ising_betac --max-seconds 20
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from tnddm.lattice import Fredkin, IsingCylinder
from tnddm.mcmc import MetropolisHastings, Move, exact_reference, support_check, truncate

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

BETA_C = math.log(1 + math.sqrt(2)) / 2
METHODS = ("lump", "svd", "born")
CONNECTED_METHODS = ("born", "lump")  # proposals whose connected moves are scanned in T
MAIN_OBSERVABLE = {"fredkin": "area", "ising_cylinder": "energy"}


def systems(quick: bool):
    """(name, model, chis) of the study."""
    if quick:
        return [("fredkin_c0.4", Fredkin(n_sites=16, c=0.4), (2, 4)),
                ("fredkin_c0.6", Fredkin(n_sites=16, c=0.6), (2, 4)),
                ("ising_betac", IsingCylinder(length=6, width=3, beta=BETA_C, J=1.0, h=0.0), (2, 4))]
    out = [(f"fredkin_c{c}", Fredkin(n_sites=64, c=c), (4, 8, 16)) for c in (0.4, 0.5, 0.6)]
    for name, beta in (("0.3", 0.3), ("c", BETA_C), ("0.6", 0.6)):
        out.append((f"ising_beta{name}", IsingCylinder(length=16, width=8, beta=beta, J=1.0, h=0.0), (8, 16, 32)))
    return out


def run_row(model, proposal, move: Move, exact: dict, observable: str, args, seeds, covers: bool = True) -> dict:
    """One row: a chain with automatic burn-in from exact samples, its estimate, diagnostics and exact comparison.

    A probe of args.probe_seconds runs first; if it has converged it is the row, if its acceptance
    is below args.min_acceptance the row stops there (not converged: 50 tau would take far more
    than the budget), otherwise a fresh chain runs with the full budget args.max_seconds.
    """
    mh = MetropolisHastings(model, proposal, moves=[move])
    missing = {"kind": move.kind, "T_setting": "auto" if move.adaptive else (None if move.kind == "disconnected" else
                                                                            float(move.T)),
               "T": None if move.kind == "disconnected" or move.adaptive else float(move.T),
               "acceptance": None, "burn_in": 0, "recorded": 0, "converged": False, "observable": observable,
               "stop": "proposal misses the support", "exact": exact[observable][0], "ess_per_second": None,
               "max_rhat": None, "min_records_per_tau": None}
    if not covers:  # the chain could not reach every configuration of the target: no run
        return missing

    def chain_of(seconds):
        return mh.run(args.steps, args.walkers, initial="exact", seed=next(seeds), burn_in="auto",
                      max_steps=args.max_steps, max_seconds=seconds)

    def ok(chain):  # every observable converged (R-hat < 1.01, >= 50 tau) on at least args.steps records
        return chain.converged and chain.n_steps >= args.steps

    try:
        chain, probe = chain_of(args.probe_seconds), True
    except ValueError as exc:  # exact samples outside the proposal's support: MH would not be ergodic
        if "zero target or proposal probability" not in str(exc) and "could not reach" not in str(exc):
            raise
        return missing
    if not ok(chain) and chain.acceptance() >= args.min_acceptance:
        chain, probe = chain_of(args.max_seconds), False
    summary = chain.summary(exact=exact)
    s = summary[observable]
    converged = ok(chain)
    T = None if move.kind == "disconnected" else (
        next(iter(chain.info["T"].values())) if move.adaptive else float(move.T))
    stop = chain.info["stop"] if converged or not probe else f"acceptance < {args.min_acceptance:g} in the probe"
    row = {"kind": move.kind, "T_setting": "auto" if move.adaptive else (None if move.kind == "disconnected" else T),
           "T": T, "acceptance": chain.acceptance(), "burn_in": chain.burn_in, "recorded": chain.n_steps,
           "walkers": chain.n_walkers, "seconds": chain.seconds, "stop": stop, "probe_only": probe,
           "converged": converged, "observable": observable, "tau": s["tau"], "tau_stderr": s["tau_stderr"],
           "rhat": s["rhat"], "records_per_tau": s["records_per_tau"],
           "max_rhat": max(v["rhat"] for v in summary.values()),
           "min_records_per_tau": min(v["records_per_tau"] for v in summary.values()),
           "not_converged": sorted(k for k, v in summary.items() if not v["converged"]),
           # estimates of a chain that did not converge are kept for diagnosis, never reported as results
           "mean": s["mean"], "stderr": s["stderr"], "exact": s.get("exact"), "z": s.get("z"),
           "max_abs_z": max(abs(v["z"]) for v in summary.values() if "z" in v),
           "observables": {k: {key: v[key] for key in ("mean", "stderr", "tau", "tau_stderr", "rhat", "records_per_tau",
                                                       "converged", "exact", "z") if key in v}
                           for k, v in summary.items()},
           "ess": s["ess"],
           "ess_per_second": s["ess"] / max(chain.seconds, 1e-12) if converged else None}
    return row


HEADER = ("| proposal | $\\chi$ | move | $T$ | acceptance | burn-in / recorded | {obs} (mean ± stderr) | exact | $z$ | "
          "max $\\lvert z \\rvert$ (all obs.) | $\\tau$ (steps) | R-hat | records / $\\tau$ | ESS/s | converged |")


def format_row(r: dict) -> str:
    if r["acceptance"] is None:  # the proposal misses part of the target's support
        T = "-" if r["kind"] == "disconnected" else str(r["T_setting"])
        return (f"| {r['method']} | {r['chi']} | {r['kind']} | {T} | - | - | not converged | {r['exact']:.6g} | - | - | - | "
                f"- | - | - | no: {r['stop']} |")
    T = "-" if r["kind"] == "disconnected" else (f"auto → {r['T']:.3g}" if r["T_setting"] == "auto" else f"{r['T']:g}")
    common = f"| {r['method']} | {r['chi']} | {r['kind']} | {T} | {r['acceptance']:.3f} | {r['burn_in']} / {r['recorded']} |"
    rhat = f"{r['max_rhat']:.4f}"
    rpt = f"{r['min_records_per_tau']:.0f}"
    if not r["converged"]:
        return common + f" not converged | {r['exact']:.6g} | - | - | - | {rhat} | {rpt} | - | no: {r['stop']} |"
    return (common + f" {r['mean']:.6g} ± {r['stderr']:.2g} | {r['exact']:.6g} | {r['z']:+.2f} | {r['max_abs_z']:.2f} | "
            f"{r['tau']:.3g} ± {r['tau_stderr']:.2g} | {rhat} | {rpt} | {r['ess_per_second']:.3g} | yes |")


def pretty_system(name: str) -> str:
    """'ising_betac' -> 'Ising, β = β_c'; 'fredkin_c0.4' -> 'Fredkin, c = 0.4' (plot titles)."""
    kind, _, value = name.partition("_")
    if kind == "ising":
        value = value.removeprefix("beta")
        return "Ising cylinder, $\\beta = \\beta_c$" if value == "c" else f"Ising cylinder, $\\beta = {value}$"
    return f"Fredkin chain, c = {value.removeprefix('c')}"


def _plain_log(axis, ticks) -> None:
    """Log axis labelled with plain numbers at the given ticks (1 always among them), no minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def acceptance_stderr(r: dict) -> float:
    """Binomial standard error of a row's acceptance: sqrt(a (1 - a) / n) over its n = walkers x recorded moves."""
    a = r["acceptance"]
    return (a * (1 - a) / (r["walkers"] * r["recorded"])) ** 0.5


TAU_TICKS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
DECADES = (0.001, 0.01, 0.1, 1, 10, 100)


def plot_system(rows: list, path: Path, title: str, chis) -> None:
    """2 x 2 panels: acceptance and tau against chi (disconnected moves, top) and against T (connected moves at the
    smallest chi, bottom). Colour: the proposal's truncation method; acceptance with +-1 binomial standard error;
    tau with +-1 standard error, converged chains only; tau = 1 (independent draws) as a reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex="row")
    colours = {m: f"C{k}" for k, m in enumerate(METHODS)}
    rows = [r for r in rows if r["acceptance"] is not None]  # proposals that miss the support have no chain
    taus, Ts, low = [], [], None
    converged = {0: False, 1: False}  # a converged chain drawn in the tau panel of row 0 (disconnected) / 1 (connected)
    for m in METHODS:
        disc = sorted((r for r in rows if r["method"] == m and r["kind"] == "disconnected"), key=lambda r: r["chi"])
        if disc:
            axes[0, 0].errorbar([r["chi"] for r in disc], [r["acceptance"] for r in disc],
                                yerr=[acceptance_stderr(r) for r in disc], fmt="o-", color=colours[m], capsize=4, ms=6)
            ok = [r for r in disc if r["converged"]]
            if ok:
                axes[0, 1].errorbar([r["chi"] for r in ok], [r["tau"] for r in ok], yerr=[r["tau_stderr"] for r in ok],
                                    fmt="o-", color=colours[m], capsize=4, ms=6)
                taus += [(r["tau"], r["tau_stderr"]) for r in ok]
                converged[0] = True
        conn = sorted((r for r in rows if r["method"] == m and r["kind"] == "connected" and r["T_setting"] != "auto"),
                      key=lambda r: r["T"])
        auto = [r for r in rows if r["method"] == m and r["T_setting"] == "auto"]
        if conn:
            low = chi = conn[0]["chi"]
            Ts += [r["T"] for r in conn + auto]
            axes[1, 0].errorbar([r["T"] for r in conn], [r["acceptance"] for r in conn],
                                yerr=[acceptance_stderr(r) for r in conn], fmt="o-", color=colours[m], capsize=4, ms=6)
            ok = [r for r in conn if r["converged"]]
            if ok:
                axes[1, 1].errorbar([r["T"] for r in ok], [r["tau"] for r in ok], yerr=[r["tau_stderr"] for r in ok],
                                    fmt="o-", color=colours[m], capsize=4, ms=6)
                taus += [(r["tau"], r["tau_stderr"]) for r in ok]
                converged[1] = True
            for r in auto:
                axes[1, 0].errorbar([r["T"]], [r["acceptance"]], yerr=[acceptance_stderr(r)], fmt="*", ms=14,
                                    color=colours[m], mec="k", mew=0.5, capsize=4)
                if r["converged"]:
                    axes[1, 1].errorbar([r["T"]], [r["tau"]], yerr=[r["tau_stderr"]], fmt="*", ms=14, color=colours[m],
                                        mec="k", mew=0.5, capsize=4)
                    taus.append((r["tau"], r["tau_stderr"]))
                    converged[1] = True
            for r in (r for r in rows if r["method"] == m and r["kind"] == "disconnected" and r["chi"] == chi):
                axes[1, 0].axhline(r["acceptance"], ls="--", color=colours[m], lw=1)
                if r["converged"]:
                    axes[1, 1].axhline(r["tau"], ls="--", color=colours[m], lw=1)
    lo = min([t - e for t, e in taus if t - e > 0] + [0.7])
    hi = max([t + e for t, e in taus] + [3.0])
    for ax in axes[:, 1]:
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.3, hi * 1.3)
        _plain_log(ax.yaxis, TAU_TICKS)
        ax.axhline(1.0, color="0.4", ls=":", lw=1)
        ax.set_ylabel(r"$\tau_{\mathrm{int}}$ of the main observable (MH steps)")
    for ax in axes[:, 0]:
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("acceptance (fraction of proposed moves)")
    for ax in axes[0]:
        ax.set_xscale("log")
        _plain_log(ax.xaxis, chis)
        ax.set_xlim(min(chis) / 1.25, max(chis) * 1.25)
        ax.set_xlabel(r"proposal bond dimension $\chi$")
    for ax in axes[1]:
        ax.set_xscale("log")
        if Ts:
            ax.set_xlim(min(Ts) / 1.6, max(Ts) * 1.6)
            fixed = {r["T"] for r in rows if r["kind"] == "connected" and r["T_setting"] != "auto"}
            _plain_log(ax.xaxis, sorted({t for t in DECADES if min(Ts) / 1.6 <= t <= max(Ts) * 1.6} | fixed))
        ax.set_xlabel("diffusion time T of connected moves (units of 1 / flip rate)")
    axes[0, 0].set_title(r"disconnected moves: acceptance against $\chi$ ($\pm 1$ s.e.)", fontsize=10)
    axes[0, 1].set_title(r"disconnected moves: $\tau_{\mathrm{int}}$ (converged chains, $\pm 1$ s.e.)", fontsize=10)
    at = "" if low is None else rf" at $\chi = {low}$"
    axes[1, 0].set_title(f"connected moves{at}: acceptance against T" + r" ($\pm 1$ s.e.)", fontsize=10)
    axes[1, 1].set_title(f"connected moves{at}: " + r"$\tau_{\mathrm{int}}$ (converged chains, $\pm 1$ s.e.)", fontsize=10)
    for row, moves in ((0, "disconnected"), (1, "connected")):
        if not converged[row]:
            axes[row, 1].text(0.5, 0.5, f"no converged chain with {moves} moves", transform=axes[row, 1].transAxes,
                              ha="center", va="center", color="0.3")
    methods = [Line2D([], [], color=colours[m], marker="o", label=f"{m} truncation") for m in METHODS
               if any(r["method"] == m for r in rows)]
    styles = [Line2D([], [], color="0.3", marker="o", label="fixed T (connected)"),
              Line2D([], [], color="0.3", marker="*", ms=12, ls="none", label="T = auto, at its frozen T"),
              Line2D([], [], color="0.3", ls="--", label=r"disconnected moves, same $\chi$"),
              Line2D([], [], color="0.4", ls=":", label=r"$\tau = 1$ (independent draws)")]
    blank = Line2D([], [], alpha=0, label=" ")
    methods += [blank] * (len(styles) - len(methods))
    order = [h for pair in zip(methods, styles) for h in pair]  # the legend fills columns: methods above, styles below
    fig.legend(handles=order, loc="lower center", ncol=len(styles), fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(out: Path, results: list, walkers: int, seconds: float) -> str:
    """table.md (one table per system and a footer) and one PNG per system; returns the footer."""
    sections = []
    for name in dict.fromkeys(r["system"] for r in results):
        rows = [r for r in results if r["system"] == name]
        observable = rows[0]["observable"]
        lines = [f"### {name}", "", HEADER.format(obs=observable.replace("_", " ")),
                 "|" + "---|" * HEADER.count(" | ") + "---|"]
        lines += [format_row(r) for r in rows]
        sections.append("\n".join(lines))
        chis = rows[0].get("chis") or sorted({r["chi"] for r in rows})
        plot_system(rows, out / f"{name}.png", f"{pretty_system(name)}: acceptance and autocorrelation time of the "
                    f"{observable.replace('_', ' ')}, {walkers} walkers per chain", chis)
    ok = [r for r in results if r["converged"]]
    worst = max(ok, key=lambda r: r["max_abs_z"], default=None)
    footer = (f"{len(ok)} of {len(results)} rows converged; largest $|z|$ over all observables of the converged rows: "
              + (f"{worst['max_abs_z']:.2f} ({worst['system']}, {worst['method']} $\\chi = {worst['chi']}$, {worst['kind']})"
                 if worst else "-") + f"; total {seconds / 60:.1f} min.")
    (out / "table.md").write_text("\n\n".join(sections) + "\n\n" + footer + "\n")
    return footer


def main(argv=None):
    ap = example_parser(__doc__, "small systems and short budgets (under a minute)",
                        out="output folder for table.md, results.json and the PNG plots", seed=True, summary=True)
    ap.add_argument("--steps", type=int, default=None, help="minimum recorded MH steps per chain (100; quick 20)")
    ap.add_argument("--walkers", type=int, default=None, help="walkers per chain (16; quick 8)")
    ap.add_argument("--max-seconds", type=float, default=None, help="time budget per row (full 25 s; quick 0.5 s)")
    ap.add_argument("--probe-seconds", type=float, default=None, help="budget of the probe run of each row (full 4 s; quick 0.3 s)")
    ap.add_argument("--min-acceptance", type=float, default=0.01,
                    help="rows whose probe accepts less than this are not run further (default 0.01)")
    ap.add_argument("--max-steps", type=int, default=None, help="step budget per row (full 20000; quick 400)")
    ap.add_argument("--T", type=str, default=None, help="comma list of fixed T for connected moves (0.05,0.2,1; quick 0.05,0.5)")
    ap.add_argument("--only", type=str, default=None, help="comma list of system names to run (default: all)")
    ap.add_argument("--render", action="store_true", help="rewrite table.md and the plots from OUT_DIR/results.json")
    args = parse_example_args(ap, argv)
    out = args.out
    args.steps = args.steps or (20 if args.quick else 100)
    args.walkers = args.walkers or (8 if args.quick else 16)
    args.max_seconds = args.max_seconds or (0.5 if args.quick else 25.0)
    args.probe_seconds = min(args.probe_seconds or (0.3 if args.quick else 4.0), args.max_seconds)
    args.max_steps = args.max_steps or (400 if args.quick else 20_000)
    Ts = [float(t) for t in (args.T or ("0.05,0.5" if args.quick else "0.05,0.2,1")).split(",")]
    chosen = systems(args.quick)
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {n for n, _, _ in chosen})
        if unknown:
            raise SystemExit(f"--only: unknown systems {unknown}; have {[n for n, _, _ in chosen]}")
        chosen = [s for s in chosen if s[0] in names]
    if args.render:  # table and plots again from an existing results.json, without running chains
        data = json.loads((out / "results.json").read_text())
        render(out, data["rows"], data["walkers"], data["seconds"])
        return data["rows"]
    seeds = iter(np.random.SeedSequence(args.seed).spawn(10_000))
    start = time.perf_counter()
    results = []
    for name, model, chis in chosen:
        observable = MAIN_OBSERVABLE[model.kind]
        exact = exact_reference(model)
        E = model.mps()
        low = chis[0]  # connected moves: the cheapest proposals, where T matters most
        plan = [(m, chi, Move("disconnected")) for m in METHODS for chi in chis]
        plan += [(m, low, Move("connected", 1.0, T)) for m in CONNECTED_METHODS for T in Ts + ["auto"]]
        proposals = {}
        for method, chi, move in plan:
            if (method, chi) not in proposals:
                P = truncate(E, chi, method=method)
                try:  # MH is biased if the proposal gives zero probability to configurations of the target
                    support_check(model, P)
                    proposals[method, chi] = (P, True)
                except ValueError:
                    proposals[method, chi] = (P, False)
            P, covers = proposals[method, chi]
            r = run_row(model, P, move, exact, observable, args, seeds, covers)
            r.update(system=name, method=method, chi=chi, chis=list(chis))
            results.append(r)
            print(f"[{time.perf_counter() - start:7.1f} s] {name} {format_row(r)}", flush=True)
    seconds = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(
        {"T": Ts, "min_steps": args.steps, "walkers": args.walkers, "max_seconds": args.max_seconds,
         "max_steps": args.max_steps, "probe_seconds": args.probe_seconds, "min_acceptance": args.min_acceptance,
         "seed": args.seed, "quick": args.quick, "seconds": seconds, "rows": results}, indent=1, default=float))
    footer = render(out, results, args.walkers, seconds)
    print(footer)
    print(f"wrote {out / 'table.md'}, {out / 'results.json'} and the plots in {out}")
    return results


if __name__ == "__main__":
    main()
