"""The hourglass, written once: prune frame tokens to a few representatives, run the remaining blocks on them,
recover the full sequence. Every backbone plugs into :class:`~hotpose.hourglass.model.HourglassModel`."""
from hotpose.hourglass.cluster import dpc_knn
from hotpose.hourglass.config import HourglassConfig
from hotpose.hourglass.gather import gather_frames
from hotpose.hourglass.init import TRA_INITS, init_tra, sinusoid
from hotpose.hourglass.pruners import PRUNERS, select_frames
from hotpose.hourglass.recoverers import RECOVERERS, TokenRecoveringAttention, make_recoverer

__all__ = ["dpc_knn", "HourglassConfig", "gather_frames", "TRA_INITS", "init_tra", "sinusoid", "PRUNERS",
           "select_frames", "RECOVERERS",
           "TokenRecoveringAttention", "make_recoverer"]
