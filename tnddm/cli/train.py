"""`tnddm train`: learn an MPS of a card's model from a sample file (--data) or by the Monte Carlo loop (--loop)."""
from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from .. import __version__
from .common import (
    card_argument,
    check_input_file,
    check_option,
    check_output_path,
    emit_summary,
    json_option,
    max_memory_option,
    progress_option,
    resolve_card,
    set_option,
    show_progress,
)

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
#: settings a resumed run takes from its checkpoint: giving a different value is an error, not silently ignored
RESUME_FIXED = {"method": "--method", "chi_max": "--chi-max", "lr": "--lr", "holdout": "--holdout", "seed": "--seed"}

DEFAULTS = {"method": "adam", "chi_max": 16, "lr": 0.03, "lr_decay": 1.0, "batch_size": 512, "epochs": 50,
            "rounds": 100, "walkers": 512, "mh_steps": 4, "moves": "mixed", "T": 0.3, "connected_prob": 0.5,
            "local_sweeps": 0, "epochs_per_round": 2, "buffer_rounds": 32, "anneal_start": None,
            "anneal_rounds": 20, "kl_samples": 2000, "seed": 0, "cutoff": 1e-6, "em_steps": 4,
            "born_batch_size": None, "holdout": 0.0}


def _settings(card: dict, **given) -> dict:
    opts = dict(DEFAULTS)
    table = card.get("train", {})
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"train.{unknown[0]} is not a train setting (expected some of {sorted(DEFAULTS)})")
    opts.update(table)
    opts.update({k: v for k, v in given.items() if v is not None})
    return opts


def _trainer(opts, model_n, d):
    """A Trainer (1-norm MPS: adam, sweep) or a BornTrainer (born) from the settings."""
    from ..learn import BornTrainer, Trainer
    from ..mps import ProbMPS

    if opts["method"] == "born":
        return BornTrainer(n_sites=model_n, d=d, chi_max=int(opts["chi_max"]), cutoff=float(opts["cutoff"]),
                           batch_size=opts.get("born_batch_size"), holdout=float(opts["holdout"]),
                           seed=int(opts["seed"]) + 1)

    chi0 = int(opts["chi_max"]) if opts["method"] == "adam" else 1
    init = ProbMPS.random(model_n, chi0, d=d, seed=int(opts["seed"]))
    return Trainer(init, method=opts["method"], lr=float(opts["lr"]), lr_decay=float(opts["lr_decay"]),
                   batch_size=opts["batch_size"], chi_max=int(opts["chi_max"]), cutoff=float(opts["cutoff"]),
                   em_steps=int(opts["em_steps"]), seed=int(opts["seed"]) + 1)


@click.command()
@card_argument
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="Train on the configurations in this .npz (array 'samples', e.g. from `tnddm sample`).")
@click.option("--loop", "use_loop", is_flag=True, help="Train by the Monte Carlo loop (walkers proposed by the model).")
@click.option("--method", type=click.Choice(["adam", "sweep", "born"]), default=None,
              help="adam / sweep: a non-negative 1-norm MPS; born: a Born MPS by two-site sweeps (with --data or "
                   "--loop) [card: train.method, else adam].")
@click.option("--chi-max", type=int, default=None,
              help="Bond dimension (adam) or its maximum (sweep, born) [train.chi_max, else 16].")
@click.option("--epochs", type=int, default=None, help="Total epochs on --data [train.epochs, else 50].")
@click.option("--rounds", type=int, default=None, help="Total rounds of the loop [train.rounds, else 100].")
@click.option("--lr", type=float, default=None, help="Adam step size [train.lr, else 0.03].")
@click.option("--holdout", type=float, default=None,
              help="born: fraction of the data that guards each bond update against fitting noise [train.holdout, else 0].")
