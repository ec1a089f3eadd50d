"""Probability MPS: dense cores (ProbMPS) and sparse automaton cores (SparseMPS), one interface."""
from .base import MPSBase
from .dense import ProbMPS
from .sparse import EmittedMPS, SparseMPS

__all__ = ["MPSBase", "ProbMPS", "SparseMPS", "EmittedMPS"]
