"""The training loop: one process on CPU or one GPU, or several under ``torchrun`` with DistributedDataParallel.

Each epoch's sample order is a function of (seed, epoch) only, shared by all ranks. Every global batch is split over
the ranks and each rank's loss is weighted by its share (local / global * world), so the averaged gradient equals
the single-process gradient of the same global batch whatever the split. A checkpoint (``last.pt``) is written
atomically after every epoch with the model, optimiser, scheduler, loss-scaler and every rank's RNG state, so
``resume=True`` continues exactly; ``best.pt`` holds the selected weights (on the validation split unless
``train.select_on`` says otherwise, and labelled with what it was selected on). ``last.pt`` is written before
``best.pt``; a run killed between the two has ``best.pt`` rewritten from ``last.pt`` when it is resumed.

Ctrl-C (SIGINT) in a single-process run stops at the next step: ``last.pt`` is written with the position within the
epoch (the steps done and the epoch's running sums) and :class:`TrainingInterrupted` is raised; ``resume=True``
continues from that step with the same result as an uninterrupted run. A second Ctrl-C stops at once (the previous
``last.pt`` stays). Under torchrun, Ctrl-C stops every process at once and the run resumes from the last epoch.
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from hotpose.data.config import load_splits
from hotpose.data.windows import Windows, epoch_order
from hotpose.engine import checkpoint as ckpt
from hotpose.engine.checkpoint import training_seconds
from hotpose.engine.config import Config, ConfigError, config_diff, dump_config
from hotpose.engine.distributed import Dist, all_gather_objects, all_sum, barrier, setup, teardown
from hotpose.engine.evaluate import score_sequences, summarize
from hotpose.losses import bone_length_error, get_loss, output_targets
from hotpose.registry import build_model

SELECTED_ON = {"val": "validation split",
               "test": "test set (the official practice: optimistic, not a held-out estimate)",
               "last": "last epoch (no selection)"}
RESUMABLE = {("train", "epochs"), ("data", "root"), ("out",)}  # may change between a run and its resumption


def lr_factor(epoch: int, decay: float, large: float, every: int) -> float:
    """lr multiplier after ``epoch`` epochs: prod over e = 1..epoch of (large if e % every == 0 else decay)."""
    return math.prod(large if e % every == 0 else decay for e in range(1, epoch + 1))


def warmup_factor(step: int, warmup_steps: int) -> float:
    """lr multiplier of optimiser step ``step`` (0-based) under a linear warm-up of ``warmup_steps`` steps."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


def config_changes(old: dict, new: dict) -> list[str]:
    """Keys whose values differ between two config dicts, except those allowed to change on resume."""
    return [f"{'.'.join(key)}: {a!r} -> {b!r}" for key, a, b in config_diff(old, new)
            if not any(key[:i] in RESUMABLE for i in range(1, len(key) + 1))]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after ``last.pt`` was written; ``str()`` says where the run stopped."""

    def __init__(self, message: str, out: Path):
        super().__init__(message)
        self.out = out


class _StopOnSigint:
    """While active (single process, main thread): the first SIGINT sets ``requested`` (the loop stops at its next
    step, after writing last.pt), a second one raises KeyboardInterrupt at once."""

    def __init__(self, active: bool):
        self.active, self.requested, self._previous = active, False, None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this step and saving last.pt (Ctrl-C again to stop at once, without "
              "saving)", file=sys.stderr, flush=True)

    def __enter__(self):
        if self.active:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.signal(signal.SIGINT, self._previous)


def _say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def make_optimizer(model: torch.nn.Module, t) -> torch.optim.Optimizer:
    """The recipe's optimiser over all parameters."""
    if t.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=t.lr, weight_decay=t.weight_decay, amsgrad=t.amsgrad)


def train(cfg: Config, resume: bool = False, device: str = "auto", progress: bool = True) -> dict:
    """Train as ``cfg`` says; returns the history and the best score. Under torchrun every rank calls this."""
    d = setup(device)
    try:
        return _train(cfg, d, resume, progress)
    finally:
        teardown(d)


