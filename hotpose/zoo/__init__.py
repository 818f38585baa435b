"""Named models and official-checkpoint readers, one module per backbone family.

Importing this package fills :data:`hotpose.registry.MODELS`, :data:`hotpose.registry.BACKBONES` and
:data:`hotpose.official.OFFICIAL`.
"""
from hotpose.zoo import mixste  # noqa: F401
from hotpose.zoo import motionbert  # noqa: F401
from hotpose.zoo import mhformer  # noqa: F401
from hotpose.zoo import motionagformer  # noqa: F401
from hotpose.zoo import stcformer  # noqa: F401
from hotpose.zoo import framewise  # noqa: F401
from hotpose.zoo import poseformer  # noqa: F401
from hotpose.zoo import strided  # noqa: F401
