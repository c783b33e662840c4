"""plugins.heartbeat, plugins.heartbeat_callback and plugins.watchdog on their own (no training run)."""

import json
import os
import time

import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from transformers import TrainerControl, TrainerState

from plugins import heartbeat as heartbeat_module
from plugins.heartbeat import (
    Heartbeat,
    heartbeat_dir,
    process_heartbeat,
    read_heartbeats,
    reading_clip,
    start_process_heartbeat,
)
from plugins.heartbeat_callback import HeartbeatCallback
from plugins.watchdog import Watchdog, hang_timeout_from_env, nccl_trace_env, stacks_path


@pytest.fixture(autouse=True)
def _no_process_heartbeat(monkeypatch):
    """Each test starts without this process's heartbeat, and leaves none behind for the next test."""
    monkeypatch.setattr(heartbeat_module, "_process_heartbeat", None)
    monkeypatch.delenv("RANK", raising=False)


def test_a_beat_replaces_the_file_whole_and_readers_get_ranks_then_their_workers(tmp_path):
    worker = Heartbeat(tmp_path, rank=1, worker=0)
    rank1, rank0 = Heartbeat(tmp_path, rank=1), Heartbeat(tmp_path, rank=0)
    for beat in (worker, rank1, rank0):
        beat.beat(step=3)
    rank0.beat(phase="forward")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rank-0.json", "rank-1-worker-0.json", "rank-1.json"]
    beats = read_heartbeats(tmp_path)
    assert [(beat["rank"], beat["worker"]) for beat in beats] == [(0, None), (1, None), (1, 0)]
    assert beats[0]["phase"] == "forward" and beats[0]["step"] == 3 and beats[0]["pid"] == os.getpid()
    assert beats[0]["time"] >= beats[1]["time"]


def test_the_rank_heartbeat_names_the_clip_while_it_is_read_and_clears_it_after(tmp_path):
    start_process_heartbeat(tmp_path, hang_timeout_s=60)
    path = heartbeat_dir(tmp_path) / "rank-0.json"
    with reading_clip("clips/a.mp4"):
        during = json.loads(path.read_text())
    after = json.loads(path.read_text())
    assert during["clip"] == "clips/a.mp4" and during["clip_started"] <= time.time()
    assert after["clip"] is None and after["clip_started"] is None
    assert after["hang_timeout_s"] == 60


def test_reading_without_a_started_heartbeat_writes_nothing(tmp_path):
    with reading_clip(tmp_path / "a.mp4"):
        assert process_heartbeat() is None
    assert list(tmp_path.iterdir()) == []


class ClipReads(Dataset):
    """Reads 'clip i' under reading_clip and returns what its process's heartbeat file said meanwhile."""

    def __init__(self, directory):
        self.directory = directory

    def __len__(self):
        return 2

    def __getitem__(self, index):
        with reading_clip(f"clip-{index}.mp4"):
            return (heartbeat_dir(self.directory) / "rank-3-worker-0.json").read_text()


