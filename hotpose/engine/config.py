"""Training / evaluation configuration: dataclasses with the defaults, YAML in, ``key=value`` overrides.

A config file has the sections ``model``, ``data``, ``train``, ``eval`` and the key ``out``; any other key, at any
level, is an error that names the valid keys. ``model.args`` is passed to :func:`hotpose.build_model` as keyword
overrides (the registry checks them).

A file may start from another: ``base: other.yaml`` (a path relative to the file) reads that config first, and each
``section.key`` (and ``out``) the file gives then replaces the base's value whole, as a ``section.key=value``
override does; ``model.args: {...}`` is one value, not merged key by key. Bases may chain. A run's stored config
(``config.yaml``) is the resolved one, without ``base``.
"""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from hotpose.data.config import DataConfig


class ConfigError(ValueError):
    """A configuration file or override is malformed or names an unknown key."""


@dataclass
class ModelConfig:
    """name: a registered model (``hotpose models``); args: build_model keyword overrides (sizes, hourglass)."""

    name: str = "hot_mixste_243"
    args: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    """The recipe. Defaults are HoT w. MixSTE's (SPEC section 4).

    stride:          training window stride (None: the model's frame count, non-overlapping clips; 1: one window
                     per frame).
    flip:            "double" (every window plain and mirrored, official), "random" or "none".
    optimizer:       "adamw", "adam" (``amsgrad`` for MHFormer's recipe) or "sgd" (with ``momentum``).
    lr schedule:     after epoch e (1-based) lr *= lr_decay_large if e % lr_decay_epoch == 0 else lr_decay.
    loss:            "mixste" (WMPJPE + 0.5 TC + 2 MPJVE), "mpjpe" or "motionbert" (MPJPE + 0.5 N-MPJPE + 20 vel).
    bone_weight:     weight of an extra bone-length error term (metres; 0: the paper's recipes, off).
    aux_weight:      weight of the same loss on a model's auxiliary output (``PoseOutput.aux``: Strided / P-STMO's
                     full-sequence prediction from the vanilla encoder; their recipes add it at weight 1); models
                     without one are unaffected.
    amp:             mixed precision on GPU (bfloat16 where supported, else float16 with loss scaling); ignored on CPU.
    select_on:       "val" (best.pt = best validation P1), "test" (the official practice, labelled as such) or
                     "last" (no selection).
    steps_per_epoch: cap on optimiser steps per epoch (quick runs); None: the whole epoch.
    init:            start from these weights (fine-tuning): "pretrained:NAME", or the path of a ``hotpose train``
                     checkpoint or packaged model file of the same architecture; None: random initialisation.
    warmup_steps:    the lr rises linearly from lr / warmup_steps to the schedule's lr over the first optimiser
                     steps (0: none, the paper's recipes). Wide or deep models trained at a high lr can collapse
                     to a constant pose in their first steps without it.
    """

    epochs: int = 160
    batch_size: int = 4
    stride: int | None = None
    flip: str = "double"
    optimizer: str = "adamw"
    lr: float = 4e-5
    weight_decay: float = 0.1
    amsgrad: bool = False
    momentum: float = 0.9
    lr_decay: float = 0.99
    lr_decay_large: float = 0.5
    lr_decay_epoch: int = 200
    loss: str = "mixste"
    bone_weight: float = 0.0
    aux_weight: float = 1.0
    seed: int = 1126
    amp: bool = True
    grad_clip: float | None = None
    select_on: str = "val"
    steps_per_epoch: int | None = None
    val_every: int = 1
    init: str | None = None
    warmup_steps: int = 0

    def __post_init__(self):
        checks = [(self.epochs >= 1, "train.epochs must be >= 1"),
                  (self.batch_size >= 1, "train.batch_size must be >= 1"),
                  (self.optimizer in ("adamw", "adam", "sgd"), "train.optimizer must be 'adamw', 'adam' or 'sgd'"),
                  (self.select_on in ("val", "test", "last"), "train.select_on must be 'val', 'test' or 'last'"),
                  (self.flip in ("double", "random", "none"), "train.flip must be 'double', 'random' or 'none'"),
                  (self.stride is None or self.stride >= 1, "train.stride must be >= 1"),
                  (self.val_every >= 1, "train.val_every must be >= 1"),
                  (self.bone_weight >= 0, "train.bone_weight must be >= 0"),
                  (self.aux_weight >= 0, "train.aux_weight must be >= 0"),
                  (self.warmup_steps >= 0, "train.warmup_steps must be >= 0")]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)


@dataclass
class EvalConfig:
    """flip: test-time flip averaging; readout: "auto" (the model's own), "seq2seq" or "seq2frame";
    protocol: the headline of the table, "official" (padded frames scored) or "strict" (real frames only)."""

    flip: bool = True
    batch_size: int = 64
    readout: str = "auto"
    protocol: str = "official"

    def __post_init__(self):
        if self.readout not in ("auto", "seq2seq", "seq2frame"):
            raise ConfigError("eval.readout must be 'auto', 'seq2seq' or 'seq2frame'")
        if self.protocol not in ("official", "strict"):
            raise ConfigError("eval.protocol must be 'official' or 'strict'")


