"""The packaged default lifter must not jump when its 2D input moves by half a pixel (issue 12, item 8).

With TPC selecting the kept frames, 0.5 px of Gaussian noise on the first 108 frames of the built-in sample moved
the output by 134-378 mm (largest joint displacement, 10 noise draws); with the uniform selection the default now
uses, by 5-9 mm (docs/stability.md has the full measurement). The threshold sits between the two with a wide margin
on both sides, and the passing outcome is a continuous function of the input (no selection that a near-tie decides).
"""
import numpy as np
import pytest
import torch

from hotpose.lifter import Lifter
from hotpose.video.demo import load_sample

FRAMES = 108  # four windows of 27 frames
NOISE_PX = 0.5
THRESHOLD_M = 0.040


@pytest.fixture(scope="module")
def lifter():
    try:
        return Lifter.from_pretrained("default")
    except FileNotFoundError:
        pytest.skip("packaged default weights not present")


def largest_jump(lifter, seeds=(0, 1, 2)) -> float:
    s = load_sample()
    kp = s["keypoints_2d"][:FRAMES].astype(np.float64)
    clean = lifter.lift(kp, s["image_size"])
    rng = np.random.default_rng(0)
    jumps = [np.linalg.norm(lifter.lift(kp + rng.normal(0, NOISE_PX, kp.shape), s["image_size"]) - clean,
                            axis=-1).max() for _ in seeds]
    return float(max(jumps))


def test_default_lifter_is_stable_under_half_pixel_noise(lifter):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        jump = largest_jump(lifter)
    finally:
        torch.set_num_threads(threads)
    assert jump < THRESHOLD_M, f"0.5 px of noise moved a joint by {jump * 1000:.0f} mm"