@click.option("--seed", type=int, default=None, help="Random seed [train.seed, else 0].")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Write the full training state here (.npz) after every epoch / round.")
@click.option("--resume", is_flag=True, help="Continue from --checkpoint if it exists (same result as an uninterrupted run).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PNG of the training curves.")
@set_option
@json_option
@progress_option
@max_memory_option
def command(card, data, use_loop, method, chi_max, epochs, rounds, lr, holdout, seed, checkpoint, resume, plot, overrides,
            as_json, progress):
    """Learn an MPS P_theta of CARD's model (a ProbMPS, or a BornMPS with --method born; both usable by the engine).

    With --data: maximum likelihood on the file's configurations. With --loop: rounds of
    Metropolis-Hastings with moves proposed by P_theta, each followed by NLL epochs on the walkers
    (optional annealing from train.anneal_start). Reports NLL, acceptance and KL(pi || P_theta)
    estimated with exact samples of the card's model.
    """
    from .._checks import as_configs
    from ..io.checkpoint import load_checkpoint, save_checkpoint
    from ..io.files import load_samples
    from ..lattice import from_spec
    from ..learn import BornTrainer, Trainer, TrainingLoop, check_state, plot_history, same_spec

    if (data is None) == (not use_loop):
        raise ValueError("give exactly one of --data FILE or --loop")
    if resume and checkpoint is None:
        raise ValueError("--resume needs --checkpoint PATH")
    card_path = card
    card = resolve_card(card, overrides)
    check_option(chi_max, "--chi-max", 1)
    check_option(epochs, "--epochs", 1)
    check_option(rounds, "--rounds", 1)
    check_option(seed, "--seed", 0)
    if lr is not None and not (check_option(lr, "--lr", kind=float) > 0):
        raise ValueError(f"--lr must be > 0; got {lr}")
    if holdout is not None and not 0 <= check_option(holdout, "--holdout", kind=float) < 1:
        raise ValueError(f"--holdout must lie in [0, 1); got {holdout}")
    opts = _settings(card, method=method, chi_max=chi_max, epochs=epochs, rounds=rounds, lr=lr, holdout=holdout,
                     seed=seed)
    if float(opts["holdout"]) and opts["method"] != "born":
        raise ValueError(f"--holdout applies to --method born; got method {opts['method']!r}")
    inputs = [card_path, data]
    if checkpoint is not None:
        check_output_path(checkpoint, (".npz",), inputs=inputs, what="--checkpoint")
    if plot is not None:
        check_output_path(plot, PLOT_SUFFIXES, inputs=inputs + [checkpoint], what="--plot")
    model = from_spec(card["model"])
    X = None
    if data is not None:  # read and check the data before any training or writing
        X = _load_data(data, model, load_samples, from_spec, same_spec, as_configs)
    bar = show_progress(progress)
    start = time.perf_counter()
    meta_extra = {"card": card.get("source"), "model": model.to_spec(), "seed": int(opts["seed"])}

    def save(state_obj):
        if checkpoint is not None:
            arrays, meta = state_obj.state()
            meta.update(meta_extra)
            save_checkpoint(checkpoint, arrays, meta)

    state = None
    if resume and Path(checkpoint).exists():  # check the whole state before anything is trained or written
        state = load_checkpoint(checkpoint)
        kinds = ("loop",) if use_loop else ("trainer", BornTrainer.kind)
        check_state(state[1], kinds, model.n_sites, model.d, model.to_spec(), source=f"--checkpoint {checkpoint!r}")
        _check_resume_flags(state[1], dict(method=method, chi_max=chi_max, lr=lr, holdout=holdout, seed=seed))
    resumed = state is not None
    if not resumed:  # a resumed state's arrays were checked from their headers when it was read
        _check_memory(opts, model, X)
    if use_loop:
        total = int(opts["rounds"])
        if resumed:
            arrays, meta = state
            loop = TrainingLoop.from_state(arrays, meta, target=model)
        else:
            anneal = None if opts["anneal_start"] is None else {"start": float(opts["anneal_start"]),
                                                                 "rounds": int(opts["anneal_rounds"])}
            loop = TrainingLoop(model, _trainer(opts, model.n_sites, model.d), walkers=int(opts["walkers"]),
                                mh_steps=int(opts["mh_steps"]), moves=opts["moves"], T=float(opts["T"]),
                                connected_prob=float(opts["connected_prob"]), local_sweeps=int(opts["local_sweeps"]),
                                epochs_per_round=int(opts["epochs_per_round"]), buffer_rounds=int(opts["buffer_rounds"]),
                                anneal=anneal, kl_samples=int(opts["kl_samples"]), seed=int(opts["seed"]) + 2)
        if total > loop.round:
            loop.run(total - loop.round, progress=bar, callback=save)
        history, trainer = loop.history, loop.trainer
        summary = {"mode": "loop", "rounds": loop.round, "acceptance": history["acceptance"][-1] if history["acceptance"] else None,
                   "acceptance_connected": history["acceptance_connected"][-1] if history["round"] else None,
                   "acceptance_disconnected": history["acceptance_disconnected"][-1] if history["round"] else None,
                   "nll": history["nll"][-1] if history["nll"] else None}
    else:
        total = int(opts["epochs"])
        if resumed:
            arrays, meta = state
            kinds = {"trainer": Trainer, BornTrainer.kind: BornTrainer}
            trainer = kinds[meta["kind"]].from_state(arrays, meta)
        else:
            trainer = _trainer(opts, model.n_sites, model.d)
        if total > trainer.epoch:
            trainer.fit(X, total - trainer.epoch, progress=bar, callback=save)
        history = trainer.history
        summary = {"mode": "data", "epochs": trainer.epoch, "n_data": int(X.shape[0]),
                   "nll": history["nll"][-1] if history["nll"] else None}
    P = trainer.model
    summary.update({"method": trainer.config["method"], "max_bond": trainer.max_bond(), "seconds": time.perf_counter() - start,
                    "resumed": resumed, "checkpoint": checkpoint, "tnddm_version": __version__})
    if int(opts["kl_samples"]) > 1:
        Xk, logp = model.sample(int(opts["kl_samples"]), seed=12345)
        diff = logp - P.log_prob(Xk)
        summary["kl"] = float(diff.mean())
        summary["kl_stderr"] = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    if plot:
        plot_history(history, plot, title=f"{card.get('name', model.kind)}: {summary['mode']} training")
    emit_summary(summary, as_json)


