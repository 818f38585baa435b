"""How steady are the lifted bone lengths? The coefficient of variation (std / mean over time) of each of the 16
bone lengths, averaged over the bones, for a lifter on:

* ``sample``: the built-in sample of ``hotpose demo`` (real BlazePose keypoints of one person, 164 frames);
* ``--video DIR/NAME.npz`` (repeatable): the ``keypoints_2d`` of a ``hotpose infer`` output, cut into tracks and
  lifted as ``hotpose infer`` does (``hotpose.video.infer.tracks``, ``lift_tracks``), each track of 10 frames or more
  scored alone (the figures infer logs);
* ``test views`` (when the Bandai-Namco data is at ``--data``): the test views of configs/lifter/default.yaml
  (projected ground-truth 2D; the ground truth's own figure is printed beside it).

It also prints ``short``: the mean over bones of (5th percentile of the length) / (median length), which falls when
a bone collapses in some frames (e.g. the shoulders of a person seen side-on).

    python benchmarks/bone_steadiness.py                         # the packaged default model
    python benchmarks/bone_steadiness.py --checkpoint runs/X/best.pt --video out/demo.npz
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotpose.skeleton import JOINT_NAMES, bone_length_series  # noqa: E402
from hotpose.video.infer import bone_cv, identity_jumps, lift_tracks, load_lifter, tracks, valid_frames  # noqa: E402


def shortest(pose) -> float:
    lengths = bone_length_series(pose)
    return float(np.mean(np.percentile(lengths, 5, axis=0) / np.maximum(np.median(lengths, axis=0), 1e-9)))


def per_bone(pose) -> dict:
    lengths = bone_length_series(pose)
    cv = lengths.std(0) / np.maximum(lengths.mean(0), 1e-9)
    return {JOINT_NAMES[j + 1]: round(float(c), 3) for j, c in enumerate(cv)}


def test_views(lifter, data: Path):
    from hotpose.data.config import load_splits
    from hotpose.engine.config import load_config

    cfg = load_config(str(ROOT / "configs" / "lifter" / "default.yaml"),
                      [f"data.root={data}", "data.noise_px=0", "data.outlier_prob=0", "data.missing_prob=0"])
    seqs = load_splits(cfg.data, ["test"])["test"]
    cvs, gt = [], []
    for s in seqs:
        # inputs are normalised screen coordinates; as pixels of a 1000 x 1000 image they normalise back exactly
        cvs.append(bone_cv(lift_tracks(lifter, (s.inputs[..., :2] + 1.0) * 500.0, (1000, 1000))))
        gt.append(bone_cv(s.targets))
    return float(np.mean(cvs)), float(np.mean(gt)), len(seqs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="a `hotpose train` checkpoint (default: the packaged default model)")
    ap.add_argument("--video", action="append", default=[], help="a `hotpose infer` output npz (repeatable)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "bandai"),
                    help="folder of data_3d_bandai.npz for the test views (skipped when missing)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from hotpose.video.demo import load_sample

    lifter = load_lifter(args.checkpoint)
    rows = []
    s = load_sample()
    pose = lift_tracks(lifter, s["keypoints_2d"], s["image_size"])
    rows.append({"input": "built-in sample", "frames": len(pose), "cv": bone_cv(pose), "short": shortest(pose),
                 "bones": per_bone(pose)})
    for v in args.video:
        with np.load(v) as f:
            kp, size, fps = f["keypoints_2d"], tuple(float(x) for x in f["image_size"]), float(f["fps"])
        present = np.isfinite(kp).all(-1).any(-1)
        found = tracks(valid_frames(present, fps), identity_jumps(kp, present))  # as `hotpose infer` cuts them
        pose_all = lift_tracks(lifter, kp, size, track_ranges=found)
        for a, b in (r for r in found if r[1] - r[0] >= 10):
            pose = pose_all[a:b]
            rows.append({"input": f"{Path(v).name} frames {a}-{b - 1}", "frames": b - a, "cv": bone_cv(pose),
                         "short": shortest(pose), "bones": per_bone(pose)})
    if (Path(args.data) / "data_3d_bandai.npz").is_file():
        cv, gt, n = test_views(lifter, Path(args.data))
        rows.append({"input": f"test views ({n}, projected ground truth; ground truth's own CV {gt:.3f})",
                     "frames": None, "cv": cv, "short": None})
    else:
        print(f"(no test views: {args.data}/data_3d_bandai.npz not found)")

    print(f"lifter: {args.checkpoint or 'packaged default model'}")
    print(f"{'input':60s} {'frames':>6s} {'CV':>6s} {'short':>6s}")
    for r in rows:
        short = "" if r["short"] is None else f"{r['short']:.3f}"
        frames = "" if r["frames"] is None else r["frames"]
        print(f"{r['input']:60s} {frames:>6} {r['cv']:6.3f} {short:>6s}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
