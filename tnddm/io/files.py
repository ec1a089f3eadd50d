"""Sample files, output-path checks and atomic writes (write to a temporary file in the same folder, then rename).

Temporary files are named `.<name>.<host>-<pid>.<random>.tnddm-tmp`. A write removes the temporary
file on any failure, on Ctrl-C and (in the main thread) on SIGTERM; a write killed outright (SIGKILL,
power loss) leaves it behind, and the next write to the same folder removes it once the process
that made it (same host, that pid) is gone.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from .._memory import check_allocation

TMP_SUFFIX = ".tnddm-tmp"
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_TMP_RE = re.compile(r"^\..*\.(?P<host>[0-9a-f]{6})-(?P<pid>[0-9]+)\.[A-Za-z0-9_]+" + re.escape(TMP_SUFFIX) + "$")
SAMPLE_SUFFIXES = (".npz", ".h5", ".hdf5")


# ---- output paths ---------------------------------------------------------------------------------
def check_output_path(path, suffixes=None, inputs=(), what: str = "--out") -> Path:
    """Check an output path before any long work: raise ValueError naming `what` unless

    - the name ends in one of `suffixes` (e.g. (".npz",); None: any),
    - it is not a folder and not one of `inputs` (paths read by the run: a card, data, a checkpoint
      being resumed is *not* an input here),
    - its folder (or the nearest existing parent, the folder being created on write) is a folder in
      which this process can create the file (probed with a real temporary file, so read-only
      filesystems and over-long names are caught).
    Returns the path as a Path.
    """
    if path is None or str(path).strip() == "":
        raise ValueError(f"{what} must be a file path; got {path!r}")
    path = Path(os.fspath(path)).expanduser()
    if suffixes:
        suffixes = tuple(s.lower() for s in suffixes)
        if path.suffix.lower() not in suffixes:
            raise ValueError(f"{what} must end in {' or '.join(suffixes)}; got {str(path)!r}")
    try:
        name_max = os.pathconf(_existing_parent(path.parent), "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise ValueError(f"{what} file name is {len(os.fsencode(path.name))} bytes long; the folder allows at most {name_max}")
    try:
        is_dir = path.is_dir()
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} is not a usable path ({exc.strerror or exc})") from None
    if is_dir:
        raise ValueError(f"{what} {str(path)!r} is a folder; expected a file name")
    for item in inputs:
        if item is None:
            continue
        item = Path(os.fspath(item)).expanduser()
        same = False
        try:
            same = path.exists() and item.exists() and os.path.samefile(path, item)
        except OSError:
            pass
        if same or os.path.abspath(path) == os.path.abspath(item):
            raise ValueError(f"{what} {str(path)!r} is an input of this run ({str(item)!r}); refusing to overwrite it")
    parent = _existing_parent(path.parent)
    if not parent.is_dir():
        raise ValueError(f"{what} {str(path)!r}: {str(parent)!r} is not a folder")
    probe_dir = path.parent if path.parent.is_dir() else parent
    try:
        fd, probe = tempfile.mkstemp(dir=probe_dir, prefix=f".{path.name[:64]}.", suffix=".probe")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} is not writable: cannot create files in {str(probe_dir)!r} "
                         f"({exc.strerror or exc})") from None
    if path.exists() and not os.access(path, os.W_OK) and os.geteuid() != 0:
        raise ValueError(f"{what} {str(path)!r} exists and is read-only")
    return path


def _existing_parent(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


# ---- atomic writes --------------------------------------------------------------------------------
def clean_stale_temporaries(folder) -> list[str]:
    """Remove temporary files of killed tnddm writes in folder (made on this host by a process that is gone)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if not m or m.group("host") != _HOST or not entry.is_file(follow_symlinks=False):
            continue
        if _alive(int(m.group("pid"))):
            continue
        with contextlib.suppress(OSError):
            os.remove(entry.path)
            removed.append(entry.name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


class _Terminated(BaseException):
    """SIGTERM during an atomic write (re-raised as SystemExit after the temporary file is removed)."""


@contextlib.contextmanager
def _sigterm_cleans_up():
    """In the main thread, turn SIGTERM into an exception for the duration of the block (so `finally` runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover
        yield
        return
    if previous not in (signal.SIG_DFL, None):  # someone else handles SIGTERM (the CLI, a framework): leave it
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def atomic_write(path, write) -> None:
    """Call write(tmp_path) and move the result onto path atomically; the old file survives any failure.

    Stale temporary files of killed earlier writes in the same folder are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path.parent)
    with _sigterm_cleans_up():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.{_HOST}-{os.getpid()}.",
                                   suffix=TMP_SUFFIX)
        try:
            os.close(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
            write(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


# ---- npz archives: sizes from the headers before reading --------------------------------------------
def npz_members(path, what: str = "file") -> dict:
    """{array name: (shape, dtype, declared bytes)} of an .npz read from the zip and .npy headers only.

    Raises ValueError naming the file when it is not an .npz archive or a member's header is
    inconsistent (an array larger than its member). Nothing is decompressed beyond the headers.
    """
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10000)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10000)
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize if dtype.itemsize else 0
                if dtype.hasobject:
                    raise ValueError(f"{what} {str(path)!r}: array {info.filename[:-4]!r} holds Python objects")
                if nbytes > info.file_size:
                    raise ValueError(f"{what} {str(path)!r} is corrupted: array {info.filename[:-4]!r} declares "
                                     f"{nbytes} bytes but its member holds {info.file_size}")
                out[info.filename[:-4]] = (tuple(shape), dtype, max(nbytes, info.file_size))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError) as exc:
        raise ValueError(f"{what} {str(path)!r} is unreadable (corrupted or truncated, or not a .npz archive): {exc}") from None
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{what} {str(path)!r} is unreadable (corrupted or truncated, or not a .npz archive): {exc}") from None
    return out


