"""Old spellings kept for one release: a DeprecationWarning naming the new one, then the new behaviour."""
from __future__ import annotations

import numbers
import warnings

import numpy as np


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that `old` is deprecated in favour of `new` (removed in the release after next)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)


def is_time(value) -> bool:
    """True for a scalar time: a Python or numpy real number (int or float, not bool) or a 0-d real array."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"


def states_first(X, *times, where: str, states: str = "X", before: str = "", stacklevel: int = 4) -> tuple:
    """(X, *times) for a function whose arguments are now states first: (X, t) or (X, t, s).

    The old order, times first ((t, X) or (t, s, X)), is kept for one release and detected by type, never by
    parameter name: a call is in the old order when its first argument is a scalar time (`is_time`: a Python
    or numpy real number, or a 0-d real array) and the argument that held the states in the old order (the
    last one, `times[-1]`) is an array with ndim >= 1. Such a call is reordered to (states, *times) with a
    DeprecationWarning naming the new call; every other call is returned unchanged.

    Args:
        X: the first argument as received (the states, or in the old order the time t).
        *times: the following arguments as received: (t,) or (t, s).
        where: the function's name in the warning, e.g. "ExactOracle.score".
        states: the name of the states argument in the warning ("X", "Y").
        before: the arguments shown before the moved ones in the warning, e.g. "name, oracle, ".
        stacklevel: of the warning; the default 4 points at the caller of the function calling states_first.

    Returns:
        The arguments in the new order (states, t) or (states, t, s).
    """
    if times and is_time(X) and np.ndim(times[-1]) >= 1:
        names = ("t", "s")[: len(times)]
        warn_deprecated(f"{where}({before}{', '.join(names + (states,))})",
                        f"{where}({before}{', '.join((states,) + names)}) (states first, as in Diffusion.score(X, t))",
                        stacklevel)
        return (times[-1], X, *times[:-1])
    return (X, *times)


def alias(aliases: dict, name, what: str, stacklevel: int = 4):
    """The canonical name for `name`: deprecated aliases (old -> new) map with a DeprecationWarning."""
    if isinstance(name, str) and name in aliases:
        warn_deprecated(f"{what} {name!r}", repr(aliases[name]), stacklevel)
        return aliases[name]
    return name
