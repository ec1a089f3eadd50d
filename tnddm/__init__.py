"""tnddm: exact discrete diffusion on lattices with tensor networks.

Distributions are probability MPS (ProbMPS dense, SparseMPS automaton cores), noise is a
product MPO of single-site Markov-jump propagators, and Diffusion gives the exact forward
marginals, Bayes denoising, exact reverse paths and discrete scores.
"""
import os as _os

# numba's OpenMP threads and OpenBLAS's threads alternate on every site of a sampling sweep;
# with the default active wait policy each side spins while the other works (25x slower).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import noise  # noqa: E402
from ._memory import MemoryLimitError, memory_limit  # noqa: E402
from .diffusion import Diffusion  # noqa: E402
from .mps import BornMPS, MPSBase, ProbMPS, SparseMPS  # noqa: E402

__version__ = "0.1.0"  # the only place the version is written (pyproject.toml reads it)
__all__ = ["ProbMPS", "SparseMPS", "BornMPS", "MPSBase", "Diffusion", "noise", "memory_limit", "MemoryLimitError",
           "__version__"]


#: subpackages imported on first use (`tnddm.lattice`, ...), which keeps `import tnddm` light
LAZY_SUBMODULES = ("lattice", "mcmc", "observables", "validate", "learn", "io", "goodness_of_fit", "gaussian",
                   "distributed", "bridges", "rng", "cli", "cards", "divergences")


def __getattr__(name):
    if name in LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tnddm' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(LAZY_SUBMODULES) | {"diffusion", "mps"})
