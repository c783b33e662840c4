"""A training run whose DataLoader worker stops mid-read (as on a stalled network mount) names the clip: the rank's
watchdog dumps its stacks with the clip in the header, and `python -m plugins.diagnose` shows it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training_fixtures import REPO_ROOT, write_train_config

HANG_TIMEOUT_S = "5"


def _beat(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def _stop_mid_read(heartbeats: Path, run: subprocess.Popen, log: Path) -> dict:
    """Once rank 0 has finished a training step, SIGSTOP its data worker while the worker's heartbeat shows a clip
    read in progress; returns that heartbeat."""
    deadline = time.monotonic() + 600
    while True:
        assert run.poll() is None, f"training ended before a worker was caught reading:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, "no data worker read a clip within ten minutes"
        rank, beat = _beat(heartbeats / "rank-0.json"), _beat(heartbeats / "rank-0-worker-0.json")
        if rank is None or rank["step"] < 1 or beat is None or not beat["clip"]:
            time.sleep(0.002)
            continue
        try:
            os.kill(beat["pid"], signal.SIGSTOP)
        except ProcessLookupError:  # that epoch's worker has ended
            continue
        while not _stopped(beat["pid"]) and os.path.exists(f"/proc/{beat['pid']}"):
            time.sleep(0.001)  # the stop takes effect: its heartbeat cannot change after this
        after = _beat(heartbeats / "rank-0-worker-0.json")
        if after is not None and after["pid"] == beat["pid"] and after["clip"]:
            return after
        os.kill(beat["pid"], signal.SIGCONT)  # the read had finished: let it go and catch the next one


@pytest.mark.slow
def test_a_data_worker_stopped_mid_read_is_named_by_the_watchdog_and_diagnose(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=100_000, dataloader_num_workers=1)
    output_dir = tmp_path / "saves"
    heartbeats = output_dir / "heartbeat"
    log = tmp_path / "train.out"
    # FRAME_STORE_DIR=off: every read decodes the clip, long enough to be caught in the act
    env = {**os.environ, "HANG_TIMEOUT_S": HANG_TIMEOUT_S, "FRAME_STORE_DIR": "off"}
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "plugins.train", str(config), "--skip-decode-check"],
                               cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    worker = None
    try:
        worker = _stop_mid_read(heartbeats, run, log)
        clip = worker["clip"]
        dump = heartbeats / "rank-0.stacks.txt"
        deadline = time.monotonic() + 300
        while not (dump.exists() and clip in dump.read_text()):  # the rank stalls once its prefetched batches run out
            assert run.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "no stack dump naming the clip five minutes after the worker stopped"
            time.sleep(0.2)
        text = dump.read_text()
        assert "in phase 'data'" in text and "at step 0 " not in text
        assert f"data worker 0 (pid {worker['pid']}) has been reading clip {clip}" in text
        assert "Thread MainThread" in text
        assert f"stacks: {dump}" in log.read_text()  # the watchdog's one line on the console

        diagnosis = subprocess.run([sys.executable, "-m", "plugins.diagnose", str(output_dir)], cwd=REPO_ROOT,
                                   capture_output=True, text=True, check=True, timeout=120).stdout  # fmt: skip
        assert f"waits for data worker 0 (pid {worker['pid']}), reading clip {clip}" in diagnosis
        assert "(process stopped)" in diagnosis and "rank-0.stacks.txt" in diagnosis
    finally:
        if worker is not None:
            os.kill(worker["pid"], signal.SIGCONT)
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


@pytest.mark.slow
def test_a_stopped_rank_of_two_is_named_and_the_other_dumps_where_it_waits(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=100_000)
    output_dir = tmp_path / "saves"
    heartbeats = output_dir / "heartbeat"
    log = tmp_path / "train.out"
    env = {**os.environ, "HANG_TIMEOUT_S": HANG_TIMEOUT_S, "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"}
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "plugins.train", str(config), "--skip-decode-check"],
                               cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    stopped = None
    try:
        deadline = time.monotonic() + 600
        while stopped is None:  # both ranks have finished a step: rank 1 is stopped mid-training
            assert run.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the two ranks did not finish a step within ten minutes"
            beats = [_beat(heartbeats / f"rank-{rank}.json") for rank in (0, 1)]
            if all(beat is not None and beat["step"] >= 1 for beat in beats):
                stopped = beats[1]
                os.kill(stopped["pid"], signal.SIGSTOP)
            time.sleep(0.1)
        dump = heartbeats / "rank-0.stacks.txt"
        dump.unlink(missing_ok=True)  # a slow step on a busy machine may have dumped before: wait for this stall's
        while not dump.exists():  # rank 0 blocks in its next collective with rank 1
            assert run.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "rank 0 wrote no stack dump after rank 1 stopped"
            time.sleep(0.2)
        assert "rank 0 (pid" in dump.read_text() and "Thread MainThread" in dump.read_text()
        assert "NCCL flight recorder: a rank that times out in a collective dumps to" in log.read_text()
        diagnosis = subprocess.run([sys.executable, "-m", "plugins.diagnose", str(output_dir)], cwd=REPO_ROOT,
                                   capture_output=True, text=True, check=True, timeout=120).stdout  # fmt: skip
        assert "; its process is stopped" in diagnosis.split("rank 1: no progress for ", 1)[1].splitlines()[0]
        assert "waits in a collective for rank 1 (process stopped)" in diagnosis
    finally:
        if stopped is not None:
            os.kill(stopped["pid"], signal.SIGCONT)
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
