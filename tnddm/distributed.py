"""Distributed execution with Dask (dask.distributed): sampling, denoising and MC walkers as tasks.

Work of size n is cut into `tasks` pieces of sizes split_sizes(n, tasks); piece k runs with the
k-th child of SeedSequence(seed).spawn(tasks), so the result for a given (seed, tasks) is the same
whatever the number of workers, the scheduler or the order in which tasks finish. The default
number of tasks, default_tasks(n), depends on n alone (never on the cluster), so a seed gives the
same samples on any cluster. The model is scattered to the workers once and results are gathered
into one array, in task order.

A local cluster listens on 127.0.0.1 only (scheduler and dashboard) unless asked otherwise.

Each task runs the numba kernels with as many threads as its worker has Dask threads (a local
cluster defaults to one thread per worker and one worker per core), so workers do not oversubscribe
the cores.

Needs the optional dependency dask[distributed]: pip install 'tnddm[dask]'.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ._checks import as_configs, check_nonnegative_int
from ._memory import check_allocation
from .rng import spawn_seeds


def split_sizes(n: int, tasks: int) -> list[int]:
    """Sizes of `tasks` contiguous pieces of n items: n // tasks, the first n % tasks one larger."""
    n, tasks = check_nonnegative_int(n, "n"), check_nonnegative_int(tasks, "tasks")
    if tasks < 1:
        raise ValueError(f"tasks must be >= 1; got {tasks}")
    return [n // tasks + (k < n % tasks) for k in range(tasks)]


def _require_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("tnddm.distributed needs dask.distributed: pip install 'tnddm[dask]'") from None
    return distributed


MAX_DEFAULT_TASKS = 1024
SAMPLES_PER_TASK = 1000


WALKERS_PER_TASK = 8


def default_tasks(n: int, per_task: int = SAMPLES_PER_TASK) -> int:
    """The default number of tasks for n items: about one per `per_task` items, at most 1024.

    It depends on n alone, never on the cluster, so that a seed gives the same result on any cluster.
    """
    n = check_nonnegative_int(n, "n")
    return max(1, min(n, MAX_DEFAULT_TASKS, -(-n // per_task)))


def check_scheduler_reachable(scheduler: str, timeout: float = 5.0) -> None:
    """Raise ValueError naming the scheduler address when nothing accepts TCP connections there."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler)
    if parts.scheme not in ("tcp", "tls"):
        return  # inproc://, ucx:// ...: left to dask
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"scheduler {scheduler!r} has an invalid port") from None
    if not host:
        raise ValueError(f"scheduler must be an address such as 'tcp://host:8786'; got {scheduler!r}")
    try:
        with socket.create_connection((host, port or 8786), timeout=timeout):
            pass
    except OSError as exc:
        raise ValueError(f"scheduler {scheduler!r} is not reachable ({exc.strerror or exc}); is a dask scheduler "
                         f"running there?") from None


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None, threads_per_worker: int = 1,
                dashboard_address: str | None = "127.0.0.1:0", host: str = "127.0.0.1", timeout: float = 10.0):
    """A dask.distributed Client: connected to `scheduler` (an address such as tcp://host:8786), or
    to a new local cluster of n_workers processes (default: one per core) that is closed on exit.

    The local cluster's scheduler listens on `host` and its dashboard on `dashboard_address`, both
    127.0.0.1 by default (None: no dashboard). A scheduler that does not accept connections is an
    error within `timeout` seconds.
    """
    distributed = _require_distributed()
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise ValueError(f"scheduler must be an address such as 'tcp://host:8786'; got {scheduler!r}")
        check_scheduler_reachable(scheduler, timeout=min(5.0, timeout))
        with distributed.Client(scheduler, timeout=timeout) as client:
            yield client
        return
    if n_workers is not None and check_nonnegative_int(n_workers, "n_workers") < 1:
        raise ValueError(f"n_workers must be >= 1; got {n_workers}")
    threads_per_worker = check_nonnegative_int(threads_per_worker, "threads_per_worker")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=max(1, threads_per_worker),
                                  processes=True, host=host, dashboard_address=dashboard_address) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@contextlib.contextmanager
def _client_or(client, scheduler, n_workers):
    if client is not None:
        yield client
    else:
        with dask_client(scheduler, n_workers) as c:
            yield c


def _worker_threads() -> None:
    """Give numba as many threads as this worker has Dask threads."""
    import numba
    from distributed import get_worker

    try:
        nthreads = get_worker().state.nthreads
    except ValueError:  # not running on a worker
        return
    numba.set_num_threads(max(1, min(int(nthreads), numba.config.NUMBA_NUM_THREADS)))


def _compact(result):
    """(X, logp) with X as int8 when it fits: 8x less to send back to the client."""
    X, logp = result
    return (X.astype(np.int8) if X.size and X.max() < 128 else X), logp


def _sample_task(model, n, seed, tilts):
    _worker_threads()
    return _compact(model.sample(n, seed=seed, tilts=tilts))


def _denoise_task(diffusion, Y, t, s, seed):
    _worker_threads()
    return _compact(diffusion.denoise(Y, t, s, seed=seed))


def _generate_task(diffusion, n, T, steps, seed):
    _worker_threads()
    return _compact(diffusion.generate(n, T, steps, seed=seed))


def _mcmc_task(mh, n_steps, n_walkers, initial, seed, burn_in, schedule):
    _worker_threads()
    return mh.run(n_steps, n_walkers, initial=initial, seed=seed, burn_in=burn_in, schedule=schedule)


def _run_tasks(client, fn, shared, per_task: list[tuple], progress: bool):
    """Scatter `shared` once, submit fn(shared, *args) per task, gather results in task order."""
    shared_future = client.scatter(shared, broadcast=True, hash=False)  # a fresh key per call
    futures = [client.submit(fn, shared_future, *args, pure=False) for args in per_task]
    if progress:
        from distributed import as_completed
        from tqdm.auto import tqdm

        for _ in tqdm(as_completed(futures), total=len(futures), desc="tasks", unit="task"):
            pass
    return client.gather(futures)


def _default_tasks(client, tasks, n, per_task: int = SAMPLES_PER_TASK) -> int:
    """tasks, or default_tasks(n) (independent of the cluster, so that the samples are too)."""
    if tasks is None:
        return default_tasks(n, per_task)
    tasks = check_nonnegative_int(tasks, "tasks")
    if not 1 <= tasks <= n:
        raise ValueError(f"tasks must lie in 1..{n} (one item per task at least); got {tasks}")
    return tasks


def _stack(parts):
    X = np.concatenate([p[0] for p in parts], axis=0, dtype=np.int64)
    logp = np.concatenate([p[1] for p in parts], axis=0)
    return X, logp


def sample(model, n: int, seed=None, tasks: int | None = None, tilts=None, client=None, scheduler: str | None = None,
           n_workers: int | None = None, progress: bool = False):
    """Exact samples of a probability MPS (or a lattice model's MPS) computed on a Dask cluster.

    Returns (X, logp) like MPSBase.sample. Task k draws split_sizes(n, tasks)[k] samples with seed
    SeedSequence(seed).spawn(tasks)[k]; tilts (N, d), if given, apply to every sample.
    client: an existing dask Client; else `scheduler` (address) or a local cluster of n_workers.
    """
    model = model.mps() if callable(getattr(model, "mps", None)) else model
    n = check_nonnegative_int(n, "n")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if tilts is not None:
        tilts = np.asarray(tilts, dtype=float)
        if tilts.shape != (model.n_sites, model.d):
            raise ValueError(f"tilts must have shape (N, d) = ({model.n_sites}, {model.d}) to apply to every "
                             f"sample; got {tilts.shape}")
    check_allocation(n * (model.n_sites * 9 + 16), f"gathering {n} samples of {model.n_sites} sites")
    with _client_or(client, scheduler, n_workers) as c:
        tasks = _default_tasks(c, tasks, n)
        seeds = spawn_seeds(seed, tasks)
        parts = _run_tasks(c, _sample_task, model,
                           [(size, ss, tilts) for size, ss in zip(split_sizes(n, tasks), seeds)], progress)
    return _stack(parts)


def denoise(diffusion, Y, t: float, s: float = 0.0, seed=None, tasks: int | None = None, client=None,
            scheduler: str | None = None, n_workers: int | None = None, progress: bool = False):
    """Diffusion.denoise on a Dask cluster: one exact x_s ~ P(x_s | x_t = y) per row of Y.

    The rows of Y are cut into `tasks` contiguous pieces; piece k uses SeedSequence(seed).spawn(tasks)[k].
    """
    Y = as_configs(Y, diffusion.n_sites, diffusion.d_out, name="Y")
    with _client_or(client, scheduler, n_workers) as c:
        tasks = _default_tasks(c, tasks, Y.shape[0])
        seeds = spawn_seeds(seed, tasks)
        bounds = np.cumsum([0] + split_sizes(Y.shape[0], tasks))
        parts = _run_tasks(c, _denoise_task, diffusion,
                           [(Y[a:b], t, s, ss) for a, b, ss in zip(bounds[:-1], bounds[1:], seeds)], progress)
    return _stack(parts)


def generate(diffusion, n: int, T: float, steps: int = 1, seed=None, tasks: int | None = None, client=None,
             scheduler: str | None = None, n_workers: int | None = None, progress: bool = False):
    """Diffusion.generate (x_T ~ P_T, then exact denoising steps to 0) on a Dask cluster."""
    n = check_nonnegative_int(n, "n")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    check_allocation(n * (diffusion.n_sites * 9 + 16), f"gathering {n} samples of {diffusion.n_sites} sites")
    with _client_or(client, scheduler, n_workers) as c:
        tasks = _default_tasks(c, tasks, n)
        seeds = spawn_seeds(seed, tasks)
        parts = _run_tasks(c, _generate_task, diffusion,
                           [(size, T, steps, ss) for size, ss in zip(split_sizes(n, tasks), seeds)], progress)
    return _stack(parts)


def run_mcmc(mh, n_steps: int, n_walkers: int, seed=None, tasks: int | None = None, initial=None, burn_in: int = 0,
             client=None, scheduler: str | None = None, n_workers: int | None = None, progress: bool = False):
    """MetropolisHastings.run with the walkers cut into `tasks` groups run on a Dask cluster.

    All groups make the same state-independent move sequence (drawn from the first child of
    SeedSequence(seed).spawn(tasks + 1)); group k's walkers use child k + 1. The groups' chains are
    joined along the walker axis into one Chain (tnddm.mcmc.concat_walkers).
    """
    from .mcmc.chain import concat_walkers

    n_steps, n_walkers = check_nonnegative_int(n_steps, "n_steps"), check_nonnegative_int(n_walkers, "n_walkers")
    burn_in = check_nonnegative_int(burn_in, "burn_in")
    if n_steps < 1 or n_walkers < 1:
        raise ValueError(f"n_steps and n_walkers must be >= 1; got {n_steps}, {n_walkers}")
    if initial is not None:
        initial = as_configs(initial, mh.n_sites, mh.d, name="initial")
        if initial.shape[0] == 1:
            initial = np.repeat(initial, n_walkers, axis=0)
        if initial.shape[0] != n_walkers:
            raise ValueError(f"initial must have 1 or n_walkers = {n_walkers} rows; got {initial.shape[0]}")
    with _client_or(client, scheduler, n_workers) as c:
        tasks = _default_tasks(c, tasks, n_walkers, WALKERS_PER_TASK)
        seeds = spawn_seeds(seed, tasks + 1)
        schedule = mh.draw_schedule(burn_in + n_steps, seeds[0])
        bounds = np.cumsum([0] + split_sizes(n_walkers, tasks))
        per_task = [(n_steps, b - a, None if initial is None else initial[a:b], ss, burn_in, schedule)
                    for a, b, ss in zip(bounds[:-1], bounds[1:], seeds[1:])]
        chains = _run_tasks(c, _mcmc_task, mh, per_task, progress)
    return concat_walkers(chains)