def test_a_dataloader_worker_writes_its_own_file_naming_its_clip(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    start_process_heartbeat(tmp_path, hang_timeout_s=5)
    loader = DataLoader(ClipReads(tmp_path), batch_size=None, num_workers=1, multiprocessing_context="fork")
    seen = [json.loads(text) for text in loader]
    assert [beat["clip"] for beat in seen] == ["clip-0.mp4", "clip-1.mp4"]
    assert {(beat["rank"], beat["worker"], beat["phase"]) for beat in seen} == {(3, 0, "reading clip")}
    assert seen[0]["pid"] != os.getpid()
    rank = json.loads((heartbeat_dir(tmp_path) / "rank-3.json").read_text())
    assert rank["clip"] is None  # the worker's reads are in the worker's file only


def test_the_callback_moves_the_phase_through_a_step(tmp_path):
    heartbeat = Heartbeat(tmp_path, rank=0)
    callback = HeartbeatCallback(heartbeat)
    model = torch.nn.Linear(2, 1)
    state, control = TrainerState(), TrainerControl()
    phases = []

    def phase():
        phases.append(json.loads(heartbeat.path.read_text())["phase"])

    callback.on_train_begin(None, state, control, model=model)
    phase()
    callback.on_step_begin(None, state, control)
    model(torch.zeros(1, 2))  # the forward hooks: forward, then backward once it returns
    phase()
    callback.on_pre_optimizer_step(None, state, control)
    phase()
    state.global_step, control.should_save = 1, True
    callback.on_step_end(None, state, control)
    phase()
    callback.on_save(None, state, control)
    phase()
    model.eval()
    model(torch.zeros(1, 2))  # evaluation forwards do not move the training phase
    phase()
    callback.on_train_end(None, state, control)
    phase()
    assert phases == ["data", "backward", "optimizer step", "save", "data", "data", "done"]
    assert json.loads(heartbeat.path.read_text())["step"] == 1


def test_the_watchdog_dumps_every_stack_and_names_the_clip_a_worker_is_stuck_on(tmp_path):
    heartbeat = Heartbeat(tmp_path, rank=0, hang_timeout_s=0.5)
    heartbeat.beat(step=7, phase="data")
    Heartbeat(tmp_path, rank=0, worker=1).beat(clip="clips/stuck.mp4", clip_started=time.time(), phase="reading clip")
    watchdog = Watchdog(heartbeat, timeout_s=0.5)
    watchdog.start()
    try:
        deadline = time.monotonic() + 60
        while not stacks_path(heartbeat).exists():  # the observable state: the dump is published
            assert time.monotonic() < deadline, "no stack dump a minute after the heartbeat stopped"
            time.sleep(0.05)
    finally:
        watchdog.stop()
    dump = stacks_path(heartbeat).read_text()
    assert "rank 0 (pid" in dump and "at step 7 in phase 'data'" in dump
    assert "data worker 1 (pid" in dump and "reading clip clips/stuck.mp4" in dump
    assert "Thread MainThread" in dump and "test_the_watchdog_dumps_every_stack" in dump  # where this thread waits
    assert "hang-watchdog" not in dump


def test_hang_timeout_comes_from_the_environment_once_and_a_bad_value_is_one_sentence():
    assert hang_timeout_from_env({}) == 600
    assert hang_timeout_from_env({"HANG_TIMEOUT_S": "2.5"}) == 2.5
    assert hang_timeout_from_env({"HANG_TIMEOUT_S": "0"}) == 0
    for bad in ("ten", "-1", "nan", "inf"):
        with pytest.raises(SystemExit, match="HANG_TIMEOUT_S=.* is not a number of seconds: set it to e.g. 600"):
            hang_timeout_from_env({"HANG_TIMEOUT_S": bad})


def test_the_nccl_flight_recorder_dumps_beside_the_heartbeats_unless_the_user_chose(tmp_path):
    env = nccl_trace_env(tmp_path, {})
    assert env["TORCH_NCCL_DUMP_ON_TIMEOUT"] == "1" and int(env["TORCH_NCCL_TRACE_BUFFER_SIZE"]) > 0
    assert env["TORCH_NCCL_DEBUG_INFO_TEMP_FILE"] == str(tmp_path.absolute() / "heartbeat" / "nccl-trace-rank-")
    assert nccl_trace_env(tmp_path, {"TORCH_NCCL_TRACE_BUFFER_SIZE": "0"})["TORCH_NCCL_TRACE_BUFFER_SIZE"] == "0"


def test_a_read_slower_than_the_limit_is_logged_and_kept_in_the_heartbeat(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(heartbeat_module, "SLOW_CLIP_READ_S", 0.0)  # every read is over a limit of 0 s
    heartbeat = start_process_heartbeat(tmp_path, hang_timeout_s=60)
    with caplog.at_level("WARNING", logger="plugins.heartbeat"), reading_clip("clips/slow.mp4"):
        pass
    assert "slow clip read: clips/slow.mp4 took" in caplog.text
    assert json.loads(heartbeat.path.read_text())["slow_read"]["clip"] == "clips/slow.mp4"
