"""Evaluation: P1 (MPJPE), P2 (per-frame Procrustes), MPJVE, per-action tables, MPI-INF-3DHP PCK/AUC.

Readouts (SPEC section 6): "seq2seq" cuts each sequence into centred, edge-padded, non-overlapping windows of F frames
and scores every frame of every window; "seq2frame" centres one window on every frame and scores its centre output
(for TPC models the kept position whose index is (F - 1) // 2; models that predict the centre frame only, Strided
and P-STMO, return just that frame). Flip test-time augmentation averages the output with
the un-mirrored output of the mirrored input; TPC models reuse the first pass's kept frames (seq2seq hourglass
models select again on the mirrored input, as the official HoT test does).

Two protocols are computed together:
* official: every scored window position counts, padded duplicates at sequence ends included (HoT's numbers);
* strict: every real frame counts exactly once; MPJVE and PCK/AUC are computed on these frames.
Sequences with a ``valid`` mask (3DHP test) score only valid real frames in both. The prediction's root joint is set
to 0 before scoring, as the official code does. P2 aligns each frame on its own (no mixed-action batch bug).
Per-action means use the action name before the first space; "mean" is the unweighted mean over actions.

TPC's clustering (DPC-kNN) breaks ties between equal densities with random numbers. :func:`evaluate_path` (``hotpose
evaluate``) draws them from a fixed seed, :data:`EVAL_SEED`, in a forked RNG (the caller's global RNG state is left
as it was), so the same checkpoint, data, batch size and number of processes give the same figures on every run.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hotpose.data.mpi3dhp import PCK_JOINTS
from hotpose.data.sequence import Sequence, action_group
from hotpose.data.windows import Windows
from hotpose.engine.distributed import Dist, all_gather_objects
from hotpose.metrics import AUC_THRESHOLDS_MM, PCK_THRESHOLD_MM, p_mpjpe_frames
from hotpose.skeleton import flip_pose

EVAL_SEED = 0  # the seed of the clustering's tie-break draws in evaluate_path (as hotpose.Lifter.lift uses)


def resolve_readout(model: nn.Module, readout: str = "auto") -> str:
    """The readout to use: the model's own for "auto"; refuses seq2seq for models that predict kept frames only."""
    kept_only = model.hourglass is not None and model.hourglass.seq2frame
    if readout == "auto":
        return "seq2frame" if model.seq2frame else "seq2seq"
    if readout == "seq2seq" and kept_only:
        raise ValueError("this model predicts only its kept frames (seq2frame TPC); use readout 'seq2frame'")
    if readout == "seq2seq" and getattr(model.backbone, "centre_only", False):
        raise ValueError("this model predicts only the centre frame of each window; use readout 'seq2frame'")
    if readout not in ("seq2seq", "seq2frame"):
        raise ValueError(f"unknown readout {readout!r}; expected 'auto', 'seq2seq' or 'seq2frame'")
    return readout


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, flip: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the model (with flip averaging): x (B, F, J, C) -> pose (B, F | n, J, 3), keep_idx (B, n) or None."""
    out = model(x)
    pose = out.pose
    if flip:
        kept_only = pose.shape[1] != x.shape[1]
        mirrored = model(flip_pose(x), keep_idx=(out.levels or out.keep_idx) if kept_only else None)
        pose = (pose + flip_pose(mirrored.pose)) / 2
    return pose, out.keep_idx


def readout_positions(pose: torch.Tensor, keep_idx: torch.Tensor | None, frames: int, readout: str,
                      owned: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick the scored outputs: returns pred (B, P, J, 3) and their window positions (B, P)."""
    B = pose.shape[0]
    centre = (frames - 1) // 2
    if pose.shape[1] == 1 and frames > 1 and (keep_idx is None or keep_idx.shape[1] != 1):  # the centre only
        return pose, torch.full((B, 1), centre, device=pose.device)
    if pose.shape[1] != frames:  # kept frames only: read out where keep_idx == centre
        at = (keep_idx == centre).int().argmax(dim=1)
        return pose[torch.arange(B, device=pose.device), at][:, None], torch.full((B, 1), centre,
                                                                                 device=pose.device)
    pos = torch.arange(*owned, device=pose.device) if readout == "seq2seq" else torch.tensor([centre],
                                                                                              device=pose.device)
    return pose[:, pos], pos.expand(B, -1)


