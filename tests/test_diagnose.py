"""plugins.diagnose renders heartbeats and stack dumps written by plugins.heartbeat / plugins.watchdog."""

import json
import signal
import subprocess
import sysconfig
import time

import pytest

from plugins.diagnose import TOP_FRAMES, main, render, top_frames
from plugins.heartbeat import Heartbeat, heartbeat_dir, write_atomically
from plugins.watchdog import Watchdog
from tests.training_fixtures import REPO_ROOT


@pytest.fixture
def stopped_process():
    """A process stopped by SIGSTOP (as a hung data worker or rank would be), killed after the test."""
    process = subprocess.Popen(["sleep", "600"])
    process.send_signal(signal.SIGSTOP)
    yield process
    process.kill()
    process.wait()


def _beat(directory, rank, worker=None, pid=None, age_s=0.0, **state):
    """A heartbeat file as process ``pid`` (default: this one) wrote it ``age_s`` seconds ago."""
    heartbeat = Heartbeat(directory, rank, worker, hang_timeout_s=10)
    heartbeat.beat(**state)
    heartbeat.state.update(pid=pid or heartbeat.pid, time=heartbeat.state["time"] - age_s)
    write_atomically(heartbeat.path, json.dumps(heartbeat.state))


def test_a_stalled_rank_waiting_on_a_stopped_worker_names_the_clip(tmp_path, stopped_process):
    directory = heartbeat_dir(tmp_path)
    _beat(directory, 0, age_s=40, step=12, phase="data")
    started = time.time() - 45
    _beat(directory, 0, worker=0, pid=stopped_process.pid, age_s=45, phase="reading clip",
          clip="/mnt/videos/stuck.mp4", clip_started=started)  # fmt: skip
    screen = render(tmp_path)
    assert "stalled after 10 s" in screen
    assert "rank 0" in screen and "step 12" in screen and "last beat     40 s ago" in screen
    assert "worker 0 of rank 0" in screen and "[stopped]" in screen
    assert (
        f"rank 0: no progress for 40 s at step 12 in phase 'data': waits for data worker 0 (pid "
        f"{stopped_process.pid}), reading clip /mnt/videos/stuck.mp4 for 45 s (process stopped)"
    ) in screen


def test_a_rank_waits_in_a_collective_for_a_stopped_rank(tmp_path, stopped_process):
    directory = heartbeat_dir(tmp_path)
    _beat(directory, 0, age_s=30, step=5, phase="backward")
    _beat(directory, 1, pid=stopped_process.pid, age_s=31, step=5, phase="forward")
    _beat(directory, 2, age_s=1, step=5, phase="backward")  # recent: not stalled
    screen = render(tmp_path)
    assert (
        "rank 0: no progress for 30 s at step 5 in phase 'backward': waits in a collective for rank 1 (process "
        "stopped)" in screen
    )
    assert "rank 1: no progress for 31 s at step 5 in phase 'forward'; its process is stopped" in screen
    assert "rank 2: no progress" not in screen


def test_a_rank_ahead_waits_in_a_collective_for_the_rank_behind(tmp_path):
    directory = heartbeat_dir(tmp_path)
    _beat(directory, 0, age_s=30, step=5, phase="data")  # this process: running, so neither is stopped
    _beat(directory, 1, age_s=31, step=5, phase="backward")
    _beat(directory, 2, age_s=30, step=4, phase="optimizer step")
    screen = render(tmp_path)
    behind = "waits in a collective for rank 2, which is behind (step 4, phase 'optimizer step')"
    assert f"rank 0: no progress for 30 s at step 5 in phase 'data': {behind}" in screen
    assert f"rank 1: no progress for 31 s at step 5 in phase 'backward': {behind}" in screen
    assert "rank 2: no progress for 30 s at step 4 in phase 'optimizer step'\n" in screen + "\n"


def test_the_stack_dump_shows_its_header_and_the_main_threads_top_frames_first(tmp_path):
    heartbeat = Heartbeat(heartbeat_dir(tmp_path), 0, hang_timeout_s=10)
    heartbeat.beat(step=3, phase="forward")
    Watchdog(heartbeat, timeout_s=10).dump(idle_s=12)
    screen = render(tmp_path)
    dump = screen.split("rank-0.stacks.txt (written ", 1)[1]
    assert "rank 0 (pid" in dump and "no progress for 12 s" in dump and "at step 3 in phase 'forward'" in dump
    first_thread = dump.split("  thread ")[1].splitlines()
    assert first_thread[0].startswith("MainThread")
    frames = first_thread[1:]
    assert 1 <= len(frames) <= TOP_FRAMES
    assert "test_the_stack_dump_shows_its_header_and_the_main_threads_top_frames_first (tests/test_diagnose.py:" in (
        "\n".join(frames)
    )


def test_top_frames_skip_the_standard_library_below_where_the_thread_waits():
    stdlib = sysconfig.get_paths()["stdlib"]
    frames = [
        f'File "{stdlib}/selectors.py", line 415, in select',
        f'File "{stdlib}/multiprocessing/queues.py", line 113, in get',
        'File "/venv/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1310, in _try_get_data',
        'File "/venv/lib/python3.11/site-packages/transformers/trainer.py", line 2105, in get_batch_samples',
    ]
    assert top_frames(frames, top=2) == [
        f"select ({stdlib}/selectors.py:415)",
        "_try_get_data (torch/utils/data/dataloader.py:1310)  [1 stdlib frames skipped]",
    ]


def test_no_heartbeat_and_a_wrong_folder_are_one_sentence_each(tmp_path, capsys):
    main([str(tmp_path)])
    assert "no heartbeat in" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="is not a directory: pass the run's output_dir"):
        main([str(tmp_path / "missing")])


def test_make_diagnose_runs_the_module_on_output_dir(tmp_path):
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "diagnose", f"OUTPUT_DIR={tmp_path}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert dry_run[-1].endswith(f"/python -m plugins.diagnose {tmp_path}")
