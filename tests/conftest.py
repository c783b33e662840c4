"""Shared fixtures: the embedded tiny model and the sample WebVid data, built once if missing."""

import os
import signal
import sys
from pathlib import Path

import pytest

from data import sample_webvid
from models import tiny_qwen2_5_vl, tiny_qwen2vl, tiny_qwen3_5, tiny_qwen3_vl
from tests.video_matrix import build_clip_matrix

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _environment_restored_after_each_test():
    """Entry points called in-process (evaluate_model.main, ...) set variables for their child processes; they must
    not leak into the next test's subprocesses."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _frame_sources_reset_after_each_test():
    """Entry points called in-process (the preflight, evaluation) point the registered templates' plugins at their
    run's frame store; the next test starts from decoding."""
    yield
    registry = sys.modules.get("plugins.registry")  # not imported: no plugin to reset (and LLaMA-Factory not loaded)
    if registry is not None:
        from plugins.frame_source import FrameSource

        for template in registry.TEMPLATES.values():
            FrameSource(None, None).attach(template.mm_plugin)


def pytest_configure(config):
    """The suite never reaches for the model hub, however it is started (`make test` sets the same and more), and
    the processes it starts get Ctrl-C as a terminal gives it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    # A suite started in the background (`nohup make test &`, some CI runners) inherits SIGINT ignored, and so would
    # every process it starts: the Ctrl-C tests would test nothing. A handler is reset to the default on exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """models/tiny-qwen2vl, built on first use (`make test` builds it beforehand)."""
    if not (tiny_qwen2vl.DEFAULT_OUT_DIR / "config.json").exists():
        tiny_qwen2vl.build()
    return tiny_qwen2vl.DEFAULT_OUT_DIR


@pytest.fixture(scope="session")
def tiny_qwen2_5vl_dir() -> Path:
    """models/tiny-qwen2_5vl (the embedded Qwen2.5-VL), built on first use (`make test` builds it beforehand)."""
    if not (tiny_qwen2_5_vl.DEFAULT_OUT_DIR / "config.json").exists():
        tiny_qwen2_5_vl.build()
    return tiny_qwen2_5_vl.DEFAULT_OUT_DIR


@pytest.fixture(scope="session")
def tiny_qwen3vl_dir() -> Path:
    """models/tiny-qwen3vl (the embedded Qwen3-VL), built on first use (`make test` builds it beforehand)."""
    if not (tiny_qwen3_vl.DEFAULT_OUT_DIR / "config.json").exists():
        tiny_qwen3_vl.build()
    return tiny_qwen3_vl.DEFAULT_OUT_DIR


@pytest.fixture(scope="session")
def tiny_qwen3_5_dir() -> Path:
    """models/tiny-qwen3_5 (the embedded Qwen3.5), built on first use (`make test` builds it beforehand)."""
    if not (tiny_qwen3_5.DEFAULT_OUT_DIR / "config.json").exists():
        tiny_qwen3_5.build()
    return tiny_qwen3_5.DEFAULT_OUT_DIR


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """data/sample with webvid.csv and videos/, generated on first use."""
    if not (sample_webvid.DEFAULT_OUT_DIR / "webvid.csv").exists():
        sample_webvid.generate()
    return sample_webvid.DEFAULT_OUT_DIR


@pytest.fixture(scope="session")
def clip_matrix(tmp_path_factory) -> dict[str, tuple[Path, bool]]:
    """The 18-clip matrix (containers, codecs, GOPs, frame rates, lying headers), written once per test run:
    name -> (path, header_right)."""
    return build_clip_matrix(tmp_path_factory.mktemp("clip_matrix"))