def _autocast(cfg: Config, device: torch.device):
    """(autocast context factory, GradScaler) for this device and config."""
    if not (cfg.train.amp and device.type == "cuda"):
        return contextlib.nullcontext, torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return (lambda: torch.autocast("cuda", dtype=dtype)), torch.amp.GradScaler("cuda",
                                                                                enabled=dtype == torch.float16)


def _train(cfg: Config, d: Dist, resume: bool, progress: bool) -> dict:
    t = cfg.train
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} is a file; training writes a folder (checkpoints, config, logs) there: give a "
                         f"folder name")
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        ckpt.clean_temp(out)
    barrier(d)
    last = out / ckpt.LAST
    if last.exists() and not resume:
        raise ValueError(f"{last} exists: pass --resume to continue that run, or choose another out")
    if resume and not last.exists() and d.main:
        _say(f"no {ckpt.LAST} in {out}: starting a new run")
    state = ckpt.load_checkpoint(last) if resume and last.exists() else None
    if state is not None:
        changes = config_changes(state["config"], cfg.to_dict())
        if changes:
            raise ConfigError("cannot resume with a different config: " + "; ".join(changes))
        if state["world"] != d.world:
            raise ValueError(f"the run was made with {state['world']} process(es); resume it with the same number "
                             f"(now {d.world}) to continue exactly")

    torch.manual_seed(t.seed)
    model = build_model(cfg.model.name, **cfg.model.args).to(d.device)
    if state is None and t.init:  # before the data is read, so that a wrong init fails at once
        try:
            model.load_state_dict(ckpt.initial_weights(t.init))
        except RuntimeError as e:
            raise ConfigError(f"train.init={t.init!r} does not fit model {cfg.model.name} with args "
                              f"{cfg.model.args}: {str(e).splitlines()[0][:300]}") from None
    splits = ["train"] + ([t.select_on] if t.select_on in ("val", "test") else [])
    data = load_splits(cfg.data, splits)
    if t.select_on == "val" and not data["val"]:
        raise ConfigError("model selection on the validation split needs one: set data.val_subjects or "
                          "data.val_fraction (or train.select_on=test for the official practice, or last)")
    frames = model.backbone.frames
    windows = Windows(data["train"], frames, t.stride or frames, channels=model.backbone.in_channels,
                      device=d.device, step=cfg.data.frame_step)
    loss_fn = get_loss(t.loss)
    opt = make_optimizer(model, t)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: lr_factor(e, t.lr_decay, t.lr_decay_large, t.lr_decay_epoch))
    autocast, scaler = _autocast(cfg, d.device)
    start, step, best, history, partial = 0, 0, None, [], None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start, step, best, history = state["epoch"], state["step"], state["best"], state["history"]
        partial = state.get("partial")
        ckpt.set_rng_state(state["rng"][d.rank], d.device)
        if d.main:
            _say(f"resuming from epoch {start} of {t.epochs} ({last}"
                 + (f", stopped in epoch {start + 1} after {partial['steps']} steps" if partial else "")
                 + ("): the run is complete, nothing to do (raise train.epochs to train on)"
                    if start >= t.epochs and not partial else f"): continuing with epoch {start + 1}"))
            _restore_best(out, state)
    else:
        torch.manual_seed(t.seed + d.rank)
    if d.main:
        ckpt.write_record(out, dump_config(cfg), ckpt.environment(d.world, d.device))
    net = model if d.world == 1 else DistributedDataParallel(
        model, device_ids=[d.device.index] if d.device.type == "cuda" else None)
    writer = _writer(out, step, resumed=state is not None) if d.main else None
    stop = _StopOnSigint(d.world == 1 and threading.current_thread() is threading.main_thread())
    with stop, contextlib.closing(writer) if writer is not None else contextlib.nullcontext():
        best = _epochs(cfg, d, model, net, windows, data, loss_fn, opt, sched, autocast, scaler, writer, stop,
                       out, start, step, best, history, partial, progress)
    return {"history": history, "best": best, "out": str(out), "rank": d.rank, "seconds": training_seconds(history),
            "cpu_seconds": training_seconds(history, "epoch_cpu_s")}


