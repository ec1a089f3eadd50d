"""Sample files and atomic writes (write to a temporary file in the same folder, then rename)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write(path, write) -> None:
    """Call write(tmp_path) and move the result onto path atomically; the old file survives any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_samples(path, samples, log_prob, metadata: dict, extra: dict | None = None) -> None:
    """Write samples (n, N), their log-probabilities and metadata (JSON) to .npz, or HDF5 for .h5/.hdf5."""
    path = Path(path)
    arrays = {"samples": np.asarray(samples), "log_prob": np.asarray(log_prob)}
    arrays.update({k: np.asarray(v) for k, v in (extra or {}).items()})
    meta = json.dumps(metadata, default=str)
    if path.suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError:
            raise ValueError("HDF5 output needs h5py: pip install 'tnddm[hdf5]'") from None

        def write(tmp):
            with h5py.File(tmp, "w") as fh:
                for k, v in arrays.items():
                    fh.create_dataset(k, data=v)
                fh.attrs["metadata"] = meta
    else:
        if path.suffix != ".npz":
            raise ValueError(f"output path must end in .npz, .h5 or .hdf5; got {str(path)!r}")

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, metadata=np.array(meta), **arrays)

    atomic_write(path, write)


def load_samples(path) -> dict:
    """Read a file written by save_samples: dict of arrays plus 'metadata' (a dict)."""
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as fh:
            out = {k: fh[k][()] for k in fh.keys()}
            out["metadata"] = json.loads(fh.attrs["metadata"])
        return out
    with np.load(path) as fh:
        out = {k: fh[k] for k in fh.files}
    out["metadata"] = json.loads(str(out["metadata"]))
    return out
