"""`tnddm info`: a model card's exact observables."""
from __future__ import annotations

import click
import numpy as np

from .common import (card_argument, check_allocation, check_option, emit_summary, json_option, max_memory_option,
                     resolve_card, set_option)


@click.command()
@card_argument
@click.option("--n-samples", type=int, default=0, show_default=True,
              help="Also estimate sample-only observables from this many exact samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the sample estimates.")
@set_option
@json_option
@max_memory_option
def command(card, n_samples, seed, overrides, as_json):
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
    obs = model.observables(n_samples=n_samples, seed=seed) if n_samples else model.observables()
    for k, v in obs.items():
        summary[k] = np.round(v, 10).tolist() if isinstance(v, np.ndarray) else v
    emit_summary(summary, as_json)
