"""Text and JSON renderings of observables for the subcommands (exact values, estimates beside them)."""
from __future__ import annotations

import numpy as np

MAX_REPORT_SAMPLES = 100_000  # estimates printed by `tnddm sample` use at most this many samples (memory)


def short(v, digits: int = 4, edge: int = 3) -> str:
    """A number or array in a few characters: 4 significant digits, long arrays as 'a, b, c, ..., x, y, z (n values)'."""
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    flat = a.ravel()
    items = [f"{x:.{digits}g}" for x in flat] if flat.size <= 2 * edge + 2 else (
        [f"{x:.{digits}g}" for x in flat[:edge]] + ["..."] + [f"{x:.{digits}g}" for x in flat[-edge:]])
    shape = f"{a.shape[0]} values" if a.ndim == 1 else f"shape {a.shape}"
    return f"{', '.join(items)} ({shape}; --json for all)" if flat.size > 2 * edge + 2 else ", ".join(items)


def exact_table(values: dict, max_rows: int = 16) -> str:
    """Aligned 'observable  exact' lines; arrays of at most max_rows values one line per element."""
    lines = [f"{'observable':<24}{'exact':>14}"]
    for name, v in values.items():
        a = np.asarray(v, dtype=float)
        a = np.where(np.abs(a) < 1e-13, 0.0, a)  # rounding noise of an exact zero (e.g. <m> at h = 0)
        if a.ndim == 1 and a.size <= max_rows:
            lines += [f"{f'{name}[{k}]':<24}{x:>14.8g}" for k, x in enumerate(a)]
        elif a.ndim == 0:
            lines.append(f"{name:<24}{float(a):>14.8g}")
        else:
            lines.append(f"{name:<24}  {short(a)}")
    return "\n".join(lines)


def observables_report(model, X=None, as_json: bool = False, names=None):
    """Exact observables of model and, with samples X (independent, exact), estimates with standard errors
    and z beside them. Returns (json-ready dict, text table)."""
    from .. import observables

    exact = observables.exact(model, names)
    if X is None:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in exact.items()}, exact_table(exact)
    report = observables.estimate(model, X[:MAX_REPORT_SAMPLES], names, exact_values=exact)
    head = f"observables from {report.n} exact samples (estimate +- standard error; z = (estimate - exact) / stderr):"
    return report.to_dict(), head + "\n" + report.table()


def add_estimates(summary: dict, model, X, as_json: bool):
    """For `tnddm sample`: put the observables (estimates, standard errors, exact values, z) into the JSON
    summary, or return the text table to print after it."""
    data, text = observables_report(model, X, as_json)
    if as_json:
        summary["observables"] = data
        return None
    return text
