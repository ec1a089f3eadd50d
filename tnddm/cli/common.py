"""Options and helpers shared by the subcommands: card loading, overrides, output."""
from __future__ import annotations

import json
import sys

import click

from ..io import default_card, load_card, parse_override


def card_argument(f):
    return click.argument("card", required=False, type=click.Path(dir_okay=False))(f)


def set_option(f):
    return click.option(
        "--set", "overrides", multiple=True, metavar="TABLE.FIELD=VALUE",
        help="Override a card field, e.g. --set model.beta=0.3 (repeatable).",
    )(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout (for scripts).")(f)


def progress_option(f):
    return click.option(
        "--progress/--no-progress", default=None,
        help="Progress bars (default: on when stderr is a terminal).",
    )(f)


def resolve_card(card_path, overrides=()) -> dict:
    """Load the card at card_path (or the built-in default) and apply --set overrides."""
    card = default_card() if card_path is None else load_card(card_path)
    for item in overrides:
        card = parse_override(card, item)
    return card


def show_progress(flag) -> bool:
    return sys.stderr.isatty() if flag is None else bool(flag)


def emit_summary(summary: dict, as_json: bool) -> None:
    """Print a summary as JSON or as aligned 'key: value' lines."""
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=_jsonable))
        return
    width = max(len(k) for k in summary) if summary else 0
    for k, v in summary.items():
        click.echo(f"{k:<{width}} : {_fmt(v)}")


def _jsonable(v):
    try:
        import numpy as np

        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.8g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)
