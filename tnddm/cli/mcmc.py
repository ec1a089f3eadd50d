"""`tnddm mcmc`: Monte Carlo on a card's model with tensor-network proposals, with diagnostics
and the exact value beside every estimate."""
from __future__ import annotations

import json
import sys

import click
import numpy as np

from .. import __version__
from ..noise import make_noise
from .common import (
    card_argument,
    emit_summary,
    json_option,
    max_memory_option,
    progress_option,
    resolve_card,
    set_option,
    show_progress,
)

SCHEMES = ("connected", "disconnected", "mixed")
ESTIMATORS = ("mh", "is")
STRICT_EXIT = 3  # exit status of --strict when an estimate is not converged
GRID_KINDS = ("ising_grid", "potts_grid", "grid")  # models with a boundary-MPS proposal (--proposal tn)


def _exact(card) -> bool:
    """Whether the card's model has an exact MPS (built lazily; grids decide from their width)."""
    from ..lattice import from_spec

    return bool(getattr(from_spec(card["model"]), "exact_available", True))


def _parse_T(text):
    """'auto', a number, or a comma list of both (one chain per entry)."""
    vals = []
    for v in (p.strip() for p in str(text).split(",")):
        if not v:
            continue
        if v == "auto":
            vals.append("auto")
            continue
        try:
            vals.append(float(v))
        except ValueError:
            raise ValueError(f"--T must be 'auto', a number or a comma list of them; got {text!r}") from None
        if not np.isfinite(vals[-1]) or vals[-1] < 0:
            raise ValueError(f"--T values must be finite and >= 0; got {text!r}")
    if not vals:
        raise ValueError(f"--T must be 'auto', a number or a comma list of them; got {text!r}")
    return vals


def _parse_burn_in(value):
    if value is None or str(value) == "auto":
        return "auto"
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"--burn-in must be 'auto' or an integer >= 0; got {value!r}") from None
    if v < 0 or (isinstance(value, float) and value != v):
        raise ValueError(f"--burn-in must be 'auto' or an integer >= 0; got {value!r}")
    return v


def _positive(value, name, kind=int):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and int(value) != value) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}; got {value!r}")
    return kind(value)


def _load_proposal(path, n_sites, d):
    from ..io.checkpoint import load_model

    P, _ = load_model(path)
    if P.n_sites != n_sites or P.d != d:
        raise ValueError(f"--proposal {path!r} has {P.n_sites} sites of {P.d} states; the card's model has {n_sites} of {d}")
    return P


def _initial(init, n_sites, d):
    """'exact' / 'proposal' or a sample file (its 'samples' array, or 'state' of an mcmc --out file)."""
    if init in (None, "exact", "proposal"):
        return init
    from ..io.files import check_input_file

    path = check_input_file(init, "--init")
    with np.load(path, allow_pickle=False) as fh:
        key = next((k for k in ("samples", "state") if k in fh.files), None)
        if key is None:
            raise ValueError(f"--init {init!r} must be 'exact', 'proposal' or a .npz with an array 'samples' or 'state'")
        X = np.asarray(fh[key])
    if X.ndim != 2 or X.shape[1] != n_sites:
        raise ValueError(f"--init {init!r} holds an array of shape {X.shape}; expected (walkers, {n_sites})")
    return X


def _rows(summary: dict, seconds: float) -> dict:
    """Per observable: the estimate, its diagnostics and (if given) the exact value and z."""
    keys = ("mean", "stderr", "tau", "tau_stderr", "ess", "rhat", "records", "records_per_tau", "converged",
            "exact", "exact_stderr", "z")
    out = {}
    for name, s in summary.items():
        row = {k: s[k] for k in keys if k in s}
        row["ess_per_second"] = s["ess"] / max(seconds, 1e-12)
        out[name] = row
    return out


def _print_table(rows: dict, exact: bool) -> None:
    head = f"  {'observable':<18} {'mean':>12} {'stderr':>9}"
    if exact:
        head += f" {'exact':>12} {'z':>6}"
    click.echo(head + f" {'tau':>12} {'ESS':>8} {'R-hat':>7} {'rec/tau':>8}  converged")
    for name, s in rows.items():
        line = f"  {name:<18} {s['mean']:>12.6g} {s['stderr']:>9.2g}"
        if exact:
            line += (f" {s['exact']:>12.6g} {s['z']:>6.2f}" if "exact" in s else f" {'-':>12} {'-':>6}")
        tau = f"{s['tau']:.3g}+-{s['tau_stderr']:.1g}" if "tau_stderr" in s else "-"
        rhat = f"{s['rhat']:.4f}" if "rhat" in s and np.isfinite(s["rhat"]) else "-"
        rpt = f"{s['records_per_tau']:.0f}" if "records_per_tau" in s else "-"
        ok = {True: "yes", False: "NO"}.get(s.get("converged"), "-")
        click.echo(line + f" {tau:>12} {s['ess']:>8.4g} {rhat:>7} {rpt:>8}  {ok}")


