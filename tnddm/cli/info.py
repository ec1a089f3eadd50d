"""`tnddm info`: a model card's exact observables."""
from __future__ import annotations

import click
import numpy as np

from ._report import observables_report, short
from .common import (
    card_argument,
    check_allocation,
    check_option,
    emit_summary,
    json_option,
    max_memory_option,
    resolve_card,
    set_option,
)


@click.command()
@card_argument
@click.option("--n-samples", type=int, default=0, show_default=True,
              help="Also estimate observables from this many exact samples (standard errors and z beside the exact values).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the sample estimates.")
@click.option("--observables", "physics", is_flag=True,
              help="Also print the physical observables of tnddm.observables (specific heat, susceptibility, Binder "
                   "cumulant, G(r), correlation length, Fredkin heights, Potts order parameter), exact.")
@set_option
@json_option
@max_memory_option
def command(card, n_samples, seed, physics, overrides, as_json):
    """Print CARD's model, its MPS bond dimensions and its exact observables (log Z, energy, ...)."""
    from ..lattice import from_spec

    check_option(n_samples, "--n-samples", 0)
    check_option(seed, "--seed", 0)
    card = resolve_card(card, overrides)
    model = from_spec(card["model"])
    if n_samples:
        check_allocation(n_samples * (model.n_sites * 8 + 64), f"{n_samples} samples of {model.n_sites} sites")
    P = model.mps()
    summary = {"model": card["model"], "n_sites": P.n_sites, "d": P.d, "max_bond": max(P.bond_dims), "log_z": model.log_z()}
    obs = model.observables(n_samples=n_samples, seed=seed) if n_samples and not physics else model.observables()
    for k, v in obs.items():
        summary[k] = (v.tolist() if as_json else short(v)) if isinstance(v, np.ndarray) else v
    table = None
    if physics:
        X = model.sample(n_samples, seed=seed)[0] if n_samples else None
        summary["observables"], table = observables_report(model, X, as_json)
        if not as_json:
            del summary["observables"]
    emit_summary(summary, as_json)
    if table and not as_json:
        click.echo(table)
