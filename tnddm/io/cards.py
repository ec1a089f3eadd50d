"""Model cards: TOML files with tables [model], [noise], [sample], [mcmc], [train], [validate].

[model] needs a `kind` (see tnddm.lattice.MODELS); the other tables are optional settings for
the matching CLI command. Every table is checked against a schema (CARD_SCHEMA; [model] against
the model's parameters, [noise] against NOISE_SCHEMA for its kind): an unknown key or a value of
the wrong type is an error that names the file and the key, e.g. "sample.n_sample".

To accept a new key, add it to the schema where the key is read, e.g.
    from tnddm.io.cards import CARD_SCHEMA, Int
    CARD_SCHEMA["validate"]["paths"] = Int(0)
"""
from __future__ import annotations

import copy
import math
import sys
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CARD_TABLES = ("model", "noise", "sample", "mcmc", "train", "validate")
TOP_LEVEL = ("name", "description", "source")


# ---- value types ------------------------------------------------------------------------------------
class Spec:
    """A value type of the card schema: check(value, name) returns the value or raises ValueError."""

    expected = "a value"

    def ok(self, value) -> bool:
        raise NotImplementedError

    def check(self, value, name: str):
        if not self.ok(value):
            raise ValueError(f"{name} must be {self.expected}; got {_show(value)}")
        return value


def _show(value) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}.get(type(value))
    return f"{value!r}" + (f" ({kind})" if kind else "")


class Int(Spec):
    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        bounds = [f">= {minimum}" if minimum is not None else "", f"<= {maximum}" if maximum is not None else ""]
        self.expected = "an integer" + (" " + " and ".join(b for b in bounds if b) if any(bounds) else "")

    def ok(self, value) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum))


