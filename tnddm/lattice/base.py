"""The interface every exact lattice model presents."""
from __future__ import annotations

import numpy as np

from .._checks import as_configs


class LatticeModel:
    """An exact lattice model: pi(x) ∝ exp(log_weight(x)) with an exact automaton MPS.

    Subclasses set n_sites, d and kind, and implement _build() -> Automaton, log_weight(X),
    statistics(X) and _exact_observables().
    """

    n_sites: int
    d: int
    kind: str
    _automaton = None

    @property
    def automaton(self):
        if self._automaton is None:
            self._automaton = self._build()
        return self._automaton

    def mps(self):
        """The exact model as a normalised SparseMPS (Markov gauge: cores are transition probabilities)."""
        return self.automaton.mps

    def born_mps(self):
        """The exact model as a BornMPS: psi = sqrt(pi) from the automaton (tnddm.mps.compress truncates it)."""
        from ..mps import BornMPS

        return BornMPS.from_automaton(self.mps())

    def log_z(self) -> float:
        """Exact log Z = log sum_x exp(log_weight(x)), from a log-space sweep."""
        return self.automaton.log_z

    def sample(self, n: int, seed=None, progress: bool = False):
        """Exact samples and their normalised log-probabilities."""
        return self.mps().sample(n, seed=seed, progress=progress)

    def log_prob(self, X) -> np.ndarray:
        """Normalised log pi(x) = log_weight(x) - log Z."""
        return self.log_weight(X) - self.log_z()

    def _configs(self, X) -> np.ndarray:
        return as_configs(X, self.n_sites, self.d)

    def observables(self, n_samples: int = 0, seed=0) -> dict:
        """Exact observables (from the MPS); with n_samples > 0 also sample estimates with errors.

        Keys ending in '_sampled' come from exact samples, with '_stderr' the standard error.
        """
        out = dict(self._exact_observables())
        if n_samples:
            X, _ = self.sample(int(n_samples), seed=seed)
            for name, values in self.statistics(X).items():
                out[f"{name}_sampled"] = float(np.mean(values))
                out[f"{name}_sampled_stderr"] = float(np.std(values) / np.sqrt(len(values)))
        return out

    def to_spec(self) -> dict:
        return {"kind": self.kind, **self._params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


def check_range(value, name: str, low: float, high: float, open_low=False, open_high=False) -> float:
    value = float(value)
    bad = (value <= low if open_low else value < low) or (value >= high if open_high else value > high)
    if not np.isfinite(value) or bad:
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise ValueError(f"{name} must lie in {lo}{low}, {high}{hi}; got {value}")
    return value


def check_size(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)
