"""`tnddm sample`: exact samples of a model card, directly or by exact generative diffusion."""
from __future__ import annotations

import time

import click
import numpy as np

from .. import __version__
from ..diffusion import Diffusion
from ..io import save_samples
from ..noise import make_noise
from ..io.files import SAMPLE_SUFFIXES
from ._report import add_estimates
from .common import (card_argument, check_allocation, check_option, check_output_path, emit_summary, json_option,
                     max_memory_option, progress_option, resolve_card, set_option, show_progress)


@click.command()
@card_argument
@click.option("-n", "--n-samples", type=int, default=None, help="Number of samples [card: sample.n_samples, else 1000].")
@click.option("--mode", type=click.Choice(["direct", "diffusion"]), default=None,
              help="direct: autoregressive sampling of P_0; diffusion: x_T ~ P_T then exact denoising [card: sample.mode].")
@click.option("--noise", "noise_kind", type=click.Choice(["flip", "mask", "random_walk"]), default=None,
              help="Noise kind [card: noise.kind].")
@click.option("--rate", type=float, default=None, help="Noise rate [card: noise.rate].")
@click.option("-T", "--T", "T", type=float, default=None, help="Diffusion time T [card: sample.T].")
@click.option("--steps", type=int, default=None, help="Denoising steps from T to 0 [card: sample.steps].")
@click.option("--seed", type=int, default=None, help="Random seed [card: sample.seed].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on Dask: a scheduler address (tcp://host:8786) or 'local' for a local cluster (needs tnddm[dask]).")
@click.option("--workers", type=int, default=None, help="Workers of the local Dask cluster (default: one per core).")
@click.option("--tasks", type=int, default=None,
              help="Dask tasks [card: sample.tasks, else about one per 1000 samples, at most 1024]; the samples depend "
                   "on seed and tasks, never on workers.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="samples.npz", show_default=True,
              help="Output file: .npz, or .h5/.hdf5 (needs h5py).")
@set_option
@json_option
@progress_option
@max_memory_option
def command(card, n_samples, mode, noise_kind, rate, T, steps, seed, scheduler, workers, tasks, out, overrides, as_json,
            progress):
    """Draw exact samples of CARD's model (default: the built-in card) and write them to --out.

    The file holds `samples` (n, N), `log_prob` (exact log P_0 of each sample), per-sample
    statistics `stat_<name>` and `metadata` (JSON: card, seed, mode, version, timing).
    """
    from ..lattice import from_spec

    card_path = card
    card = resolve_card(card, overrides)
    opts = card.get("sample", {})
    n = check_option(n_samples if n_samples is not None else opts.get("n_samples", 1000), "--n-samples", 1)
    mode = mode or opts.get("mode", "direct")
    T = check_option(T if T is not None else opts.get("T", 1.0), "--T", 0, kind=float)
    steps = check_option(steps if steps is not None else opts.get("steps", 1), "--steps", 1)
    seed = check_option(seed if seed is not None else opts.get("seed", 0), "--seed", 0)
    check_option(workers, "--workers", 1)
    tasks = check_option(tasks, "--tasks", 1)
    noise_spec = dict(card.get("noise", {"kind": "flip"}))
    if noise_kind:
        noise_spec["kind"] = noise_kind
    if rate is not None:
        noise_spec["rate"] = check_option(rate, "--rate", 0, kind=float)
    out = str(check_output_path(out, SAMPLE_SUFFIXES, inputs=[card_path], what="--out"))
    dask = scheduler is not None or workers is not None or tasks is not None
    if dask:
        from ..distributed import default_tasks

        tasks = default_tasks(n) if tasks is None else tasks
        if tasks > n:
            raise ValueError(f"--tasks must lie in 1..{n} (at least one sample per task); got {tasks}")

    model = from_spec(card["model"])  # refuses an exact MPS that cannot fit, before building it
    noise = make_noise(noise_spec, d=model.d) if mode == "diffusion" else None
    d_out = noise.d_out if noise is not None else model.d
    N = model.n_sites
    per_row = N * (8 + 1) + 64 + (N * (8 + 8 * d_out) if mode == "diffusion" else 0)  # X, int8 copy, Y, tilts
    check_allocation(n * per_row, f"{n} samples of {N} sites ({mode} mode)")
    if mode == "diffusion":
        check_allocation(8 * (steps + 1), f"a time grid of {steps} steps")
    P = model.mps()
    bar = show_progress(progress)
    start = time.perf_counter()
    if dask:
        X, logp = _sample_on_dask(P, mode, noise_spec, n, T, steps, seed, scheduler, workers, tasks, bar)
    elif mode == "direct":
        X, logp = P.sample(n, seed=seed, progress=bar)
    else:
        ddm = Diffusion(P, noise)
        X, logp = ddm.generate(n, T, steps, seed=seed, progress=bar)
    elapsed = time.perf_counter() - start
    stats = model.statistics(X)
    meta = {
        "tnddm_version": __version__, "card": card, "mode": mode, "n_samples": n, "seed": seed,
        "T": T, "steps": steps, "noise": noise_spec, "seconds": elapsed, "log_z": model.log_z(),
    }
    if dask:
        meta["dask"] = {"scheduler": scheduler or "local", "workers": workers, "tasks": tasks}
    save_samples(out, X.astype(np.int8 if P.d <= 127 else np.int64), logp, meta,
                 extra={f"stat_{k}": v for k, v in stats.items()})
    summary = {"out": out, "model": card["model"]["kind"], "n_sites": P.n_sites, "n_samples": n, "mode": mode,
               "seconds": elapsed, "samples_per_second": n / max(elapsed, 1e-12), "log_z": model.log_z()}
    summary.update({f"mean_{k}": float(np.mean(v)) for k, v in stats.items()})
    table = add_estimates(summary, model, X, as_json)  # estimates +- standard errors beside the exact values
    emit_summary(summary, as_json)
    if table:
        click.echo(table)


def _sample_on_dask(P, mode, noise_spec, n, T, steps, seed, scheduler, workers, tasks, progress):
    from .. import distributed

    address = None if scheduler in (None, "local") else scheduler
    with distributed.dask_client(address, n_workers=workers) as client:
        if mode == "direct":
            return distributed.sample(P, n, seed=seed, tasks=tasks, client=client, progress=progress)
        ddm = Diffusion(P, make_noise(noise_spec, d=P.d))
        return distributed.generate(ddm, n, T, steps, seed=seed, tasks=tasks, client=client, progress=progress)
