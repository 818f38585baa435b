"""Inference speed of the HoT models against their full backbones, and how close MixSTE runs to the matmul peak.

Usage: python benchmarks/speed.py [--runs 7] [--device cpu|cuda] [--out docs/benchmarks.md] [--breakdown]
                                  [--official PATH/TO/HoT]

Every pair is measured in one process with the runs interleaved (full, HoT, full, HoT, ...) so that a noisy machine
slows both alike; the median of the runs is reported. The matmul peak is measured in the same run. Results are
appended to the output file as a dated section, with the machine it ran on.

``--official DIR`` times the official HoT code too, from a checkout of NationalGAILab/HoT that you provide (it is
not part of this repository; it needs ``einops``, and ``timm`` is stood in for by our own DropPath when absent): for
MixSTE / HoT w. MixSTE and MotionBERT / HoT w. MotionBERT, each official model is built at the paper's size, its
weights are loaded into ours with ``hotpose.load_official`` (outputs checked equal), and the four models of a family
are timed interleaved in one process, so that the official speed-up and ours are measured under the same load.

``--breakdown`` also times the parts of each forward pass (the stages that see every frame, the frame selection, the
stages on the kept frames, the recovery, the head; the rest is embedding, gathering and norms) by wrapping the
backbone's seams, and derives what the speed-up would be if selection and recovery cost nothing: with the stages
running as fast per FLOP as the full model's, that is the ceiling pruning can reach.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import hotpose
from hotpose import efficiency
from hotpose.layers import use_kernels

PAIRS = [("mixste_243", "hot_mixste_243"), ("motionbert_243", "hot_motionbert_243"),
         ("motionagformer_243", "hot_motionagformer_243"), ("mhformer_351", "tpc_mhformer_351"),
         ("mhformer_351", "hot_mhformer_351")]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def time_pair(a, b, runs: int, device, batch: int = 1) -> tuple[list[float], list[float]]:
    xa, xb = efficiency.example_input(a, batch), efficiency.example_input(b, batch)
    ta, tb = efficiency.time_interleaved([lambda: a(xa), lambda: b(xb)], runs, device=device)
    return ta, tb


# Our model -> (file of the official repository, its constructor's argparse fields at the paper's size).
OFFICIAL = {
    "mixste_243": ("model/mixste/mixste.py", dict(channel=512, d_hid=1024, frames=243, n_joints=17)),
    "hot_mixste_243": ("model/mixste/hot_mixste.py",
                       dict(channel=512, d_hid=1024, frames=243, n_joints=17, token_num=81, layer_index=3)),
    "motionbert_243": ("model/motionbert/motionbert.py", dict(maxlen=243)),
    "hot_motionbert_243": ("model/motionbert/hot_motionbert.py", dict(maxlen=243)),
}


def official_model(root: Path, name: str) -> tuple[torch.nn.Module, str]:
    """Build the official model behind our ``name`` from the checkout ``root``: (model in eval mode, arch name)."""
    import argparse
    import contextlib
    import importlib.util
    import io
    import types

    if importlib.util.find_spec("einops") is None:
        raise SystemExit("--official needs einops (pip install einops), which the official files import")
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:  # the files use timm only for DropPath and trunc_normal_: stand in for it
        from hotpose.layers.drop_path import DropPath

        layers = types.ModuleType("timm.models.layers")
        layers.DropPath, layers.trunc_normal_ = DropPath, torch.nn.init.trunc_normal_
        for mod in ("timm", "timm.models"):
            sys.modules.setdefault(mod, types.ModuleType(mod))
        sys.modules["timm.models.layers"] = layers
    rel, fields = OFFICIAL[name]
    path = root / rel
    if not path.is_file():
        raise SystemExit(f"{path} not found: --official takes the root of a NationalGAILab/HoT checkout")
    spec = importlib.util.spec_from_file_location(f"official_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with contextlib.redirect_stdout(io.StringIO()):  # hot_motionbert prints its settings
        model = module.Model(argparse.Namespace(**fields))
    return model.eval(), path.stem


def official_section(root: Path, runs: int, device, kernels: str, peak: float) -> list[str]:
    """Time the official MixSTE / MotionBERT families beside ours (same weights, interleaved)."""
    lines = ["\nThe official code (a NationalGAILab/HoT checkout, `--official`) timed beside ours in the same run: same "
             "weights (loaded into ours with `hotpose.load_official`), the four models of a family interleaved. "
             "'ours / official': how many times faster our model runs.\n",
             "| model | official ms | % of peak | ours ms | % of peak | ours / official | outputs equal (max abs diff) |",
             "|---|---|---|---|---|---|---|"]
    ratios = []
    for full_name, hot_name in (("mixste_243", "hot_mixste_243"), ("motionbert_243", "hot_motionbert_243")):
        calls, rows = [], []
        for name in (full_name, hot_name):
            off, arch = official_model(root, name)
            off.to(device)
            ours = hotpose.load_official(arch, off.state_dict()).eval().to(device)
            x = efficiency.example_input(ours)
            with torch.inference_mode():
                torch.manual_seed(0)
                want = off(x)
                torch.manual_seed(0)
                diff = float((ours(x).pose - want).abs().max())
            use_kernels(ours, kernels)
            calls += [lambda m=off, x=x: m(x), lambda m=ours, x=x: m(x)]
            rows.append((name, efficiency.count_flops(ours, "full"), diff))
        med = [statistics.median(t) for t in efficiency.time_interleaved(calls, runs, device=device)]
        for k, (name, flops, diff) in enumerate(rows):
            so, su = med[2 * k], med[2 * k + 1]
            lines.append(f"| {name} | {so * 1e3:.1f} | {flops / so / peak:.0%} | {su * 1e3:.1f} | "
                         f"{flops / su / peak:.0%} | {so / su:.2f}x | {diff:.1e} |")
            print(f"{name:>20}: official {so * 1e3:8.1f} ms, ours {su * 1e3:8.1f} ms ({so / su:.2f}x faster), "
                  f"outputs differ by {diff:.1e}", flush=True)
        ratios.append((full_name, hot_name, med[0] / med[2], med[1] / med[3], rows[0][1] / rows[1][1]))
    lines += ["", "| pair | official speed-up | ours | full-FLOPs ratio |", "|---|---|---|---|"]
    for full_name, hot_name, r_off, r_ours, r_flops in ratios:
        lines.append(f"| {hot_name} vs {full_name} | {r_off:.2f}x | {r_ours:.2f}x | {r_flops:.2f}x |")
        print(f"{hot_name} vs {full_name}: official {r_off:.2f}x, ours {r_ours:.2f}x, FLOPs {r_flops:.2f}x")
    return lines


def breakdown(model, x, runs: int, sync) -> dict:
    """Median seconds per part of ``model(x)``: 'full stages' (stages on every frame), 'pruned stages', 'selection',
    'recovery', 'head' and 'other' (the rest of the pass), measured by wrapping the model's seams."""
    bb, F = model.backbone, x.shape[1]
    parts: dict = collections.defaultdict(float)

    def timed(fn, label):
        def wrapper(*args, **kwargs):
            sync()
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            sync()
            parts[label(*args) if callable(label) else label] += time.perf_counter() - t0
            return out
        return wrapper

    seams = [(bb, "stage", lambda i, t: "full stages" if t.shape[1] == F else "pruned stages"), (bb, "head", "head")]
    if model.hourglass is not None:
        seams.append((model, "select", "selection"))
        if model.recover is not None:
            seams.append((model.recover, "forward", "recovery"))
    for obj, name, label in seams:
        setattr(obj, name, timed(getattr(obj, name), label))
    runs_parts = []
    try:
        with torch.inference_mode():
            model(x)
            for _ in range(runs):
                parts.clear()
                sync()
                t0 = time.perf_counter()
                model(x)
                sync()
                total = time.perf_counter() - t0
                runs_parts.append({**parts, "other": total - sum(parts.values()), "total": total})
    finally:
        for obj, name, _ in seams:
            delattr(obj, name)  # back to the class's method
    keys = {k for r in runs_parts for k in r}
    return {k: statistics.median(r.get(k, 0.0) for r in runs_parts) for k in keys}


