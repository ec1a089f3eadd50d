"""Options and helpers shared by the subcommands: card loading, overrides, output."""
from __future__ import annotations

import functools
import json
import math
import sys

import click

from .._memory import check_allocation, memory_limit, parse_size
from ..io import default_card, load_card, parse_override
from ..io.cards import check_card
from ..io.files import check_input_file, check_output_path

__all__ = ["card_argument", "set_option", "json_option", "progress_option", "max_memory_option", "resolve_card",
           "show_progress", "emit_summary", "check_output_path", "check_input_file", "check_allocation", "check_option",
           "jsonable"]


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


def max_memory_option(f):
    """--max-memory SIZE: the limit of tnddm's memory estimates (check_allocation) while the command runs."""

    @functools.wraps(f)
    def wrapper(*args, max_memory=None, **kwargs):
        with memory_limit(max_memory):
            return f(*args, **kwargs)

    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return parse_size(value, "--max-memory")
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--max-memory", default=None, metavar="SIZE", callback=parse,
                        help="Refuse work whose memory estimate exceeds SIZE (e.g. 4G, 500M) "
                             "[default: the machine's available memory, or TNDDM_MAX_MEMORY].")(wrapper)


def check_option(value, name: str, minimum=None, kind=int):
    """A CLI value (from an option or the card) of type kind (int or float) >= minimum, else ValueError naming it."""
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer; got {value!r}")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number; got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    return kind(value)


def resolve_card(card_path, overrides=()) -> dict:
    """Load the card at card_path (or the built-in default), apply --set overrides and check the result."""
    card = default_card() if card_path is None else load_card(card_path)
    for item in overrides:
        card = parse_override(card, item)
    if overrides:
        source = card.get("source", "card")
        check_card({k: v for k, v in card.items()}, f"{source} with --set {' '.join(overrides)}")
    return card


def show_progress(flag) -> bool:
    return sys.stderr.isatty() if flag is None else bool(flag)


def emit_summary(summary: dict, as_json: bool) -> None:
    """Print a summary as JSON or as aligned 'key: value' lines."""
    if as_json:
        click.echo(json.dumps(jsonable(summary), indent=2, allow_nan=False))
        return
    width = max(len(k) for k in summary) if summary else 0
    for k, v in summary.items():
        click.echo(f"{k:<{width}} : {_fmt(v)}")


def jsonable(v):
    """v with numpy values as Python ones and NaN / infinities as None, so that json.dumps gives valid JSON."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    converted = _jsonable(v)
    if converted is v or isinstance(converted, str):
        return converted
    return jsonable(converted)


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
