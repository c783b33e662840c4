"""Training shows what a person acts on and keeps the rest in a log file: the preflight verdict, the progress bar
with the loss and where the outputs went on the console; model/processor dumps and library warnings nobody can
act on (deprecations, DataLoader's pin_memory notice) only in OUTPUT_DIR/train.log."""

import os

import pytest

from tests.evaluation_fixtures import make_lora_adapter
from tests.training_fixtures import REPO_ROOT, log_of, run_entry_point, write_train_config

MAX_CONSOLE_LINES = 120  # before: ~880 lines, the verdict buried under two model and processor dumps


@pytest.mark.slow
def test_training_console_is_short_and_the_full_log_is_kept(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2)
    env = {key: value for key, value in os.environ.items() if key != "LLAMAFACTORY_VERBOSITY"}
    result = run_entry_point("plugins.train", config, env=env)
    console = log_of(result)
    assert result.returncode == 0, console[-3000:]
    lines = [line for line in console.replace("\r", "\n").splitlines() if line.strip()]
    progress_lines = [line for line in lines if "it/s]" in line or "s/it]" in line or "/s]" in line]
    assert len(lines) - len(progress_lines) < MAX_CONSOLE_LINES, "\n".join(lines)
    assert "ok: every sample fits cutoff_len" in console and "'loss':" in console
    assert f"full log: {tmp_path / 'saves' / 'train.log'}" in console
    assert f"adapter, checkpoints and trainer_log.jsonl: {tmp_path / 'saves'}" in console
    for hidden in ('"architectures"', "Qwen2VLProcessor", "deprecated", "pin_memory"):
        assert hidden not in console, f"{hidden!r} reached the console"
    full_log = (tmp_path / "saves" / "train.log").read_text()
    assert '"architectures"' in full_log and "Qwen2VLProcessor" in full_log


@pytest.mark.slow
def test_preflight_console_is_the_verdict_and_the_full_log_is_kept(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2)
    env = {key: value for key, value in os.environ.items() if key != "LLAMAFACTORY_VERBOSITY"}
    result = run_entry_point("plugins.preflight", config, env=env)
    console = log_of(result)
    assert result.returncode == 0, console[-3000:]
    assert "ok: every sample fits cutoff_len" in console and "Qwen2VLProcessor" not in console
    assert "Qwen2VLProcessor" in (tmp_path / "saves" / "preflight.log").read_text()


def test_a_users_own_verbosity_is_left_alone(tmp_path, monkeypatch):
    from plugins.run_log import LOG_FILE_ENV, log_libraries_to

    monkeypatch.setenv("LLAMAFACTORY_VERBOSITY", "INFO")
    monkeypatch.delenv(LOG_FILE_ENV, raising=False)
    assert log_libraries_to(tmp_path / "train.log") is None
    assert not (tmp_path / "train.log").exists()


@pytest.mark.slow
def test_merge_console_is_short_and_the_full_log_is_kept(tiny_model_dir, tmp_path):
    adapter = make_lora_adapter(tiny_model_dir, tmp_path / "adapter")
    merged = tmp_path / "merged"
    env = {key: value for key, value in os.environ.items() if key != "LLAMAFACTORY_VERBOSITY"}
    result = run_entry_point("plugins.export", REPO_ROOT / "configs" / "merge" / "tiny_qwen2vl_demo_merge.yaml",
                             f"model_name_or_path={tiny_model_dir}", f"adapter_name_or_path={adapter}",
                             f"export_dir={merged}", "infer_dtype=float32", env=env)  # fmt: skip
    console = log_of(result)
    assert result.returncode == 0, console[-3000:]
    lines = [line for line in console.splitlines() if line.strip()]
    assert len(lines) < 20, "\n".join(lines)  # before: ~450 INFO lines
    assert f"merged model written to {merged}" in console and f"full log: {merged / 'merge.log'}" in console
    assert "[INFO" not in console and "[INFO" in (merged / "merge.log").read_text()
