"""tnddm: exact discrete diffusion on lattices with tensor networks.

Distributions are probability MPS (ProbMPS dense, SparseMPS automaton cores), noise is a
product MPO of single-site Markov-jump propagators, and Diffusion gives the exact forward
marginals, Bayes denoising, exact reverse paths and discrete scores.
"""
import os

# numba's OpenMP threads and OpenBLAS's threads alternate on every site of a sampling sweep;
# with the default active wait policy each side spins while the other works (25x slower).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import noise  # noqa: E402
from .diffusion import Diffusion  # noqa: E402
from .mps import BornMPS, MPSBase, ProbMPS, SparseMPS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ProbMPS", "SparseMPS", "BornMPS", "MPSBase", "Diffusion", "noise", "__version__"]


def __getattr__(name):  # lazy subpackages keep `import tnddm` light
    if name in {"lattice", "mcmc", "validate", "learn", "io", "goodness_of_fit"}:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tnddm' has no attribute {name!r}")
