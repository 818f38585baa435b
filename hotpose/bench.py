"""The efficiency table: our parameters and FLOPs (both conventions) beside the paper's, and measured throughput."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from hotpose import efficiency
from hotpose.paper import PAPER
from hotpose.registry import build_model, list_models


def paper_models() -> list[str]:
    """Registered models that have a row in the paper's tables, in the paper's order."""
    known = set(list_models())
    return [name for name in PAPER if name in known]


def efficiency_rows(names: Iterable[str] | None = None, *, speed: bool = True, runs: int = 5, batch: int = 1,
                    device: str | torch.device = "cpu", progress: Callable[[str], None] | None = None) -> list[dict]:
    """One dict per model: params (M), FLOPs (G, paper and full convention), the paper's figures, and, with
    ``speed``, the median seconds per window and output frames/s (fp32, ``batch`` windows of full length)."""
    rows = []
    for name in names or paper_models():
        if progress:
            progress(name)
        model = build_model(name).eval()
        flops = efficiency.flop_counts(model)  # both conventions from one forward pass
        paper = PAPER.get(name)
        row = {"model": name, "label": paper.label if paper else name,
               "frames": model.backbone.frames, "kept": model.hourglass.keep if model.hourglass else None,
               "seq2frame": model.seq2frame,
               "params_m": efficiency.count_params(model) / 1e6,
               "flops_paper_g": flops["paper"] / 1e9,
               "flops_full_g": flops["full"] / 1e9,
               "paper_params_m": paper.params if paper else None,
               "paper_flops_g": paper.flops if paper else None}
        if speed:
            model.to(device)
            result = efficiency.measure_throughput(model, batch=batch, runs=runs)
            row.update(seconds=result["seconds"], fps=result["fps"])
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`efficiency_rows`."""
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    speed = any("fps" in r for r in rows)
    head = (f"{'model':<28} {'F':>4} {'n':>4} {'Params M':>9} {'paper':>6} {'FLOPs G':>8} {'paper':>7} "
            f"{'full G':>8}")
    if speed:
        head += f" {'s/window':>9} {'out fps':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{r['model']:<28} {r['frames']:>4} {num(r['kept'], 'd'):>4} {r['params_m']:>9.2f} "
                f"{num(r['paper_params_m'], '.2f'):>6} {r['flops_paper_g']:>8.2f} {num(r['paper_flops_g'], '.2f'):>7} "
                f"{r['flops_full_g']:>8.2f}")
        if speed:
            line += f" {r['seconds']:>9.3f} {r['fps']:>9.1f}"
        lines.append(line)
    lines.append("FLOPs per input window at batch 1. 'FLOPs G' follows the paper's convention (2 x Linear/Conv MACs); "
                 "'full G' counts every matmul, attention included.")
    if speed:
        lines.append("out fps: output frames per second (seq2seq: all F frames of a window; seq2frame: its centre "
                     "frame), fp32, median of repeated runs on this machine.")
    return "\n".join(lines)
