"""Check every registered model on an accelerator against the CPU: same outputs (tiny sizes, kept frames injected),
forward and backward run, and, where ../shared/golden exists, the golden outputs reproduced on the device.

Usage: python benchmarks/device_check.py [--device cuda]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import hotpose
from hotpose.registry import tiny_overrides


DISCONTINUOUS = {m: "a top-k similarity graph flips on ~1e-6 rounding differences between devices"
                 for m in ("motionagformer", "hot_motionagformer")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--golden", default=str(Path(__file__).resolve().parents[2] / "shared" / "golden"))
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    failures = 0
    for name in hotpose.list_models():
        torch.manual_seed(0)
        model = hotpose.build_model(name, **tiny_overrides(name)).eval()
        bb = model.backbone
        x = torch.randn(2, bb.frames, bb.joints, bb.in_channels)
        with torch.no_grad():
            ref = model(x)
            out = model.to(dev)(x.to(dev), keep_idx=None if ref.keep_idx is None else ref.keep_idx.to(dev))
        err = (out.pose.cpu() - ref.pose).abs().max().item()
        model.train()
        model(x.to(dev)).pose.square().mean().backward()
        ok = err < 1e-4
        failures += not ok
        print(f"{'ok ' if ok else 'BAD'} {name:<30} max |cuda - cpu| = {err:.2e}, backward ran")
    golden = Path(args.golden)
    for path in sorted(golden.glob("*.pt")) if golden.is_dir() else []:
        g = torch.load(path, weights_only=True)
        a = g["config"]["args"]
        model = hotpose.load_official(g["config"]["model"], g["state_dict"], layer_index=a.get("layer_index"),
                                      token_num=a.get("token_num")).to(dev)
        idx = g.get("selected_index")
        with torch.no_grad():
            out = model(g["input"].to(dev), keep_idx=None if idx is None else idx.to(dev))
        err = (out.pose.cpu() - g["output"]).abs().max().item()
        if g["config"]["model"] in DISCONTINUOUS:
            print(f"--  golden {path.stem:<23} max error {err:.2e} (not compared: {DISCONTINUOUS[g['config']['model']]})")
            continue
        ok = err < 1e-4
        failures += not ok
        print(f"{'ok ' if ok else 'BAD'} golden {path.stem:<23} max error {err:.2e}")
    print("all good" if not failures else f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
