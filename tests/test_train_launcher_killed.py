"""kill -9 of `python -m plugins.train` under torchrun (the launcher becomes torchrun's agent) stops the training
worker too: nothing trains on, unattended, after the process a scheduler or a person killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process_tree import ON_LINUX, children, describe, kill_session, session_processes, wait_for
from tests.training_fixtures import REPO_ROOT, write_train_config


def _training_workers(agent: int) -> list[int]:
    """torchrun's workers: children of its agent, each in a session of its own (torchrun starts them so)."""
    return [pid for pid in children(agent) if b"plugins.train_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.mark.slow
@pytest.mark.skipif(not ON_LINUX, reason="watches the process tree through /proc")
def test_kill_9_of_the_launcher_stops_the_training_worker(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=10_000)
    steps_logged = tmp_path / "saves" / "trainer_log.jsonl"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "plugins.train", str(config), "--skip-decode-check"],
        cwd=REPO_ROOT,
        env={**os.environ, "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sessions = [launcher.pid]
    try:
        wait_for(lambda: launcher.poll() is not None or (steps_logged.exists() and steps_logged.stat().st_size),
                 "the first training step", timeout=600)  # fmt: skip
        (worker,) = _training_workers(launcher.pid)  # stepping: max_steps is far away
        sessions.append(worker)
        os.kill(launcher.pid, signal.SIGKILL)  # the launcher's own process: torchrun's agent after the exec
        launcher.wait(timeout=30)
        deadline = time.monotonic() + 30
        while (left := [pid for session in sessions for pid in session_processes(session)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert not left, "still running after the launcher was killed:\n" + describe(left)
    finally:
        for session in sessions:
            kill_session(session)
