"""hotpose: efficient video-based 3D human pose estimation with the Hourglass Tokenizer (HoT, CVPR 2024).

Dimension letters used throughout: B batch, F frames, J joints (17, Human3.6M order), C channels, H heads,
n kept frames.
"""
from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.model import HourglassModel, PoseOutput
from hotpose import layers
from hotpose.official import load_official
from hotpose.lifter import Lifter
from hotpose.registry import build_from_config, build_model, list_models
from hotpose import zoo  # noqa: F401  (registers the named models)

__version__ = "0.1.0"

__all__ = ["HourglassConfig", "HourglassModel", "Lifter", "PoseOutput", "load_official", "build_from_config",
           "build_model", "layers", "list_models", "__version__"]
