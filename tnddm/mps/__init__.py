"""Probability MPS: dense cores (ProbMPS), sparse automaton cores (SparseMPS), Born machines (BornMPS), one interface."""
from .base import MPSBase
from .born import BornMPS
from .dense import ProbMPS
from .sparse import EmittedMPS, SparseMPS

__all__ = ["MPSBase", "ProbMPS", "SparseMPS", "EmittedMPS", "BornMPS"]
