"""Exact reference values for Monte Carlo estimates of a lattice model's statistics.

exact_reference(model, names) returns {name: (value, stderr)} for the names of model.statistics:

- exact formulas (stderr 0): model.exact_statistics(), which each model class defines from forward
  passes of its exact automaton (Markov gauge, cores W_i[a, x] = P(x_i = x | state a)):
    sums of local terms S = sum_i f_i(a_i, x_i): E[S] by Automaton.local_moments;
    Ising |m|: the exact law of the number of up spins (Automaton.symbol_sum_law);
    Fredkin maximal height: E[max h] = sum_{k >= 0} (1 - P(max h <= k)) (Automaton.prob_states_at_most);
- every other statistic: the mean of n_samples exact samples of the model's exact MPS, with its
  standard error (so z-scores against it use sqrt(stderr^2 + exact_stderr^2)).

A new model gets exact formulas by overriding LatticeModel.exact_statistics in its own class.
EXACT_FORMULAS ({kind: function model -> {name: value}} for the registered kinds that have formulas) is
derived from the classes and kept for code that imported it.
"""
from __future__ import annotations

import numpy as np

from ..lattice import MODELS, LatticeModel

EXACT_FORMULAS = {kind: cls.exact_statistics for kind, cls in MODELS.items()
                  if cls.exact_statistics is not LatticeModel.exact_statistics}


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
    formula = getattr(model, "exact_statistics", None)
    out = {k: (float(v), 0.0) for k, v in (formula() if callable(formula) else {}).items()}
    missing = None if names is None else [n for n in names if n not in out]
    if n_samples and (missing is None or missing):
        X, _ = model.mps().sample(int(n_samples), seed=seed)
        for name, v in model.statistics(X).items():
            if name not in out and (missing is None or name in missing):
                v = np.asarray(v, dtype=float)
                out[name] = (float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)))
    return out if names is None else {n: out[n] for n in names if n in out}
