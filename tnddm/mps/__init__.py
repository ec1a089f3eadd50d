"""Probability MPS: dense cores (ProbMPS), sparse automaton cores (SparseMPS), Born machines (BornMPS), sampling
tables of binary Markov automata (MarkovTableMPS), one interface."""
from .base import MPSBase, sample_dtype
from .born import BornMPS
from .dense import ProbMPS
from .markov import MarkovTableMPS
from .sparse import EmittedMPS, SparseMPS

__all__ = ["MPSBase", "ProbMPS", "SparseMPS", "EmittedMPS", "BornMPS", "MarkovTableMPS", "sample_dtype"]
