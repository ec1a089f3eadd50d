"""Figures without pyplot: the object API of matplotlib, so a notebook's backend is never switched.

    fig, axes = subplots(1, 2, figsize=(9, 3.6))
    ...
    save_png(fig, path)          # atomic write (tnddm.io.files.atomic_write)
"""
from __future__ import annotations


def subplots(nrows: int = 1, ncols: int = 1, figsize=(5, 4), **kwargs):
    """(Figure, axes) like pyplot.subplots, on a Figure that no backend manages (no global state).

    Args:
        nrows: rows of panels.
        ncols: columns of panels.
        figsize: (width, height) in inches.
        **kwargs: passed to Figure.subplots (e.g. squeeze=False).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_png(fig, path, dpi: int = 110, tight: bool = True) -> None:
    """Write fig as a PNG to path atomically (Agg canvas; the file appears whole or not at all).

    Args:
        fig: a matplotlib Figure.
        path: output file.
        dpi: resolution.
        tight: lay the panels out with tight_layout first.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .io.files import atomic_write

    FigureCanvasAgg(fig)
    if tight:
        fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight"))
