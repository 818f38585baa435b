"""Output files that are never half-written and never replace what they should not.

Every file hotpose writes goes through :func:`atomic_write_bytes`, :func:`atomic_savez` or
:func:`atomic_output`: the content is written to a temporary name in the target's folder, flushed to disk and
renamed over the target, so a reader (or a run killed mid-write, or a full disk) sees the old file or the new one,
never a mix. :func:`check_output` is the command line's guard before any work starts: the output must not be one of
the inputs, must not exist unless the user said ``--overwrite``, and its folder must be writable. :func:`read_torch_file` reads a .pt file and, when torch
cannot, says what the file is instead.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some filesystems cannot fsync a directory
        pass


def temp_name(path: str | Path) -> Path:
    """The temporary name a writer of ``path`` uses (hidden, in the same folder, unique per process)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp.{os.getpid()}")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it is fsynced and renamed to ``path``, on any error removed.

    The writer must write exactly the yielded path (e.g. ``np.savez(f, ...)`` with an open file object, since numpy
    appends ``.npz`` to names that lack it)."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_savez(path: str | Path, arrays: dict, compressed: bool = False) -> Path:
    """``np.savez(path, **arrays)`` (or ``np.savez_compressed``) to exactly ``path``, whatever its suffix (numpy
    alone appends ``.npz`` to a name without it), atomically."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            save(f, **arrays)
    return Path(path)


def clean_temp(folder: str | Path) -> None:
    """Remove temporary files left by writers that were killed mid-write."""
    for p in Path(folder).glob(".*.tmp.*"):
        p.unlink(missing_ok=True)


def check_output(out: str | Path, inputs: tuple[str | Path, ...] = (), overwrite: bool = False,
                 flag: str = "--out") -> Path:
    """Check, before any work, that ``out`` can be written: not one of ``inputs``, not an existing file unless
    ``overwrite``, not a folder, and in an existing, writable folder. Returns ``out`` as a Path; raises ValueError
    (a user error) or FileExistsError with a message that names the flag to change."""
    out = Path(out)
    for src in inputs:
        if Path(src).exists() and out.exists() and os.path.samefile(src, out) or \
                Path(os.path.abspath(src)) == Path(os.path.abspath(out)):
            raise ValueError(f"{flag} {out} is the input file; choose another output name")
    if out.is_dir():
        raise ValueError(f"{flag} {out} is a folder; give a file name")
    if out.exists() and not out.is_file():
        raise ValueError(f"{flag} {out} is not a regular file (a device or pipe); give a file name")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{flag} {out} exists; pass --overwrite to replace it, or choose another name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{flag} {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {out}: folder {folder} is not writable")
    return out


def _what_file(path: Path) -> str:
    """What a file that torch cannot load looks like, from its first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return "a file that cannot be read"
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive that is not a complete PyTorch file (damaged, truncated, or another zip)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle that is not a checkpoint of tensors torch can load safely"
    if head.startswith((b"\x89HDF", b"\x93NUMPY")):
        return "an HDF5 or numpy file, not a PyTorch checkpoint"
    try:
        head.decode("utf-8")
        return "a text file, not a PyTorch checkpoint"
    except UnicodeDecodeError:
        return "not a PyTorch file (unrecognised binary content)"


def _numpy_globals() -> list:
    """The numpy constructors that training scripts leave in checkpoints beside the weights (arrays, dtypes, a
    ``np.random.RandomState``, as VideoPose3D-style scripts save): data only, so loading them is as safe as loading
    tensors. Where this numpy keeps them varies by version; those not found are left out."""
    import importlib

    names = [("numpy", "ndarray"), ("numpy", "dtype"), ("numpy._core.multiarray", "_reconstruct"),
             ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
             ("numpy.core.multiarray", "scalar"), ("numpy.random._pickle", "__randomstate_ctor"),
             ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
             ("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"),
             ("numpy.random.mtrand", "RandomState")]
    found = []
    for module, name in names:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    found += sorted({type(np.dtype(t)) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                                 np.int64, np.uint64, np.float16, np.float32, np.float64)},
                    key=lambda t: t.__name__)
    return found


def read_torch_file(path: str | Path, what: str = "checkpoint", map_location="cpu"):
    """``torch.load(path, weights_only=True)`` with errors a user can act on: FileNotFoundError when there is no
    such file, ValueError naming what the file is (a folder, an empty, text or damaged file) and what was expected
    instead of torch's own message."""
    path = Path(path)
    article = "an" if what[:1] in "aeiou" else "a"
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not {article} {what} file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch raises many types (KeyError, IndexError, EOFError, UnpicklingError...) for such files
        raise ValueError(f"{path} is {_what_file(path)}; expected {article} {what} (a PyTorch .pt/.pth file)") from None
