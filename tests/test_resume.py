"""A training run killed mid-way resumes from its last checkpoint and finishes at the same final step; a rerun whose
inputs differ from the run it would continue is refused (plugins.resume_guard).

The first `python -m plugins.train` is killed (SIGKILL, as a preempted job is) once a checkpoint exists; running
the same command again resumes from that checkpoint by itself (``overwrite_output_dir: false``, as in the real
configs), trains only the remaining steps and ends at ``max_steps``.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from plugins.resume_guard import ResumeRefused, check_resume
from plugins.run_config import load_run_config
from plugins.run_inputs import RUN_INPUTS_FILE, input_settings, write_run_inputs
from tests.training_fixtures import REPO_ROOT, log_of, run_entry_point, write_train_config

DEMO_CONFIG = REPO_ROOT / "configs" / "tiny_qwen2vl_demo.yaml"

MAX_STEPS = 8
SAVE_STEPS = 3  # checkpoints at 3 and 6: the kill lands well before the next save starts
KILL_TIMEOUT_S = 300


def _wait_for_checkpoint_then_kill(command: list[str], checkpoint_state) -> int:
    """Run ``command`` and SIGKILL it as soon as ``checkpoint_state`` is written; its return code."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + KILL_TIMEOUT_S
    try:
        while not checkpoint_state.is_file():
            assert process.poll() is None, f"training ended (exit {process.returncode}) before any checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within the time limit"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its whole session: training and any helper it started
        process.wait()
    return process.returncode


def _logged_steps(trainer_log) -> list[int]:
    """Training steps in LLaMA-Factory's trainer_log.jsonl (one line per logged step, appended across runs)."""
    entries = [json.loads(line) for line in trainer_log.read_text().splitlines()]
    return [entry["current_steps"] for entry in entries if entry.get("loss") is not None]  # not the run summary


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint_to_the_same_final_step(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=MAX_STEPS, save_strategy="steps",
                                save_steps=SAVE_STEPS, overwrite_output_dir=False)  # fmt: skip
    saves = tmp_path / "saves"

    # 1. killed right after its first checkpoint
    returncode = _wait_for_checkpoint_then_kill(
        [sys.executable, "-m", "plugins.train", str(config)], saves / f"checkpoint-{SAVE_STEPS}" / "trainer_state.json"
    )
    assert returncode == -signal.SIGKILL
    assert not (saves / "adapter_model.safetensors").exists()  # it never got to save its final adapter
    checkpoints = sorted(int(path.name.split("-")[1]) for path in saves.glob("checkpoint-*"))
    resumed_from = checkpoints[-1]
    assert 0 < resumed_from < MAX_STEPS
    steps_before_kill = _logged_steps(saves / "trainer_log.jsonl")

    # 2. the same command again: resumes on its own from the last checkpoint
    result = run_entry_point("plugins.train", config)
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    assert re.search(rf"^resuming from \S*checkpoint-{resumed_from} ", result.stdout, re.MULTILINE)  # our line
    assert re.search(rf"Resuming training from \S*checkpoint-{resumed_from}\b", (saves / "train.log").read_text())

    state = json.loads((saves / "trainer_state.json").read_text())
    assert state["global_step"] == state["max_steps"] == MAX_STEPS
    assert (saves / "adapter_model.safetensors").is_file()
    # only the remaining steps were trained (a fresh start would log steps 1, 2, ... again)
    steps_after_resume = _logged_steps(saves / "trainer_log.jsonl")[len(steps_before_kill) :]
    assert steps_after_resume == list(range(resumed_from + 1, MAX_STEPS + 1))
    # the resumed trainer state carries the checkpoint's history: every step's loss logged exactly once
    losses = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert losses == list(range(1, MAX_STEPS + 1))


def _run_with_checkpoint(tmp_path, tiny_model_dir, **overrides):
    """A run config whose output_dir holds checkpoint-3 and the record of the 8-frame run that wrote it."""
    config = load_run_config(DEMO_CONFIG, [f"model_name_or_path={tiny_model_dir}", f"output_dir={tmp_path / 'saves'}",
                                           "overwrite_output_dir=false"])  # fmt: skip
    _write_checkpoint(tmp_path / "saves" / "checkpoint-3")
    write_run_inputs(tmp_path / "saves", input_settings(config), source=[str(DEMO_CONFIG)])
    return {**config, **overrides}