@dataclass
class Config:
    """A whole run: model, data, recipe, evaluation and the output folder."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    out: str = "runs/run"

    def to_dict(self) -> dict:
        """The config as nested dicts; a setting of :data:`ADDED_LATER` is left out while at its default."""
        d = asdict(self)
        for section, keys in ADDED_LATER.items():
            default = SECTIONS[section]()
            for key in keys:
                if d[section][key] == getattr(default, key):
                    del d[section][key]
        return d


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "eval": EvalConfig}
# Settings added after runs, checkpoints and benchmark records were written without them. At their default they
# change nothing, and :meth:`Config.to_dict` leaves them out, so a config stored before they existed still equals
# today's (resuming a run, reusing a finished one); reading a stored config fills in the default.
ADDED_LATER = {"data": ("frame_step", "virtual_cameras", "pose_aug", "test_views_per_action", "test_bone_scale",
                         "test_placement"),
               "train": ("aux_weight", "warmup_steps")}


def _coerce(value, hint, key: str):
    """Check ``value`` against the field type ``hint``; YAML's "1e-3" strings become floats."""
    args = typing.get_args(hint) or (hint,)
    if value is None:
        if type(None) in args:
            return None
        raise ConfigError(f"{key}: a value is required")
    for t in args:
        if t is bool and isinstance(value, bool):
            return value
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is float and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if t is str and isinstance(value, str):
            return value
        if t in (list, dict) and isinstance(value, t):
            return value
        if t is list and isinstance(value, (str, int)):  # a single subject / action
            return [value]
    names = " or ".join(getattr(t, "__name__", str(t)) for t in args)
    raise ConfigError(f"{key}: expected {names}, got {value!r}")


def _section(cls, values, name: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{name}: expected a mapping of settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in fields(cls)]
    unknown = [k for k in values if k not in valid]
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{name}.{k}' for k in unknown)}; valid keys in {name}: "
                          f"{', '.join(valid)}")
    kwargs = {k: _coerce(v, hints[k], f"{name}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(str(e)) from None


def config_from_dict(d: dict) -> Config:
    """Build a :class:`Config` from nested dicts, refusing unknown keys."""
    if not isinstance(d, dict):
        raise ConfigError(f"a config must be a mapping with sections {sorted(SECTIONS)} and 'out', got {d!r}")
    unknown = [k for k in d if k not in SECTIONS and k != "out"]
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; valid: {sorted(SECTIONS) + ['out']}")
    kw = {k: _section(cls, d.get(k) or {}, k) for k, cls in SECTIONS.items()}
    return Config(**kw, out=str(d.get("out", Config.out)))


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (values parsed as YAML, e.g. ``data.train_subjects=[S1,S5]``) to a
    nested dict, in place; returns it."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p} is not a section")
        node[parts[-1]] = value
    return d


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A config file as nested dicts, its ``base`` (if any) resolved: the base's sections with this file's
    ``section.key`` values put over them."""
    if not path.is_file():
        via = f" (the base of {chain[-1]})" if chain else ""
        raise ConfigError(f"{path}: config file not found{via}")
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(d, dict) or "base" not in d:
        return d
    d = dict(d)
    base = d.pop("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base: expected the path of another config file, got {base!r}")
    base_path = (path.parent / base).resolve()
    if base_path in chain + (path.resolve(),):
        raise ConfigError(f"{path}: base: {base} leads back to itself ({' -> '.join(map(str, chain + (path,)))})")
    merged = _read_yaml(base_path, chain + (path.resolve(),))
    for key, value in d.items():
        if key in SECTIONS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read a YAML config (None: the defaults), resolving its ``base`` chain, and apply ``key=value`` overrides."""
    d = {} if path is None else _read_yaml(Path(path))
    return config_from_dict(apply_overrides(d, list(overrides)))


def dump_config(cfg: Config) -> str:
    """The config as YAML text (what :func:`load_config` reads back)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def config_diff(old: dict, new: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object, object]]:
    """Where two config dicts (``Config.to_dict()`` form) differ: ``(key path, old value, new value)`` for each leaf,
    in key order; ``model.args`` is one value (the keyword arguments as a whole), as a config file gives it."""
    out = []
    for k in sorted(set(old) | set(new)):
        key = prefix + (k,)
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and key != ("model", "args"):
            out += config_diff(a, b, key)
        elif a != b:
            out.append((key, a, b))
    return out


def as_overrides(old: dict, new: dict) -> list[str]:
    """The ``section.key=value`` overrides that turn config ``old`` into ``new`` (what :func:`apply_overrides`
    reads back), e.g. ``["train.epochs=12"]``."""
    def text(v) -> str:
        return yaml.safe_dump(v, default_flow_style=True, width=1 << 16).strip().removesuffix("\n...").strip()

    return [f"{'.'.join(key)}={text(b)}" for key, _, b in config_diff(old, new)]
