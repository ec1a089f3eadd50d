"""Argument checks shared by the package: every failure is a ValueError naming the argument."""
from __future__ import annotations

import numpy as np


def as_configs(X, n_sites: int, d: int, name: str = "X") -> np.ndarray:
    """Return X as an int64 array of shape (n, n_sites) with states in 0..d-1.

    A single configuration of shape (n_sites,) is promoted to shape (1, n_sites).
    """
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_sites:
        raise ValueError(f"{name} must have shape (n, {n_sites}) or ({n_sites},); got {np.shape(X)}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer states 0..{d - 1}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= d):
        raise ValueError(f"{name} holds states outside 0..{d - 1} (min {arr.min()}, max {arr.max()})")
    return arr


def as_tilts(tilts, n_sites: int, d: int, name: str = "tilts") -> np.ndarray:
    """Return per-site weights as a float array of shape (n, n_sites, d) (n = 1 when shared)."""
    w = np.asarray(tilts, dtype=float)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1:] != (n_sites, d):
        raise ValueError(f"{name} must have shape ({n_sites}, {d}) or (n, {n_sites}, {d}); got {np.shape(tilts)}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite")
    return w


def check_time(t, name: str = "t") -> float:
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be a finite time >= 0; got {t}")
    return t


def check_nonnegative_int(n, name: str) -> int:
    if isinstance(n, bool) or int(n) != n or int(n) < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {n!r}")
    return int(n)