@click.command()
@card_argument
@click.option("--scheme", type=click.Choice(SCHEMES), default=None,
              help="Move scheme [card: mcmc.scheme, else disconnected].")
@click.option("-T", "--T", "T", type=str, default=None,
              help="Diffusion time of connected moves: 'auto' (adapted during burn-in to --target-acceptance, "
                   "then frozen), a number, or a comma list (one chain per T) [card: mcmc.T, else auto].")
@click.option("--chi", type=int, default=None, help="Truncate the exact model MPS to this bond dimension [card: mcmc.chi, else exact].")
@click.option("--truncation", type=click.Choice(["lump", "svd", "born"]), default=None,
              help="How --chi truncates [card: mcmc.truncation, else born: the best measured, docs/mcmc_study.md].")
@click.option("--proposal", "proposal_file", type=click.Path(dir_okay=False), default=None,
              help="'tn': the column-by-column boundary-MPS proposal of a 2D grid model (ising_grid, potts_grid; "
                   "the default for grids without an exact MPS); or a saved ProbMPS / BornMPS checkpoint (.npz) "
                   "[card: mcmc.proposal, else the truncated exact MPS].")
@click.option("--chi-boundary", type=int, default=None, help="Boundary-MPS bond of --proposal tn [card: mcmc.chi_boundary, else 16].")
@click.option("--init", type=str, default=None,
              help="Start walkers from 'exact' samples (default where the exact MPS exists), 'proposal' samples, "
                   "or a .npz file of configurations [card: mcmc.init].")
@click.option("--steps", type=int, default=None,
              help="Recorded steps (with --burn-in auto: the minimum; the run goes on until converged) [card: mcmc.steps, else 200].")
@click.option("--burn-in", type=str, default=None,
              help="'auto' (default): discard until split R-hat < 1.01 and >= 50 tau recorded; an integer: a fixed run.")
@click.option("--max-steps", type=int, default=None, help="Step budget of an auto run [card: mcmc.max_steps, else 100 x steps].")
@click.option("--max-seconds", type=float, default=None, help="Time budget of an auto run [card: mcmc.max_seconds, else 600].")
@click.option("--target-acceptance", type=float, default=None, help="Acceptance that T = auto aims at [card, else 0.4].")
@click.option("--walkers", type=int, default=None, help="Walkers advanced together [card: mcmc.walkers, else 64].")
@click.option("--estimator", type=click.Choice(ESTIMATORS), default=None,
              help="mh: Metropolis-Hastings chain; is: self-normalised importance sampling with the proposal's exact "
                   "log-probabilities [card: mcmc.estimator, else mh].")
