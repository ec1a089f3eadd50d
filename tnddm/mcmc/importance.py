"""Self-normalised importance sampling with a proposal's exact log-probabilities.

Independent draws x_k ~ q with exact log q(x_k) (any tnddm MPS, or a user sampler), weights
w_k = pi~(x_k) / q(x_k) for the unnormalised target pi~:

    estimate  <o> = sum_k w_k o_k / sum_k w_k
    stderr    sqrt(sum_k wbar_k^2 (o_k - <o>)^2)        (delta method, wbar = w / sum w)
    Kish ESS  (sum_k w_k)^2 / sum_k w_k^2

The estimate is consistent only if q > 0 wherever pi > 0. That cannot be seen from draws of q;
where the target's exact MPS exists, support_check draws exact samples of pi and refuses a
proposal that gives any of them zero probability.
"""
from __future__ import annotations

import time

import numpy as np

from ..rng import as_generator
from . import stats
from .chain import compare, record_observables


def support_check(target, proposal, n_check: int = 2000, seed=0) -> None:
    """Raise ValueError if the proposal gives zero probability to exact samples of the target.

    Arguments:
        target (object): a lattice model with an exact MPS (anything else is not checked).
        proposal (object): an object with .log_prob(X).
        n_check (int): exact samples of the target to test.
    """
    if not getattr(target, "exact_available", True) or not callable(getattr(target, "mps", None)):
        return
    X, _ = target.mps().sample(int(n_check), seed=seed)
    lq = np.asarray(proposal.log_prob(X), dtype=float)
    bad = int(np.sum(~np.isfinite(lq)))
    if bad:
        raise ValueError(f"the proposal has zero probability at {bad} of {n_check} exact samples of the target: "
                         "importance sampling would be biased; use a proposal whose support covers the target's "
                         "(e.g. mix a uniform component: tnddm.mcmc.mix_uniform)")


def importance_sampling(target, proposal, n_samples: int, observables=None, seed=None, exact: dict | None = None,
                        check_support: bool = True, batch_size: int = 10_000) -> dict:
    """Importance-sampling estimates of E_pi[o] for every observable (module docstring).

    Arguments:
        target (object): a lattice model (its .log_weight and .statistics) or a function X -> log pi~(X).
        proposal (object): a tnddm MPS (its .sample(n, seed) returns (X, log q)) or any object with that method.
        n_samples (int): proposal draws.
        observables (callable | None): X -> {name: (n,) array} (default: the model's .statistics).
        exact (dict | None): {name: value or (value, stderr)} to put beside each estimate (exact, exact_stderr, z).
        check_support (bool): run support_check first (needs the target's exact MPS; skipped otherwise).
        batch_size (int): draws per proposal call.
    Returns {'observables': {name: {mean, stderr, ess, exact?, z?}}, 'ess': Kish ESS, 'n_samples',
    'seconds', 'max_weight': the largest normalised weight}.
    """
    n_samples = int(n_samples)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2; got {n_samples}")
    log_target = target.log_weight if callable(getattr(target, "log_weight", None)) else target
    if not callable(log_target):
        raise ValueError(f"target must be a function X -> log pi or a model with .log_weight; got {type(target).__name__}")
    if observables is None:
        observables = getattr(target, "statistics", None)
    if observables is None:
        raise ValueError("observables are needed: pass observables= or a model with .statistics")
    if check_support:
        support_check(target, proposal)
    rng = as_generator(seed)
    start = time.perf_counter()
    lt, lq, vals = [], [], {}
    for lo in range(0, n_samples, int(batch_size)):
        X, log_q = proposal.sample(min(int(batch_size), n_samples - lo), seed=rng)
        lt.append(np.asarray(log_target(X), dtype=float))
        lq.append(np.asarray(log_q, dtype=float))
        for k, v in record_observables(observables, X).items():
            vals.setdefault(k, []).append(v)
    lt, lq = np.concatenate(lt), np.concatenate(lq)
    w = stats.importance_weights(lt, lq)
    out = {}
    for name, parts in vals.items():
        est = stats.importance_estimate(np.concatenate(parts), lt, lq)
        row = {"mean": est["mean"], "stderr": est["stderr"], "ess": est["ess"]}
        if exact and name in exact:
            row.update(compare(row["mean"], row["stderr"], exact[name]))
        out[name] = row
    return {"observables": out, "ess": stats.kish_ess(w), "n_samples": n_samples, "max_weight": float(w.max()),
            "seconds": time.perf_counter() - start}
