"""Reverse-time grids from T down to delta (early stopping), decreasing."""
from __future__ import annotations

import numpy as np

from .._memory import check_allocation


def time_grid(steps: int, T: float, kind: str = "uniform", delta: float = 0.0) -> np.ndarray:
    """steps + 1 decreasing times from T to delta.

    uniform:   t_k = T - k (T - delta) / steps
    geometric: log-spaced between T and max(delta, 1e-3 T) (dense near the data end)
    cosine:    t_k = delta + (T - delta) (1 - cos(pi (1 - k/steps) / 2))  (dense near delta)
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, float, np.integer, np.floating)) or int(steps) != steps \
            or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    check_allocation(grid_bytes(int(steps)), f"a time grid of {int(steps)} steps")
    if not 0 <= delta < T:
        raise ValueError(f"need 0 <= delta < T; got delta = {delta}, T = {T}")
    u = np.linspace(0.0, 1.0, int(steps) + 1)
    if kind == "uniform":
        g = T - u * (T - delta)
        g[0], g[-1] = T, delta
        return g
    if kind == "geometric":
        lo = max(delta, 1e-3 * T)
        g = np.exp(np.log(T) + u * (np.log(lo) - np.log(T)))
        g[0], g[-1] = T, delta
        return g
    if kind == "cosine":
        g = delta + (T - delta) * (1 - np.cos(np.pi * (1 - u) / 2))
        g[0], g[-1] = T, delta
        return g
    raise ValueError(f"kind must be 'uniform', 'geometric' or 'cosine'; got {kind!r}")


def grid_bytes(steps: int) -> int:
    """Peak bytes of time_grid(steps): the grid and two temporaries of steps + 1 floats."""
    return 3 * 8 * (int(steps) + 1)
