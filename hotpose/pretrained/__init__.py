"""Packaged pretrained weights (see README.md here): the files, and where to find them."""
from __future__ import annotations

from pathlib import Path

PRETRAINED = {"default": "default.pt"}


def pretrained_path(name: str = "default") -> Path:
    """Path of the packaged pretrained model ``name`` (see hotpose/pretrained/README.md)."""
    from importlib import resources

    if name not in PRETRAINED:
        raise KeyError(f"unknown pretrained model {name!r}; known: {', '.join(sorted(PRETRAINED))}")
    return Path(str(resources.files("hotpose") / "pretrained" / PRETRAINED[name]))
