"""Checks of saved training states before they are resumed: kind, size and target model must match.

check_state raises ValueError describing the first mismatch, so that a wrong --resume stops before
anything is trained or written.
"""
from __future__ import annotations

import math


def same_spec(a: dict, b: dict, rel: float = 1e-12) -> bool:
    """Two model specs ({"kind": ..., parameters}) describe the same model (numbers compared to rel)."""
    if not isinstance(a, dict) or not isinstance(b, dict) or set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool) and not isinstance(y, bool):
            if not math.isclose(x, y, rel_tol=rel, abs_tol=0.0 if x or y else 1e-300):
                return False
        elif x != y:
            return False
    return True


def describe_spec(spec) -> str:
    if not isinstance(spec, dict):
        return repr(spec)
    rest = ", ".join(f"{k}={v!r}" for k, v in spec.items() if k != "kind")
    return f"{spec.get('kind')}({rest})"


def check_state(meta, kinds, n_sites: int, d: int, model_spec: dict | None = None, source: str = "checkpoint") -> dict:
    """Check state metadata against what is being trained; returns meta.

    kinds: the accepted values of meta["kind"]; n_sites, d: the size of the model being trained;
    model_spec: the target model's to_spec() (compared with meta["model"] or meta["target"] when recorded).
    """
    if not isinstance(meta, dict):
        raise ValueError(f"{source} has metadata of type {type(meta).__name__}; expected a JSON object")
    kind = meta.get("kind")
    if kind not in kinds:
        raise ValueError(f"{source} holds a {kind!r} state; expected {' or '.join(repr(k) for k in kinds)}")
    n = meta.get("n_sites")
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"{source} has n_sites = {n!r} in its metadata; expected an integer")
    if n != n_sites:
        raise ValueError(f"{source} holds a state of {n} sites; the model being trained has {n_sites} sites "
                         f"(a checkpoint of another card?)")
    md = meta.get("d", (meta.get("trainer") or {}).get("d") if isinstance(meta.get("trainer"), dict) else None)
    if md is not None and md != d:
        raise ValueError(f"{source} holds a state with d = {md} states per site; the model has d = {d}")
    if model_spec is not None:
        for key in ("model", "target"):
            saved = meta.get(key)
            if saved is not None and not same_spec(saved, model_spec):
                raise ValueError(f"{source} was trained for {describe_spec(saved)}; this run's model is "
                                 f"{describe_spec(model_spec)}")
    return meta
