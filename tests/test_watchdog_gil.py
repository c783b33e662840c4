"""A rank stuck in C code that holds the GIL: the watchdog's Python thread cannot run, so faulthandler's C-level timer
(re-armed by that thread while it runs) dumps every thread's stack, and `python -m plugins.diagnose` shows it."""

import subprocess
import sys
import textwrap

from plugins.diagnose import render
from tests.training_fixtures import REPO_ROOT

HOLDS_THE_GIL = textwrap.dedent(
    """
    import re, sys
    from pathlib import Path
    from plugins.heartbeat import Heartbeat
    from plugins.watchdog import Watchdog

    heartbeat = Heartbeat(Path(sys.argv[1]) / "heartbeat", rank=0, hang_timeout_s=1.0)
    heartbeat.beat(step=3, phase="forward")
    watchdog = Watchdog(heartbeat, 1.0)
    watchdog.start()  # the faulthandler timer is armed when start() returns
    if sys.argv[2] == "hold":  # one C call holding the GIL for ~4 s (more under load): no Python thread runs meanwhile
        re.match(r"(a|aa)+$", "a" * 36 + "b")
    watchdog.stop()
    """
)


def test_a_rank_holding_the_gil_in_c_code_leaves_faulthandler_stacks_that_diagnose_shows(tmp_path):
    command = [sys.executable, "-c", HOLDS_THE_GIL, str(tmp_path), "hold"]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    frozen = tmp_path / "heartbeat" / "rank-0.frozen-stacks.txt"
    assert frozen.is_file(), "no faulthandler dump while the GIL was held"
    assert "in <module>" in frozen.read_text() and "most recent call first" in frozen.read_text()
    screen = render(tmp_path)
    assert "rank-0.frozen-stacks.txt" in screen and "held the GIL" in screen
    assert "<module> (<string>:" in screen  # the frame that held it


def test_a_run_that_never_froze_leaves_no_faulthandler_file(tmp_path):
    command = [sys.executable, "-c", HOLDS_THE_GIL, str(tmp_path), "run"]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "heartbeat" / "rank-0.frozen-stacks.txt").exists()
