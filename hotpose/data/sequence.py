"""One camera view of one recorded sequence: the unit every reader returns and every window is cut from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hotpose.data.cameras import Camera
from hotpose.data.io import DataError

# The 17 joints that Human3.6M's 32-joint mocap keeps (VideoPose3D's removal of the static joints).
H36M_KEEP_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


@dataclass
class Sequence:
    """A camera view of one sequence.

    inputs:  (T, J, C) float32 normalised screen coordinates (C = 2, or 3 with a confidence channel).
    targets: (T, J, 3) float32 camera-frame metres, root-relative with the root (joint 0) at 0.
    valid:   (T,) bool frames that are scored (MPI-INF-3DHP test); None means every frame.
    """

    subject: str
    action: str
    camera: str
    inputs: np.ndarray
    targets: np.ndarray
    valid: np.ndarray | None = None

    def __post_init__(self):
        what = f"{self.subject}/{self.action}/camera {self.camera}"
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise DataError(f"{what}: {self.inputs.shape[0]} 2D frames but {self.targets.shape[0]} 3D frames")
        if self.inputs.shape[1] != self.targets.shape[1]:
            raise DataError(f"{what}: {self.inputs.shape[1]} 2D joints but {self.targets.shape[1]} 3D joints")
        if self.valid is not None and self.valid.shape != (len(self),):
            raise DataError(f"{what}: valid mask of shape {self.valid.shape} for {len(self)} frames")

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def group(self) -> str:
        """The action name used for per-action tables: the text before the first space."""
        return action_group(self.action)


# Human3.6M's S1 names two actions differently from the other subjects.
ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def action_group(action: str) -> str:
    """'Directions 1' -> 'Directions' (Human3.6M's per-action averaging; S1's 'TakingPhoto' -> 'Photo')."""
    name = action.split(" ")[0]
    return ACTION_ALIASES.get(name, name)


def root_relative(poses: np.ndarray, root: int = 0) -> np.ndarray:
    """(T, J, 3) -> (T, J, 3) with the root joint subtracted (the root becomes 0)."""
    return (poses - poses[:, root:root + 1]).astype(np.float32)


def to_17_joints(poses: np.ndarray) -> np.ndarray:
    """(T, 32 | 17, 3) Human3.6M mocap -> (T, 17, 3)."""
    return poses[:, list(H36M_KEEP_32)] if poses.shape[1] == 32 else poses


def camera_targets(world: np.ndarray, camera: Camera) -> np.ndarray:
    """(T, 17, 3) world metres -> (T, 17, 3) root-relative camera-frame metres."""
    return root_relative(camera.world_to_camera(world))


def filter_actions(actions: list[str], wanted, what: str) -> list[str]:
    """Keep the actions whose group (or full name) is in ``wanted`` (None: all); a wanted name that matches
    nothing is an error."""
    if wanted is None:
        return actions
    wanted = list(wanted)
    missing = [w for w in wanted if not any(w in (a, action_group(a)) for a in actions)]
    if missing:
        raise DataError(f"{what}: action(s) {missing} not found; available: "
                        f"{sorted({action_group(a) for a in actions})}")
    return [a for a in actions if a in wanted or action_group(a) in wanted]
