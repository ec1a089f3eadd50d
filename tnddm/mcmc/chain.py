"""The record of a Monte Carlo run: per-step observables of every walker, acceptances, final state."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import stats


@dataclass
class Chain:
    """Result of a Markov chain run with many walkers.

    observables: name -> array (records, walkers), one row per recorded step.
    accepted:    (steps, walkers) bool, whether each walker's move of each step was accepted.
    move_kinds:  (steps,) move name of each step; move_T: (steps,) diffusion time (nan if none).
    state:       final configurations (walkers, N). seconds: wall time of the run.
    """

    observables: dict
    accepted: np.ndarray
    move_kinds: np.ndarray
    move_T: np.ndarray
    state: np.ndarray
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(self.accepted.shape[0])

    @property
    def n_walkers(self) -> int:
        return int(self.state.shape[0])

    def acceptance(self, kind: str | None = None) -> float:
        """Acceptance rate over all moves, or over the moves of one kind (nan if there were none)."""
        if kind is None:
            rows = np.ones(self.n_steps, dtype=bool)
        else:
            rows = self.move_kinds == kind
        if not np.any(rows):
            return float("nan")
        return stats.acceptance_rate(self.accepted[rows])

    def acceptance_by_kind(self) -> dict:
        return {str(k): self.acceptance(str(k)) for k in np.unique(self.move_kinds)}

    def summary(self, discard: int = 0) -> dict:
        """Per observable: mean, stderr (tau and binning), tau (in recorded steps), ESS, split R-hat."""
        if not 0 <= int(discard) < max(1, len(next(iter(self.observables.values()), []))):
            raise ValueError(f"discard must lie in 0..(records - 1); got {discard}")
        return {name: stats.summarize(x[int(discard):]) for name, x in self.observables.items()}

    def to_arrays(self) -> dict:
        """Flat dict of arrays for np.savez: obs_<name>, accepted, move_kinds, move_T, state."""
        out = {f"obs_{k}": v for k, v in self.observables.items()}
        out.update(accepted=self.accepted, move_kinds=self.move_kinds.astype(str), move_T=self.move_T,
                   state=self.state)
        return out


def record_observables(observables, X) -> dict:
    """Evaluate a user observable function X -> {name: (n,) array} and check its output."""
    out = observables(X)
    if not isinstance(out, dict):
        raise ValueError(f"observables must return a dict of per-walker arrays; got {type(out).__name__}")
    checked = {}
    for k, v in out.items():
        v = np.asarray(v, dtype=float)
        if v.shape != (X.shape[0],):
            raise ValueError(f"observable {k!r} must have shape ({X.shape[0]},); got {v.shape}")
        checked[str(k)] = v
    return checked


def concat_walkers(chains) -> Chain:
    """One Chain from runs of disjoint walker groups that made the same moves (same schedule).

    Observables and acceptances are joined along the walker axis, in the order given; seconds is
    the longest run's (the groups ran in parallel).
    """
    chains = list(chains)
    if not chains:
        raise ValueError("chains must hold at least one Chain")
    first = chains[0]
    for c in chains[1:]:
        if not (np.array_equal(c.move_kinds, first.move_kinds) and np.array_equal(c.move_T, first.move_T, equal_nan=True)):
            raise ValueError("chains must share one move schedule (MetropolisHastings.draw_schedule) to be joined")
        if set(c.observables) != set(first.observables):
            raise ValueError("chains must record the same observables to be joined")
    return Chain(observables={k: np.concatenate([c.observables[k] for c in chains], axis=1) for k in first.observables},
                 accepted=np.concatenate([c.accepted for c in chains], axis=1), move_kinds=first.move_kinds,
                 move_T=first.move_T, state=np.concatenate([c.state for c in chains], axis=0),
                 seconds=max(c.seconds for c in chains), info=dict(first.info, groups=len(chains)))