def _check_memory(opts, model, X):
    """Refuse (MemoryLimitError: exit 2) a model whose cores, optimiser state and data environments cannot fit."""
    from .common import check_allocation

    N, d, chi = model.n_sites, model.d, int(opts["chi_max"])
    cores = N * chi * chi * d * 8
    if X is not None:
        rows = X.shape[0]
        if opts["method"] == "adam" and opts.get("batch_size"):
            rows = min(rows, int(opts["batch_size"]))
    else:
        rows = int(opts["walkers"]) * int(opts["buffer_rounds"])
    check_allocation(5 * cores + 2 * 8 * rows * N * chi, f"training an MPS of bond {chi} on {N} sites "
                     f"(--chi-max {chi}, method {opts['method']}: cores, optimiser state and {rows} rows of environments)")


def _load_data(data, model, load_samples, from_spec, same_spec, as_configs):
    """The configurations of --data as (n, N) int64, checked against the card's model."""
    check_input_file(data, "--data")
    if Path(data).suffix not in (".npz", ".h5", ".hdf5"):
        raise ValueError(f"--data must be a .npz (or .h5) file with an array 'samples'; got {data!r}")
    content = load_samples(data, what="--data")
    X = np.asarray(content["samples"])
    X = as_configs(X, model.n_sites, model.d, name=f"--data {data!r} samples")
    if X.shape[0] < 1:
        raise ValueError(f"--data {data!r} holds no samples")
    card = content.get("metadata", {}).get("card") if isinstance(content.get("metadata"), dict) else None
    spec = card.get("model") if isinstance(card, dict) else None
    if isinstance(spec, dict):
        try:
            spec = from_spec(spec).to_spec()
        except ValueError:
            pass
        if not same_spec(spec, model.to_spec()):
            from ..learn.state import describe_spec

            raise ValueError(f"--data {data!r} holds samples of {describe_spec(spec)}; the card's model is "
                             f"{describe_spec(model.to_spec())} (train with the card the data came from)")
    return X


def _check_resume_flags(meta: dict, given: dict) -> None:
    """A resumed run keeps the checkpoint's settings: a flag that asks for different ones is an error."""
    config = meta.get("config") or (meta.get("trainer") or {}).get("config") or {}
    saved_values = dict(config)
    saved_values["method"] = {"born_sweep": "born"}.get(config.get("method"), config.get("method"))
    saved_values["seed"] = meta.get("seed")  # recorded by tnddm train since the seed only starts a run
    for key, flag in RESUME_FIXED.items():
        value, saved = given.get(key), saved_values.get(key)
        if value is None or saved is None:
            continue
        same = saved == value or (isinstance(saved, (int, float)) and isinstance(value, (int, float))
                                  and abs(saved - value) <= 1e-12 * max(abs(saved), abs(value)))
        if not same:
            raise ValueError(f"{flag} {value!r} conflicts with --resume: the checkpoint continues with {key} = {saved!r} "
                             f"(omit {flag}, or start a new run without --resume)")
