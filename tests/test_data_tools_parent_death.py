"""kill -9 of the sample generator or the clip reverser stops their workers, mid-task, as common.pool's workers do
(tests/test_pool_parent_death.py holds the same for the converters and the frame store build).

A worker of multiprocessing.Pool outlives its killed parent until its task ends: a clip it was encoding is still
finished, and one blocked reading a clip that never arrives (a named pipe here, a stalled network mount in life)
stays forever.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.process_tree import ON_LINUX, children, describe, frozen, kill_session, session_processes, wait_for
from tests.training_fixtures import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ON_LINUX, reason="watches the process tree through /proc")]

LONG_CLIPS_SEED = 1046  # its clips 0 and 1 are 30 s at 30 fps, 596x336: seconds of encoding each


def _kill_and_wait(command: list[str], started) -> None:
    """Run ``command`` in its own session; once ``started()`` holds with two workers alive, kill -9 the command's own
    process and assert every process it started is gone within 20 s."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: process.poll() is not None or (started() and len(children(process.pid)) >= 2),
                 "two workers at work", timeout=300)  # fmt: skip
        with frozen(process.pid):
            assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while (left := session_processes(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, "still running after their parent was killed:\n" + describe(left)
    finally:
        kill_session(process.pid)


def test_killing_the_sample_generator_stops_the_clips_its_workers_encode(tmp_path):
    videos = tmp_path / "sample" / "videos" / "000001_000050"
    in_flight = [videos / "1000001.mp4.partial", videos / "1000002.mp4.partial"]
    command = [sys.executable, "-m", "data.sample_webvid", "--count", "2", "--seed", str(LONG_CLIPS_SEED),
               "--out-dir", str(tmp_path / "sample"), "--workers", "2"]  # fmt: skip
    _kill_and_wait(command, lambda: all(path.exists() for path in in_flight))
    assert sorted(path.name for path in videos.iterdir()) == sorted(path.name for path in in_flight)  # none finished


def test_killing_the_clip_reverser_stops_workers_waiting_for_a_clip(tmp_path):
    (tmp_path / "videos").mkdir()
    records = []
    for number in range(4):
        os.mkfifo(tmp_path / "videos" / f"clip{number}.mp4")  # opening it waits for a writer that never comes
        records.append({"id": str(number), "videos": [f"videos/clip{number}.mp4"], "messages": []})
    (tmp_path / "test.json").write_text(json.dumps(records))
    command = [sys.executable, "-m", "data.reverse_clips", "--test-data", str(tmp_path / "test.json"), "--media-dir",
               str(tmp_path), "--out-dir", str(tmp_path / "reversed"), "--workers", "2"]  # fmt: skip
    _kill_and_wait(command, lambda: True)
