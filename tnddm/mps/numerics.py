"""Numerical helpers shared by every probability MPS storage and its algorithms.

Exact rescaling of extreme cores by powers of two (rescale_cores), log-space row normalisation of
batches of environments (normalise_rows), the inverse-CDF draw of the generic samplers (draw_from_weights), and
the integer dtype of samples (sample_dtype). Imported by tnddm.mps.base and the storages; imports no
other tnddm.mps module but the numba kernel of normalise_rows.
"""
from __future__ import annotations

import numpy as np

from .._deprecation import warn_deprecated
from ._kernel_common import normalise_rows_inplace

__all__ = ["LOG2", "SAMPLE_DTYPES", "rescale_cores", "normalise_rows", "draw_from_weights", "sample_dtype"]

LOG2 = float(np.log(2.0))


def rescale_cores(arrays, dtype=np.float64, power: int = 1) -> tuple[list, float]:
    """Cores whose largest |entry| lies outside [2^-L, 2^L] multiplied by an exact power of two (largest
    entry then in [1/2, 1)); L = maxexp / (4 power) of dtype, i.e. 2^256 for float64 1-norm cores and
    2^128 for Born cores (power = 2: the weights are their squares). Other cores are returned as they are.

    Returns (cores, log_scale): log_scale is the log of the factor removed from the weights. Exact (no
    rounding), so the law is unchanged, and products inside one contraction step neither overflow (cores
    near 1e308) nor lose their precision (subnormal cores).
    """
    limit = np.finfo(dtype).maxexp // (4 * power)
    out, log_scale = [], 0.0
    for A in arrays:
        m = float(np.max(np.abs(A))) if A.size else 0.0
        if m > 0 and np.isfinite(m):
            e = int(np.frexp(m)[1])  # m = f 2^e with f in [1/2, 1)
            if abs(e) > limit:
                A = np.ascontiguousarray(np.ldexp(A, -e), dtype=A.dtype)
                log_scale += power * e * LOG2
        out.append(A)
    return out, log_scale


def normalise_rows(v: np.ndarray, inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Divide each row by the sum of its absolute values; return (rows, log of the factors).

    An all-zero row stays zero and its log factor is -inf (the contraction is exactly zero).
    inplace: v may be overwritten (large float64 blocks are then normalised by a numba kernel).
    """
    if inplace and v.ndim == 2 and v.size >= 4096 and v.dtype == np.float64 and v.flags.c_contiguous and v.flags.writeable:
        logs = np.empty(v.shape[0])
        normalise_rows_inplace(v, logs)
        return v, logs
    s = np.abs(v).sum(axis=1)
    ok = s > 0
    safe = np.where(ok, s, 1.0)
    with np.errstate(divide="ignore"):
        logs = np.where(ok, np.log(safe), -np.inf)
    return v / safe[:, None], logs


def draw_from_weights(weight: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = F^{-1}(u) per row of non-negative weights (n, d), F the cumulative of c = weight / sum, and log c(x)."""
    total = weight.sum(axis=1)
    if not np.all(total > 0):
        raise ValueError("zero total weight while sampling: the (tilted) distribution is not normalisable")
    p = weight / total[:, None]
    x = np.minimum((np.cumsum(p, axis=1) < u[:, None]).sum(axis=1), weight.shape[1] - 1)
    return x, np.log(p[np.arange(x.size), x])


def draw(weight: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deprecated name of draw_from_weights (tnddm.validate.samplers.draw_categorical is the other categorical draw)."""
    warn_deprecated("tnddm.mps.numerics.draw", "draw_from_weights")
    return draw_from_weights(weight, u)


#: default integer dtype of samples by the number of states d: the first whose range holds 0..d-1
SAMPLE_DTYPES = ((128, np.int8), (256, np.uint8), (2**15, np.int16), (2**31, np.int32))


def sample_dtype(d: int, dtype=None) -> np.dtype:
    """The integer dtype of samples of d states: `dtype` if given (checked to hold 0..d-1), else the first
    of SAMPLE_DTYPES that does (int8 for d <= 128, uint8 for d <= 256), else int64.

    Args:
        d: number of states per site.
        dtype: None or an integer dtype (e.g. np.int64).
    """
    if dtype is None:
        return np.dtype(next((dt for limit, dt in SAMPLE_DTYPES if d <= limit), np.int64))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be an integer dtype such as np.int8 or np.int64; got {dtype!r}") from None
    if dt.kind not in "iu" or np.iinfo(dt).max < d - 1:
        raise ValueError(f"dtype must be an integer dtype holding the states 0..{d - 1}; got {dtype!r}")
    return dt
