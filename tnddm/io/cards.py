"""Model cards: TOML files with tables [model], [noise], [sample], [mcmc], [train], [validate].

[model] needs a `kind` (see tnddm.lattice.MODELS); the other tables are optional settings for
the matching CLI command. Errors name the file and the field.
"""
from __future__ import annotations

import copy
import sys
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CARD_TABLES = ("model", "noise", "sample", "mcmc", "train", "validate")


def _check(card: dict, source: str) -> dict:
    for key, value in card.items():
        if key == "name" or key == "description":
            continue
        if key not in CARD_TABLES:
            raise ValueError(f"{source}: unknown table [{key}]; expected one of {', '.join(CARD_TABLES)}")
        if not isinstance(value, dict):
            raise ValueError(f"{source}: field '{key}' must be a table")
    if "model" not in card:
        raise ValueError(f"{source}: missing table [model]")
    if "kind" not in card["model"]:
        raise ValueError(f"{source}: missing field 'model.kind'")
    return card


def load_card(path) -> dict:
    """Read and check a model card; the result also records its source under key 'source'."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"card file {str(path)!r} does not exist")
    try:
        with open(path, "rb") as fh:
            card = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    card = _check(card, str(path))
    card["source"] = str(path)
    return card


def default_card() -> dict:
    """The built-in default card (an Ising cylinder at beta_c with flip noise)."""
    text = resources.files("tnddm.cards").joinpath("default.toml").read_text()
    card = _check(tomllib.loads(text), "built-in default card")
    card["source"] = "built-in:default"
    return card


def parse_override(card: dict, assignment: str) -> dict:
    """Apply 'table.field=value' (value in TOML syntax, bare words taken as strings) to a copy of card."""
    if "=" not in assignment or "." not in assignment.split("=", 1)[0]:
        raise ValueError(f"--set expects table.field=value; got {assignment!r}")
    key, raw = assignment.split("=", 1)
    table, field = key.strip().split(".", 1)
    if table not in CARD_TABLES:
        raise ValueError(f"--set: unknown table {table!r}; expected one of {', '.join(CARD_TABLES)}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    out = copy.deepcopy(card)
    out.setdefault(table, {})[field.strip()] = value
    return out
