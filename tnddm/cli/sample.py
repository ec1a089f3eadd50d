"""`tnddm sample`: exact samples of a model card, directly or by exact generative diffusion."""
from __future__ import annotations

import json
import time

import click
import numpy as np

from .. import __version__
from ..diffusion import Diffusion
from ..io.files import SAMPLE_SUFFIXES
from ..mps.base import sample_dtype
from ..noise import make_noise
from ._report import MAX_REPORT_SAMPLES, add_estimates
from .common import (
    card_argument,
    check_allocation,
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
              help="Dask tasks [default: about one per 1000 samples, at most 1024]; the samples depend "
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
    stream = mode == "direct" and not dask  # written chunk by chunk: only per-sample scalars stay in memory
    batch = max(1, min(n, STREAM_BYTES // max(1, N)))
    if stream:
        per_row = 8 * (1 + STATS_PER_ROW) + 64  # log_prob and statistics
        check_allocation(n * per_row + batch * N * 32, f"{n} samples of {N} sites ({mode} mode, chunks of {batch})")
    else:
        per_row = N * (8 + 1) + 64 + (N * (8 + 8 * d_out) if mode == "diffusion" else 0)  # X, int8 copy, Y, tilts
        check_allocation(n * per_row, f"{n} samples of {N} sites ({mode} mode)")
    if mode == "diffusion":
        check_allocation(8 * (steps + 1), f"a time grid of {steps} steps")
    P = model.mps()
    bar = show_progress(progress)
    meta = {
        "tnddm_version": __version__, "card": card, "mode": mode, "n_samples": n, "seed": seed,
        "T": T, "steps": steps, "noise": noise_spec, "log_z": model.log_z(),
    }
    if dask:
        meta["dask"] = {"scheduler": scheduler or "local", "workers": workers, "tasks": tasks}

    def chunks():
        if stream:
            yield from P.iter_samples(n, batch=batch, seed=seed)
        elif dask:
            yield _sample_on_dask(P, mode, noise_spec, n, T, steps, seed, scheduler, workers, tasks, bar)
        else:
            yield Diffusion(P, noise).generate(n, T, steps, seed=seed, progress=bar)

    result = write_sample_chunks(out, n, N, sample_dtype(P.d), chunks(), model.statistics, meta,
                                 keep=MAX_REPORT_SAMPLES, progress=bar and stream)
    elapsed, stats, head = result["seconds"], result["stats"], result["head"]
    summary = {"out": out, "model": card["model"]["kind"], "n_sites": P.n_sites, "n_samples": n, "mode": mode,
               "seconds": elapsed, "samples_per_second": n / max(elapsed, 1e-12), "log_z": model.log_z()}
    summary.update({f"mean_{k}": float(np.mean(v)) for k, v in stats.items()})
    table = add_estimates(summary, model, head, as_json)  # estimates +- standard errors beside the exact values
    emit_summary(summary, as_json)
    if table:
        click.echo(table)


STREAM_BYTES = 2**24  # samples per chunk of the streamed direct mode: about 16 MB of int8 states
STATS_PER_ROW = 4  # per-sample statistics of a lattice model (memory estimate)


def write_sample_chunks(out, n, N, dtype, chunks, statistics, meta, keep, progress=False) -> dict:
    """Write the chunks (X, logp) of n samples to `out` (.npz or .h5/.hdf5) as they come, atomically.

    The file holds `samples` (n, N) of `dtype`, `log_prob`, `stat_<name>` (statistics(X) per chunk)
    and `metadata` (meta plus the sampling seconds): the layout of tnddm.io.save_samples, which
    load_samples reads. Only log_prob, the statistics and the first `keep` samples stay in memory.
    Returns {"seconds": time spent drawing, "stats": dict of arrays, "head": first `keep` samples}.
    """
    from pathlib import Path

    from ..io.files import atomic_write

    suffix = Path(out).suffix
    result = {}

    def write(tmp):
        logps, stats, head, rows, seconds = [], {}, [], 0, 0.0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc="sampling", unit="samples")
        with _open_stream(tmp, suffix, (n, N), dtype) as sink:
            it = iter(chunks)
            while True:
                start = time.perf_counter()
                item = next(it, None)
                seconds += time.perf_counter() - start
                if item is None:
                    break
                X, logp = item[0], item[1]
                sink.write(np.ascontiguousarray(X, dtype=dtype))
                logps.append(np.asarray(logp, dtype=float))
                for k, v in statistics(X).items():
                    stats.setdefault(k, []).append(np.asarray(v))
                if rows < keep:
                    head.append(np.asarray(X[: keep - rows]))
                rows += X.shape[0]
                if bar is not None:
                    bar.update(X.shape[0])
            if rows != n:
                raise RuntimeError(f"sampling produced {rows} rows; expected {n}")
            stats = {k: np.concatenate(v) for k, v in stats.items()}
            extra = {"log_prob": np.concatenate(logps) if logps else np.zeros(0)}
            extra.update({f"stat_{k}": v for k, v in stats.items()})
            sink.finish(extra, json.dumps({**meta, "seconds": seconds}, default=str))
        if bar is not None:
            bar.close()
        result.update(seconds=seconds, stats=stats,
                      head=np.concatenate(head) if head else np.zeros((0, N), dtype=dtype))

    atomic_write(out, write)
    return result


class _open_stream:
    """A sample file written as a stream: `samples` (shape, dtype) row chunk by row chunk, then the
    small arrays and the metadata. .npz: a zip64 member written through zipfile (deflate, as
    numpy.savez_compressed); .h5/.hdf5: an h5py dataset filled by slices."""

    def __init__(self, path, suffix, shape, dtype):
        self.path, self.suffix, self.shape, self.dtype, self.row = path, suffix, shape, np.dtype(dtype), 0

    def __enter__(self):
        if self.suffix in (".h5", ".hdf5"):
            try:
                import h5py
            except ImportError:
                raise ValueError("HDF5 output needs h5py: pip install 'tnddm[hdf5]'") from None
            self.fh = h5py.File(self.path, "w")
            self.ds = self.fh.create_dataset("samples", shape=self.shape, dtype=self.dtype)
        else:
            import zipfile

            self.fh = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
            self.member = self.fh.open("samples.npy", "w", force_zip64=True)
            np.lib.format.write_array_header_2_0(self.member, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                               "fortran_order": False, "shape": self.shape})
        return self

    def write(self, X):
        if self.suffix in (".h5", ".hdf5"):
            self.ds[self.row:self.row + X.shape[0]] = X
        else:
            self.member.write(X.data)
        self.row += X.shape[0]

    def finish(self, arrays: dict, metadata: str):
        if self.suffix in (".h5", ".hdf5"):
            for k, v in arrays.items():
                self.fh.create_dataset(k, data=v)
            self.fh.attrs["metadata"] = metadata
            return
        self.member.close()
        for k, v in {**arrays, "metadata": np.array(metadata)}.items():
            with self.fh.open(f"{k}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(v), allow_pickle=False)

    def __exit__(self, *exc):
        if self.suffix not in (".h5", ".hdf5") and not self.member.closed:
            self.member.close()
        self.fh.close()
        return False


def _sample_on_dask(P, mode, noise_spec, n, T, steps, seed, scheduler, workers, tasks, progress):
    from .. import distributed

    address = None if scheduler in (None, "local") else scheduler
    with distributed.dask_client(address, n_workers=workers) as client:
        if mode == "direct":
            return distributed.sample(P, n, seed=seed, tasks=tasks, client=client, progress=progress)
        ddm = Diffusion(P, make_noise(noise_spec, d=P.d))
        return distributed.generate(ddm, n, T, steps, seed=seed, tasks=tasks, client=client, progress=progress)
