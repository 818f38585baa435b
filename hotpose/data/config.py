"""The data section of a training/evaluation config, and the train / val / test splits it describes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotpose.data import h36m, mpi3dhp
from hotpose.data.cameras import VIRTUAL, check_virtual, load_cameras, with_virtual_cameras
from hotpose.data.io import DataError
from hotpose.data.motion import read_motion
from hotpose.data.sequence import Sequence

KINDS = ("h36m", "3dhp", "motion")
SPLITS = ("train", "val", "test")


@dataclass
class DataConfig:
    """Where the data is and how to split it.

    kind:            "h36m" (VideoPose3D npz files), "3dhp" (P-STMO npz files) or "motion" (a 3D npz projected
                     through cameras).
    root:            folder that relative file names are read from.
    file_3d:         h36m: data_3d_h36m.npz; 3dhp: data_train_3dhp.npz; motion: the 3D file (required).
    file_2d:         h36m only; default data_2d_h36m_<keypoints>.npz (keypoints "gt" reads the ground-truth file).
    file_test:       3dhp only; default data_test_3dhp.npz.
    cameras:         camera JSON (h36m, motion); None: the packaged Human3.6M parameters.
    camera_subject:  motion: the subject whose camera extrinsics film every subject (None: each its own); a list
                     pools the cameras of several subjects.
    test_camera_subject: motion: the same for the test split (None: camera_subject).
    camera_ids:      motion / 3dhp training: keep only these cameras (None: all).
    *_subjects:      subjects of each split (None: the dataset's standard split; 3dhp test: TS1..TS6).
    val_fraction:    when val_subjects is empty, hold out this fraction of the training (subject, action) pairs,
                     all cameras together, chosen with a fixed seed.
    actions:         keep only these actions (names before the first space, or full names); None: all.
    max_sequences:   keep at most this many camera views per split, evenly spread (small runs); None: all.
    views_per_action: motion: keep this many of the cameras per (subject, action), drawn with noise_seed.
    root_motion, noise_px, outlier_prob, outlier_px, noise_seed, min_depth, missing_prob, missing_max_gap: motion
                     projection (see :mod:`hotpose.data.motion`).
    bone_scale:      motion, training and validation views only: {bone group: [low, high]} ranges of the factors
                     that give each view a body of other proportions (see :mod:`hotpose.data.motion`); the test
                     split keeps the recorded bodies.
    virtual_cameras: motion: the spec of the rig named ``virtual`` (usable in camera_subject and
                     test_camera_subject, alone or pooled with others): cameras drawn from a range of viewpoints and
                     lenses, as phones and action cameras film people (see
                     :func:`hotpose.data.cameras.virtual_cameras`; None: its defaults).
    pose_aug:        motion, training and validation views only: limb and trunk offsets within joint limits that
                     give views poses the data lacks (see :mod:`hotpose.data.pose_aug`); the test split keeps the
                     recorded poses.
    test_views_per_action, test_bone_scale, test_placement: motion, the test split's own settings (None: the
                     views_per_action of the other splits, and the recorded bodies where ``root_motion`` puts them);
                     robustness tests give the test views other bodies and placements this way.
    frame_step:      temporal downsampling of every window, training and evaluation (P-STMO's and STCFormer's
                     ``-tds``): 1 takes every frame; s takes every s-th frame around the window's target, so F
                     positions span (F - 1) * s + 1 frames, frames past a sequence end repeating its first / last
                     frame (see :mod:`hotpose.data.windows`).
    """

    kind: str = "h36m"
    root: str = "."
    file_3d: str | None = None
    file_2d: str | None = None
    file_test: str | None = None
    keypoints: str = "cpn_ft_h36m_dbb"
    cameras: str | None = None
    camera_subject: str | list | None = None
    camera_ids: list | None = None
    test_camera_subject: str | list | None = None
    train_subjects: list | None = None
    val_subjects: list | None = None
    test_subjects: list | None = None
    val_fraction: float = 0.0
    actions: list | None = None
    max_sequences: int | None = None
    root_motion: str = "follow"
    noise_px: float = 0.0
    outlier_prob: float = 0.0
    outlier_px: float = 0.0
    noise_seed: int = 0
    min_depth: float = 1.0
    views_per_action: int | None = None
    missing_prob: float = 0.0
    missing_max_gap: int = 10
    bone_scale: dict | None = None
    placement: dict | None = None
    frame_step: int = 1
    virtual_cameras: dict | None = None
    pose_aug: dict | None = None
    test_views_per_action: int | None = None
    test_bone_scale: dict | None = None
    test_placement: dict | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"data.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "motion" and not self.file_3d:
            raise ValueError("data.kind 'motion' needs data.file_3d (a positions_3d npz)")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.frame_step < 1:
            raise ValueError(f"data.frame_step must be >= 1 (1: every frame), got {self.frame_step}")
        if self.val_subjects and self.val_fraction:
            raise ValueError("set data.val_subjects or data.val_fraction, not both")

    def path(self, name: str) -> Path:
        """``name`` resolved against ``root``."""
        return Path(self.root) / name

    def subjects(self, split: str) -> list | None:
        """The subjects of ``split`` (None: every subject in the file)."""
        given = getattr(self, f"{split}_subjects")
        if given is not None or split == "val":
            return list(given or [])
        if self.kind == "h36m":
            return list(h36m.TRAIN_SUBJECTS if split == "train" else h36m.TEST_SUBJECTS)
        if self.kind == "3dhp":
            return list(mpi3dhp.TRAIN_SUBJECTS if split == "train" else mpi3dhp.TEST_SEQUENCES)
        raise ValueError(f"data.{split}_subjects must be set for data.kind 'motion'")


def read_subjects(cfg: DataConfig, subjects: list, test: bool = False) -> list[Sequence]:
    """Camera views of ``subjects`` (``test``: from the 3DHP test file)."""
    if not subjects:
        return []
    if cfg.kind == "h36m":
        name_2d = cfg.file_2d or ("data_2d_h36m_gt.npz" if cfg.keypoints == "gt"
                                  else f"data_2d_h36m_{cfg.keypoints}.npz")
        return h36m.read_h36m(cfg.path(cfg.file_3d or "data_3d_h36m.npz"), cfg.path(name_2d), subjects,
                              load_cameras(cfg.cameras), cfg.actions)
    if cfg.kind == "3dhp":
        if test:
            return mpi3dhp.read_3dhp_test(cfg.path(cfg.file_test or "data_test_3dhp.npz"), subjects)
        return mpi3dhp.read_3dhp_train(cfg.path(cfg.file_3d or "data_train_3dhp.npz"), subjects, cfg.camera_ids)
    rig = cfg.test_camera_subject if test and cfg.test_camera_subject is not None else cfg.camera_subject
    cameras = load_cameras(cfg.cameras)
    if VIRTUAL in ([rig] if isinstance(rig, str) else list(rig or [])):
        cameras = with_virtual_cameras(cameras, cfg.virtual_cameras or {})
    elif cfg.virtual_cameras is not None:
        check_virtual(cfg.virtual_cameras)
    return read_motion(cfg.path(cfg.file_3d), subjects, cameras, rig, cfg.actions,
                       cfg.root_motion, cfg.noise_px, cfg.outlier_prob, cfg.outlier_px, cfg.noise_seed,
                       cfg.min_depth, cfg.camera_ids,
                       cfg.test_views_per_action if test and cfg.test_views_per_action is not None
                       else cfg.views_per_action, cfg.missing_prob,
                       cfg.missing_max_gap, cfg.test_bone_scale if test else cfg.bone_scale,
                       cfg.test_placement if test else cfg.placement, None if test else cfg.pose_aug)


def hold_out(seqs: list[Sequence], fraction: float, seed: int = 0) -> tuple[list[Sequence], list[Sequence]]:
    """Split views into (kept, held out) by (subject, action), all cameras of a pair on the same side."""
    keys = sorted({(s.subject, s.action) for s in seqs})
    n = int(round(fraction * len(keys)))
    if fraction > 0 and n == 0:
        n = 1
    if n >= len(keys):
        raise DataError(f"data.val_fraction={fraction} would hold out all {len(keys)} training sequences")
    chosen = {keys[i] for i in np.random.default_rng(seed).choice(len(keys), n, replace=False)}
    return ([s for s in seqs if (s.subject, s.action) not in chosen],
            [s for s in seqs if (s.subject, s.action) in chosen])


def limit(seqs: list[Sequence], n: int | None) -> list[Sequence]:
    """At most ``n`` views, evenly spread over the list."""
    if n is None or len(seqs) <= n:
        return seqs
    return [seqs[i] for i in np.linspace(0, len(seqs) - 1, n).round().astype(int)]


def load_splits(cfg: DataConfig, splits=SPLITS) -> dict[str, list[Sequence]]:
    """{split: [Sequence]} for the requested ``splits``; the validation split is empty when none is configured."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; expected {SPLITS}")
    out = {}
    if "train" in splits or ("val" in splits and cfg.val_fraction):
        train = read_subjects(cfg, cfg.subjects("train"))
        train, held = hold_out(train, cfg.val_fraction) if cfg.val_fraction else (train, [])
        out["train"], out["val"] = train, held
    if "val" in splits and not cfg.val_fraction:
        out["val"] = read_subjects(cfg, cfg.subjects("val"))
    if "test" in splits:
        out["test"] = read_subjects(cfg, cfg.subjects("test"), test=True)
    return {s: limit(out[s], cfg.max_sequences) for s in splits}
