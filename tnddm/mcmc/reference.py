"""Exact reference values for Monte Carlo estimates of a lattice model's statistics.

exact_reference(model, names) returns {name: (value, stderr)} for the names of model.statistics:

- exact formulas (stderr 0), from forward passes of the model's exact automaton (Markov gauge,
  cores W_i[a, x] = P(x_i = x | state a), next state nx_i[a, x]):
    sums of local terms S = sum_i f_i(a_i, x_i): E[S] by Automaton.local_moments;
    Ising |m|: the exact law of the number of up spins n, by the forward pass
        p_{i+1}(b, n + x) += p_i(a, n) W_i[a, x]   (b = nx_i[a, x]),   <|m|> = sum_n P(n) |2n - N| / N;
    Fredkin maximal height: P(max h <= k) = mass that stays in states (heights) <= k, so
        E[max h] = sum_{k >= 0} (1 - P(max h <= k));
- every other statistic: the mean of n_samples exact samples of the model's exact MPS, with its
  standard error (so z-scores against it use sqrt(stderr^2 + exact_stderr^2)).

EXACT_FORMULAS maps a model kind to a function model -> {name: value}; add an entry for a new model.
"""
from __future__ import annotations

import numpy as np

# largest (bond x counter) table the |m| pass may allocate, in float64 entries (128 MB)
MAX_COUNTER_ENTRIES = 16_000_000


def _up_count_law(auto, n_sites: int):
    """P(number of x_i = 1 equals n), n = 0..N, for a two-state automaton (None if the table is too large)."""
    if max(W.shape[0] for W in auto.transition) * (n_sites + 1) > MAX_COUNTER_ENTRIES:
        return None
    p = np.ones((1, 1))
    sizes = [W.shape[0] for W in auto.transition[1:]] + [1]
    for nx, W, size in zip(auto.next_states, auto.transition, sizes):
        q = np.zeros((size, p.shape[1] + 1))
        for x in range(W.shape[1]):
            np.add.at(q[:, x: x + p.shape[1]], nx[:, x], p * W[:, x, None])
        p = q
    return p.sum(axis=0)


def _ising(model) -> dict:
    N = model.n_sites
    obs = model.observables()
    e = obs["energy_per_site"] * N
    out = {"energy": e, "energy_per_site": obs["energy_per_site"], "magnetisation": obs["magnetisation"]}
    law = _up_count_law(model.automaton, N)
    if law is not None:
        n = np.arange(N + 1)
        out["abs_magnetisation"] = float(law @ (np.abs(2 * n - N) / N))
    return out


def _potts(model) -> dict:
    obs = model.observables()
    return {"energy": obs["energy_per_site"] * model.n_sites, "energy_per_site": obs["energy_per_site"]}


def _stay_below(auto, k: int) -> float:
    """P(every automaton state <= k) for an automaton whose states are heights."""
    p = np.ones(1)
    sizes = [W.shape[0] for W in auto.transition[1:]] + [1]
    for nx, W, size in zip(auto.next_states, auto.transition, sizes):
        ok = (nx <= k) & (W > 0)
        q = np.zeros(size)
        np.add.at(q, nx[ok], (p[:, None] * W)[ok])
        q[k + 1:] = 0.0
        p = q
    return float(p.sum())


def _fredkin(model) -> dict:
    obs = model.observables()
    H = model.n_sites // 2
    max_height = sum(1.0 - _stay_below(model.automaton, k) for k in range(H + 1))
    return {"area": obs["mean_area"], "mid_height": obs["mean_mid_height"], "max_height": float(max_height)}


EXACT_FORMULAS = {"ising_chain": _ising, "ising_cylinder": _ising, "ising_strip": _ising, "ising": _ising,
                  "potts_cylinder": _potts, "fredkin": _fredkin}


def exact_reference(model, names=None, n_samples: int = 20_000, seed=0) -> dict:
    """{name: (value, stderr)} for the statistics of a lattice model (module docstring).

    Args:
        model (LatticeModel): a lattice model with an exact MPS (.statistics, .mps(), .kind).
        names (list | None): statistic names to return (default: every name model.statistics returns).
        n_samples (int): exact samples for the statistics without a formula (0: leave them out).
        seed (int | None): seed of those samples.

    Returns:
        {name: (value, stderr)}, stderr 0 for an exact formula; an empty dict for a model without an
        exact MPS (model.exact_available False).
    """
    if not getattr(model, "exact_available", True) or not callable(getattr(model, "mps", None)):
        return {}
    formula = EXACT_FORMULAS.get(getattr(model, "kind", None))
    out = {k: (float(v), 0.0) for k, v in (formula(model) if formula else {}).items()}
    missing = None if names is None else [n for n in names if n not in out]
    if n_samples and (missing is None or missing):
        X, _ = model.mps().sample(int(n_samples), seed=seed)
        for name, v in model.statistics(X).items():
            if name not in out and (missing is None or name in missing):
                v = np.asarray(v, dtype=float)
                out[name] = (float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)))
    return out if names is None else {n: out[n] for n in names if n in out}
