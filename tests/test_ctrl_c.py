"""Ctrl-C in evaluation and `make frames`: one line, exit 130, no KeyboardInterrupt traceback from the parent or its
worker processes. SIGINT goes to the whole process group, as a terminal sends it, once the run has reached its
work (a line it printed), never after a guessed time."""

import os
import sys

import pytest

from tests.evaluation_fixtures import REPO_ROOT, write_test_set
from tests.interrupts import output_until, press_ctrl_c, start_in_own_group
from tests.training_fixtures import write_train_config

pytestmark = pytest.mark.slow  # signals to real processes: `make test` runs them, `make test-fast` leaves them out


def assert_one_line(out: str, err: str, line_start: str) -> None:
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith(line_start)


def test_ctrl_c_while_evaluation_loads_its_model(tiny_model_dir, sample_dir, tmp_path):
    test_data = write_test_set(tmp_path, sample_dir, 60, with_bad_clips=False)
    evaluation = start_in_own_group(
        [sys.executable, "evaluate_model.py", "--base-model", str(tiny_model_dir), "--test-data", str(test_data),
         "--video-dir", str(REPO_ROOT), "--output-dir", str(tmp_path / "out"), "--batch-size", "1",
         "--max-new-tokens", "32", "--num-workers", "2"],
        REPO_ROOT,
    )  # fmt: skip
    output_until(evaluation.stderr, "model: local folder")  # checks done: the model is being loaded
    out, err = press_ctrl_c(evaluation)
    assert evaluation.returncode == 130
    assert_one_line(out, err, f"evaluation interrupted (Ctrl-C): the answers made so far are kept in {tmp_path}")


def test_ctrl_c_while_the_frame_store_is_built(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=120)
    env = {**os.environ, "FRAME_STORE_DIR": str(tmp_path / "store")}
    build = start_in_own_group(
        [sys.executable, "-m", "plugins.frames", "build", str(config), "--workers", "2"], REPO_ROOT, env=env
    )
    output_until(build.stderr, "frame store")  # the progress bar: the worker processes are decoding
    out, err = press_ctrl_c(build)
    assert build.returncode == 130
    assert_one_line(out, err, "frame store interrupted (Ctrl-C): the clips decoded so far are kept")
