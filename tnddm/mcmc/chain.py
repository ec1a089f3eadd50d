"""The record of a Monte Carlo run: per-step observables of every walker, acceptances, final state."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import stats


@dataclass
class Chain:
    """Result of a Markov chain run with many walkers (returned by MetropolisHastings.run).

    Args:
        observables: name -> array (records, walkers), one row per recorded step.
        accepted: (steps, walkers) bool, whether each walker's move of each step was accepted.
        move_kinds: (steps,) move name of each step.
        move_T: (steps,) diffusion time of each step (nan for moves without one).
        state: final configurations (walkers, N).
        seconds: wall time of the run.
        info: run settings: moves, proposal bond, 'T' (frozen adaptive T), 'stop' (why the run ended).
        burn_in: steps run before the recorded ones and discarded (adaptation included).
    """

    observables: dict
    accepted: np.ndarray
    move_kinds: np.ndarray
    move_T: np.ndarray
    state: np.ndarray
    seconds: float = 0.0
    info: dict = field(default_factory=dict)
    burn_in: int = 0

    @property
    def n_steps(self) -> int:
        """Recorded steps."""
        return int(self.accepted.shape[0])

    @property
    def n_walkers(self) -> int:
        """Number of walkers."""
        return int(self.state.shape[0])

    def acceptance(self, kind: str | None = None) -> float:
        """Acceptance rate over all moves, or over the moves of one kind (nan if there were none).

        Args:
            kind: a move name ("connected", "disconnected", ...); None for all moves.
        """
        if kind is None:
            rows = np.ones(self.n_steps, dtype=bool)
        else:
            rows = self.move_kinds == kind
        if not np.any(rows):
            return float("nan")
        return stats.acceptance_rate(self.accepted[rows])

    def acceptance_by_kind(self) -> dict:
        """{move name: acceptance rate} over the recorded steps."""
        return {str(k): self.acceptance(str(k)) for k in np.unique(self.move_kinds)}

    def summary(self, discard: int = 0, exact: dict | None = None) -> dict:
        """Per observable: stats.summarize of the recorded steps after `discard` more.

        mean, stderr, stderr_binning, tau (in recorded steps), tau_stderr, ess, rhat (split),
        records, records_per_tau and converged (R-hat < 1.01 and records >= 50 tau). With exact
        = {name: value} or {name: (value, stderr)} (see tnddm.mcmc.reference), also 'exact',
        'exact_stderr' (0 for an exact formula) and z = (mean - exact) / sqrt(stderr^2 + exact_stderr^2).

        Args:
            discard: further recorded steps to drop at the start.
            exact: {name: value} or {name: (value, stderr)} of exact values (tnddm.mcmc.exact_reference).

        Returns:
            {observable name: dict of the fields above}.
        """
        if not 0 <= int(discard) < max(1, len(next(iter(self.observables.values()), []))):
            raise ValueError(f"discard must lie in 0..(records - 1); got {discard}")
        out = {name: stats.summarize(x[int(discard):]) for name, x in self.observables.items()}
        for name, ref in (exact or {}).items():
            if name in out:
                out[name].update(compare(out[name]["mean"], out[name]["stderr"], ref))
        return out

    @property
    def converged(self) -> bool:
        """Every recorded observable converged (Chain.summary); False without observables."""
        s = self.summary() if self.observables and self.n_steps >= 4 else {}
        return bool(s) and all(v["converged"] for v in s.values())

    def __repr__(self) -> str:
        return (f"Chain(walkers={self.n_walkers}, recorded={self.n_steps}, burn_in={self.burn_in}, "
                f"acceptance={self.acceptance():.3f}, observables={sorted(self.observables)}, "
                f"converged={self.converged}, seconds={self.seconds:.3g})")

    def to_arrays(self) -> dict:
        """Flat dict of arrays for np.savez: `obs_<name>`, accepted, move_kinds, move_T, state."""
        out = {f"obs_{k}": v for k, v in self.observables.items()}
        out.update(accepted=self.accepted, move_kinds=self.move_kinds.astype(str), move_T=self.move_T,
                   state=self.state)
        return out


def compare(mean: float, stderr: float, ref) -> dict:
    """exact, exact_stderr and z = (mean - exact) / sqrt(stderr^2 + exact_stderr^2) for ref = value or (value, stderr).

    Args:
        mean: the estimate.
        stderr: its standard error.
        ref: the exact value, or (value, stderr) when it is itself an estimate.
    """
    value, err = (ref if isinstance(ref, (tuple, list)) else (ref, 0.0))
    scale = float(np.hypot(stderr, err))
    z = (mean - value) / scale if scale > 0 else (0.0 if mean == value else float("inf"))
    return {"exact": float(value), "exact_stderr": float(err), "z": float(z)}


class _Tape:
    """Growing per-step record of a run (all steps, burn-in included) that yields the Chain."""

    def __init__(self, n_walkers: int):
        self.n_walkers = n_walkers
        self.accepted, self.kinds, self.Ts, self.obs = [], [], [], {}

    def append(self, accepted, kind, T, values: dict) -> None:
        self.accepted.append(accepted)
        self.kinds.append(kind)
        self.Ts.append(T)
        for name, v in values.items():
            self.obs.setdefault(name, []).append(v)

    def first_converged_discard(self, start: int, min_records: int, burn_taus: float = 0.0,
                                fractions=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5)):
        """The smallest burn-in d = start + f (steps - start) after which every observable is converged
        (stats.summarize) with at least min_records records, and d - start >= burn_taus * tau of every
        observable (the start is forgotten); None if there is none."""
        steps = len(self.accepted)
        arrays = {k: np.asarray(v) for k, v in self.obs.items()}
        for f in fractions:
            d = start + int(f * (steps - start))
            if steps - d < max(min_records, 4):
                break
            summaries = [stats.summarize(a[d:]) for a in arrays.values()]
            if all(s["converged"] and d - start >= burn_taus * s["tau"] for s in summaries):
                return d
        return None

    def chain(self, discard: int, state, seconds: float) -> Chain:
        d = int(discard)
        return Chain(observables={k: np.asarray(v[d:]) for k, v in self.obs.items()},
                     accepted=np.asarray(self.accepted[d:], dtype=bool).reshape(-1, self.n_walkers),
                     move_kinds=np.asarray(self.kinds[d:], dtype=str), move_T=np.asarray(self.Ts[d:], dtype=float),
                     state=state, seconds=seconds, burn_in=d)


def record_observables(observables, X) -> dict:
    """Evaluate a user observable function X -> {name: (n,) array} and check its output.

    Args:
        observables: function of configurations (n, N) returning {name: array of shape (n,)}.
        X: configurations (n, N).
    """
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

    Args:
        chains: Chains of runs that followed one move schedule (MetropolisHastings.draw_schedule).
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
                 seconds=max(c.seconds for c in chains), info=dict(first.info, groups=len(chains)), burn_in=first.burn_in)
