"""The model registry: a plain dict from name to factory, filled by :func:`register`.

The named models live in :mod:`hotpose.zoo`, which ``import hotpose`` loads (this module imports nothing above it),
so the registry is full whenever any part of hotpose is imported."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields

from torch import nn

from hotpose.hourglass.config import HourglassConfig

MODELS: dict[str, Callable[..., nn.Module]] = {}
BACKBONES: dict[str, tuple[type, type]] = {}  # name -> (config dataclass, backbone class)
TINY: dict[str, dict] = {}  # backbone name -> backbone overrides that make a test-sized model


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model factory under its function name."""
    if fn.__name__ in MODELS:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    MODELS[fn.__name__] = fn
    return fn


def register_backbone(name: str, config_cls: type, backbone_cls: type, tiny: dict | None = None) -> None:
    """Make backbone ``name`` available to :func:`compose`. ``backbone_cls(cfg, hourglass)`` builds it; ``tiny``
    holds overrides for a test-sized model."""
    BACKBONES[name] = (config_cls, backbone_cls)
    TINY[name] = dict(tiny or {})


def tiny_overrides(name: str) -> dict:
    """Overrides that shrink registered model ``name`` to test size: the backbone's tiny sizes, with the kept-frame
    count scaled to the shorter window and the pruning point moved inside the shallower stack."""
    model = build_model(name)
    backbone = model.config["backbone"]
    kw = dict(TINY[backbone])
    hg = model.config["hourglass"]
    if hg is None:
        return kw
    frames = kw.get("frames", model.backbone.frames)
    first = model.backbone.first_prunable_stage
    if hg.get("schedule"):  # each step scaled, counts still falling, stages still rising
        stages = build_model(name, **kw, schedule=None, keep=1, prune_at=first).backbone.num_stages
        steps = hg["schedule"][: stages - first]
        kw["schedule"] = [[first + k, max(len(steps) - k + 1, round(n * frames / model.backbone.frames))]
                          for k, (_, n) in enumerate(steps)]
        for k in range(1, len(steps)):
            kw["schedule"][k][1] = min(kw["schedule"][k][1], kw["schedule"][k - 1][1] - 1)
    else:
        kw["keep"] = max(2, round(hg["keep"] * frames / model.backbone.frames))
        stages = build_model(name, **kw, prune_at=first).backbone.num_stages
        kw["prune_at"] = max(first, min(hg["prune_at"], stages - 1))
    return kw


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`, sorted."""
    return sorted(MODELS)


def build_model(name: str, **overrides) -> nn.Module:
    """Build the registered model ``name``; keyword overrides change backbone or hourglass settings.

    Example: ``build_model("hot_mixste_243", dim=64, frames=27, keep=9)``.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name](**overrides)


def compose(name: str, backbone: str, backbone_args: dict, hourglass: HourglassConfig | dict | None,
            overrides: dict) -> nn.Module:
    """Build ``HourglassModel(backbone, hourglass)`` from defaults plus user overrides (the body of every factory).

    Each override goes to the backbone config or the hourglass config, whichever has that field.
    """
    from hotpose.hourglass.model import HourglassModel

    cfg_cls, bb_cls = BACKBONES[backbone]
    bb_fields = {f.name for f in fields(cfg_cls)}
    hg_fields = {f.name for f in fields(HourglassConfig)}
    bb_args = dict(backbone_args)
    hg_args = asdict(hourglass) if isinstance(hourglass, HourglassConfig) else (dict(hourglass) if hourglass else None)
    for key, value in overrides.items():
        if key in bb_fields:
            bb_args[key] = value
        elif key in hg_fields and hg_args is not None:
            hg_args[key] = value
        else:
            valid = sorted(bb_fields | (hg_fields if hg_args is not None else set()))
            raise TypeError(f"{name}: unknown setting {key!r}; valid settings: {', '.join(valid)}")
    if hg_args is not None and hg_args.get("schedule"):
        fixed = {k: overrides[k] for k in ("keep", "prune_at") if k in overrides}
        derived = {"keep": hg_args["schedule"][-1][1], "prune_at": hg_args["schedule"][0][0]}
        clash = {k: v for k, v in fixed.items() if v != derived[k]}
        if clash:
            raise ValueError(f"{name}: {', '.join(f'{k}={v}' for k, v in clash.items())} contradicts the schedule "
                             f"{hg_args['schedule']} (it sets keep to its last count and prune_at to its first "
                             f"stage); change the schedule, or pass schedule=None for one step")
    bb_cfg = cfg_cls(**bb_args)
    hg_cfg = HourglassConfig(**hg_args) if hg_args is not None else None
    config = {"name": name, "backbone": backbone, "backbone_config": asdict(bb_cfg),
              "hourglass": hourglass_dict(hg_cfg) if hg_cfg else None}
    return HourglassModel(bb_cls(bb_cfg, hg_cfg), hg_cfg, config=config)


# Hourglass settings added after models were stored without them, with the value that changes nothing: a model's
# config leaves them out at that value, so the configs of one-step models (checkpoints, records, golden files) are
# what they were, and a stored config without them rebuilds with it.
HOURGLASS_ADDED_LATER = {"schedule": None, "stepwise_recovery": False}


def hourglass_dict(hg: HourglassConfig) -> dict:
    """``asdict(hg)`` without the :data:`HOURGLASS_ADDED_LATER` settings at their do-nothing value."""
    d = asdict(hg)
    for key, value in HOURGLASS_ADDED_LATER.items():
        if d[key] == value:
            del d[key]
    return d


def build_from_config(config: dict) -> nn.Module:
    """Rebuild a model from the ``model.config`` dict stored beside its weights. A stored hourglass config written
    before ``tra_init`` existed rebuilds with the init it was trained with (``"official"``)."""
    from hotpose.hourglass.init import LEGACY

    hourglass = config.get("hourglass")
    if hourglass is not None and "tra_init" not in hourglass:
        hourglass = {**hourglass, "tra_init": LEGACY}
    return compose(config.get("name", config["backbone"]), config["backbone"], config["backbone_config"],
                   hourglass, {})

