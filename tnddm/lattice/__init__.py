"""Exact lattice models with exact automaton MPS: Fredkin chain, Ising chain / cylinder / strip, Potts.

Every model has .mps() (exact SparseMPS), .log_z(), .log_weight(X), .statistics(X),
.observables(); from_spec(dict) builds one from a model card's [model] table.
"""
from __future__ import annotations

import inspect

from .automaton import Automaton, finite_range
from .base import LatticeModel
from .fredkin import Fredkin, is_dyck
from .grid import Grid2D, IsingGrid, PottsGrid, binder_cumulant
from .ising import BETA_C, Ising, IsingChain, IsingCylinder, IsingStrip, PottsCylinder, lattice_bonds

MODELS = {cls.kind: cls for cls in (Fredkin, Ising, IsingChain, IsingCylinder, IsingStrip, PottsCylinder, Grid2D, IsingGrid,
                                    PottsGrid)}


def from_spec(spec: dict) -> LatticeModel:
    """Build a model from {"kind": name, **parameters}; errors name the missing or unknown field."""
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError("model spec must be a table with a 'kind' field")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in MODELS:
        raise ValueError(f"model.kind must be one of {sorted(MODELS)}; got {kind!r}")
    cls = MODELS[kind]
    params = {k: v for k, v in spec.items() if k != "kind"}
    sig = inspect.signature(cls.__init__)
    names = [p for p in sig.parameters if p != "self"]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"model.{unknown[0]} is not a parameter of {kind} (expected some of {names})")
    missing = [p for p, v in sig.parameters.items() if p != "self" and v.default is inspect.Parameter.empty and p not in params]
    if missing:
        raise ValueError(f"model.{missing[0]} is required for {kind}")
    try:
        model = cls(**params)
    except ValueError as exc:
        msg = str(exc)
        if isinstance(exc, MemoryError) or msg.startswith("model."):
            raise
        named = next((p for p in names if msg.startswith(p + " ")), None)
        raise ValueError(f"model.{msg}" if named else f"model ({kind}): {msg}") from None
    model.check_memory()  # refuse an exact MPS that cannot fit before anything else runs
    return model


__all__ = ["Automaton", "finite_range", "LatticeModel", "Fredkin", "is_dyck", "Ising", "IsingChain", "IsingCylinder",
           "IsingStrip", "PottsCylinder", "Grid2D", "IsingGrid", "PottsGrid", "binder_cumulant", "BETA_C", "lattice_bonds", "MODELS", "from_spec"]
