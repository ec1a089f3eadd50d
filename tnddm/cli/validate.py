"""`tnddm validate`: exact error metrics of an approximate sampler on a model card."""
from __future__ import annotations

import click
import numpy as np

from ..diffusion import Diffusion
from ..noise import make_noise
from .common import card_argument, check_allocation, emit_summary, json_option, max_memory_option, resolve_card, set_option


def _steps(text) -> list[int]:
    try:
        vals = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--steps must be a positive integer or a comma-separated list; got {text!r}") from None
    if not vals or min(vals) < 1:
        raise ValueError(f"--steps must be positive; got {text!r}")
    return vals


@click.command()
@card_argument
@click.option("--sampler", default=None, help="euler, tau_leaping, tau_leaping_ordinal, exponential_euler, tweedie, masked, "
              "theta_trapezoidal, uniformization, first_hitting, exact_kernel; or module:function, a user kernel "
              "kernel(X, t, s) -> (n, N, d_out) or a factory f(diffusion) returning one (a kernel with a `times` "
              "attribute brings its own grid); with --noise gaussian: ddpm, ode, "
              "euler_maruyama, rademacher, accel_sde, accel_ode [card: validate.sampler].")
@click.option("--samples", "samples_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Score outside samples instead of a sampler: an .npz/.h5 file with an array 'samples' (n, N) "
                   "(TV/KL/chi-square on enumerable sizes; mean log P vs -H and statistics tests at any size).")
@click.option("--alpha", type=float, default=1e-3, show_default=True,
              help="With --samples: significance level of the pass/fail verdict (Bonferroni over the tests).")
@click.option("--steps", default=None, help="Number of steps, or a comma-separated list for a convergence scan [card: validate.steps].")
@click.option("-T", "--T", "T", type=float, default=None,
              help="Start time T of the reverse process [card: validate.T, else 3]; discrete noise only (the Gaussian "
                   "grids fix their own start).")
@click.option("--delta", type=float, default=None,
              help="Early stopping time delta [card: validate.delta, else 0; with --noise gaussian 0 means 1e-3, and "
                   "--grid li ignores it].")
@click.option("--grid", type=click.Choice(["uniform", "geometric", "cosine", "li", "quad"]), default=None,
              help="Time grid [card: validate.grid]. With --noise gaussian: uniform, li (Li et al.'s theory schedule "
                   "as transcribed, unverified: li_grid) or quad (the quadratic skipping of their code: quad_grid).")
@click.option("--noise", "noise_kind", type=click.Choice(["card", "gaussian"]), default="card", show_default=True,
              help="card: the card's discrete noise; gaussian: VP Gaussian noise of the spins with samplers "
                   "ddpm, ode, euler_maruyama, rademacher, accel_sde, accel_ode (output rounded to spins).")
@click.option("-n", "--n-samples", type=int, default=2000, show_default=True, help="Samples for Monte Carlo metrics (large N).")
@click.option("--paths", "n_paths", type=int, default=64, show_default=True,
              help="Large N: exact draws for path KL(exact || sampler) (autoregressive estimator, independent steps; 0 skips).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PNG of the metrics against the number of steps.")
