"""Shared fixtures. Golden vectors come from ../shared/golden (made by running the official models); tests that need
them skip with the reason when that folder is absent, as in a fresh clone."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HOTPOSE_SHARED", ROOT.parent / "shared"))
GOLDEN = SHARED / "golden"


def golden_files() -> list[str]:
    """Names of the golden files present (empty in a fresh clone without ../shared)."""
    return sorted(p.stem for p in GOLDEN.glob("*.pt")) if GOLDEN.is_dir() else []


def load_golden(name: str) -> dict:
    path = GOLDEN / f"{name}.pt"
    if not path.exists():
        pytest.skip(f"golden vectors not found at {path} (they live in ../shared, outside the repository)")
    return torch.load(path, weights_only=True)


def load_benchmark(name: str):
    """benchmarks/<name>.py as a module (benchmarks/ is not a package; the scripts import each other by name)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests with one intra-op thread, then restore the setting: tiny models run several times faster
    so on a shared 2-core machine, and reductions run in a fixed order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