def score_sequences(model: nn.Module, sequences: list[Sequence], dist: Dist = Dist(), flip: bool = True,
                    readout: str = "auto", batch_size: int = 64, progress: bool = False,
                    keep_predictions: bool = False, seed: int | None = None, frame_step: int = 1) -> list[dict]:
    """Per-sequence error sums for ``sequences`` (shared out over ranks, gathered on every rank).

    Each dict: subject, action, camera, ``official`` [P1 sum, P2 sum, count], ``strict`` [P1 sum, P2 sum, count,
    velocity-error sum, velocity count], ``pck_hits`` (hits per AUC threshold over the PCK joints) and ``pck_n``;
    sums in metres. With ``keep_predictions`` (single process) also ``pred`` (T, J, 3) metres (real frames).
    ``seed``: draw the random numbers of the forward passes (TPC's tie-break) from this seed, in a forked RNG
    that leaves the global RNG state as it was (None: from the global RNG, as training's validation does).
    ``frame_step``: the windows take every frame_step-th frame (``data.frame_step``, as the model was trained); a
    downsampled window scores only its target frame, so it needs the seq2frame readout."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    model = getattr(model, "module", model)
    readout = resolve_readout(model, readout)
    if frame_step != 1 and readout == "seq2seq":
        raise ValueError(f"data.frame_step={frame_step}: a downsampled window holds every {frame_step}-th frame, so "
                         f"its outputs cannot tile a sequence; evaluate with eval.readout=seq2frame (one window "
                         f"per frame, its centre scored)")
    frames = model.backbone.frames
    mine = sequences[dist.rank::dist.world]
    was_training = model.training
    model.eval()
    forked = contextlib.nullcontext()
    if seed is not None:
        forked = torch.random.fork_rng(devices=[dist.device.index or 0] if dist.device.type == "cuda" else [])
    with forked:
        if seed is not None:
            torch.manual_seed(seed)
        scores = _score_shard(model, mine, dist.device, flip, readout, frames, batch_size, progress and dist.main,
                              keep_predictions, pad_scored=not any(s.valid is not None for s in sequences),
                              step=frame_step)
    model.train(was_training)
    gathered = all_gather_objects(dist, scores)
    order = [s for r in range(dist.world) for s in range(r, len(sequences), dist.world)]
    flat = [s for part in gathered for s in part]
    return [flat[i] for i in np.argsort(order)]


def _score_shard(model, seqs, device, flip, readout, frames, batch_size, progress, keep_predictions,
                 pad_scored, step=1) -> list[dict]:
    if not seqs:
        return []
    stride = frames if readout == "seq2seq" else 1
    w = Windows(seqs, frames, stride, channels=model.backbone.in_channels,
                valid_only=any(s.valid is not None for s in seqs), device=device, step=step)
    S, N, J = len(seqs), w.targets.shape[0], w.targets.shape[1]
    f64 = dict(dtype=torch.float64, device=device)
    official = torch.zeros(S, 3, **f64)
    e1_frame, e2_frame = torch.zeros(N, **f64), torch.zeros(N, **f64)
    filled = torch.zeros(N, dtype=torch.bool, device=device)
    pred_all = torch.zeros(N, J, 3, dtype=torch.float32, device=device)
    steps = range(0, len(w), batch_size)
    for i in tqdm(steps, desc="evaluate", disable=not progress, leave=False, dynamic_ncols=True):
        which = torch.arange(i, min(i + batch_size, len(w)), device=device)
        x, _ = w.batch(which)
        pose, keep_idx = predict(model, x, flip)
        pred, pos = readout_positions(pose.float(), keep_idx, frames, readout, w.owned)
        pred[..., 0, :] = 0
        fidx, real = w.frame_index(which)
        fidx, real = fidx.gather(1, pos), real.gather(1, pos)  # (B, P)
        gt = w.targets[fidx]
        e1 = (pred.double() - gt.double()).norm(dim=-1).mean(dim=-1)  # (B, P)
        e2 = p_mpjpe_frames(pred, gt).to(device)
        weight = (w.valid[fidx] & (real | pad_scored)).double()
        seq = w.seq[which]
        official.index_add_(0, seq, torch.stack([(e1 * weight).sum(1), (e2 * weight).sum(1), weight.sum(1)], 1))
        at = fidx[real]
        e1_frame[at], e2_frame[at], filled[at] = e1[real], e2[real], True
        pred_all[at] = pred[real]
    return _strict(seqs, w, official, e1_frame, e2_frame, filled & w.valid, pred_all, keep_predictions)


def _strict(seqs, w, official, e1, e2, scored, pred, keep_predictions) -> list[dict]:
    """Per-sequence strict sums (real frames), velocity errors and PCK hits from per-frame arrays."""
    device, S = pred.device, len(seqs)
    seq_of = torch.repeat_interleave(torch.arange(S, device=device), w.lengths)
    s = scored.double()
    strict = torch.zeros(S, 5, dtype=torch.float64, device=device)
    strict[:, :3].index_add_(0, seq_of, torch.stack([e1 * s, e2 * s, s], 1))
    same = seq_of[1:] == seq_of[:-1]
    pair = (same & scored[1:] & scored[:-1]).double()
    vel = (torch.diff(pred.double(), dim=0) - torch.diff(w.targets.double(), dim=0)).norm(dim=-1).mean(dim=-1)
    strict[:, 3:].index_add_(0, seq_of[1:], torch.stack([vel * pair, pair], 1))
    err_mm = (pred.double() - w.targets.double()).norm(dim=-1)[:, list(PCK_JOINTS)] * 1000  # (N, 14)
    th = torch.tensor(AUC_THRESHOLDS_MM, dtype=torch.float64, device=device)
    hits = ((err_mm[:, :, None] < th).double().sum(1)) * s[:, None]  # (N, 31)
    pck = torch.zeros(S, len(th), dtype=torch.float64, device=device).index_add_(0, seq_of, hits)
    out = []
    for k, sq in enumerate(seqs):
        d = {"subject": sq.subject, "action": sq.action, "camera": sq.camera,
             "official": official[k].tolist(), "strict": strict[k].tolist(), "pck_hits": pck[k].tolist(),
             "pck_n": float(strict[k, 2]) * len(PCK_JOINTS)}
        if keep_predictions:
            lo = int(w.offsets[k])
            d["pred"] = pred[lo:lo + len(sq)].cpu().numpy()
        out.append(d)
    return out


def _ratio(a: float, b: float, scale: float = 1000.0) -> float:
    return a / b * scale if b else math.nan


def summarize(scores: list[dict]) -> dict:
    """Per-action table and totals in millimetres (and % for PCK/AUC) from :func:`score_sequences` output."""
    groups: dict[str, np.ndarray] = {}
    for s in scores:
        row = np.array(s["official"] + s["strict"] + s["pck_hits"] + [s["pck_n"]], np.float64)
        g = action_group(s["action"])
        groups[g] = groups.get(g, 0) + row
    pck_at = 8 + AUC_THRESHOLDS_MM.index(PCK_THRESHOLD_MM)

    def metrics(r: np.ndarray) -> dict:
        n_pck = r[-1]
        return {"p1": _ratio(r[0], r[2]), "p2": _ratio(r[1], r[2]), "frames_official": int(r[2]),
                "strict_p1": _ratio(r[3], r[5]), "strict_p2": _ratio(r[4], r[5]), "mpjve": _ratio(r[6], r[7]),
                "frames": int(r[5]), "pck": _ratio(r[pck_at], n_pck, 100.0),
                "auc": float(np.mean(r[8:8 + len(AUC_THRESHOLDS_MM)]) / n_pck * 100) if n_pck else math.nan}

    per_action = {g: metrics(r) for g, r in sorted(groups.items())}
    keys = ("p1", "p2", "strict_p1", "strict_p2", "mpjve", "pck", "auc")
    mean = {k: float(np.mean([m[k] for m in per_action.values()])) for k in keys}
    total = metrics(sum(groups.values()))
    return {"per_action": per_action, "mean_over_actions": mean, "all_frames": total,
            "sequences": len(scores)}


def format_table(report: dict, pck: bool = False, protocol: str = "official") -> str:
    """A readable per-action table (millimetres; PCK/AUC in %)."""
    cols = [("P1", "p1"), ("P2", "p2"), ("strict P1", "strict_p1"), ("strict P2", "strict_p2"),
            ("MPJVE", "mpjve")] + ([("PCK150", "pck"), ("AUC", "auc")] if pck else [])
    head = f"{'action':<24}" + "".join(f"{c:>11}" for c, _ in cols) + f"{'frames':>10}"
    lines = [head, "-" * len(head)]

    def row(name, m, frames=""):
        return f"{name:<24}" + "".join(f"{m[k]:>11.2f}" for _, k in cols) + f"{frames:>10}"

    for name, m in report["per_action"].items():
        lines.append(row(name[:24], m, m["frames"]))
    lines.append("-" * len(head))
    lines.append(row("mean over actions", report["mean_over_actions"]))
    lines.append(row("all frames", report["all_frames"], report["all_frames"]["frames"]))
    head_key = "p1" if protocol == "official" else "strict_p1"
    lines.append(f"headline ({protocol} protocol, mean over actions): P1 "
                 f"{report['mean_over_actions'][head_key]:.2f} mm, P2 "
                 f"{report['mean_over_actions'][head_key.replace('p1', 'p2')]:.2f} mm")
    return "\n".join(lines)


def evaluate_path(path: str | Path, overrides=(), split: str = "test", flip: bool | None = None,
                  readout: str | None = None, protocol: str | None = None, batch_size: int | None = None,
                  device: str = "auto", progress: bool = True, save_predictions: str | Path | None = None,
                  pruner: str | None = None) -> dict:
    """Evaluate a checkpoint (a ``.pt`` file, or a run folder: its best.pt) or, for a baseline, the untrained model
    of a YAML config, on ``split``. ``overrides`` (``section.key=value``) change the stored config (e.g. where the
    data lives); the keyword arguments, when given, replace the config's ``eval`` settings. Returns the report of
    :func:`summarize` with what was evaluated and how. The clustering's random tie-breaks are drawn from
    :data:`EVAL_SEED` (the same figures on every run; the caller's RNG state is left as it was). ``pruner``
    (an hourglass model only): choose the kept frames with this pruner (``"uniform"``, ``"tpc"``, ...) instead of
    the one the model was trained with; reported as ``pruner`` (the trained one as ``trained_pruner``)."""
    from hotpose.data.config import load_splits
    from hotpose.engine import checkpoint as ckpt
    from hotpose.engine.config import apply_overrides, config_from_dict, load_config
    from hotpose.engine.distributed import setup, teardown
    from hotpose.registry import build_model

    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    path = ckpt.resolve_checkpoint(path)
    trained_pruner = None
    if path.suffix in (".yaml", ".yml"):
        cfg = load_config(path, overrides)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.train.seed)
            model = build_model(cfg.model.name, **cfg.model.args)
        source = {"weights": "untrained", "config": str(path), "seed": cfg.train.seed}
    else:
        state = ckpt.load_checkpoint(path, packaged=True)
        packaged = ckpt.is_packaged(state)
        stored = ckpt.training_config(state)
        if packaged and stored is None:
            raise ValueError(f"{path} is a packaged model without its training config, so the data to evaluate on "
                             f"is unknown; evaluate the `hotpose train` checkpoint it was exported from")
        cfg = config_from_dict(apply_overrides(stored, list(overrides)))
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's RNG alone
            model = ckpt.model_from_packaged(state) if packaged else ckpt.model_from_checkpoint(state)
        best = (state.get("training") if packaged else state.get("best")) or {}
        source = {"weights": str(path), "epoch": best.get("epoch") if packaged else state["epoch"],
                  "selected_on": best.get("selected_on")}
        if packaged:
            trained_pruner = state.get("trained_pruner")
    if model.hourglass is not None:
        trained_pruner = trained_pruner or model.hourglass.pruner
    if pruner is not None:
        import dataclasses

        if model.hourglass is None:
            raise ValueError(f"a pruner was given, but {model.config.get('name')} has no hourglass (nothing is "
                             f"pruned)")
        model.hourglass.pruner = dataclasses.replace(model.hourglass, pruner=pruner).pruner  # the config validates
    e = cfg.eval
    flip = e.flip if flip is None else flip
    readout = resolve_readout(model, e.readout if readout is None else readout)
    protocol = protocol or e.protocol
    d = setup(device)
    try:
        model.to(d.device)
        seqs = load_splits(cfg.data, [split])[split]
        if not seqs:
            raise ValueError(f"the {split} split is empty (set data.{split}_subjects)")
        scores = score_sequences(model, seqs, d, flip, readout, batch_size or e.batch_size, progress,
                                 keep_predictions=save_predictions is not None and d.world == 1, seed=EVAL_SEED,
                                 frame_step=cfg.data.frame_step)
    finally:
        teardown(d)
    if save_predictions is not None and d.world == 1:
        from hotpose.fileio import atomic_savez

        atomic_savez(save_predictions, {f"{s['subject']}/{s['action']}/{s['camera']}": s.pop("pred") for s in scores},
                     compressed=True)  # exactly this name (no .npz added)
    report = summarize(scores)
    report.update({"model": model.config.get("name"), "source": source, "split": split, "data": cfg.data.kind,
                   "flip": flip, "readout": readout, "protocol": protocol, "units": "mm (PCK, AUC: %)"})
    if trained_pruner is not None:
        report.update({"pruner": model.hourglass.pruner, "trained_pruner": trained_pruner})
    return report
