"""From keypoints to 3D motion files: keypoint formats and readers, BVH export, npz/JSON outputs.

Numpy only; the detector and the video decoding live behind the optional `video` extra."""
from .bvh import read_bvh, write_bvh
from .export import save_outputs
from .keypoints import FORMATS, load_keypoints, to_h36m

__all__ = ["FORMATS", "load_keypoints", "to_h36m", "read_bvh", "write_bvh", "save_outputs"]
