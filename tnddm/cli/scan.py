"""`tnddm scan`: exact observables of a model card over a grid of parameters, as a CSV table and a PNG."""
from __future__ import annotations

import csv
import re

import click
import numpy as np

from .common import card_argument, check_output_path, emit_summary, json_option, max_memory_option, resolve_card

RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


def parse_axis(assignment: str):
    """'model.beta=0.3:0.6:16' -> ('beta', 16 values start..stop inclusive); 'model.width=4,6,8' -> ('width', [4, 6, 8]);
    any other assignment -> None (a plain override)."""
    if "=" not in assignment:
        raise ValueError(f"--set expects table.field=value; got {assignment!r}")
    key, raw = (part.strip() for part in assignment.split("=", 1))
    is_range, is_list = RANGE.match(raw) is not None, "," in raw and not raw.startswith("[")
    if not (is_range or is_list):
        return None
    table, _, field = key.partition(".")
    if table != "model" or not field:
        raise ValueError(f"--set {assignment}: only model fields can be scanned (model.FIELD=start:stop:num or a,b,c)")
    if is_range:
        try:
            start, stop, num = (float(g) for g in RANGE.match(raw).groups())
        except ValueError:
            raise ValueError(f"--set {assignment}: a range is start:stop:num with numbers") from None
        if num != int(num) or num < 2:
            raise ValueError(f"--set {assignment}: num must be an integer >= 2; got {num:g}")
        return field, [float(v) for v in np.round(np.linspace(start, stop, int(num)), 12)]
    values = []
    for item in raw.split(","):
        item = item.strip()
        try:
            v = int(item)
        except ValueError:
            try:
                v = float(item)
            except ValueError:
                v = item
        values.append(v)
    return field, values


@click.command()
@card_argument
@click.option("--set", "overrides", multiple=True, metavar="TABLE.FIELD=VALUE|START:STOP:NUM|A,B,C",
              help="Override a card field; a range START:STOP:NUM (NUM values, both ends included) or a list A,B,C of a "
                   "model field is scanned (the first scanned field is the x axis, the others label the curves).")
@click.option("--observables", "names", default=None, metavar="NAMES",
              help="Comma-separated observables of tnddm.observables [default: specific_heat, susceptibility_abs, binder, "
                   "correlation_length for Ising; see docs/observables.md].")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default="scan.csv", show_default=True,
              help="Output table: one row per grid point, the scanned fields then the observables.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="scan.png", show_default=True,
              help="Output PNG: one panel per observable against the first scanned field.")
@json_option
@max_memory_option
def command(card, overrides, names, csv_path, plot_path, as_json):
    """Exact observables of CARD's model over a grid of parameters (e.g. C and chi against beta).

    Example: tnddm scan models/ising_cylinder.toml --set model.beta=0.3:0.6:16 --set model.width=4,6,8
    """
    from .. import observables
    from ..lattice import MODELS, from_spec

    axes, fixed = {}, []
    for item in overrides:
        axis = parse_axis(item)
        if axis is None:
            fixed.append(item)
        elif axis[0] in axes:
            raise ValueError(f"--set: model.{axis[0]} is scanned twice")
        else:
            axes[axis[0]] = axis[1]
    if not axes:
        raise ValueError("tnddm scan needs at least one scanned field: --set model.FIELD=start:stop:num or a,b,c")
    csv_out = check_output_path(csv_path, (".csv",), inputs=[card] if card else [], what="--csv")
    plot_out = check_output_path(plot_path, (".png",), inputs=[card] if card else [], what="--plot")
    base = resolve_card(card, fixed)

    def make_model(**params):
        items = [f"model.{k}={v!r}" if isinstance(v, str) else f"model.{k}={v}" for k, v in params.items()]
        return from_spec(resolve_card(card, fixed + items)["model"])

    rows = observables.scan(make_model, axes, names)
    names = [k for k in rows[0] if k not in axes]
    from ..io.files import atomic_write

    def write_csv(tmp):
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows)

    atomic_write(csv_out, write_csv)
    x = next(iter(axes))
    title = f"{base['model']['kind']}: " + ", ".join(f"{k}={v}" for k, v in base["model"].items()
                                                     if k not in axes and k != "kind") + " (exact)"
    observables.plot_scan(rows, x, names, plot_out, series=[k for k in axes if k != x], title=title,
                          family_of_rows=getattr(MODELS.get(base["model"]["kind"]), "observable_family", None))
    if as_json:
        emit_summary({"model": base["model"]["kind"], "scanned": axes, "observables": names, "rows": rows,
                      "csv": str(csv_out), "plot": str(plot_out)}, True)
        return
    width = max(12, *(len(k) + 2 for k in rows[0]))
    click.echo("".join(f"{k:>{width}}" for k in rows[0]))
    for r in rows:
        click.echo("".join(f"{v:>{width}.6g}" if isinstance(v, float) else f"{v!s:>{width}}" for v in r.values()))
    click.echo(f"wrote {csv_out} and {plot_out}")
