"""Old spellings kept for one release: a DeprecationWarning naming the new one, then the new behaviour."""
from __future__ import annotations

import warnings

import numpy as np


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that `old` is deprecated in favour of `new` (removed in the release after next)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)


def _is_time(value) -> bool:
    return np.ndim(value) == 0 and not isinstance(value, (str, bytes))


def states_first(X, t, where: str, stacklevel: int = 4):
    """(X, t) for a method whose arguments are (X, t); a call in the old order (t, X) (detected by the types:
    a scalar time first, an array of states second) is swapped with a DeprecationWarning."""
    if _is_time(X) and not _is_time(t):
        warn_deprecated(f"{where}(t, X)", f"{where}(X, t) (states first, as in Diffusion)", stacklevel)
        return t, X
    return X, t


def alias(aliases: dict, name, what: str, stacklevel: int = 4):
    """The canonical name for `name`: deprecated aliases (old -> new) map with a DeprecationWarning."""
    if isinstance(name, str) and name in aliases:
        warn_deprecated(f"{what} {name!r}", repr(aliases[name]), stacklevel)
        return aliases[name]
    return name