@set_option
@json_option
@max_memory_option
def command(card, sampler, samples_file, alpha, steps, T, delta, grid, noise_kind, n_samples, n_paths, seed, plot, overrides,
            as_json):
    """Measure an approximate sampler against the exact process of CARD's model.

    Enumerable models (d_out^N <= 16384): the sampler's exact output law (KL both ways, TV) and
    exact path KL. Larger models: Monte Carlo path KL in both directions with standard errors
    (KL(exact || sampler) split into total correlation and per-site KL, product-form samplers) and
    TV of the histograms of the model's statistics against exact samples.

    With --samples FILE: score samples from any sampler against the exact model (exit code 0 whether
    they pass or not; the verdict is printed and in the JSON under "passed").
    """
    from ..lattice import from_spec
    from ..validate import ExactOracle, histogram_tv, output_law, path_kl_exact, path_kl_exact_paths, sample, time_grid
    from ..validate.samplers import PRODUCT_SAMPLERS

    if n_paths < 0:
        raise ValueError(f"--paths must be a non-negative integer; got {n_paths}")
    if n_samples < 1:
        raise ValueError(f"--n-samples must be a positive integer; got {n_samples}")
    if plot:  # before any long work: the extension, the folder, and not an input of this run
        from ..io.files import check_output_path

        check_output_path(plot, (".png",), [p for p in (card, samples_file) if p], "--plot")
    card = resolve_card(card, overrides)
    opts = card.get("validate", {})
    if samples_file is not None:
        _score_file(card, samples_file, alpha, seed, as_json)
        return
    sampler = sampler or opts.get("sampler", "euler")
    step_list = _steps(steps if steps is not None else opts.get("steps", 32))
    T = float(T if T is not None else opts.get("T", 3.0))
    delta = float(delta if delta is not None else opts.get("delta", 0.0))
    grid = grid or opts.get("grid", "uniform")
    if noise_kind != "gaussian" and grid in ("li", "quad"):
        raise ValueError(f"--grid {grid} is a schedule of Gaussian (VP) diffusion; use it with --noise gaussian")
    model = from_spec(card["model"])
    _check_memory(model, card, sampler, step_list, n_samples, n_paths, noise_kind)  # before any long work
    if noise_kind == "gaussian":
        rows, sampler = _gaussian_rows(model, sampler, step_list, n_samples, seed, delta, grid)
        summary = {"model": card["model"]["kind"], "n_sites": model.n_sites, "noise": "gaussian", "sampler": sampler,
                   "grid": grid, "results": rows}
        if plot:
            _plot(rows, sampler, plot)
            summary["plot"] = plot
        emit_summary(summary, as_json)
        return
    noise = make_noise(card.get("noise", {"kind": "flip"}), d=model.d)
    ddm = Diffusion(model.mps(), noise)
    enumerable = model.d**model.n_sites <= 2**14 and noise.d_out**model.n_sites <= 3**10
    label = sampler
    own_grid = None
    if ":" in str(sampler):
        sampler = load_kernel(sampler, ddm)
        own_grid = getattr(sampler, "times", None)
        if own_grid is not None:
            step_list = [len(own_grid) - 1]
    product = callable(sampler) or sampler in PRODUCT_SAMPLERS
    rows = []
    for k in step_list:
        oracle = ExactOracle(ddm)
        times = np.asarray(own_grid, dtype=float) if own_grid is not None else time_grid(k, T, grid, delta)
        row = {"steps": k}
        if enumerable and (product or sampler == "theta_trapezoidal"):
            law = output_law(sampler, oracle, ddm, times)
            path = path_kl_exact(sampler, oracle, ddm, times)
            row.update(kl_exact_sampler=law["kl_exact_sampler"], kl_sampler_exact=law["kl_sampler_exact"], tv=law["tv"],
                       path_kl=path["kl_sampler_exact"], path_kl_reverse=path["kl_exact_sampler"])
        else:
            res = sample(sampler, oracle, n_samples, times, seed=seed, keep_path=product)
            ref, _ = model.sample(n_samples, seed=seed + 1)
            ok = res.samples.max() < model.d
            if ok:
                for name, vals in model.statistics(res.samples).items():
                    row[f"tv_{name}"] = histogram_tv(vals, model.statistics(ref)[name])
            row["unfinished_fraction"] = float(np.mean(np.any(res.samples >= model.d, axis=1)))
            if res.log_q is not None and res.path is not None and np.isfinite(times[0]):
                diff = res.log_q - ddm.log_path_prob(res.path, res.times)
                row.update(path_kl=float(diff.mean()), path_kl_stderr=float(diff.std(ddof=1) / np.sqrt(len(diff))))
            if product and n_paths > 0 and np.isfinite(times[0]):
                rev = path_kl_exact_paths((sampler,), oracle, ddm, times, n_paths, seed=seed + 2,
                                          coupling="independent_steps")[sampler]
                row.update(path_kl_reverse=rev["kl"], path_kl_reverse_stderr=rev["stderr"],
                           start_kl=rev["start_kl"], total_correlation=rev["total_correlation"],
                           per_site_kl=rev["per_site_kl"])
            row["score_evaluations"] = res.score_evaluations
            row.update({k2: v for k2, v in res.counters.items()})
        rows.append(row)
    summary = {"model": card["model"]["kind"], "n_sites": model.n_sites, "noise": noise.to_dict()["kind"], "sampler": label,
               "T": float(times[0]) if own_grid is not None else T, "delta": delta, "grid": grid, "exact_metrics": bool(enumerable), "results": rows}
    if plot:
        _plot(rows, label, plot)
        summary["plot"] = plot
    if as_json:
        emit_summary(summary, True)
    else:
        emit_summary({k: v for k, v in summary.items() if k != "results"}, False)
        for row in rows:
            click.echo("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


def _check_memory(model, card, sampler, step_list, n, n_paths, noise_kind):
    """Refuse (MemoryLimitError: exit 2) a run whose exact model, time grids, sampler states or paths cannot
    fit, before any of it is built; the enumerable metrics check their exact process when they build it."""
    from ..validate.grids import grid_bytes
    from ..validate.samplers import PRODUCT_SAMPLERS, sampler_bytes

    model.check_memory()
    steps = max(step_list)
    check_allocation(grid_bytes(steps), f"--steps {steps}: a time grid of {steps} steps")
    N = model.n_sites
    if noise_kind == "gaussian":
        check_allocation(n * N * 8 * 12, f"--n-samples {n}: Gaussian sampler states of {n} samples of {N} sites")
        return
    d_out = make_noise(card.get("noise", {"kind": "flip"}), d=model.d).d_out
    if model.d**N <= 2**14 and d_out**N <= 3**10:
        return  # enumerable: exact laws (ExactProcess checks its size); no samples
    product = ":" in str(sampler) or sampler in PRODUCT_SAMPLERS
    n_times = 2 * steps + 1 if sampler == "theta_trapezoidal" else steps + 1
    need = sampler_bytes(n, N, d_out, n_times, keep_path=product) + 8 * n * N * 2  # and the exact reference samples
    if product and n_paths > 0:
        need = max(need, 8 * n_paths * N * (d_out * 5 + 4) + 8 * n_paths * N * (steps + 1) * 2)
    check_allocation(need, f"validating {sampler} with --n-samples {n} and --steps {steps} on {N} sites")


def load_kernel(spec: str, diffusion):
    """Import `module:function` (module may be a path to a .py file); a one-argument callable is a factory
    called with the Diffusion, a kernel(X, t, s) is used as it is (a kernel in the deprecated order kernel(t, s, X)
    still runs, with a DeprecationWarning: tnddm.validate.samplers.call_user_kernel)."""
    import importlib
    import importlib.util
    import inspect
    import warnings
    from pathlib import Path

    from ..validate.samplers import is_old_order_kernel

    module_name, _, attr = str(spec).rpartition(":")
    if not module_name or not attr:
        raise ValueError(f"--sampler must be a built-in name or module:function; got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"--sampler: no such file {module_name!r}")
            mspec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(mspec)
            mspec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--sampler: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"--sampler: {module_name!r} has no callable {attr!r}")
    try:
        n_params = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n_params = 3
    if n_params == 1:
        fn = fn(diffusion)
        if not callable(fn):
            raise ValueError(f"--sampler: the factory {spec!r} must return a kernel(X, t, s)")
    with warnings.catch_warnings():  # a kernel in the deprecated order: said once on stderr, not filtered away
        warnings.simplefilter("always", DeprecationWarning)
        is_old_order_kernel(fn)
    return fn


def _score_file(card, path, alpha, seed, as_json):
    """--samples: score_samples of the file's 'samples' array against the card's exact model."""
    from ..io import load_samples
    from ..lattice import from_spec
    from ..validate import score_samples

    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must lie in (0, 1); got {alpha}")
    data = load_samples(path)
    if "samples" not in data:
        raise ValueError(f"--samples: {path} has no array 'samples' (found {sorted(k for k in data if k != 'metadata')})")
    model = from_spec(card["model"])
    rep = score_samples(model, data["samples"], seed=seed)
    if as_json:
        emit_summary({"model": card["model"]["kind"], "samples": str(path), "alpha": alpha, "passed": rep.passed(alpha),
                      "pvalues": rep.pvalues(), **rep.to_dict()}, True)
    else:
        click.echo(rep.report(alpha))


def _gaussian_rows(model, sampler, step_list, n, seed, delta, grid="uniform"):
    """TV of rounded Gaussian-diffusion samples (full law for enumerable N, statistics histograms) and,
    for samplers with Gaussian steps, the Monte Carlo path KL(sampler || exact); returns (rows, the sampler's name)."""
    from ..gaussian import GaussianDiffusion
    from ..validate import histogram_tv
    from ..validate.gaussian_samplers import GAUSSIAN_GRIDS, gaussian_path_kl, gaussian_sampler_name, rounded_tv, sample_gaussian

    if grid not in GAUSSIAN_GRIDS:
        raise ValueError(f"--grid {grid!r} does not apply to --noise gaussian; use one of {sorted(GAUSSIAN_GRIDS)}")
    sampler = gaussian_sampler_name(sampler)  # the one name check (old spellings mapped, with a warning)

    if model.d != 2:
        raise ValueError(f"--noise gaussian needs a two-state model; {model.kind} has d = {model.d}")
    gd = GaussianDiffusion(model.mps())
    ref, _ = model.sample(n, seed=seed + 1)
    rows = []
    for k in step_list:
        times = GAUSSIAN_GRIDS[grid](k, delta=delta or 1e-3)
        X = sample_gaussian(sampler, gd, n, times, seed=seed)
        row = {"steps": k}
        if model.n_sites <= 14:
            row["tv"] = rounded_tv(X, model.mps().to_dense())
        for name, vals in model.statistics(X).items():
            row[f"tv_{name}"] = histogram_tv(vals, model.statistics(ref)[name])
        if sampler in ("ddpm", "euler_maruyama"):  # Gaussian steps: the path law has a density
            res = gaussian_path_kl(sampler, gd, n, times, seed=seed + 2)
            row.update(path_kl=res["kl"], path_kl_stderr=res["stderr"])
        rows.append(row)
    return rows, sampler


def _plot(rows, sampler, path):
    from .._plotting import save_png, subplots

    steps = [r["steps"] for r in rows]
    fig, ax = subplots(figsize=(5, 4))
    for key in ("path_kl", "kl_exact_sampler", "tv"):
        vals = [r.get(key) for r in rows]
        if all(v is not None and v > 0 for v in vals):
            ax.loglog(steps, vals, "o-", label=key)
    ax.set_xlabel("steps")
    ax.set_ylabel("error")
    ax.set_title(sampler)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_png(fig, path, dpi=120)
