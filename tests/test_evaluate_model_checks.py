"""evaluate_model.py checks what it can before loading a model: where the base model comes from (one sentence when
it cannot be found) and the video settings (a nonsense value names its key); the libraries' chatter goes to
OUTPUT_DIR/evaluate.log. The checks run its main() in the test's process; the log file test runs the script."""

import json

import pytest

from tests.evaluation_fixtures import REPO_ROOT, evaluate_cli, write_test_set
from tests.training_fixtures import run_main


def test_a_base_model_that_cannot_be_found_is_one_sentence(sample_dir, tmp_path, monkeypatch, capsys):
    test_data = write_test_set(tmp_path, sample_dir, 1, with_bad_clips=False)
    result = run_main(
        "evaluate_model",
        "--base-model",
        "models/not-built",
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(tmp_path / "out"),
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: base model=models/not-built: no such folder" in result.stderr


def test_nonsense_video_settings_are_refused_naming_the_key(tiny_model_dir, sample_dir, tmp_path, monkeypatch, capsys):
    test_data = write_test_set(tmp_path, sample_dir, 1, with_bad_clips=False)
    config = tmp_path / "bad.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": str(tiny_model_dir),
                "template": "qwen2_vl_exact",
                "video_maxlen": 0,
                "video_fps": 8.0,
            }
        )
    )
    result = run_main(
        "evaluate_model",
        "--config",
        str(config),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(tmp_path / "out"),
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "video_maxlen = 0 is not valid" in result.stderr


@pytest.mark.slow
def test_library_output_goes_to_the_log_file(tiny_model_dir, sample_dir, tmp_path):
    test_data = write_test_set(tmp_path, sample_dir, 1, with_bad_clips=False)
    result = evaluate_cli(
        "--base-model",
        str(tiny_model_dir),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(tmp_path / "out"),
        "--max-new-tokens",
        "2",
        "--num-workers",
        "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model: local folder" in result.stderr
    full_log = (tmp_path / "out" / "evaluate.log").read_text()
    assert "Qwen2VLProcessor" in full_log and "Qwen2VLProcessor" not in result.stdout + result.stderr