def breakdown_section(pairs, runs: int, device, kernels: str) -> list[str]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    cols = ["full stages", "selection", "pruned stages", "recovery", "head", "other", "total"]
    lines = ["\nWhere the time goes (ms per window, median of the runs; stages wrapped one by one). 'Ceiling': the "
             "speed-up if selection and recovery were free, i.e. full model / (HoT minus those two).\n",
             "| model | " + " | ".join(cols) + " | ceiling |", "|---|" + "---|" * (len(cols) + 1)]
    for full_name, hot_name in pairs:
        full = hotpose.build_model(full_name).eval().to(device)
        hot = hotpose.build_model(hot_name).eval().to(device)
        use_kernels(full, kernels)
        use_kernels(hot, kernels)
        bf = breakdown(full, efficiency.example_input(full), runs, sync)
        bh = breakdown(hot, efficiency.example_input(hot), runs, sync)
        free = bh["total"] - bh.get("selection", 0.0) - bh.get("recovery", 0.0)
        scale = efficiency.output_frames(hot) / efficiency.output_frames(full)
        for name, b, ceiling in ((full_name, bf, ""), (hot_name, bh, f"{scale * bf['total'] / free:.2f}x")):
            cells = " | ".join(f"{b[c] * 1e3:.1f}" if c in b else "-" for c in cols)
            lines.append(f"| {name} | {cells} | {ceiling} |")
            print(f"{name:>24}: " + "  ".join(f"{c} {b[c] * 1e3:.1f}" for c in cols if c in b)
                  + (f"  ceiling {ceiling}" if ceiling else ""), flush=True)
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="docs/benchmarks.md")
    p.add_argument("--kernels", choices=("fast", "exact"), default="fast",
                   help="fast (ours) or exact (the official code's arithmetic: explicit attention, addmm linears)")
    p.add_argument("--batch", type=int, default=1, help="windows per forward pass")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--breakdown", action="store_true", help="also time the parts of each pass (see the docstring)")
    p.add_argument("--official", type=Path, metavar="DIR",
                   help="also time the official code from this NationalGAILab/HoT checkout (see the docstring)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    known = set(hotpose.list_models())

    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    peak = efficiency.matmul_peak(device=device)
    print(f"fp32 matmul peak: {peak / 1e9:.1f} GFLOP/s", flush=True)
    rows = []
    for full_name, hot_name in PAIRS:
        if full_name not in known or hot_name not in known:
            continue
        full = hotpose.build_model(full_name).eval().to(device)
        hot = hotpose.build_model(hot_name).eval().to(device)
        use_kernels(full, args.kernels)
        use_kernels(hot, args.kernels)
        tf, th = time_pair(full, hot, args.runs, device, args.batch)
        sf, sh = statistics.median(tf), statistics.median(th)
        of, oh = args.batch * efficiency.output_frames(full), args.batch * efficiency.output_frames(hot)
        ff = args.batch * efficiency.count_flops(full, "full")
        fh = args.batch * efficiency.count_flops(hot, "full")
        row = dict(full=full_name, hot=hot_name, s_full=sf, s_hot=sh, fps_full=of / sf, fps_hot=oh / sh,
                   ratio=(oh / sh) / (of / sf), flops_ratio=ff / fh, eff_full=ff / sf / peak, eff_hot=fh / sh / peak,
                   spread_full=(max(tf) - min(tf)) / sf, spread_hot=(max(th) - min(th)) / sh)
        rows.append(row)
        print(f"{full_name:>20}: {sf * 1e3:8.1f} ms  {row['fps_full']:9.1f} out-fps  {row['eff_full']:5.1%} of peak | "
              f"{hot_name}: {sh * 1e3:8.1f} ms  {row['fps_hot']:9.1f} out-fps  {row['eff_hot']:5.1%} of peak | "
              f"speed-up {row['ratio']:.2f}x (full-FLOPs ratio {row['flops_ratio']:.2f}x)", flush=True)

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    lines = [f"\n## {when} — {dev}\n",
             f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.kernels} kernels, fp32, "
             f"batch {args.batch}, "
             f"full-length windows, load average before the run {load}, "
             f"median of {args.runs} interleaved runs. fp32 matmul peak measured in the same run: "
             f"{peak / 1e9:.1f} GFLOP/s. '% of peak' = full-convention FLOPs / time / peak.\n",
             "| full model | ms/pass | out-fps | % of peak | HoT/TPC model | ms | out-fps | % of peak | speed-up | "
             "full-FLOPs ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['full']} | {r['s_full'] * 1e3:.1f} | {r['fps_full']:.1f} | {r['eff_full']:.0%} | "
                     f"{r['hot']} | {r['s_hot'] * 1e3:.1f} | {r['fps_hot']:.1f} | {r['eff_hot']:.0%} | "
                     f"{r['ratio']:.2f}x | {r['flops_ratio']:.2f}x |")
    if args.official:
        lines += official_section(args.official, args.runs, device, args.kernels, peak)
    if args.breakdown:
        lines += breakdown_section([(r["full"], r["hot"]) for r in rows], args.runs, device, args.kernels)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text("# Benchmarks\n\nWritten by `python benchmarks/speed.py`; each section is one run.\n")
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
