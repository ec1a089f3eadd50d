"""Training across phases: the Monte Carlo training loop below, at and above the transitions.

The workflow of Causer, Rotskoff & Garrahan (arXiv:2407.11133): MH walkers whose moves are proposed by
the model P_theta (connected and disconnected, tnddm.mcmc.MetropolisHastings) plus local moves, a replay
buffer of the walkers, and NLL epochs on it (tnddm.learn.TrainingLoop). Here it runs at three values of
the control parameter of each model:

- the 2D Ising cylinder at beta = 0.3 (disordered), beta_c = ln(1 + sqrt 2) / 2 and 0.6 (ordered; two
  magnetised sectors), beta annealed from 0 over the first third of the rounds;
- the Fredkin chain at c = 0.4 (flat phase), 1/2 (critical: uniform on Dyck paths) and 0.6 (mountain
  phase), walkers started at the most probable path (tnddm.learn.default_initial);

with two model forms: a non-negative 1-norm MPS trained by two-site sweeps (Trainer method "sweep") and a
Born MPS (BornTrainer, holdout 0.2), both with the same maximum bond chi, the same number of rounds and walkers, and
a fixed seed (so the table is reproducible up to the times).

For every point it reports KL(pi || P_theta) before and after training, estimated on the same exact
samples of pi (so the two are paired), with standard errors; the same per site; the KL of the bond-chi
Born compression of the exact model (tnddm.mps.compress: the best bond-chi Born model up to third-order
terms, docs/learning.md), which separates what the bond cannot represent from what the loop did not learn;
the fraction of the exact samples to which P_theta gives probability zero (a Born MPS can vanish on
configurations the walkers never visited: its KL is then infinite); the final bond, the walker states
generated (rounds x walkers), the buffer size, the mean disconnected-move acceptance of the last three
rounds, and the wall-clock training time.
Writes table.md, results.json and curves.png (KL against round) to OUT_DIR.

    python examples/learning_phases.py OUT_DIR             # the full study (Ising 6 x 6, Fredkin N = 32, chi 16)
    python examples/learning_phases.py OUT_DIR --quick     # Ising 4 x 3, Fredkin N = 10, chi 4: seconds
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import tnddm
from tnddm.lattice import BETA_C, Fredkin, IsingCylinder
from tnddm.learn import BornTrainer, Trainer, TrainingLoop
from tnddm.mps.compress import compress

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402

PHASES = {"ising": (("below", 0.3), ("at", BETA_C), ("above", 0.6)),
          "fredkin": (("below", 0.4), ("at", 0.5), ("above", 0.6))}
FORMS = ("1-norm", "born")
BORN_HOLDOUT = 0.2  # Ising 6 x 6 at beta = 0.3: KL 0.89 with it, 2.00 without (same seeds and rounds)


def sizes(quick: bool) -> dict:
    """System sizes, bond, rounds and walkers of the full study and of the quick mode."""
    if quick:
        return {"ising": (4, 3), "fredkin": 10, "chi": 4, "rounds": 5, "walkers": 128, "buffer_rounds": 4,
                "kl_samples": 1000, "kl_every_round": 500}
    return {"ising": (6, 6), "fredkin": 32, "chi": 16, "rounds": 30, "walkers": 512, "buffer_rounds": 8,
            "kl_samples": 4000, "kl_every_round": 1000}


def make_model(system: str, value: float, quick: bool):
    s = sizes(quick)
    if system == "ising":
        length, width = s["ising"]
        return IsingCylinder(length=length, width=width, beta=value)
    return Fredkin(n_sites=s["fredkin"], c=value)


def make_trainer(form: str, n_sites: int, chi: int, seed: int):
    """1-norm: two-site sweeps on the whole buffer from a random bond-2 MPS; born: Born sweeps from the uniform
    product state, each bond update guarded by a held-out fifth of the buffer. Both grow the bond adaptively up
    to chi."""
    if form == "1-norm":
        return Trainer(tnddm.ProbMPS.random(n_sites, 2, seed=seed), method="sweep", chi_max=chi, batch_size=None,
                       seed=seed + 1)
    if form == "born":  # guarded bond updates (docs/learning.md): unguarded sweeps fit the buffer's sampling noise
        return BornTrainer(n_sites=n_sites, d=2, chi_max=chi, holdout=BORN_HOLDOUT, seed=seed + 1)
    raise ValueError(f"form must be one of {FORMS}; got {form!r}")


def loop_settings(system: str, quick: bool) -> dict:
    s = sizes(quick)
    settings = {"walkers": s["walkers"], "mh_steps": 4, "moves": "mixed", "T": 0.3, "local_sweeps": 2,
                "epochs_per_round": 1, "buffer_rounds": s["buffer_rounds"], "kl_samples": s["kl_every_round"]}
    if system == "ising":  # anneal beta from 0 (a symmetric start) over the first third of the rounds
        return {**settings, "anneal": {"start": 0.0, "rounds": max(1, s["rounds"] // 3)}}
    return {**settings, "anneal": None}  # Fredkin: walkers start at the most probable path


def run_point(system: str, phase: str, value: float, form: str, quick: bool = False, seed: int = 0,
              rounds: int | None = None, chi: int | None = None) -> tuple[dict, object]:
    """Train one (system, parameter value, model form); returns the table row and the trained model."""
    s = sizes(quick)
    rounds = s["rounds"] if rounds is None else rounds
    chi = s["chi"] if chi is None else chi
    model = make_model(system, value, quick)
    trainer = make_trainer(form, model.n_sites, chi, seed)
    X, log_pi = model.sample(s["kl_samples"], seed=seed + 100)  # one set of exact samples for every KL of this point
    log_p0 = trainer.model.log_prob(X)
    loop = TrainingLoop(model, trainer, seed=seed + 2, **loop_settings(system, quick))
    start = time.perf_counter()
    loop.run(rounds)
    seconds = time.perf_counter() - start
    P = trainer.model
    log_p = P.log_prob(X)
    kl0, se0 = mean_se(log_pi - log_p0)
    kl, se = mean_se(log_pi - log_p)
    missed = float(np.mean(np.isneginf(log_p)))  # exact samples to which P_theta gives probability zero
    gain, gain_se = mean_se(log_p - log_p0)  # KL(pi || P_0) - KL(pi || P_theta), paired on the same samples
    floor, floor_se = mean_se(log_pi - compress(model.born_mps(), chi, sweeps=2)[0].log_prob(X))
    bonds = P.bond_dims
    acc = [a for a in loop.history["acceptance_disconnected"][-3:] if np.isfinite(a)]
    row = {"system": system, "n_sites": model.n_sites, "phase": phase, "parameter": "beta" if system == "ising" else "c",
           "value": float(value), "form": form, "chi": chi, "max_bond": int(max(bonds)), "rounds": rounds,
           "walkers": s["walkers"], "samples": rounds * s["walkers"],
           "buffer": min(rounds, s["buffer_rounds"]) * s["walkers"], "kl_untrained": kl0, "kl_untrained_stderr": se0,
           "kl": kl, "kl_stderr": se, "kl_per_site": kl / model.n_sites, "kl_per_site_stderr": se / model.n_sites,
           "missed": missed, "kl_gain": gain, "kl_gain_stderr": gain_se, "kl_floor": floor, "kl_floor_stderr": floor_se,
           "acceptance_disconnected": float(np.mean(acc)) if acc else float("nan"), "seconds": seconds,
           "kl_samples": int(X.shape[0]), "history_kl": [float(v) for v in loop.history["kl"]]}
    return row, P


def mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def fmt(value: float, err: float, missed: float = 0.0) -> str:
    if not np.isfinite(value):
        return f"inf (P_theta = 0 on {100 * missed:.2g} % of the exact samples)" if missed else "inf"
    digits = 4 if abs(value) < 0.1 else 3
    return f"{value:.{digits}f} +- {err:.{digits}f}"


def table(rows: list[dict]) -> str:
    lines = ["| system | N | phase | parameter | form | bond (max chi) | KL untrained | KL trained | KL trained / N | "
             "KL floor (bond-chi Born compression) | walker states (buffer) | disconnected acceptance | time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['n_sites']} | {r['phase']} | {r['parameter']} = {r['value']:.4g} | {r['form']} | "
                     f"{r['max_bond']} ({r['chi']}) | {fmt(r['kl_untrained'], r['kl_untrained_stderr'])} | "
                     f"{fmt(r['kl'], r['kl_stderr'], r['missed'])} | {fmt(r['kl_per_site'], r['kl_per_site_stderr'])} | "
                     f"{fmt(r['kl_floor'], r['kl_floor_stderr'])} | {r['samples']} ({r['buffer']}) | "
                     f"{r['acceptance_disconnected']:.3f} | {r['seconds']:.0f} |")
    return "\n".join(lines).replace("KL untrained", "KL(pi \\|\\| P_0)").replace("KL trained |", "KL(pi \\|\\| P_theta) |") + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
    for ax, system in zip(axes, PHASES):
        for k, r in enumerate(x for x in rows if x["system"] == system):
            h = np.asarray(r["history_kl"], dtype=float)
            if h.size and np.any(np.isfinite(h)):
                ax.plot(np.arange(1, h.size + 1), h, color=f"C{k // 2}", ls="-" if r["form"] == "1-norm" else "--",
                        label=f"{r['parameter']} = {r['value']:.3g}, {r['form']}")
        ax.set_yscale("log")
        ax.set_xlabel("round")
        ax.set_ylabel("KL(pi_k || P_theta) (annealed target)")
        ax.set_title(system)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = example_parser(__doc__, "small systems, few rounds (seconds)",
                        out="output folder for table.md, results.json and curves.png", seed=True, summary=True)
    ap.add_argument("--systems", default="ising,fredkin", help="comma list among ising,fredkin")
    ap.add_argument("--forms", default=",".join(FORMS), help="comma list among 1-norm,born")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per point (default 30; quick 5)")
    args = parse_example_args(ap, argv)
    systems = [s for s in args.systems.split(",") if s]
    forms = [f for f in args.forms.split(",") if f]
    if not set(systems) <= set(PHASES) or not set(forms) <= set(FORMS):
        ap.error(f"--systems among {sorted(PHASES)} and --forms among {list(FORMS)}")
    out = args.out
    rows = []
    for system in systems:
        for phase, value in PHASES[system]:
            for form in forms:
                row, _ = run_point(system, phase, value, form, args.quick, args.seed, args.rounds)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "history_kl"}), flush=True)
    (out / "table.md").write_text(table(rows))
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    if any(np.any(np.isfinite(np.asarray(r["history_kl"], dtype=float))) for r in rows):
        plot(rows, out / "curves.png")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
