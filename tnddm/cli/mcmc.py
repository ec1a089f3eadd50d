"""`tnddm mcmc`: Metropolis-Hastings on a card's model with diffusion proposals from its MPS."""
from __future__ import annotations

import json

import click
import numpy as np

from .. import __version__
from ..noise import make_noise
from .common import card_argument, emit_summary, json_option, progress_option, resolve_card, set_option, show_progress


def _parse_T(text):
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--T must be a number or comma-separated numbers; got {text!r}") from None
    if not vals or any(not np.isfinite(v) or v < 0 for v in vals):
        raise ValueError(f"--T values must be finite and >= 0; got {text!r}")
    return vals


@click.command()
@card_argument
@click.option("--scheme", type=click.Choice(["connected", "disconnected", "mixed"]), default=None,
              help="Move scheme [card: mcmc.scheme, else connected].")
@click.option("-T", "--T", "T", type=str, default=None,
              help="Diffusion time of connected moves; a comma list (0.1,0.3,1) runs one chain per T [card: mcmc.T, else 1.0].")
@click.option("--chi", type=int, default=None, help="Truncate the exact model MPS to this bond dimension [card: mcmc.chi, else exact].")
@click.option("--truncation", type=click.Choice(["lump", "svd", "born"]), default=None,
              help="How --chi truncates: lumped states, SVD, or the best-fidelity Born MPS [card: mcmc.truncation, else lump].")
@click.option("--steps", type=int, default=None, help="Recorded MH steps per chain [card: mcmc.steps, else 200].")
@click.option("--burn-in", type=int, default=None, help="Unrecorded initial steps [card: mcmc.burn_in, else 0].")
@click.option("--walkers", type=int, default=None, help="Walkers advanced together [card: mcmc.walkers, else 64].")
@click.option("--seed", type=int, default=None, help="Random seed [card: mcmc.seed, else 0].")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Write the chains' observables (obs_<name> arrays of shape (steps, walkers), per T) to this .npz.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PNG of acceptance and tau against T.")
@click.option("--summary/--no-summary", default=True, help="Print the summary (default on).")
@set_option
@json_option
@progress_option
def command(card, scheme, T, chi, truncation, steps, burn_in, walkers, seed, out, plot, summary, overrides, as_json, progress):
    """Metropolis-Hastings on CARD's model with proposals from its (possibly truncated) exact MPS.

    Connected moves noise each walker for time T and denoise exactly; disconnected moves draw
    independent proposals; both accept with min(1, pi(x') P(x) / (pi(x) P(x'))). Reports, per T,
    the acceptance, and for every observable the mean, standard error, integrated autocorrelation
    time and effective samples per second.
    """
    from ..lattice import from_spec
    from ..mcmc import MetropolisHastings, as_proposal, plot_scan

    card = resolve_card(card, overrides)
    opts = card.get("mcmc", {})
    scheme = scheme or opts.get("scheme", "connected")
    if scheme not in ("connected", "disconnected", "mixed"):
        raise ValueError(f"mcmc.scheme must be connected, disconnected or mixed; got {scheme!r}")
    Ts = _parse_T(T if T is not None else ",".join(str(v) for v in np.atleast_1d(opts.get("T", 1.0))))
    chi = chi if chi is not None else opts.get("chi")
    truncation = truncation or opts.get("truncation", "lump")
    steps = int(steps if steps is not None else opts.get("steps", 200))
    burn_in = int(burn_in if burn_in is not None else opts.get("burn_in", 0))
    walkers = int(walkers if walkers is not None else opts.get("walkers", 64))
    seed = int(seed if seed is not None else opts.get("seed", 0))
    for name, v in (("--steps", steps), ("--walkers", walkers)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1; got {v}")
    if burn_in < 0:
        raise ValueError(f"--burn-in must be >= 0; got {burn_in}")
    if chi is not None and int(chi) < 1:
        raise ValueError(f"--chi must be >= 1; got {chi}")

    model = from_spec(card["model"])
    P = as_proposal(model, chi=chi, method=truncation)
    bond = max(getattr(P, "born_bond_dims", P.bond_dims))
    noise = make_noise(dict(card.get("noise", {"kind": "flip"})), d=P.d)
    if scheme == "disconnected":
        Ts = [float("nan")]
    bar = show_progress(progress)
    rows, arrays = [], {}
    for k, (T_k, child) in enumerate(zip(Ts, np.random.SeedSequence(seed).spawn(len(Ts)))):
        mh = MetropolisHastings(model, P, moves=scheme, T=0.0 if np.isnan(T_k) else T_k, noise=noise)
        chain = mh.run(steps, walkers, seed=child, burn_in=burn_in, progress=bar)
        stats = chain.summary()
        row = {"T": None if np.isnan(T_k) else T_k, "acceptance": chain.acceptance(), "seconds": chain.seconds}
        for name, s in stats.items():
            row[name] = {"mean": s["mean"], "stderr": s["stderr"], "tau": s["tau"], "ess": s["ess"],
                         "ess_per_second": s["ess"] / max(chain.seconds, 1e-12), "rhat": s["rhat"]}
        rows.append(row)
        prefix = f"T{k}_" if len(Ts) > 1 else ""
        arrays.update({prefix + key: v for key, v in chain.to_arrays().items() if key != "move_kinds"})
    if out:
        from ..io import atomic_write

        meta = {"tnddm_version": __version__, "card": card, "scheme": scheme, "T": [r["T"] for r in rows], "chi": chi, "truncation": truncation, "steps": steps,
                "walkers": walkers, "seed": seed, "burn_in": burn_in, "summary": rows}
        def write(tmp):
            with open(tmp, "wb") as fh:  # a file handle: savez would append .npz to a path
                np.savez_compressed(fh, metadata=np.array(json.dumps(meta, default=float)), **arrays)

        atomic_write(out, write)
    if plot:
        first = next((k for k in rows[0] if isinstance(rows[0][k], dict)), None)
        if first is None:
            raise ValueError("--plot needs recorded observables; the model has no statistics")
        plot_scan([{"scheme": scheme, "T": np.nan if r["T"] is None else r["T"], "acceptance": r["acceptance"], "tau": r[first]["tau"]} for r in rows],
                  plot, title=f"{card['model']['kind']}: {scheme} moves, proposal bond {bond} (tau of {first})")
    if summary:
        head = {"model": card["model"]["kind"], "n_sites": P.n_sites, "scheme": scheme,
                "proposal_bond": bond, "steps": steps, "walkers": walkers}
        if as_json:
            emit_summary({**head, "runs": rows}, True)
        else:
            emit_summary(head, False)
            for r in rows:
                click.echo(f"T = {'-' if r['T'] is None else format(r['T'], '.4g')}: acceptance {r['acceptance']:.4f}, {r['seconds']:.2f} s")
                for name, s in r.items():
                    if isinstance(s, dict):
                        click.echo(f"  {name:<18} {s['mean']:.6g} +- {s['stderr']:.2g}  tau {s['tau']:.3g}  "
                                   f"ESS/s {s['ess_per_second']:.3g}")
