"""Views of a probability MPS through per-site maps, without copying its storage (old import path).

Tilted (P(x) prod_i v_i[x_i]) and Emitted (P_K(y) = sum_x P(x) prod_i K[y_i, x_i]) are the default
tilt / emit of MPSBase and live beside it in tnddm.mps.base (see its docstring for the maths): base.py
and views.py would otherwise import each other. This module re-exports them.
"""
from __future__ import annotations

from .base import EmissionMixin, Emitted, Tilted, check_emission

__all__ = ["Tilted", "Emitted", "EmissionMixin", "check_emission"]
