"""`python -m plugins.train` runs the decode check by default; --skip-decode-check skips it, said loudly, and a
clip that then fails while training reads it stops training with a message naming the clip and the fix."""

import pytest

from plugins.preflight import split_preflight_options
from tests.damaged_clips import faststart_clip, zero_tail
from tests.training_fixtures import log_of, run_entry_point, sample_clips, write_dataset, write_train_config


def test_preflight_options_are_kept_from_llamafactorys_parser():
    argv = ["c.yaml", "max_steps=1", "--skip-decode-check", "--decode-workers", "3", "x=1", "--decode-workers=2"]
    assert split_preflight_options(argv) == (
        ["c.yaml", "max_steps=1", "x=1"],
        ["--skip-decode-check", "--decode-workers", "3", "--decode-workers=2"],
    )


@pytest.fixture
def damaged_run(tiny_model_dir, sample_dir, tmp_path):
    """A config whose one batch holds a good sample clip and a preallocated download killed at 40 %."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, per_device_train_batch_size=2, max_steps=1)
    damaged = zero_tail(faststart_clip(tmp_path / "whole.mp4"), tmp_path / "zeroed.mp4")
    write_dataset(tmp_path, [*sample_clips(sample_dir, 1), damaged])
    return config, damaged


@pytest.mark.slow
def test_train_stops_at_the_decode_check_naming_the_clip(damaged_run):
    config, damaged = damaged_run
    result = run_entry_point("plugins.train", config)
    log = log_of(result)
    assert result.returncode != 0, log[-3000:]
    assert f"tiny_train[1] id=1 {damaged}: frames cannot be decoded" in log
    assert "--drop-offending DIR" in log and "preflight failed" in log


@pytest.mark.slow
@pytest.mark.parametrize("loader_workers", [0, 1])  # 1: the error crosses a DataLoader worker process (demo config)
def test_skipped_check_is_loud_and_a_failing_clip_stops_training_naming_it(damaged_run, loader_workers):
    config, damaged = damaged_run
    result = run_entry_point("plugins.train", config, "--skip-decode-check", f"dataloader_num_workers={loader_workers}")
    log = log_of(result)
    assert result.returncode != 0, log[-3000:]
    assert "decode check SKIPPED (--skip-decode-check)" in log
    assert f"{damaged}: cannot read video (truncated)" in log
    assert "this clip passed preflight but fails now: it changed on disk?" in log
    assert "training stopped:" in result.stderr and "Traceback" not in result.stderr
