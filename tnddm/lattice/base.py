"""The interface every exact lattice model presents."""
from __future__ import annotations

import numpy as np

from .._checks import as_configs, check_int, check_real
from .._memory import check_allocation
from .geometry import LatticeGeometry


class LatticeModel:
    """An exact lattice model: pi(x) ∝ exp(log_weight(x)) with an exact automaton MPS.

    Subclasses set n_sites, d and kind, and implement _build() -> Automaton, log_weight(X),
    statistics(X) and _exact_observables(). What the rest of tnddm needs to know about a model lives
    here too, so that a new model is one file (plus its entry in tnddm.lattice.MODELS): the class
    attributes anneal_parameter, local_update and observable_family, and the methods geometry(),
    typical_state() and exact_statistics() where the defaults do not fit.
    """

    n_sites: int
    d: int
    kind: str
    _automaton = None

    #: the parameter a Monte Carlo training loop anneals (tnddm.learn.TrainingLoop); None: not annealable
    anneal_parameter: str | None = None
    #: the local Monte Carlo update that leaves pi invariant, a name in tnddm.mcmc.local.LOCAL_UPDATES; None: none
    local_update: str | None = None
    #: the family of physical observables that apply (tnddm.observables: 'ising', 'potts', 'fredkin' or 'grid')
    observable_family: str | None = None

    def exact_statistics(self) -> dict:
        """Exact means {name: value} of the per-sample statistics (names of statistics(X)) that have an exact
        formula; the Monte Carlo references (tnddm.mcmc.exact_reference) estimate the others from exact samples.
        Default: none."""
        return {}

    def geometry(self) -> LatticeGeometry:
        """The lattice: L columns of W sites (a chain is L = N, W = 1), column-major, periodic columns or not."""
        return LatticeGeometry(getattr(self, "length", self.n_sites), getattr(self, "width", 1),
                               bool(getattr(self, "periodic", False)))

    def typical_state(self, n: int, rng) -> np.ndarray:
        """n starting configurations of positive probability for Monte Carlo walkers (default: uniform random states).

        Args:
            n: number of configurations.
            rng: numpy Generator.
        """
        return rng.integers(0, self.d, size=(n, self.n_sites))

    #: bytes per (left state, symbol) entry of the exact automaton: log-weights, transition probabilities,
    #: next states (automaton, SparseMPS and the sampling kernels' flat copies) and the observable tables
    BYTES_PER_ENTRY = 80

    @property
    def automaton(self):
        """The exact weighted automaton (tnddm.lattice.Automaton), built on first use after a memory check."""
        if self._automaton is None:
            self.check_memory()
            self._automaton = self._build()
        return self._automaton

    def _automaton_entries(self) -> int:
        """Number of (left state, symbol) entries summed over the sites of the exact automaton."""
        raise NotImplementedError

    def memory_estimate(self) -> int:
        """Bytes the exact automaton MPS needs (an upper estimate, from the bond dimensions alone)."""
        return int(self._automaton_entries()) * self.BYTES_PER_ENTRY

    def check_memory(self, max_memory=None) -> int:
        """Raise tnddm._memory.MemoryLimitError (a MemoryError and a ValueError) when the exact MPS cannot fit.

        Args:
            max_memory: limit in bytes or as a string ("500M", "4G"); default: TNDDM_MAX_MEMORY, else the
                machine's available memory.

        Returns:
            The estimated number of bytes.
        """
        return check_allocation(self.memory_estimate(), f"the exact {self.kind} MPS of {self!r}", max_memory)

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
        """Exact samples and their normalised log-probabilities.

        Args:
            n: number of samples.
            seed: int, numpy SeedSequence or Generator.
            progress: show a progress bar.

        Returns:
            (X, logp): configurations of shape (n, n_sites) and their exact log pi(x).
        """
        return self.mps().sample(n, seed=seed, progress=progress)

    def log_prob(self, X) -> np.ndarray:
        """Normalised log pi(x) = log_weight(x) - log Z.

        Args:
            X: configurations, shape (n, n_sites) (or one configuration of shape (n_sites,)).
        """
        return self.log_weight(X) - self.log_z()

    def _configs(self, X) -> np.ndarray:
        return as_configs(X, self.n_sites, self.d)

    def observables(self, n_samples: int = 0, seed=0) -> dict:
        """Exact observables (from the MPS); with n_samples > 0 also sample estimates with errors.

        Keys ending in '_sampled' come from exact samples, with '_stderr' the standard error.
        tnddm.observables has the full table (susceptibility, Binder cumulant, G(r), ...).

        Args:
            n_samples: number of exact samples for the '_sampled' estimates (0: none).
            seed: seed of those samples.
        """
        out = dict(self._exact_observables())
        if n_samples:
            X, _ = self.sample(int(n_samples), seed=seed)
            for name, values in self.statistics(X).items():
                out[f"{name}_sampled"] = float(np.mean(values))
                out[f"{name}_sampled_stderr"] = float(np.std(values) / np.sqrt(len(values)))
        return out

    def to_spec(self) -> dict:
        """The model card's [model] table of this model: {"kind": ..., **parameters} (from_spec inverts it)."""
        return {"kind": self.kind, **self._params()}

    def __repr__(self) -> str:
        def show(v):  # arrays (nested lists in the spec) by their shape
            return f"<{' x '.join(map(str, np.shape(v)))} array>" if isinstance(v, (list, np.ndarray)) else repr(v)

        args = ", ".join(f"{k}={show(v)}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


def check_range(value, name: str, low: float, high: float, open_low=False, open_high=False) -> float:
    value = check_real(value, name) if not (isinstance(value, float) and np.isinf(value)) else value
    bad = (value <= low if open_low else value < low) or (value >= high if open_high else value > high)
    if not np.isfinite(value) or bad:
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise ValueError(f"{name} must lie in {lo}{low}, {high}{hi}; got {value}")
    return value


def check_size(value, name: str, minimum: int = 1) -> int:
    return check_int(value, name, minimum)


def check_precision(log_weight_bound: float, what: str) -> None:
    """Refuse parameters whose log-weights are so large that float64 log-probabilities lose all precision."""
    if not log_weight_bound <= LOG_WEIGHT_LIMIT:
        raise ValueError(f"{what}: log-weights reach {log_weight_bound:.3g}, beyond {LOG_WEIGHT_LIMIT:.0e}; float64 "
                         f"log-probabilities would be off by more than {LOG_WEIGHT_LIMIT * 2.2e-16:.0e} (use a smaller "
                         f"beta or coupling)")


LOG_WEIGHT_LIMIT = 1e12
