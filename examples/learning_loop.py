"""Learning MPS proposals by the Monte Carlo training loop, measured against the exact models.

For the Ising 8 x 16 cylinder at beta_c and the Fredkin chain N = 64 at c = 0.6, and every chi in
--chi, trains P_theta from a random start with tnddm.learn.TrainingLoop (MH walkers with
connected + disconnected moves proposed by P_theta, NLL epochs on the walkers; Ising anneals beta
from 0, Fredkin adds local exchange moves) for a wall-clock budget, then reports
KL(pi || P_theta) (exact samples of pi), the acceptance of disconnected moves (a separate MH run
with P_theta as an independent proposal) and the training time. Writes table.md, results.json and
curves.png to OUT_DIR; --save DIR also writes the trained models (DIR/<system>_chi<chi>.npz,
tnddm.io.checkpoint.save_model: cores and metadata, readable with load_model).

--method chooses the loop's trainer: two-site sweeps on the whole replay buffer (default; 2048
walkers, 2 local sweeps per round; Ising: 12-round buffer, beta annealed over 10 rounds; Fredkin:
32-round buffer) or Adam on log-weights (1024 walkers, 16-round buffer).

--data N replaces the loop by the two-site sweep trainer (Han et al. 2018) on N exact samples of
pi, for --sweeps sweeps: what the same MPS reaches when it is given independent data. With --born
the model is a Born MPS (tnddm.learn.BornTrainer) instead of a non-negative 1-norm MPS; with
--init compressed it starts from the bond-chi compression of the exact sqrt(pi) (tnddm.mps.compress,
the best a bond-chi model can do up to second order) instead of the product state, which shows
what training on N samples does to a model that is already at the floor. --holdout F keeps a
fraction F of the samples out of each bond fit to guard it (Born only); --fresh draws N new samples
for every sweep.

    python examples/learning_loop.py OUT_DIR --save models      # the full study (~8 min per run)
    python examples/learning_loop.py OUT_DIR --data 50000 --sweeps 6 --chi 32   # sweeps on exact data
    python examples/learning_loop.py OUT_DIR --data 150000 --sweeps 4 --chi 32 --systems ising --born   # Born MPS
    python examples/learning_loop.py OUT_DIR --data 100000 --sweeps 1 --chi 32 --systems ising --born --init compressed
    python examples/learning_loop.py OUT_DIR --data 200000 --sweeps 6 --chi 32 --systems ising --born --holdout 0.2 --fresh
    python examples/learning_loop.py OUT_DIR --quick            # small systems, under a minute
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import tnddm
from tnddm.io.checkpoint import save_model
from tnddm.lattice import BETA_C, Fredkin, IsingCylinder
from tnddm.learn import BornTrainer, Trainer, TrainingLoop, kl_from_exact_samples
from tnddm.mcmc import MetropolisHastings
from tnddm.mps.compress import compress

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402


def systems(quick: bool):
    if quick:
        return [("ising_4x4", IsingCylinder(length=4, width=4, beta=BETA_C)), ("fredkin_16", Fredkin(n_sites=16, c=0.6))]
    return [("ising_8x16", IsingCylinder(length=16, width=8, beta=BETA_C)), ("fredkin_64", Fredkin(n_sites=64, c=0.6))]


def loop_settings(name: str, quick: bool, method: str) -> dict:
    """Loop settings per system and trainer (documented in docs/learning.md)."""
    sweep, ising = method == "sweep", name.startswith("ising")
    settings = {"walkers": 512 if quick else (2048 if sweep else 1024), "mh_steps": 4, "moves": "mixed", "T": 0.3,
                "epochs_per_round": 1, "local_sweeps": 2 if (sweep or not ising) else 0}
    if ising:
        return {**settings, "buffer_rounds": 12 if sweep else 16,
                "anneal": {"start": 0.0, "rounds": 5 if quick else (10 if sweep else 20)}}
    # Fredkin: no annealing; walkers start at the most probable path (default_initial). Annealing c from
    # 0.3 follows pi up to c = 1/2 (KL 0.8), then loses it at the transition (KL about 90; chi = 16).
    # A 32-round buffer: with 12 rounds the chi = 32 model overfits the walkers (KL 0.08 against 0.03).
    return {**settings, "buffer_rounds": 32 if sweep else 16, "anneal": None}


def make_trainer(model, chi: int, method: str, seed: int) -> Trainer:
    """sweep: two-site sweeps on the whole buffer from a bond-2 start (the bond grows up to chi);
    adam: Adam on log-weights from a random bond-chi MPS."""
    if method == "sweep":
        return Trainer(tnddm.ProbMPS.random(model.n_sites, 2, seed=seed), method="sweep", chi_max=chi,
                       batch_size=None, seed=seed + 1)
    return Trainer(tnddm.ProbMPS.random(model.n_sites, chi, seed=seed), method="adam", lr=0.05, lr_decay=0.97,
                   batch_size=1024, seed=seed + 1)


def train_one(name, model, chi, budget, max_rounds, quick, seed, method="sweep", progress=False):
    trainer = make_trainer(model, chi, method, seed)
    loop = TrainingLoop(model, trainer, kl_samples=2000, seed=seed + 2, **loop_settings(name, quick, method))
    start = time.perf_counter()
    while loop.round < max_rounds and time.perf_counter() - start < budget:
        row = loop.run_round()
        if progress:
            print(f"{name} chi={chi} round {row['round']}: acc {row['acceptance']:.3f} kl {row['kl']:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    P = trainer.model
    kl, se = kl_estimate(model, P, 4000 if not quick else 2000, seed)
    acc = disconnected_acceptance(model, P, seed, loop.walkers[:256] if loop.walkers.shape[0] >= 256 else None)
    return loop, {"system": name, "chi": chi, "method": method, "rounds": loop.round, "kl": kl, "kl_stderr": se,
                  "acceptance_disconnected": acc, "seconds": seconds}


def disconnected_acceptance(model, P, seed, initial=None) -> float:
    chain = MetropolisHastings(model, P, moves="disconnected", observables=lambda Z: {}).run(
        50, 256, initial=initial, seed=seed + 200, burn_in=0)
    return chain.acceptance()


def kl_estimate(model, P, n, seed) -> tuple[float, float]:
    """KL(pi || P) from n exact samples of pi (seed offset kept from earlier runs of this example)."""
    return kl_from_exact_samples(model, P, n, seed=seed + 100)


def train_from_samples(name, model, chi, n_data, sweeps, quick, seed, progress=False, born=False, init="product",
                       holdout=0.0, fresh=False):
    """Two-site sweeps (adaptive bond up to chi) on n_data exact samples of pi: Trainer method 'sweep'
    (non-negative 1-norm MPS from a random bond-2 start) or, born=True, BornTrainer (from the uniform product
    state, or init='compressed' from the bond-chi compression of the exact sqrt(pi); holdout: BornTrainer's guard;
    fresh: new exact samples for every sweep)."""
    X, log_pi = model.sample(n_data, seed=seed + 300)
    if born:
        start_model = compress(model.born_mps(), chi, sweeps=3)[0] if init == "compressed" else None
        trainer = BornTrainer(start_model, n_sites=model.n_sites, chi_max=chi, holdout=holdout, seed=seed + 1)
    else:
        trainer = Trainer(tnddm.ProbMPS.random(model.n_sites, 2, seed=seed), method="sweep", chi_max=chi,
                          batch_size=None, seed=seed + 1)
    history = {"round": [], "kl": [], "train_kl": [], "acceptance": []}
    start = time.perf_counter()
    for k in range(sweeps):
        if fresh and k > 0:
            X, log_pi = model.sample(n_data, seed=seed + 300 + 1000 * k)
        train_kl = trainer.train_epoch(X) + float(log_pi.mean())  # the same KL on the training samples
        kl, _ = kl_estimate(model, trainer.model, 2000, seed + k)
        history["round"].append(k + 1)
        history["kl"].append(kl)
        history["train_kl"].append(train_kl)
        history["acceptance"].append(float("nan"))
        if progress:
            print(f"{name} chi={chi} sweep {k + 1}: kl {kl:.4f} (on the training samples {train_kl:.4f}; "
                  f"{time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    P = trainer.model
    kl, se = kl_estimate(model, P, 2000 if quick else 4000, seed)
    return trainer, history, {"system": name, "chi": chi, "rounds": sweeps, "kl": kl, "kl_stderr": se,
                              "acceptance_disconnected": disconnected_acceptance(model, P, seed),
                              "seconds": seconds, "data": n_data * (sweeps if fresh else 1)}


def main(argv=None):
    ap = example_parser(__doc__, "small systems, short runs (under a minute)",
                        out="output folder for table.md, results.json and curves.png", seed=True, summary=True)
    ap.add_argument("--chi", type=str, default=None, help="comma list of bond dimensions (default 8,16,32; quick 4)")
    ap.add_argument("--systems", type=str, default=None, help="comma list among ising,fredkin (default both)")
    ap.add_argument("--budget", type=float, default=None, help="training seconds per run (default 450; quick 10)")
    ap.add_argument("--rounds", type=int, default=None, help="maximum rounds per run (default 10000; quick 15)")
    ap.add_argument("--save", type=str, default=None, help="folder for the trained checkpoints")
    ap.add_argument("--data", type=int, default=None, help="train by sweeps on this many exact samples instead of the loop")
    ap.add_argument("--sweeps", type=int, default=6, help="sweeps with --data (default 6)")
    ap.add_argument("--born", action="store_true", help="with --data: train a Born MPS instead of a 1-norm MPS")
    ap.add_argument("--init", choices=("product", "compressed"), default="product",
                    help="with --born: start from the product state or from the compressed exact sqrt(pi)")
    ap.add_argument("--fresh", action="store_true", help="with --data: draw N new exact samples for every sweep")
    ap.add_argument("--holdout", type=float, default=0.0,
                    help="with --born: fraction of the samples that guards each bond update (BornTrainer holdout)")
    ap.add_argument("--method", choices=("sweep", "adam"), default="sweep",
                    help="the loop's trainer: two-site sweeps on the buffer (default) or Adam")
    ap.add_argument("--progress", action="store_true")
    args = parse_example_args(ap, argv)
    if (args.init != "product" or args.holdout) and not (args.data and args.born):
        ap.error("--init compressed and --holdout need --data and --born")
    out = args.out
    chis = [int(c) for c in (args.chi or ("4" if args.quick else "8,16,32")).split(",")]
    budget = args.budget if args.budget is not None else (10.0 if args.quick else 450.0)
    max_rounds = args.rounds if args.rounds is not None else (15 if args.quick else 10000)
    wanted = None if args.systems is None else set(args.systems.split(","))
    rows, histories = [], {}
    for name, model in systems(args.quick):
        if wanted is not None and name.split("_")[0] not in wanted:
            continue
        for chi in chis:
            if args.data:
                trainer, history, row = train_from_samples(name, model, chi, args.data, args.sweeps, args.quick,
                                                           args.seed, args.progress, args.born, args.init, args.holdout,
                                                           args.fresh)
                settings = {"data": args.data, "sweeps": args.sweeps, "born": args.born, "init": args.init,
                            "holdout": args.holdout, "fresh": args.fresh}
            else:
                loop, row = train_one(name, model, chi, budget, max_rounds, args.quick, args.seed, args.method,
                                      args.progress)
                trainer, history, settings = loop.trainer, loop.history, loop.config
            rows.append(row)
            histories[f"{name} chi={chi}"] = history
            print(json.dumps(row), flush=True)
            if args.save:
                meta = {"result": row, "model": model.to_spec(), "loop": settings, "trainer": trainer.config,
                        "command": "python examples/learning_loop.py " + " ".join(argv if argv is not None else sys.argv[1:])}
                suffix = ("_born" if args.born else "_data") if args.data else ""
                save_model(Path(args.save) / f"{name}_chi{chi}{suffix}.npz", trainer.model, meta)
    lines = [f"| system | chi | {'sweeps' if args.data else 'rounds'} | KL(pi or P) | disconnected acceptance | "
             "training time (s) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['chi']} | {r['rounds']} | {r['kl']:.4f} +- {r['kl_stderr']:.4f} | "
                     f"{r['acceptance_disconnected']:.3f} | {r['seconds']:.0f} |")
    (out / "table.md").write_text("\n".join(lines).replace("or P", "|| P_theta").replace("||", "\\|\\|") + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    if histories:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for k, (label, h) in enumerate(histories.items()):
            axes[0].plot(h["round"], h["kl"], color=f"C{k % 10}", label=label)
            if "train_kl" in h:
                axes[0].plot(h["round"], h["train_kl"], color=f"C{k % 10}", ls="--", label=f"{label} (training samples)")
            axes[1].plot(h["round"], h["acceptance"], color=f"C{k % 10}", label=label)
        axes[0].set_yscale("symlog", linthresh=0.01)
        axes[0].set_ylabel("KL(pi || P_theta)")
        axes[1].set_ylabel("MH acceptance (mixed moves)")
        for ax in axes:
            ax.set_xlabel("round")
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "curves.png", dpi=110)
        plt.close(fig)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