def _restore_best(out: Path, state: dict) -> None:
    """A run killed between writing last.pt and best.pt: write best.pt from last.pt when last.pt's epoch is the
    selected one and best.pt does not hold it."""
    best = state.get("best")
    if not best or best.get("epoch") != state["epoch"] or state.get("partial"):
        return
    path = out / ckpt.BEST
    try:
        if path.exists() and ckpt.load_checkpoint(path).get("epoch") == best["epoch"]:
            return
    except ValueError:
        pass  # unreadable: rewrite it
    ckpt.save_checkpoint(path, {"model": state["model"], "model_config": state["model_config"],
                                "config": state["config"], "epoch": state["epoch"], "best": best,
                                "metrics": state["history"][-1] if state["history"] else {}})


def _epochs(cfg, d, model, net, windows, data, loss_fn, opt, sched, autocast, scaler, writer, stop, out,
            start, step, best, history, partial, progress) -> dict | None:
    """The epochs from ``start`` on (``history`` is extended in place); returns the best record."""
    t = cfg.train
    common = {"model_config": model.config, "config": cfg.to_dict()}

    def save_last(epoch: int, rngs: list, extra: dict) -> None:
        ckpt.save_checkpoint(out / ckpt.LAST, {**common, "model": model.state_dict(), "epoch": epoch, "step": step,
                                               "best": best, "history": history, "optimizer": opt.state_dict(),
                                               "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                                               "rng": rngs, "world": d.world, **extra})

    for epoch in range(start, t.epochs):
        order, flips = epoch_order(len(windows), t.flip, t.seed, epoch)
        steps = math.ceil(len(order) / t.batch_size)
        steps = min(steps, t.steps_per_epoch) if t.steps_per_epoch else steps
        net.train()
        sums = torch.zeros(3, dtype=torch.float64, device=d.device)  # loss sum, MPJPE sum, samples
        first, t0, c0 = 0, time.perf_counter(), time.process_time()
        if partial is not None and epoch == start:  # continue an epoch stopped by Ctrl-C
            first = partial["steps"]
            sums = torch.tensor(partial["sums"], dtype=torch.float64, device=d.device)
            t0 -= partial.get("seconds", 0.0)  # the time the epoch ran before it was stopped
            c0 -= partial.get("cpu_seconds", 0.0)
        bar = tqdm(range(first, steps), desc=f"epoch {epoch + 1}/{t.epochs}", disable=not (progress and d.main),
                   leave=False, dynamic_ncols=True, initial=first, total=steps)
        for s in bar:
            if stop.requested:
                bar.close()
                save_last(epoch, [ckpt.rng_state(d.device)], {"partial": {"steps": s, "sums": sums.tolist(),
                                                                        "seconds": time.perf_counter() - t0,
                                                                        "cpu_seconds": time.process_time() - c0}})
                raise TrainingInterrupted(f"stopped in epoch {epoch + 1} of {t.epochs} after {s} of its {steps} steps; "
                                          f"{out / ckpt.LAST} holds the run at that step", out)
            batch = np.arange(s * t.batch_size, min((s + 1) * t.batch_size, len(order)))
            mine = np.array_split(batch, d.world)[d.rank]
            weight = len(mine) * d.world / len(batch)
            if len(mine) == 0:  # fewer samples than ranks: take part with a zero-weighted sample
                mine, weight = batch[:1], 0.0
            x, y = windows.batch(order[mine], flips[mine])
            with autocast():
                out_ = net(x)
            pred = out_.pose.float()
            window = y
            # seq2frame TPC: targets at the kept frames; centre-only models: the centre frame
            y = output_targets(window, pred.shape[1], out_.keep_idx)
            loss = loss_fn(pred, y)
            if out_.aux is not None:  # added even at weight 0, so that every parameter takes part (DDP)
                aux = out_.aux.float()
                loss = loss + t.aux_weight * loss_fn(aux, output_targets(window, aux.shape[1], out_.keep_idx))
            if t.bone_weight:
                loss = loss + t.bone_weight * bone_length_error(pred, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss * weight).backward()
            if t.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            if step < t.warmup_steps:  # the schedule's lr (per epoch) scaled down; sched.step() sets it again
                for group, lr in zip(opt.param_groups, sched.get_last_lr()):
                    group["lr"] = lr * warmup_factor(step, t.warmup_steps)
            scaler.step(opt)
            scaler.update()
            step += 1
            n = len(mine) if weight else 0
            sums += torch.stack([loss.detach().double() * n, (pred - y).norm(dim=-1).mean().detach().double() * n,
                                 torch.tensor(float(n), dtype=torch.float64, device=d.device)])
            if writer is not None and step % 10 == 0:
                writer.add_scalar("train/loss_step", loss.item(), step)
        sched.step()
        loss_sum, mpjpe_sum, count = all_sum(d, sums.tolist())
        record = {"epoch": epoch + 1, "step": step, "lr": opt.param_groups[0]["lr"],
                  "train_loss": loss_sum / max(count, 1), "train_mpjpe_mm": mpjpe_sum / max(count, 1) * 1000}
        improved = False
        if t.select_on in ("val", "test") and ((epoch + 1) % t.val_every == 0 or epoch + 1 == t.epochs):
            report = summarize(score_sequences(net, data[t.select_on], d, cfg.eval.flip, cfg.eval.readout,
                                               cfg.eval.batch_size, frame_step=cfg.data.frame_step))
            score = report["mean_over_actions"]["p1"]
            record.update({f"{t.select_on}_p1_mm": score, f"{t.select_on}_p2_mm": report["mean_over_actions"]["p2"]})
            improved = best is None or score < best["score"]
        elif t.select_on == "last":
            improved, score = True, None
        if improved:
            best = {"score": score, "epoch": epoch + 1, "selected_on": SELECTED_ON[t.select_on]}
        # the epoch's steps and validation: wall clock, and CPU time of this process (all its threads; a pause or
        # other jobs on the machine do not count)
        record["epoch_s"], record["epoch_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        history.append(record)
        rngs = all_gather_objects(d, ckpt.rng_state(d.device))
        if d.main:
            # last.pt first: a kill before best.pt is written is repaired from last.pt on resume (_restore_best)
            save_last(epoch + 1, rngs, {})
            if improved:
                ckpt.save_checkpoint(out / ckpt.BEST, {**common, "model": model.state_dict(), "epoch": epoch + 1,
                                                       "best": best, "metrics": record})
            ckpt.atomic_write_bytes(out / "history.json", (json.dumps(history, indent=1) + "\n").encode())
            _log(writer, record, step)
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        barrier(d)
        if stop.requested and epoch + 1 < t.epochs:
            raise TrainingInterrupted(f"stopped after epoch {epoch + 1} of {t.epochs}; {out / ckpt.LAST} holds the "
                                      f"run at its end", out)
    return best


def _writer(out: Path, step: int, resumed: bool = False):
    """A TensorBoard writer under out/tb; None without the tensorboard package. On resume, events written after
    ``step`` (the checkpoint's) by the interrupted run are purged, so that the resumed run's events do not overlap
    them (the events at ``step`` itself, the checkpoint's epoch, are kept)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tb"), purge_step=step + 1 if resumed else None)


def _log(writer, record: dict, step: int) -> None:
    if writer is None:
        return
    for k, v in record.items():
        if k not in ("epoch", "step") and isinstance(v, float):
            writer.add_scalar(k.replace("_", "/", 1), v, step)
    writer.flush()