class Float(Spec):
    """A finite real number (an integer is accepted) within [minimum, maximum]; exclusive bounds with open_*."""

    def __init__(self, minimum: float | None = None, maximum: float | None = None, open_min=False, open_max=False):
        self.minimum, self.maximum, self.open_min, self.open_max = minimum, maximum, open_min, open_max
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if open_min else '>='} {minimum}")
        if maximum is not None:
            bounds.append(f"{'<' if open_max else '<='} {maximum}")
        self.expected = "a finite number" + (" " + " and ".join(bounds) if bounds else "")

    def ok(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.minimum is not None and (value <= self.minimum if self.open_min else value < self.minimum):
            return False
        if self.maximum is not None and (value >= self.maximum if self.open_max else value > self.maximum):
            return False
        return True


class Str(Spec):
    def __init__(self, choices=None):
        self.choices = tuple(choices) if choices else None
        self.expected = f"one of {', '.join(repr(c) for c in self.choices)}" if self.choices else "a string"

    def ok(self, value) -> bool:
        return isinstance(value, str) and (self.choices is None or value in self.choices)


class Bool(Spec):
    expected = "true or false"

    def ok(self, value) -> bool:
        return isinstance(value, bool)


class ListOf(Spec):
    def __init__(self, item: Spec, min_length: int = 1):
        self.item, self.min_length = item, min_length
        self.expected = f"a list of {self.item.expected.replace('a ', '', 1).replace('an ', '', 1)}s"

    def ok(self, value) -> bool:
        return isinstance(value, list) and len(value) >= self.min_length and all(self.item.ok(v) for v in value)


class AnyOf(Spec):
    def __init__(self, *options: Spec):
        self.options = options
        self.expected = " or ".join(o.expected for o in options)

    def ok(self, value) -> bool:
        return any(o.ok(value) for o in self.options)


SEED = Int(0)

CARD_SCHEMA: dict[str, dict[str, Spec]] = {
    "sample": {
        "n_samples": Int(1), "mode": Str(("direct", "diffusion")), "T": Float(0), "steps": Int(1), "seed": SEED,
    },
    "mcmc": {
        "scheme": Str(), "T": AnyOf(Float(0), Str(("auto",)), ListOf(AnyOf(Float(0), Str(("auto",))))), "chi": Int(1),
        "truncation": Str(), "steps": Int(1),
        "burn_in": AnyOf(Int(0), Str(("auto",))), "max_steps": Int(1), "max_seconds": Float(0, open_min=True),
        "walkers": Int(1), "seed": SEED, "init": Str(), "proposal": Str(), "chi_boundary": Int(1),
        "target_acceptance": Float(0, 1, open_min=True, open_max=True), "adapt": Bool(), "estimator": Str(),
        "exact": Bool(), "strict": Bool(), "n_samples": Int(1),
    },
    "train": {
        "method": Str(("adam", "sweep", "born")), "chi_max": Int(1), "lr": Float(0, open_min=True),
        "lr_decay": Float(0, open_min=True), "batch_size": Int(1), "epochs": Int(0), "rounds": Int(0), "walkers": Int(1),
        "mh_steps": Int(0), "moves": Str(), "T": Float(0), "connected_prob": Float(0, 1), "local_sweeps": Int(0),
        "epochs_per_round": Int(0), "buffer_rounds": Int(1), "anneal_start": Float(0), "anneal_rounds": Int(1),
        "kl_samples": Int(0), "seed": SEED, "cutoff": Float(0), "em_steps": Int(1), "born_batch_size": Int(1),
        "holdout": Float(0, 1, open_max=True),
    },
    "validate": {
        "sampler": Str(), "steps": AnyOf(Int(1), ListOf(Int(1)), Str()), "T": Float(0), "delta": Float(0),
        "grid": Str(),
    },
}

_SCHEDULE_KEYS = {
    "constant": {},
    "linear": {"beta_min": Float(0), "beta_max": Float(0), "horizon": Float(0, open_min=True)},
    "geometric": {"sigma_min": Float(0, open_min=True), "sigma_max": Float(0, open_min=True),
                  "horizon": Float(0, open_min=True)},
    "loglinear": {"eps": Float(0, 1, open_min=True, open_max=True), "horizon": Float(0, open_min=True)},
}
class _Schedule(Spec):
    expected = "a schedule name or a table {kind = ..., ...}"  # the keys are checked by _check_schedule

    def ok(self, value) -> bool:
        return isinstance(value, (str, dict))


SCHEDULE = _Schedule()
_SCHED = {"schedule": SCHEDULE}
NOISE_SCHEMA: dict[str, dict[str, Spec]] = {
    "flip": {"rate": Float(0), "d": Int(2), **_SCHED},
    "mask": {"rate": Float(0), "d": Int(1), **_SCHED},
    "biased_flip": {"up": Float(0), "down": Float(0), **_SCHED},
    "random_walk": {"m": Int(2), "rate": Float(0, open_min=True), "ring": Bool(), **_SCHED},
    "rates": {"Q": ListOf(ListOf(Float())), "d": Int(1), **_SCHED},
}


# ---- checks -----------------------------------------------------------------------------------------
def check_table(table: str, values: dict, source: str) -> None:
    """Check one table of a card against the schema; errors name source and table.key."""
    if not isinstance(values, dict):
        raise ValueError(f"{source}: {table} must be a table [{table}]; got {_show(values)}")
    if table == "model":
        _check_model(values, source)
    elif table == "noise":
        _check_noise(values, source)
    else:
        for key, value in values.items():
            check_key(table, key, value, source)


def check_key(table: str, key: str, value, source: str) -> None:
    """Check one key of a table with no cross-key rules (sample, mcmc, train, validate)."""
    schema = CARD_SCHEMA[table]
    if key not in schema:
        raise ValueError(f"{source}: unknown key {table}.{key}; [{table}] accepts {', '.join(sorted(schema))}")
    schema[key].check(value, f"{source}: {table}.{key}")


def _check_model(values: dict, source: str) -> None:
    if "kind" not in values:
        raise ValueError(f"{source}: missing field 'model.kind'")
    from ..lattice import from_spec

    try:
        from_spec(values)
    except MemoryError:
        raise
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def _noise_kinds() -> tuple:
    try:
        from ..noise import NOISE_KINDS

        return tuple(NOISE_KINDS)
    except ImportError:  # pragma: no cover
        return tuple(NOISE_SCHEMA)


def _check_noise(values: dict, source: str) -> None:
    kind = values.get("kind", "flip")
    if not isinstance(kind, str) or kind.lower() not in set(_noise_kinds()) | set(NOISE_SCHEMA):
        raise ValueError(f"{source}: noise.kind must be one of {', '.join(_noise_kinds())}; got {_show(kind)}")
    schema = NOISE_SCHEMA.get(kind.lower())
    if schema is None:  # a kind added to tnddm.noise without a schema entry: its constructor checks the keys
        return
    for key, value in values.items():
        if key == "kind":
            continue
        if key not in schema:
            raise ValueError(f"{source}: unknown key noise.{key} for noise kind {kind!r}; it accepts "
                             f"{', '.join(['kind'] + sorted(schema))}")
        if key == "schedule":
            _check_schedule(value, source)
        else:
            schema[key].check(value, f"{source}: noise.{key}")


def _check_schedule(value, source: str) -> None:
    name = f"{source}: noise.schedule"
    if isinstance(value, str):
        if value.lower() not in _SCHEDULE_KEYS:
            raise ValueError(f"{name} must be one of {', '.join(_SCHEDULE_KEYS)}; got {value!r}")
        return
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a schedule name or a table {{kind = ..., ...}}; got {_show(value)}")
    kind = value.get("kind", "constant")
    if not isinstance(kind, str) or kind.lower() not in _SCHEDULE_KEYS:
        raise ValueError(f"{name}.kind must be one of {', '.join(_SCHEDULE_KEYS)}; got {_show(kind)}")
    keys = _SCHEDULE_KEYS[kind.lower()]
    for key, v in value.items():
        if key == "kind":
            continue
        if key not in keys:
            raise ValueError(f"{source}: unknown key noise.schedule.{key} for schedule {kind!r}; it accepts "
                             f"{', '.join(['kind'] + sorted(keys)) }")
        keys[key].check(v, f"{name}.{key}")


def check_card(card: dict, source: str) -> dict:
    """Check every table of a card dict (see the module docstring); returns the card."""
    if not isinstance(card, dict):
        raise ValueError(f"{source}: a card must be a TOML table; got {type(card).__name__}")
    for key, value in card.items():
        if key in TOP_LEVEL:
            if not isinstance(value, str):
                raise ValueError(f"{source}: {key} must be a string; got {_show(value)}")
            continue
        if key not in CARD_TABLES:
            raise ValueError(f"{source}: unknown table [{key}]; expected one of {', '.join(CARD_TABLES)}")
        if not isinstance(value, dict):
            raise ValueError(f"{source}: field '{key}' must be a table")
    if "model" not in card:
        raise ValueError(f"{source}: missing table [model]")
    if "kind" not in card["model"]:
        raise ValueError(f"{source}: missing field 'model.kind'")
    for table in CARD_TABLES:
        if table in card:
            check_table(table, card[table], source)
    return card


def load_card(path) -> dict:
    """Read and check a model card; the result also records its source under key 'source'."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"card {str(path)!r} is a folder, not a TOML file")
    if not path.is_file():
        raise ValueError(f"card file {str(path)!r} does not exist")
    try:
        with open(path, "rb") as fh:
            card = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a TOML text file (it is not UTF-8 text)") from None
    except OSError as exc:
        raise ValueError(f"card {str(path)!r} is not readable ({exc.strerror or exc})") from None
    card = check_card(card, str(path))
    card["source"] = str(path)
    return card


def default_card() -> dict:
    """The built-in default card (an Ising cylinder at beta_c with flip noise)."""
    text = resources.files("tnddm.cards").joinpath("default.toml").read_text()
    card = check_card(tomllib.loads(text), "built-in default card")
    card["source"] = "built-in:default"
    return card


def parse_override(card: dict, assignment: str) -> dict:
    """Apply 'table.field=value' (value in TOML syntax, bare words taken as strings) to a copy of card.

    Keys of [sample], [mcmc], [train] and [validate] are checked at once; [model] and [noise], whose
    valid keys depend on their kind, are checked with the whole card (resolve_card / check_card).
    """
    if not isinstance(assignment, str) or "=" not in assignment or "." not in assignment.split("=", 1)[0]:
        raise ValueError(f"--set expects table.field=value; got {assignment!r}")
    key, raw = assignment.split("=", 1)
    table, field = (part.strip() for part in key.strip().split(".", 1))
    if table not in CARD_TABLES:
        raise ValueError(f"--set: unknown table {table!r}; expected one of {', '.join(CARD_TABLES)}")
    if not field or "." in field and table != "noise":
        raise ValueError(f"--set expects table.field=value; got {assignment!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if table in CARD_SCHEMA:
        check_key(table, field, value, f"--set {assignment}")
    out = copy.deepcopy(card)
    target = out.setdefault(table, {})
    if not isinstance(target, dict):
        raise ValueError(f"--set {assignment}: [{table}] is not a table")
    if "." in field:  # noise.schedule.kind=linear
        head, tail = field.split(".", 1)
        sub = target.get(head)
        if isinstance(sub, str):
            sub = {"kind": sub}
        if not isinstance(sub, dict):
            sub = {}
        sub = dict(sub)
        sub[tail] = value
        target[head] = sub
    else:
        target[field] = value
    return out
