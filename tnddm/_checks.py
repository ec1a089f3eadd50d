"""Argument checks shared by the package: every failure is a ValueError naming the argument."""
from __future__ import annotations

import numbers

import numpy as np


def as_configs(X, n_sites: int, d: int, name: str = "X", check_range: bool = True) -> np.ndarray:
    """Return X as an int64 array of shape (n, n_sites) with states in 0..d-1.

    A single configuration of shape (n_sites,) is promoted to shape (1, n_sites). X must hold
    integers (or floats with integral values); strings, complex numbers, None and objects are refused.
    check_range=False leaves the 0..d-1 check to the caller (a compiled kernel that checks as it reads).
    """
    if X is None:
        raise ValueError(f"{name} must be an integer array of shape (n, {n_sites}); got None")
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name} must be an integer array of shape (n, {n_sites}); got {type(X).__name__} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold integer states 0..{d - 1}; got an array of dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_sites:
        raise ValueError(f"{name} must have shape (n, {n_sites}) or ({n_sites},); got {np.shape(X)}")
    if arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer states 0..{d - 1}")
    arr = arr.astype(np.int64, copy=False)
    if check_range and arr.size and (arr.min() < 0 or arr.max() >= d):
        raise ValueError(f"{name} holds states outside 0..{d - 1} (min {arr.min()}, max {arr.max()})")
    return arr


def as_tilts(tilts, n_sites: int, d: int, name: str = "tilts") -> np.ndarray:
    """Return per-site weights as a float array of shape (n, n_sites, d) (n = 1 when shared)."""
    try:
        raw = np.asarray(tilts)
        if raw.dtype.kind not in "biuf":
            raise TypeError
        w = raw.astype(float)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be a real array of shape ({n_sites}, {d}) or (n, {n_sites}, {d}); "
                         f"got {type(tilts).__name__}") from None
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1:] != (n_sites, d):
        raise ValueError(f"{name} must have shape ({n_sites}, {d}) or (n, {n_sites}, {d}); got {np.shape(tilts)}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite")
    return w


def check_real(value, name: str) -> float:
    """A finite real scalar (not a bool, a string or a sequence) as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            value = value.item()
        else:
            raise ValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def check_time(t, name: str = "t") -> float:
    if isinstance(t, (bool, np.bool_)) or not (isinstance(t, (numbers.Real, np.floating, np.integer))
                                              or (isinstance(t, np.ndarray) and t.ndim == 0 and t.dtype.kind in "iuf")):
        raise ValueError(f"{name} must be a finite time >= 0 (a real number); got {t!r}")
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be a finite time >= 0; got {t}")
    return t


def check_int(n, name: str, minimum: int | None = None) -> int:
    """An integer (int, numpy integer, or a float with an integral value) >= minimum, as an int."""
    ok = not isinstance(n, (bool, np.bool_)) and isinstance(n, (numbers.Real, np.integer, np.floating))
    if ok:
        try:
            ok = np.isfinite(n) and int(n) == n
        except (OverflowError, ValueError):
            ok = False
    if not ok:
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}; got {n!r}")
    if minimum is not None and int(n) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {int(n)}")
    return int(n)


def check_nonnegative_int(n, name: str) -> int:
    try:
        return check_int(n, name, 0)
    except ValueError:
        raise ValueError(f"{name} must be a non-negative integer; got {n!r}") from None


def check_batch_size(batch_size, name: str = "batch_size") -> int | None:
    """None (automatic) or an integer >= 1."""
    if batch_size is None:
        return None
    return check_int(batch_size, name, 1)


def check_time_grid(times, name: str = "times", *, first_inf: bool = False, final_positive: bool = False) -> np.ndarray:
    """The one check of a reverse-time grid: a 1D float array T = times[0] > ... > times[-1], at least two times.

    Args:
        times: the grid.
        name: the argument's name in the error message.
        first_inf: allow times[0] = inf (a start from the noise's stationary law).
        final_positive: require times[-1] > 0 (samplers whose rates blow up at t = 0); otherwise times[-1] >= 0.

    Returns:
        The grid as a float array.
    """
    try:
        grid = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        grid = None
    ok = grid is not None and grid.ndim == 1 and grid.size >= 2 and not np.any(np.isnan(grid))
    if ok:
        finite = grid[1:] if first_inf else grid
        ok = (bool(np.all(np.isfinite(finite))) and not np.any(np.diff(grid) >= 0)
              and (grid[-1] > 0 if final_positive else grid[-1] >= 0))
    if not ok:
        what = "positive" if final_positive else "non-negative"
        inf = f" (only {name}[0] may be inf)" if first_inf else ""
        shown = grid.tolist() if grid is not None and grid.size <= 12 else times
        raise ValueError(f"{name} must be a strictly decreasing grid of at least two {what} times{inf}; got {shown}")
    return grid
