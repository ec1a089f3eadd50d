"""Memory estimates before large allocations: refuse with the estimate and the limit instead of allocating.

The limit is, in order of precedence: the `max_memory` argument of check_allocation; the innermost
`memory_limit(...)` block (the CLI's --max-memory); the environment variable TNDDM_MAX_MEMORY; the
machine's available memory (MemAvailable in /proc/meminfo, else psutil, else no limit).
Sizes are bytes, or strings such as "500M", "4G", "1.5GB", "2GiB".
"""
from __future__ import annotations

import contextlib
import os
import re

__all__ = ["MemoryLimitError", "check_allocation", "memory_limit", "parse_size", "available_memory", "current_limit",
           "format_bytes"]


class MemoryLimitError(MemoryError, ValueError):
    """A planned allocation exceeds the memory limit. Also a ValueError, so the CLI reports it (exit 2)."""


_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 10**3, "KIB": 2**10, "M": 2**20, "MB": 10**6, "MIB": 2**20,
          "G": 2**30, "GB": 10**9, "GIB": 2**30, "T": 2**40, "TB": 10**12, "TIB": 2**40}
_stack: list[int] = []
SMALL = 16 * 2**20  # allocations below this are checked only against an explicit limit


def parse_size(value, name: str = "max_memory") -> int:
    """Bytes from an int or a string with a unit (K, M, G, T; KB = 1000, KiB = K = 1024)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a size in bytes or a string such as '4G'; got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
        if not m or m.group(2).upper() not in _UNITS:
            raise ValueError(f"{name} must be a size such as 500M, 4G or 1.5GB; got {value!r}")
        number, unit = float(m.group(1)), m.group(2).upper()
    nbytes = number * _UNITS[unit]
    if not nbytes == nbytes or nbytes <= 0 or nbytes == float("inf"):
        raise ValueError(f"{name} must be a positive size; got {value!r}")
    return int(nbytes)


def format_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def available_memory() -> int | None:
    """The machine's available memory in bytes (MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # pragma: no cover - non-Linux
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover
        return None


def current_limit() -> tuple[int | None, str]:
    """(limit in bytes or None, where it comes from)."""
    if _stack:
        return _stack[-1], "--max-memory / memory_limit"
    env = os.environ.get("TNDDM_MAX_MEMORY")
    if env:
        return parse_size(env, "TNDDM_MAX_MEMORY"), "TNDDM_MAX_MEMORY"
    return available_memory(), "available memory"


@contextlib.contextmanager
def memory_limit(max_memory):
    """Within the block, check_allocation uses max_memory (bytes or '4G'; None: leave the limit as it is)."""
    if max_memory is None:
        yield
        return
    _stack.append(parse_size(max_memory))
    try:
        yield
    finally:
        _stack.pop()


def check_allocation(nbytes, what: str, max_memory=None) -> int:
    """Raise MemoryLimitError (a MemoryError and a ValueError) if nbytes exceed the memory limit.

    what: a description of the allocation for the message, e.g. "exact ising_cylinder MPS (width 30)".
    max_memory: bytes or a size string; default: see the module docstring. Returns nbytes as an int.
    """
    nbytes = int(nbytes)
    if max_memory is not None:
        limit, source = parse_size(max_memory), "max_memory"
    else:
        if nbytes < SMALL and not _stack and not os.environ.get("TNDDM_MAX_MEMORY"):
            return nbytes  # too small to matter against the machine's memory: skip reading /proc/meminfo
        limit, source = current_limit()
    if limit is not None and nbytes > limit:
        raise MemoryLimitError(f"{what} would need about {format_bytes(nbytes)}; the limit is {format_bytes(limit)} "
                               f"({source}); refused before allocating (raise the limit with --max-memory or "
                               f"TNDDM_MAX_MEMORY if the machine really has the memory)")
    return nbytes
