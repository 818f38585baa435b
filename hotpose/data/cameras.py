"""Cameras: world -> camera frame, projection with the Human3.6M distortion model, screen normalisation.

Conventions (those of VideoPose3D / HoT): an orientation is a unit quaternion (w, x, y, z) rotating camera-frame
vectors into the world frame; a translation is the camera centre in world coordinates. Camera frame: x right, y down,
z along the optical axis. Positions are metres (the JSON stores translations in millimetres). Screen normalisation
(SPEC section 5): u' = u / w * 2 - 1, v' = v / w * 2 - h / w, both axes divided by the image width w.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from hotpose.data.io import DataError


@dataclass(frozen=True)
class Camera:
    """One calibrated camera. Intrinsics in pixels; ``rotation`` (3, 3) camera-to-world and ``translation`` (3,)
    camera centre in metres, both None for an intrinsics-only camera."""

    id: str
    res_w: int
    res_h: int
    focal: np.ndarray  # (2,) px
    center: np.ndarray  # (2,) px
    radial: np.ndarray  # (3,) k1 k2 k3
    tangential: np.ndarray  # (2,) p1 p2 (VideoPose3D order)
    rotation: np.ndarray | None = None
    translation: np.ndarray | None = None

    def world_to_camera(self, x: np.ndarray) -> np.ndarray:
        """(..., 3) world metres -> (..., 3) camera-frame metres: R^T (x - t)."""
        if self.rotation is None:
            raise DataError(f"camera {self.id} has no extrinsics")
        return (np.asarray(x, np.float64) - self.translation) @ self.rotation

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points (z > 0) -> (..., 2) pixels, with radial and tangential distortion."""
        x_cam = np.asarray(x_cam, np.float64)
        xy = x_cam[..., :2] / x_cam[..., 2:]
        r2 = (xy ** 2).sum(-1, keepdims=True)
        k1, k2, k3 = self.radial
        radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        tan = (xy * self.tangential).sum(-1, keepdims=True)
        xy_d = xy * (radial + tan) + self.tangential * r2
        return xy_d * self.focal + self.center

    def normalize(self, uv: np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> normalised screen coordinates (x in [-1, 1], aspect kept)."""
        return normalize_screen(uv, self.res_w, self.res_h)


def normalize_screen(uv: np.ndarray, w: float, h: float) -> np.ndarray:
    """(..., 2) pixels -> (..., 2) normalised: u / w * 2 - 1, v / w * 2 - h / w."""
    uv = np.asarray(uv, np.float32)
    return uv / w * 2 - np.array([1, h / w], np.float32)


def quaternion_to_matrix(q) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> (3, 3) rotation matrix."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


@dataclass(frozen=True)
class CameraSet:
    """Intrinsics of every camera (in file order) and, per subject, the full cameras in the same order."""

    intrinsics: tuple[Camera, ...]
    subjects: dict[str, tuple[Camera, ...]]

    def of(self, subject: str) -> tuple[Camera, ...]:
        """The calibrated cameras of ``subject`` (DataError naming the known subjects if absent)."""
        if subject not in self.subjects:
            raise DataError(f"no camera extrinsics for subject {subject!r}; the camera file has "
                            f"{sorted(self.subjects)} (set data.camera_subject to reuse one of them)")
        return self.subjects[subject]

    def capture_centre(self, subject: str) -> np.ndarray:
        """(3,) world point closest, in least squares, to the optical axes of ``subject``'s cameras (metres)."""
        a, b = np.zeros((3, 3)), np.zeros(3)
        for cam in self.of(subject):
            d = cam.rotation[:, 2]
            p = np.eye(3) - np.outer(d, d)
            a += p
            b += p @ cam.translation
        return np.linalg.solve(a, b)


def default_camera_file() -> Path:
    """The packaged copy of the public Human3.6M camera parameters."""
    return Path(str(resources.files("hotpose.data") / "h36m_cameras.json"))


def load_cameras(path: str | Path | None = None) -> CameraSet:
    """Read a camera JSON in the layout of ``h36m_cameras.json`` (None: the packaged Human3.6M cameras)."""
    path = Path(path) if path else default_camera_file()
    if not path.is_file():
        raise DataError(f"{path}: camera file not found")
    try:
        doc = json.loads(path.read_text())
        intr = {}
        for c in doc["cameras"]:
            intr[str(c["id"])] = dict(id=str(c["id"]), res_w=int(c["res_w"]), res_h=int(c["res_h"]),
                                      focal=np.array(c["focal_length"], np.float64),
                                      center=np.array(c["center"], np.float64),
                                      radial=np.array(c["radial_distortion"], np.float64),
                                      tangential=np.array(c["tangential_distortion"], np.float64))
        subjects = {}
        for subject, cams in doc.get("extrinsics", {}).items():
            subjects[subject] = tuple(
                Camera(**intr[str(e["camera_id"])], rotation=quaternion_to_matrix(e["orientation_wxyz"]),
                       translation=np.array(e["translation_mm"], np.float64) / 1000) for e in cams)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path}: not a camera file in the h36m_cameras.json layout ({type(e).__name__}: {e})") \
            from None
    for c in intr.values():
        if c["focal"].shape != (2,) or c["center"].shape != (2,) or c["radial"].shape != (3,) \
                or c["tangential"].shape != (2,):
            raise DataError(f"{path}: camera {c['id']} needs focal_length[2], center[2], radial_distortion[3], "
                            "tangential_distortion[2]")
    return CameraSet(tuple(Camera(**c) for c in intr.values()), subjects)