@click.option("--n-samples", type=int, default=None, help="Proposal draws of --estimator is [card: mcmc.n_samples, else 100000].")
@click.option("--exact/--no-exact", default=None, help="Print the exact value and z-score beside each estimate (default on).")
@click.option("--strict", is_flag=True, default=None, help=f"Exit with status {STRICT_EXIT} if any estimate is not converged.")
@click.option("--seed", type=int, default=None, help="Random seed [card: mcmc.seed, else 0].")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Write the chains' observables (obs_<name> arrays of shape (steps, walkers), per T) to this .npz.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PNG of acceptance and tau against T.")
@click.option("--summary/--no-summary", default=True, help="Print the summary (default on).")
@set_option
@json_option
@progress_option
@max_memory_option
def command(card, scheme, T, chi, truncation, proposal_file, chi_boundary, init, steps, burn_in, max_steps, max_seconds,
            target_acceptance, walkers, estimator, n_samples, exact, strict, seed, out, plot, summary, overrides,
            as_json, progress):
    """Monte Carlo on CARD's model with proposals from its (truncated) exact MPS or a checkpoint.

    Metropolis-Hastings (default): disconnected moves draw independent proposals, connected moves
    noise each walker for time T and denoise exactly; both accept with
    min(1, pi(x') P(x) / (pi(x) P(x'))). Walkers start from exact samples where the exact MPS
    exists; burn-in is automatic. Every estimate comes with its standard error, tau, ESS, split
    R-hat, records / tau and a converged flag, and the exact value with its z-score. A run that is
    not converged is flagged with a warning (exit status 3 under --strict).
    """
    from ..io.files import check_input_file, check_output_path
    from ..lattice import from_spec
    from ..mcmc import MetropolisHastings, Move, as_proposal, importance_sampling, plot_scan
    from ..mcmc.reference import exact_reference

    card_path, card = card, resolve_card(card, overrides)
    opts = card.get("mcmc", {})
    scheme = scheme or opts.get("scheme", "disconnected")
    if scheme not in SCHEMES:
        raise ValueError(f"mcmc.scheme must be one of {SCHEMES}; got {scheme!r}")
    Ts = _parse_T(T if T is not None else ",".join(str(v) for v in np.atleast_1d(opts.get("T", "auto"))))
    chi = chi if chi is not None else opts.get("chi")
    truncation = truncation or opts.get("truncation", "born")
    proposal_file = proposal_file or opts.get("proposal")
    init = init or opts.get("init")
    steps = _positive(steps if steps is not None else opts.get("steps", 200), "--steps")
    burn_in = _parse_burn_in(burn_in if burn_in is not None else opts.get("burn_in", "auto"))
    max_steps = _positive(max_steps if max_steps is not None else opts.get("max_steps"), "--max-steps")
    max_seconds = _positive(max_seconds if max_seconds is not None else opts.get("max_seconds", 600.0), "--max-seconds", float)
    target_acceptance = float(target_acceptance if target_acceptance is not None else opts.get("target_acceptance", 0.4))
    if not 0 < target_acceptance < 1:
        raise ValueError(f"--target-acceptance must lie in (0, 1); got {target_acceptance}")
    walkers = _positive(walkers if walkers is not None else opts.get("walkers", 64), "--walkers")
    estimator = estimator or opts.get("estimator", "mh")
    if estimator not in ESTIMATORS:
        raise ValueError(f"mcmc.estimator must be one of {ESTIMATORS}; got {estimator!r}")
    n_samples = _positive(n_samples if n_samples is not None else opts.get("n_samples", 100_000), "--n-samples")
    exact = bool(opts.get("exact", True) if exact is None else exact)
    strict = bool(opts.get("strict", False) if strict is None else strict)
    seed = int(seed if seed is not None else opts.get("seed", 0))
    if chi is not None and (isinstance(chi, bool) or int(chi) != chi or int(chi) < 1):
        raise ValueError(f"--chi must be >= 1; got {chi}")
    if "auto" in Ts and burn_in == 0 and scheme != "disconnected":
        raise ValueError("--T auto adapts during burn-in: use --burn-in auto or >= 1, or give --T")
    if scheme != "disconnected" and estimator == "is":
        scheme = "disconnected"
    chi_boundary = _positive(chi_boundary if chi_boundary is not None else opts.get("chi_boundary", 16), "--chi-boundary")
    inputs = [card_path] if card_path else []
    if proposal_file == "tn" or (proposal_file is None and card["model"]["kind"] in GRID_KINDS and not _exact(card)):
        proposal_file = "tn"
    elif proposal_file:
        check_input_file(proposal_file, "--proposal")
        inputs.append(proposal_file)
    if init not in (None, "exact", "proposal"):
        inputs.append(init)
    if out:
        check_output_path(out, (".npz",), inputs, "--out")
    if plot:
        check_output_path(plot, (".png",), inputs, "--plot")

    model = from_spec(card["model"])
    if proposal_file == "tn":
        if not callable(getattr(model, "proposal", None)):
            raise ValueError(f"--proposal tn needs a 2D grid model ({', '.join(GRID_KINDS)}); got {card['model']['kind']!r}")
        P = model.proposal(chi_boundary, progress=show_progress(progress))
    elif proposal_file:
        P = _load_proposal(proposal_file, model.n_sites, model.d)
    else:
        P = as_proposal(model, chi=chi, method=truncation)
    bond = max(P.bond_dims)
    init = _initial(init, model.n_sites, model.d)
    reference = exact_reference(model, seed=seed + 1) if exact else {}
    bar = show_progress(progress)
    head = {"model": card["model"]["kind"], "n_sites": P.n_sites, "estimator": estimator,
            "proposal": (f"boundary MPS, chi_b = {chi_boundary}" if proposal_file == "tn" else proposal_file)
            or (f"{truncation} truncation, chi = {chi}" if chi else "exact MPS"),
            "proposal_bond": bond,
            "exact_values": ("beside each estimate" if reference else "none: the model has no exact MPS at this size")
            if exact else "not requested (--no-exact)"}

    if estimator == "is":
        res = importance_sampling(model, P, n_samples, seed=seed, exact=reference)
        result = {**head, "n_samples": n_samples, "kish_ess": res["ess"], "max_weight": res["max_weight"],
                  "seconds": res["seconds"], "observables": res["observables"]}
        if out:
            _write(out, {"tnddm_version": __version__, "card": card, "summary": result}, {})
        if summary:
            if as_json:
                emit_summary(result, True)
            else:
                emit_summary({k: v for k, v in result.items() if k != "observables"}, False)
                _print_table(res["observables"], bool(reference))
        return

    noise = make_noise(dict(card.get("noise", {"kind": "flip"})), d=P.d)
    if scheme == "disconnected":
        Ts = [float("nan")]
    rows, arrays = [], {}
    for k, (T_k, child) in enumerate(zip(Ts, np.random.SeedSequence(seed).spawn(len(Ts)))):
        T_move = "auto" if T_k == "auto" else (0.0 if np.isnan(T_k) else T_k)
        moves = {"connected": [Move("connected", 1.0, T_move)], "disconnected": [Move("disconnected", 1.0)],
                 "mixed": [Move("connected", 0.5, T_move), Move("disconnected", 0.5)]}[scheme]
        mh = MetropolisHastings(model, P, moves=moves, noise=noise)
        chain = mh.run(steps, walkers, initial=init, seed=child, burn_in=burn_in, max_steps=max_steps,
                       max_seconds=max_seconds if burn_in == "auto" else None, target_acceptance=target_acceptance,
                       progress=bar)
        stats = chain.summary(exact=reference)
        row = {"T": None if T_k != "auto" and np.isnan(T_k) else T_k, "T_adapted": next(iter(chain.info["T"].values()), None),
               "acceptance": chain.acceptance(), "seconds": chain.seconds, "burn_in": chain.burn_in,
               "recorded": chain.n_steps, "stop": chain.info["stop"],
               "converged": bool(stats) and all(s["converged"] for s in stats.values())}
        row["observables"] = _rows(stats, chain.seconds)
        rows.append(row)
        prefix = f"T{k}_" if len(Ts) > 1 else ""
        arrays.update({prefix + key: v for key, v in chain.to_arrays().items() if key != "move_kinds"})
    converged = all(r["converged"] for r in rows)
    if out:
        _write(out, {"tnddm_version": __version__, "card": card, "scheme": scheme, "chi": chi, "truncation": truncation,
                     "steps": steps, "walkers": walkers, "seed": seed, "burn_in": burn_in, "summary": rows}, arrays)
    if plot:
        first = next(iter(rows[0]["observables"]), None)
        if first is None:
            raise ValueError("--plot needs recorded observables; the model has no statistics")
        plot_scan([{"scheme": scheme, "T": np.nan if r["T"] is None else (r["T_adapted"] if r["T"] == "auto" else r["T"]),
                    "acceptance": r["acceptance"], "tau": r["observables"][first]["tau"],
                    "tau_stderr": r["observables"][first]["tau_stderr"]} for r in rows],
                  plot, title=f"{card['model']['kind']}: {scheme} moves, proposal bond {bond} (tau of {first})")
    if summary:
        head.update(scheme=scheme, walkers=walkers, converged=converged)
        if as_json:
            emit_summary({**head, "runs": rows}, True)
        else:
            emit_summary(head, False)
            for r in rows:
                T_text = "disconnected moves" if r["T"] is None else \
                    (f"T = auto -> {r['T_adapted']:.4g}" if r["T"] == "auto" else f"T = {r['T']:.4g}")
                click.echo(f"{T_text}: acceptance {r['acceptance']:.4f}, burn-in {r['burn_in']} steps discarded, "
                           f"{r['recorded']} recorded, {r['seconds']:.2f} s, {'converged' if r['converged'] else 'NOT CONVERGED'}")
                _print_table(r["observables"], bool(reference))
    if not converged:
        bad = sorted({name for r in rows for name, s in r["observables"].items() if not s["converged"]})
        click.echo(f"warning: not converged ({', '.join(bad)}): split R-hat >= 1.01 or fewer than 50 tau recorded; "
                   "these estimates cannot be trusted yet. Run longer (--max-steps, --max-seconds), "
                   "use a better proposal (--chi, --truncation born) or more walkers.", err=True)
        if strict:
            sys.exit(STRICT_EXIT)


def _write(out, meta: dict, arrays: dict) -> None:
    from ..io import atomic_write
    from .common import jsonable

    def write(tmp):
        with open(tmp, "wb") as fh:  # a file handle: savez would append .npz to a path
            np.savez_compressed(fh, metadata=np.array(json.dumps(jsonable(meta))), **arrays)

    atomic_write(out, write)