def _write_checkpoint(folder, complete: bool = True) -> None:
    """What the trainer writes into checkpoint-N: the adapter first, trainer_state.json last (absent: killed while
    saving)."""
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    if complete:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": int(folder.name.split("-")[1])}))


def test_a_half_written_last_checkpoint_is_named_with_the_complete_one_before_it(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir)
    _write_checkpoint(tmp_path / "saves" / "checkpoint-6", complete=False)  # the run was killed while saving it
    with pytest.raises(ResumeRefused) as refused:
        check_resume(config, input_settings(config))
    message = str(refused.value)
    assert "checkpoint-6" in message and "trainer_state.json" in message
    assert f"resume_from_checkpoint={tmp_path / 'saves' / 'checkpoint-3'}" in message  # the last complete one


def test_a_half_written_explicit_checkpoint_is_refused(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir)
    _write_checkpoint(tmp_path / "saves" / "checkpoint-4", complete=False)
    explicit = {**config, "resume_from_checkpoint": str(tmp_path / "saves" / "checkpoint-4")}
    with pytest.raises(ResumeRefused, match="checkpoint-4: the checkpoint is incomplete") as refused:
        check_resume(explicit, input_settings(explicit))
    assert f"pass resume_from_checkpoint={tmp_path / 'saves' / 'checkpoint-3'}" in str(refused.value)


def test_a_resume_under_changed_settings_is_refused_naming_each_key_and_the_ways_out(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir, video_maxlen=4, cutoff_len=256)
    with pytest.raises(ResumeRefused) as refused:
        check_resume(config, input_settings(config))
    message = str(refused.value)
    assert "checkpoint-3" in message and "video_maxlen 8 -> 4" in message and "cutoff_len 512 -> 256" in message
    assert "video_fps" not in message  # unchanged keys are not listed
    assert "new output_dir" in message and "overwrite_output_dir=true" in message


def test_a_resume_under_the_same_settings_goes_on_and_says_so(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir, num_train_epochs=2)  # training length is not an input
    assert re.match(r"resuming from \S*checkpoint-3 ", check_resume(config, input_settings(config)))


def test_a_checkpoint_without_a_record_is_not_resumed_under_guessed_settings(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir)
    (tmp_path / "saves" / RUN_INPUTS_FILE).unlink()
    with pytest.raises(ResumeRefused, match=f"no {RUN_INPUTS_FILE}.*overwrite_output_dir=true"):
        check_resume(config, input_settings(config))


def test_an_explicit_checkpoint_is_checked_against_its_own_run(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir)
    other = {**config, "output_dir": str(tmp_path / "other"), "video_maxlen": 4,
             "resume_from_checkpoint": str(tmp_path / "saves" / "checkpoint-3")}  # fmt: skip
    with pytest.raises(ResumeRefused, match="video_maxlen 8 -> 4"):
        check_resume(other, input_settings(other))


def test_starting_over_or_a_fresh_output_dir_checks_nothing(tmp_path, tiny_model_dir):
    config = _run_with_checkpoint(tmp_path, tiny_model_dir, video_maxlen=4)
    over = {**config, "overwrite_output_dir": True}
    assert check_resume(over, input_settings(over)) is None
    fresh = {**config, "output_dir": str(tmp_path / "new")}
    assert check_resume(fresh, input_settings(fresh)) is None


@pytest.mark.slow
def test_a_rerun_with_other_frames_is_refused_and_keeps_the_record_of_the_checkpoint(tiny_model_dir, sample_dir,
                                                                                      tmp_path):  # fmt: skip
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, overwrite_output_dir=False)
    settings = load_run_config(config)
    _write_checkpoint(tmp_path / "saves" / "checkpoint-3")
    record = write_run_inputs(tmp_path / "saves", input_settings(settings), source=[str(config)])
    before = record.read_bytes()

    result = run_entry_point("plugins.train", config, "video_maxlen=4")
    assert result.returncode != 0
    assert "video_maxlen 8 -> 4" in result.stderr and "Traceback" not in log_of(result)
    assert record.read_bytes() == before  # the record still says what checkpoint-3 was trained with
    assert not (tmp_path / "saves" / "trainer_log.jsonl").exists()  # nothing was trained