VIRTUAL = "virtual"  # the rig name under which :func:`with_virtual_cameras` adds drawn cameras
VIRTUAL_DEFAULTS = {"count": 40, "elevation": [-30.0, 45.0], "roll": 15.0, "portrait": 0.5, "focal_mm": [20.0, 35.0],
                    "distance": [2.0, 15.0], "target": [0.0, 0.0, 1.0], "seed": 0}
FULL_FRAME_DIAGONAL_MM = float(np.hypot(36.0, 24.0))


def check_virtual(spec: dict) -> dict:
    """A virtual-camera spec with its defaults filled in (:data:`VIRTUAL_DEFAULTS`), or a DataError saying what is
    wrong."""
    unknown = sorted(set(spec) - set(VIRTUAL_DEFAULTS))
    if unknown:
        raise DataError(f"virtual_cameras: unknown key(s) {unknown}; expected some of {sorted(VIRTUAL_DEFAULTS)}")
    s = {**VIRTUAL_DEFAULTS, **spec}
    try:
        s["count"], s["seed"] = int(s["count"]), int(s["seed"])
        for key in ("elevation", "focal_mm", "distance"):
            low, high = (float(v) for v in s[key])
            s[key] = [low, high]
        s["roll"], s["portrait"] = float(s["roll"]), float(s["portrait"])
        s["target"] = [float(v) for v in s["target"]]
    except (TypeError, ValueError):
        raise DataError(f"virtual_cameras: count and seed are integers, elevation / focal_mm / distance "
                        f"[low, high] pairs, roll and portrait numbers, target [x, y, z]; got {spec}") from None
    if s["count"] < 1 or len(s["target"]) != 3:
        raise DataError(f"virtual_cameras: need count >= 1 and target [x, y, z], got {spec}")
    if not -89 <= s["elevation"][0] <= s["elevation"][1] <= 89:
        raise DataError(f"virtual_cameras.elevation must be [low, high] degrees within -89..89, got {s['elevation']}")
    if not 0 < s["focal_mm"][0] <= s["focal_mm"][1] or not 0 < s["distance"][0] <= s["distance"][1]:
        raise DataError(f"virtual_cameras: focal_mm and distance need 0 < low <= high, got {spec}")
    if not 0 <= s["roll"] <= 90 or not 0 <= s["portrait"] <= 1:
        raise DataError(f"virtual_cameras: need 0 <= roll <= 90 degrees and 0 <= portrait <= 1, got {spec}")
    return s


def virtual_cameras(spec: dict) -> tuple[Camera, ...]:
    """Cameras drawn from a range of viewpoints and lenses, as phones and action cameras film people, all aimed at
    ``target`` (world metres, Z up; default 1 m above the origin, about pelvis height).

    Per camera, from ``seed``: azimuth uniform over the full circle; ``elevation`` uniform in [low, high] degrees
    (positive: above the target, looking down); distance log-uniform in ``distance`` metres; a roll about the
    optical axis uniform in +-``roll`` degrees; portrait (1080 x 1920) with probability ``portrait``, else landscape
    (1920 x 1080); a focal length uniform in ``focal_mm`` (35 mm full-frame equivalent, i.e. over the 43.3 mm
    diagonal); principal point at the image centre; no lens distortion. Camera ids are ``v0``, ``v1``, ...
    """
    s = check_virtual(spec)
    rng = np.random.default_rng([s["seed"], 0x5CA3])
    target = np.array(s["target"], np.float64)
    up = np.array([0.0, 0.0, 1.0])
    out = []
    for i in range(s["count"]):
        azimuth = rng.uniform(0, 2 * np.pi)
        elevation = np.radians(rng.uniform(*s["elevation"]))
        distance = float(np.exp(rng.uniform(*np.log(s["distance"]))))
        roll = np.radians(rng.uniform(-s["roll"], s["roll"]))
        portrait = rng.random() < s["portrait"]
        focal_mm = rng.uniform(*s["focal_mm"])
        centre = target + distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                               np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
        forward = (target - centre) / np.linalg.norm(target - centre)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        c, si = np.cos(roll), np.sin(roll)
        right, down = c * right + si * down, -si * right + c * down
        w, h = (1080, 1920) if portrait else (1920, 1080)
        f = focal_mm / FULL_FRAME_DIAGONAL_MM * float(np.hypot(w, h))
        out.append(Camera(f"v{i}", w, h, np.array([f, f]), np.array([w / 2, h / 2]), np.zeros(3), np.zeros(2),
                          rotation=np.stack([right, down, forward], axis=1), translation=centre))
    return tuple(out)


def with_virtual_cameras(cameras: CameraSet, spec: dict) -> CameraSet:
    """``cameras`` plus the rig :data:`VIRTUAL` of :func:`virtual_cameras` ``(spec)``."""
    drawn = virtual_cameras(spec)
    return CameraSet(cameras.intrinsics + tuple(replace(c, rotation=None, translation=None) for c in drawn),
                     {**cameras.subjects, VIRTUAL: drawn})