def check_npz_memory(path, what: str = "file", names=None) -> dict:
    """npz_members, then refuse (MemoryLimitError) if the arrays (or just `names`) would not fit in memory."""
    members = npz_members(path, what)
    total = sum(v[2] for k, v in members.items() if names is None or k in names)
    check_allocation(total, f"reading {what} {str(path)!r} ({len(members)} arrays, sizes from their headers)")
    return members


def check_input_file(path, what: str) -> Path:
    """An existing regular file, else ValueError naming `what` and saying what is wrong."""
    if path is None or str(path) == "":
        raise ValueError(f"{what} must be a file path; got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a folder, not a file")
    if not path.exists():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} {str(path)!r} is not readable")
    return path


# ---- sample files -------------------------------------------------------------------------------------
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


def load_samples(path, what: str = "sample file") -> dict:
    """Read a file written by save_samples: dict of arrays plus 'metadata' (a dict).

    The array sizes are read from the headers first and refused (MemoryLimitError) when they would
    not fit in memory; a file that is missing, a folder, not a sample file (e.g. a checkpoint) or
    damaged raises ValueError naming it.
    """
    path = check_input_file(path, what)
    if path.suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError:
            raise ValueError("HDF5 input needs h5py: pip install 'tnddm[hdf5]'") from None
        try:
            with h5py.File(path, "r") as fh:
                if "samples" not in fh:
                    raise ValueError(f"{what} {str(path)!r} has no dataset 'samples'")
                check_allocation(sum(fh[k].size * fh[k].dtype.itemsize for k in fh.keys() if hasattr(fh[k], "dtype")),
                                 f"reading {what} {str(path)!r}")
                out = {k: fh[k][()] for k in fh.keys()}
                out["metadata"] = _parse_metadata(fh.attrs.get("metadata", "{}"), path, what)
        except OSError as exc:
            raise ValueError(f"{what} {str(path)!r} is not a readable HDF5 file ({exc})") from None
        return out
    if path.suffix != ".npz":
        raise ValueError(f"{what} must be a .npz (or .h5 / .hdf5) file; got {str(path)!r}")
    members = check_npz_memory(path, what)
    if "samples" not in members:
        hint = " (it is a tnddm checkpoint, not a sample file)" if "__metadata__" in members else ""
        raise ValueError(f"{what} {str(path)!r} has no array 'samples'{hint}")
    try:
        with np.load(path, allow_pickle=False) as fh:
            out = {k: fh[k] for k in fh.files}
    except Exception as exc:  # zlib.error, BadZipFile, EOFError from a damaged archive
        raise ValueError(f"{what} {str(path)!r} is unreadable (corrupted or truncated): {exc}") from None
    out["metadata"] = _parse_metadata(out["metadata"], path, what) if "metadata" in out else {}
    return out


def _parse_metadata(raw, path, what) -> dict:
    try:
        meta = json.loads(str(raw if not isinstance(raw, np.ndarray) else raw[()]))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise ValueError(f"{what} {str(path)!r} has metadata that is not JSON") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{what} {str(path)!r} has metadata that is not a JSON object (got {type(meta).__name__})")
    return meta
