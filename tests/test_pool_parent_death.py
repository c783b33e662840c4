"""kill -9 (or SIGTERM) of a command that runs a process pool leaves nothing behind: its workers (and a spawn pool's
resource tracker) exit within seconds, and the output pipe closes, so `python -m ... | tee log` returns."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.clips import make_clip
from tests.process_tree import ON_LINUX, children, describe, frozen, kill_session, session_processes, wait_for
from tests.training_fixtures import REPO_ROOT, write_train_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ON_LINUX, reason="watches the process tree through /proc")]

N_PROBED_CLIPS = 3000  # seconds of probing for two workers: the run is still busy when it is killed


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("parent_death") / "clip.mp4", n_frames=24, fps=24, width=64, height=48)


def _links(clip, directory, names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / f"{name}.mp4").symlink_to(clip)


def _killed_while_its_workers_run(
    command: list[str], started, env: dict | None = None, how: signal.Signals = signal.SIGKILL
) -> None:
    """Run ``command`` in its own session, its output to a pipe as `| tee` reads it; once ``started(pid)`` holds
    (pid: the command's own process), send ``how`` to that process alone while its pool workers are alive; assert
    every process it started exits and the pipe closes within seconds."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    output = bytearray()
    pipe_closed = threading.Event()

    def read_until_closed():
        for chunk in iter(lambda: os.read(process.stdout.fileno(), 65536), b""):
            output.extend(chunk)
        pipe_closed.set()

    threading.Thread(target=read_until_closed, daemon=True).start()
    try:
        wait_for(lambda: process.poll() is not None or started(process.pid), "the run's workers", timeout=300)
        with frozen(process.pid):
            assert process.poll() is None, f"the run ended before it could be killed: {bytes(output[-2000:])}"
            workers = children(process.pid)
            assert len(workers) >= 2, describe(workers)
            os.kill(process.pid, how)
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while (left := session_processes(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, "still running after their parent was killed:\n" + describe(left)
        assert pipe_closed.wait(10), "the output pipe is still held open: `... | tee log` would never return"
    finally:
        kill_session(process.pid)


def _two_workers(pid: int) -> bool:
    return len(children(pid)) >= 2


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killing_the_webvid_converter_kills_its_probe_workers(clip, tmp_path, how):
    names = [str(videoid) for videoid in range(N_PROBED_CLIPS)]
    _links(clip, tmp_path / "videos", names)
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("videoid,name\n" + "".join(f"{name},caption {name}\n" for name in names))
    command = [sys.executable, "-m", "data.convert_webvid", "--csv", str(csv_path), "--video-dir",
               str(tmp_path / "videos"), "--out-dir", str(tmp_path / "out"), "--workers", "2"]  # fmt: skip
    _killed_while_its_workers_run(command, _two_workers, how=how)


def test_killing_the_benchmark_converter_kills_its_probe_workers(clip, tmp_path):
    names = [f"clip{number}" for number in range(N_PROBED_CLIPS)]
    _links(clip, tmp_path / "videos", names)
    annotations = tmp_path / "vatex.json"
    annotations.write_text(json.dumps([{"videoID": name, "enCap": [f"caption {name}"]} for name in names]))
    # --split: the file's name (vatex.json) does not say which VATEX split it holds
    command = [sys.executable, "-m", "data.convert_benchmark", "--format", "vatex", "--annotations",
               str(annotations), "--split", "train", "--video-dir", str(tmp_path / "videos"), "--out-dir",
               str(tmp_path / "out"), "--workers", "2"]  # fmt: skip
    _killed_while_its_workers_run(command, _two_workers)


def test_killing_the_frame_store_build_kills_its_spawned_workers_and_their_resource_tracker(
    clip_matrix, tiny_model_dir, tmp_path
):
    """A spawn pool: two decode workers and multiprocessing's resource tracker, all children of the build."""
    source = clip_matrix["h264_25fps_60s_single_gop.mp4"][0]
    (tmp_path / "videos").mkdir()
    clips = [shutil.copy2(source, tmp_path / "videos" / f"clip_{index:02d}.mp4") for index in range(48)]
    config = write_train_config(tmp_path, tiny_model_dir, REPO_ROOT / "data" / "sample", video_max_pixels=112 * 112)
    (tmp_path / "tiny_train.json").write_text(json.dumps([
        {"messages": [{"role": "user", "content": "<video>Describe."}, {"role": "assistant", "content": "x"}],
         "videos": [str(clip)]} for clip in clips
    ]))  # fmt: skip
    frames = tmp_path / "frames"

    def first_entries_stored(pid: int) -> bool:  # a worker finished a task: the pool is up and working
        return any(path.stat().st_size for path in frames.glob("*/shard-*.jsonl")) and _two_workers(pid)

    command = [sys.executable, "-m", "plugins.frames", "build", str(config), "--workers", "2"]
    _killed_while_its_workers_run(command, first_entries_stored, env={**os.environ, "FRAME_STORE_DIR": str(frames)})
