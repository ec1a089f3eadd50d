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


def log_axis(axis, ticks=None) -> None:
    """Make a log-scaled axis show plain labels (0.05, not 5 x 10^-2), at the given ticks only or at 1, 2, 5 x 10^k.

    Args:
        axis: a matplotlib Axis (ax.xaxis or ax.yaxis) already on a log scale.
        ticks: tick positions, or None for 1, 2, 5 x 10^k.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)) if ticks is None else FixedLocator(list(ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


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
