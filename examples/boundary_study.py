"""Monte Carlo beyond exact sizes: boundary-MPS proposals against Wolff and single-spin Metropolis.

    python examples/boundary_study.py OUT [--quick] [--budget SECONDS]

Systems: the Ising strip L x L at beta_c (L = 32, 64, 128) and a +-J Edwards-Anderson 32 x 32
instance at beta = 1 (disorder seed 1). For every boundary bond chi_b: the time to build the
environments, and Metropolis-Hastings chains of independent (disconnected) proposals with
automatic burn-in (two single-threaded processes of 128 walkers, one per core, like the baselines;
--walkers): acceptance, tau of the energy (with its error), ESS per second (only for converged
chains), energy per site and the Binder cumulant U_4 = 1 - <m^4> / (3 <m^2>^2) with
error bars. Baselines, measured as their users run them: Wolff (ferromagnet only) recording once
per sweep of about N flipped spins (clusters per record = N / mean cluster size from a pilot), and
single-spin Metropolis recording once per sweep of N attempts; both compiled (numba), one
independent chain per core on the same 2 cores as the proposal chains (run in two processes;
ESS/s adds the two chains). Writes OUT/table.md, OUT/results.json and OUT/*.png.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tnddm.lattice import BETA_C, IsingGrid, binder_cumulant
from tnddm.mcmc import Chain, MetropolisHastings
from tnddm.mcmc.local import ising_series, ising_wolff

FULL = [("ising", 32, BETA_C, (2, 4, 8, 16)), ("ising", 64, BETA_C, (4, 8, 16)), ("ising", 128, BETA_C, (4, 8)),
        ("ea", 32, 1.0, (2, 4, 8, 16))]
WALKERS = 256  # walkers of the proposal chains: two single-threaded processes of 128 (the driver's Python cost per
               # step, about 0.15 ms, is then a few per cent of the draws'; with 32 per process it was about 25 %)
QUICK = [("ising", 6, BETA_C, (1, 2)), ("ea", 6, 1.0, (2,))]


def make_model(kind, L, beta):
    return IsingGrid(L, L, beta) if kind == "ising" else IsingGrid(L, L, beta, disorder="pm_j", disorder_seed=1)


def observables(model):
    def obs(X):
        m = 2.0 * X.mean(axis=1) - 1.0
        return {"energy": model.energy(X), "m2": m**2, "m4": m**4}

    return obs


def binder(m2, m4, n_bins=16):
    """U_4 and its error from per-walker batch means (batches of one walker are longer than tau)."""
    steps = m2.shape[0] // n_bins * n_bins
    b2 = m2[:steps].reshape(n_bins, -1, m2.shape[1]).mean(axis=1).ravel()
    b4 = m4[:steps].reshape(n_bins, -1, m4.shape[1]).mean(axis=1).ravel()
    return binder_cumulant(b2, b4)


def summarise(chain, model, seconds, acceptance):
    e = chain.summary()["energy"]
    u, du = binder(chain.observables["m2"], chain.observables["m4"])
    ok = bool(chain.converged)
    return {"acceptance": acceptance,
            "tau": e["tau"], "tau_stderr": e["tau_stderr"], "records": e["records"], "records_per_tau": e["records_per_tau"],
            "rhat": e["rhat"], "converged": ok, "ess_per_second": e["ess"] / seconds if ok else None,
            "energy_per_site": e["mean"] / model.n_sites, "energy_per_site_stderr": e["stderr"] / model.n_sites,
            "binder": u, "binder_stderr": du, "seconds": seconds}


def _tn_chain(args):
    """One Metropolis-Hastings chain of `walkers` walkers with independent boundary-MPS proposals, single-threaded
    in its own process (the same layout as the baselines: one process per core). Returns its records."""
    kind, L, beta, chi, budget, seed, walkers = args
    import numba

    numba.set_num_threads(1)
    model = make_model(kind, L, beta)
    t = time.perf_counter()
    q = model.proposal(chi)
    build = time.perf_counter() - t
    q.sample(64, seed=0)  # compile both kernels (small batches use the generic one) outside the timing
    q.sample(2, seed=0)
    t = time.perf_counter()
    q.sample(128, seed=1)
    per_sample = (time.perf_counter() - t) / 128  # one draw with its log q, one core
    mh = MetropolisHastings(model, q, moves="disconnected", observables=observables(model))
    t = time.perf_counter()
    mh.run(5, walkers, seed=seed + 1000, burn_in=0)  # pilot: seconds per step, so that the chain fills the budget
    per_step = (time.perf_counter() - t) / 5
    t = time.perf_counter()
    chain = mh.run(max(100, int(0.7 * budget / per_step)), walkers, seed=seed, max_seconds=budget)
    return {"observables": chain.observables, "accepted": chain.accepted, "seconds": time.perf_counter() - t,
            "burn_in": chain.burn_in, "total_steps": chain.info["total_steps"], "build": build, "per_sample": per_sample,
            "state": chain.state}


def tn_row(kind, L, beta, chi, budget, seed, walkers=WALKERS):
    """Two independent proposal chains in two processes (walkers // 2 each), merged as one chain of
    `walkers` walkers over their common recorded length n; seconds = the longer of the two times each chain
    took for its burn-in and n recorded steps (a chain that ran on past n is not charged for the extra steps)."""
    with ProcessPoolExecutor(2) as pool:
        runs = list(pool.map(_tn_chain, [(kind, L, beta, chi, budget, seed + 100 * k, walkers // 2) for k in range(2)]))
    model = make_model(kind, L, beta)
    n = min(r["accepted"].shape[0] for r in runs)
    obs = {k: np.concatenate([r["observables"][k][:n] for r in runs], axis=1) for k in runs[0]["observables"]}
    accepted = np.concatenate([r["accepted"][:n] for r in runs], axis=1)
    seconds = max(r["seconds"] * (r["burn_in"] + n) / r["total_steps"] for r in runs)
    chain = Chain(observables=obs, accepted=accepted, move_kinds=np.full(n, "disconnected"), move_T=np.full(n, np.nan),
                  state=np.concatenate([r["state"] for r in runs]), seconds=seconds)
    row = summarise(chain, model, seconds, float(accepted.mean()))
    row.update(method="boundary MPS", chi_b=chi, walkers=walkers, build_seconds=max(r["build"] for r in runs),
               burn_in=max(r["burn_in"] for r in runs), sample_us=1e6 * float(np.mean([r["per_sample"] for r in runs])))
    return row


def _local_chain(args):
    """One single-threaded baseline chain in its own process, run wholly in compiled code."""
    kind, L, beta, method, per_record, n_records, burn, seed, start = args
    model = make_model(kind, L, beta)
    ising_series(model, method, 2, per_record, 0, seed)  # compile (cached) outside the timing
    return ising_series(model, method, n_records, per_record, burn, seed, initial=start)


def baseline_row(kind, L, beta, method, budget, seed):
    """Two independent chains in two processes from an equilibrated start; a record per sweep (Wolff: ~N
    flipped spins, from the equilibrium mean cluster size); the record count fits the budget, timed in equilibrium."""
    model = make_model(kind, L, beta)
    ising_series(model, method, 2, 1, 0, seed)  # compile
    t0 = time.perf_counter()
    state = ising_series(model, method, 1, 1, 0, seed)["state"]
    while time.perf_counter() - t0 < 0.1 * budget:  # equilibrate: a tenth of the budget of sweeps
        state = ising_series(model, method, 1, 1 if method == "metropolis" else 50, 20, seed, initial=state)["state"]
    per_record = 1
    if method == "wolff":
        pilot = ising_wolff(model, 200, 1, seed=seed + 1, initial=state[None], observables=lambda X: {})
        per_record = max(1, math.ceil(model.n_sites / pilot.info["mean_cluster_size"]))
    per = ising_series(model, method, 20, per_record, 0, seed, initial=state)["seconds"] / 20  # seconds per record
    n_records = max(200, int(0.8 * budget / per))
    burn = n_records // 10
    with ProcessPoolExecutor(2) as pool:
        runs = list(pool.map(_local_chain, [(kind, L, beta, method, per_record, n_records, burn, seed + k, state)
                                            for k in range(2)]))
    seconds = max(r["seconds"] for r in runs)
    m = np.stack([r["magnetisation"] for r in runs], axis=1)
    obs = {"energy": np.stack([r["energy"] for r in runs], axis=1), "m2": m**2, "m4": m**4}
    chain = Chain(observables=obs, accepted=np.zeros((n_records, 2), dtype=bool), move_kinds=np.full(n_records, method),
                  move_T=np.full(n_records, np.nan), state=np.zeros((2, model.n_sites), dtype=np.int64), seconds=seconds)
    row = summarise(chain, model, seconds, None)
    row.update(method=method, chi_b=None, build_seconds=0.0, burn_in=burn, per_record=per_record,
               record_unit="~N flipped spins (Wolff clusters)" if method == "wolff" else "sweep of N attempts")
    return row


_CACHE: dict = {}  # per worker process: models, proposals, samplers and equilibrated states of the paired rounds


def _timed_proposal_chain(args):
    """Walker-steps per second of a fixed-length boundary-MPS chain (single-threaded, proposal built and compiled
    once per process, walkers started from the proposal, no burn-in: the rate does not depend on the start)."""
    kind, L, beta, chi, walkers, steps, seed = args
    import numba

    numba.set_num_threads(1)
    key = ("tn", kind, L, beta, chi)
    if key not in _CACHE:
        model = make_model(kind, L, beta)
        mh = MetropolisHastings(model, model.proposal(chi), moves="disconnected", observables=observables(model))
        mh.run(3, walkers, seed=seed, burn_in=0)
        _CACHE[key] = mh
    start = time.perf_counter()
    _CACHE[key].run(steps, walkers, seed=seed, burn_in=0)
    return walkers * steps / (time.perf_counter() - start)


def _timed_local_chain(args):
    """Records per second of a compiled local chain (single-threaded) from an equilibrated state, a record per
    `per_record` sweeps (Metropolis) or clusters (Wolff)."""
    kind, L, beta, method, per_record, records, seed = args
    key = ("local", kind, L, beta, method)
    if key not in _CACHE:
        model = make_model(kind, L, beta)
        ising_series(model, method, 2, 1, 0, seed)
        _CACHE[key] = (model, ising_series(model, method, 1, per_record, 2000, seed)["state"])
    model, state = _CACHE[key]
    r = ising_series(model, method, records, per_record, 0, seed, initial=state)
    _CACHE[key] = (model, r["state"])
    return records / r["seconds"]


def paired_rows(rows, system: str, rounds: int) -> list[dict]:
    """The best converged boundary-MPS chain of `system` against each converged baseline, timed in `rounds`
    interleaved rounds (both sides on the same two processes, one per core, seconds apart): per round the
    ratio of ESS rates (walker-steps/s / tau against records/s / tau, each tau from the system's rows), then
    the median and range. This VM's speed drifts by up to 1.5x within minutes: the one-shot ratios of the
    table compare runs made minutes apart."""
    tn = [r for r in rows if r["system"] == system and r["method"] == "boundary MPS" and r["converged"]]
    base = [r for r in rows if r["system"] == system and r["method"] != "boundary MPS" and r["converged"]]
    if not tn or not base:
        return []
    best = max(tn, key=lambda r: r["ess_per_second"])
    kind, L, beta = next((k, n, b) for k, n, b, _ in FULL + QUICK if system_name(k, n, b) == system)
    steps = max(20, int(2.0 / (best["sample_us"] * 1e-6 * best["walkers"] / 2)))  # about 2 s per chain
    out = []
    with ProcessPoolExecutor(2) as pool:
        for b in base:
            ratios = []
            records = max(200, int(2.0 / (b["seconds"] / b["records"])))  # about 2 s per chain
            for k in range(rounds):
                tn_rate = sum(pool.map(_timed_proposal_chain, [(kind, L, beta, best["chi_b"], best["walkers"] // 2, steps,
                                                                1000 + 10 * k + j) for j in range(2)]))
                local_rate = sum(pool.map(_timed_local_chain, [(kind, L, beta, b["method"], b["per_record"], records,
                                                                2000 + 10 * k + j) for j in range(2)]))
                ratios.append((tn_rate / best["tau"]) / (local_rate / b["tau"]))
            out.append({"system": system, "chi_b": best["chi_b"], "against": b["method"], "rounds": rounds,
                        "median": float(np.median(ratios)), "low": float(min(ratios)), "high": float(max(ratios))})
    return out


def paired_table(paired) -> str:
    lines = ["| system | boundary MPS (chi_b) | against | paired ratio of ESS/s (median) | range over rounds | rounds |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {p['system']} | {p['chi_b']} | {p['against']} | {p['median']:.1f}x | {p['low']:.1f}x-{p['high']:.1f}x | "
              f"{p['rounds']} |" for p in paired]
    return "\n".join(lines) + "\n"


def system_name(kind, L, beta) -> str:
    return f"{'Ising' if kind == 'ising' else 'EA'} {L}x{L}, beta = {beta:.4g}"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows) -> str:
    head = ("| system | method | chi_b | build (s) | sample (us) | acceptance | tau (records) | ESS/s | E/N | Binder U4 | converged |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    out = []
    for r in rows:
        ess = fmt(r["ess_per_second"], ".3g") if r["converged"] else "not converged"
        out.append(f"| {r['system']} | {r['method']} | {fmt(r['chi_b'], 'd')} | {r['build_seconds']:.1f} | {fmt(r.get('sample_us'), '.0f')} | "
                   f"{fmt(r['acceptance'], '.3f')} | {r['tau']:.2f} +- {r['tau_stderr']:.2f} | {ess} | "
                   f"{r['energy_per_site']:.5f} +- {r['energy_per_site_stderr']:.5f} | {r['binder']:.4f} +- {r['binder_stderr']:.4f} | "
                   f"{'yes' if r['converged'] else 'NO'} |")
    return head + "\n".join(out) + "\n"


def ratios(rows) -> str:
    """Per system: the best converged boundary-MPS ESS/s against each converged baseline's (same run, same cores)."""
    lines = ["| system | best boundary MPS (chi_b) | ESS/s | against | baseline ESS/s | ratio |", "|---|---|---|---|---|---|"]
    for system in dict.fromkeys(r["system"] for r in rows):
        tn = [r for r in rows if r["system"] == system and r["method"] == "boundary MPS" and r["converged"]]
        if not tn:
            continue
        best = max(tn, key=lambda r: r["ess_per_second"])
        for b in (r for r in rows if r["system"] == system and r["method"] != "boundary MPS"):
            ok = b["converged"]
            lines.append(f"| {system} | {best['chi_b']} | {best['ess_per_second']:.3g} | {b['method']} | "
                         f"{fmt(b['ess_per_second'], '.3g') if ok else 'not converged'} | "
                         f"{format(best['ess_per_second'] / b['ess_per_second'], '.2f') + 'x' if ok else '-'} |")
    return "\n".join(lines) + "\n"


def plot(rows, path, system):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tn = [r for r in rows if r["system"] == system and r["method"] == "boundary MPS"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    chis = [r["chi_b"] for r in tn]
    axes[0].plot(chis, [r["acceptance"] for r in tn], "o-", label="boundary MPS")
    axes[0].set_ylabel("acceptance")
    conv = [r for r in tn if r["converged"]]
    rel = lambda r: r["tau_stderr"] / r["tau"]  # noqa: E731  (relative error of ESS = that of tau)
    axes[1].errorbar([r["chi_b"] for r in conv], [r["ess_per_second"] for r in conv],
                     yerr=[r["ess_per_second"] * rel(r) for r in conv], fmt="o-", capsize=3, label="boundary MPS")
    for k, r in enumerate(x for x in rows if x["system"] == system and x["method"] != "boundary MPS"):
        if r["converged"]:
            axes[1].axhline(r["ess_per_second"], ls="--", color=f"C{k + 1}", label=r["method"])
            axes[1].axhspan(r["ess_per_second"] * (1 - rel(r)), r["ess_per_second"] * (1 + rel(r)), color=f"C{k + 1}", alpha=0.2)
    axes[1].set_ylabel("ESS of the energy per second (2 cores)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(chis) / 1.5, max(chis) * 1.5)  # also when no boundary-MPS chain converged
        ax.set_xlabel("boundary bond chi_b")
    axes[1].legend(fontsize=8)
    fig.suptitle(system)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--quick", action="store_true", help="small systems, short budgets (seconds)")
    ap.add_argument("--budget", type=float, default=None, help="seconds per chain (default 90, quick 3)")
    ap.add_argument("--only", nargs="+", metavar="SYSTEM", help="run only these systems, e.g. ea32 ising64")
    ap.add_argument("--walkers", type=int, default=WALKERS,
                    help=f"walkers of each proposal chain, split over two processes (default {WALKERS})")
    ap.add_argument("--paired", type=int, metavar="ROUNDS",
                    help="time the best proposal chain against each baseline in ROUNDS interleaved rounds, with the "
                         "tau of OUT/results.json (written by a full run), and write OUT/paired_table.md")
    ap.add_argument("--render", action="store_true", help="redraw table.md and the plots from OUT/results.json")
    args = ap.parse_args()
    if args.paired:
        saved = json.loads((args.out / "results.json").read_text())
        systems = [system_name(k, n, b) for k, n, b, _ in (QUICK if args.quick else FULL)
                   if not args.only or f"{k}{n}" in args.only]
        paired = [p for system in systems for p in paired_rows(saved["rows"], system, args.paired)]
        cmd = ("python examples/boundary_study.py OUT" + (" --quick" if args.quick else "") + f" --paired {args.paired}"
               + (" --only " + " ".join(args.only) if args.only else ""))
        (args.out / "paired_table.md").write_text(f"Regenerate (after the full run): `{cmd}`\n\n" + paired_table(paired))
        print(paired_table(paired))
        return
    if args.render:
        saved = json.loads((args.out / "results.json").read_text())
        for system in dict.fromkeys(r["system"] for r in saved["rows"]):
            kind, size = ("ising" if system.startswith("Ising") else "ea"), system.split()[1].split("x")[0]
            plot(saved["rows"], args.out / f"{kind}_{size}.png", system)
        (args.out / "table.md").write_text(f"Regenerate: `{saved['command']}`\n\n" + table(saved["rows"]) + "\n" + ratios(saved["rows"]))
        return
    budget = args.budget or (3.0 if args.quick else 90.0)
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = ("python examples/boundary_study.py OUT" + (" --quick" if args.quick else "") + f" --budget {budget:g}"
           + (f" --walkers {args.walkers}" if args.walkers != WALKERS else "")
           + (" --only " + " ".join(args.only) if args.only else ""))
    if args.walkers < 2 or args.walkers % 2:
        ap.error(f"--walkers must be an even number >= 2; got {args.walkers}")
    rows = []
    for kind, L, beta, chis in (QUICK if args.quick else FULL):
        if args.only and f"{kind}{L}" not in args.only:
            continue
        system = system_name(kind, L, beta)
        for chi in chis:
            rows.append(dict(tn_row(kind, L, beta, chi, budget, seed=chi, walkers=args.walkers), system=system, load=os.getloadavg()[0]))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            save(args.out, cmd, rows)
        for method in (("wolff", "metropolis") if kind == "ising" else ("metropolis",)):
            rows.append(dict(baseline_row(kind, L, beta, method, budget, seed=7), system=system, load=os.getloadavg()[0]))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            save(args.out, cmd, rows)
        plot(rows, args.out / f"{kind}_{L}.png", system)
    print(ratios(rows))


def save(out, cmd, rows) -> None:
    """table.md and results.json of the rows so far (written after every row, so a long run loses nothing)."""
    (out / "table.md").write_text(f"Regenerate: `{cmd}`\n\n" + table(rows) + "\n" + ratios(rows))
    (out / "results.json").write_text(json.dumps({"command": cmd, "rows": rows, "cpus": os.cpu_count()}, indent=1,
                                                 default=float))

if __name__ == "__main__":
    main()
