"""Checkpoints: named arrays plus JSON metadata in one .npz, written atomically, checked by SHA-256.

File layout (an uncompressed numpy .npz archive):

    <name>            every array of the state (cores, optimiser moments, walkers, ...)
    __metadata__      JSON text: the caller's metadata plus 'tnddm_version' and 'format'
    __sha256__        hex SHA-256 of the metadata text and of every array (name, dtype, shape, bytes,
                      in sorted name order)

The write goes to a temporary file in the same folder that replaces the old one only when
complete (tnddm.io.files.atomic_write), so an interrupted write leaves the previous checkpoint.
Reading a truncated, corrupted or foreign file raises ValueError naming the file and the problem.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_write, check_input_file, check_npz_memory

FORMAT = "tnddm-checkpoint-1"
_RESERVED = ("__metadata__", "__sha256__")


def _digest(meta_text: str, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(meta_text.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(path, arrays: dict, metadata: dict | None = None) -> None:
    """Write arrays (name -> array) and metadata (JSON-able dict) to path (.npz) atomically."""
    from .. import __version__

    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"checkpoint path must end in .npz; got {str(path)!r}")
    arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        if k in _RESERVED:
            raise ValueError(f"arrays may not use the reserved name {k!r}")
        if a.dtype == object:
            raise ValueError(f"array {k!r} has dtype object; checkpoints hold numeric arrays only")
    meta = dict(metadata or {})
    meta.setdefault("tnddm_version", __version__)
    meta["format"] = FORMAT
    try:
        meta_text = json.dumps(meta, sort_keys=True, allow_nan=True)
    except TypeError as exc:
        raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None
    digest = _digest(meta_text, arrays)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, __metadata__=np.array(meta_text), __sha256__=np.array(digest), **arrays)

    atomic_write(path, write)


def load_checkpoint(path) -> tuple[dict, dict]:
    """Read (arrays, metadata) written by save_checkpoint, verifying the SHA-256 digest."""
    path = check_input_file(path, "checkpoint")
    members = check_npz_memory(path, "checkpoint")  # sizes from the headers: refuse a zip bomb before decompressing
    if "__metadata__" not in members or "__sha256__" not in members:
        raise ValueError(f"checkpoint {str(path)!r} is not a tnddm checkpoint (no metadata or checksum)")
    try:
        with np.load(path, allow_pickle=False) as fh:
            names = list(fh.files)
            if "__metadata__" not in names or "__sha256__" not in names:
                raise ValueError(f"checkpoint {str(path)!r} is not a tnddm checkpoint (no metadata or checksum)")
            data = {k: fh[k] for k in names}
    except ValueError as exc:
        if "tnddm checkpoint" in str(exc):
            raise
        raise ValueError(f"checkpoint {str(path)!r} is unreadable (corrupted or truncated): {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"checkpoint {str(path)!r} is unreadable (corrupted or truncated): {exc}") from None
    except Exception as exc:  # zlib.error, struct.error and the like from a damaged archive
        raise ValueError(f"checkpoint {str(path)!r} is unreadable (corrupted or truncated): {exc}") from None
    meta_text = str(data.pop("__metadata__"))
    stored = str(data.pop("__sha256__"))
    if _digest(meta_text, data) != stored:
        raise ValueError(f"checkpoint {str(path)!r} failed its SHA-256 integrity check (the file is corrupted)")
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError:
        raise ValueError(f"checkpoint {str(path)!r} has metadata that is not JSON") from None
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint {str(path)!r} has metadata that is not a JSON object (got {type(meta).__name__})")
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} has format {meta.get('format')!r}; expected {FORMAT!r}")
    return data, meta


def save_model(path, model, metadata: dict | None = None) -> None:
    """Save a probability MPS with metadata: a BornMPS as its psi cores (form "born"), any other as dense cores."""
    from ..mps import BornMPS

    born = isinstance(model, BornMPS)
    cores = model.cores if born else (model.dense_cores() if hasattr(model, "dense_cores") else list(model))
    arrays = {f"core_{i:04d}": np.asarray(A, dtype=float) for i, A in enumerate(cores)}
    meta = dict(metadata or {})
    meta.setdefault("kind", "model")
    meta["form"] = "born" if born else "1-norm"
    meta["n_sites"] = len(cores)
    if getattr(model, "log_scale", 0.0):  # cores stored rescaled by a power of two (MPSBase.log_scale)
        meta["log_scale"] = float(model.log_scale)
    save_checkpoint(path, arrays, meta)


def load_model(path):
    """(model, metadata) from any checkpoint holding cores core_0000 ... (a model or a training state):
    a BornMPS when the metadata says form = "born" (a training loop's state says it of its trainer), else a ProbMPS."""
    from ..mps import BornMPS, ProbMPS

    arrays, meta = load_checkpoint(path)
    n = meta.get("n_sites")
    if n is None:
        n = sum(1 for k in arrays if k.startswith("core_"))
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"checkpoint {str(path)!r} has metadata n_sites = {n!r}; expected a positive integer")
    try:
        cores = [arrays[f"core_{i:04d}"] for i in range(int(n))]
    except KeyError as exc:
        raise ValueError(f"checkpoint {str(path)!r} lacks core array {exc.args[0]!r}") from None
    if not cores:
        raise ValueError(f"checkpoint {str(path)!r} holds no MPS cores")
    trainer = meta.get("trainer") if isinstance(meta.get("trainer"), dict) else {}
    form = meta.get("form", trainer.get("form"))  # a TrainingLoop state keeps the form in its trainer's metadata
    model = BornMPS(cores) if form == "born" else ProbMPS(cores)
    log_scale = meta.get("log_scale", 0.0)
    if isinstance(log_scale, bool) or not isinstance(log_scale, (int, float)) or not np.isfinite(log_scale):
        raise ValueError(f"checkpoint {str(path)!r} has metadata log_scale = {log_scale!r}; expected a finite number")
    model.log_scale += float(log_scale)
    return model, meta
