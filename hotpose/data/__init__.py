"""Data: cameras, readers (Human3.6M, MPI-INF-3DHP, any 3D motion projected through cameras), windows.

Every reader returns a list of :class:`Sequence` (one camera view each): normalised 2D inputs (T, J, C) and
root-relative camera-frame 3D targets (T, J, 3) in metres, joints in the Human3.6M order of
:mod:`hotpose.skeleton`. Problems with files end in one :class:`DataError`.
"""
from hotpose.data.cameras import Camera, CameraSet, load_cameras, normalize_screen
from hotpose.data.config import DataConfig, load_splits
from hotpose.data.h36m import read_h36m
from hotpose.data.io import DataError
from hotpose.data.motion import read_motion
from hotpose.data.mpi3dhp import read_3dhp_test, read_3dhp_train
from hotpose.data.sequence import Sequence
from hotpose.data.windows import Windows, epoch_order

__all__ = ["Camera", "CameraSet", "DataConfig", "DataError", "Sequence", "Windows", "epoch_order", "load_cameras",
           "load_splits", "normalize_screen", "read_3dhp_test", "read_3dhp_train", "read_h36m", "read_motion"]
