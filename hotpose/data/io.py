"""Reading npz/JSON files at the boundary: every problem becomes one :class:`DataError` saying what was expected
and what was found."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data file is missing, unreadable or not in the expected layout."""


def load_npz(path: str | Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Open an npz file (pickles allowed) and return ``{key: value}`` for ``keys`` and for those of ``optional``
    that are present; 0-d object arrays (pickled dicts) are unwrapped with ``.item()``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        z = np.load(path, allow_pickle=True)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not an npz archive (found a {type(z).__name__}); expected keys {list(keys)}")
        with z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing key(s) {missing}; the file holds {sorted(z.files)}")
            out = {}
            for k in keys + tuple(k for k in optional if k in z.files):
                v = z[k]
                out[k] = v.item() if v.dtype == object and v.ndim == 0 else v
            return out
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, pickle.UnpicklingError) as e:
        raise DataError(f"{path}: not a readable npz file ({type(e).__name__}: {e})") from None


def need_dict(value, what: str) -> dict:
    """``value`` must be a dict; ``what`` names it in the message."""
    if not isinstance(value, dict):
        raise DataError(f"{what}: expected a dict, found {type(value).__name__}")
    if not value:
        raise DataError(f"{what}: the dict is empty")
    return value


def check_poses(a, what: str, channels: int | tuple[int, ...], joints: int | tuple[int, ...] = 17) -> np.ndarray:
    """Validate a pose array (T, J, C) and return it as float32. ``channels``/``joints``: allowed sizes."""
    channels = (channels,) if isinstance(channels, int) else tuple(channels)
    joints = (joints,) if isinstance(joints, int) else tuple(joints)
    try:
        a = np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{what}: expected a numeric array (T, J, C), found {type(a).__name__}") from None
    want = f"(T, {'|'.join(map(str, joints))}, {'|'.join(map(str, channels))})"
    if a.ndim != 3 or a.shape[1] not in joints or a.shape[2] not in channels:
        raise DataError(f"{what}: expected shape {want}, found {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{what}: the sequence has no frames")
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).any(axis=(1, 2)).sum())
        raise DataError(f"{what}: {bad} frame(s) hold NaN or infinite values")
    return a


def pick(mapping: dict, names, what: str) -> list:
    """Return ``names`` (all keys when None) after checking they are in ``mapping``; ``what`` names the kind."""
    if names is None:
        return sorted(mapping)
    missing = [n for n in names if n not in mapping]
    if missing:
        raise DataError(f"{what} {missing} not found; available: {sorted(mapping)}")
    return list(names)
