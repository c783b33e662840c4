"""End a child process as soon as the process that started it is gone (killed with -9, crashed, ended).

    from common.parent_watch import exit_when_parent_dies
    exit_when_parent_dies()              # first thing in a worker process: its parent is the one to outlive
    exit_when_parent_dies(parent_pid)    # a pool worker given its owner's pid (no race with an early death)

An orphan is adopted by init (or a subreaper), so its parent pid changes; a daemon thread polls ``os.getppid()``
and ends the process with ``os._exit`` when it does, as PyTorch's DataLoader workers watch their trainer. Not
``prctl(PR_SET_PDEATHSIG)``: Linux sends that signal when the *thread* that started the child ends, and a process
pool starts spawn workers from whichever thread submits work (a short-lived thread would take healthy workers
with it); the poll is also portable.
"""

import os
import threading
import time

POLL_SECONDS = 0.2  # how late an orphan notices; a getppid() call each time costs nothing measurable
ORPHAN_EXIT_CODE = 1  # seen by nobody (the parent is gone); not 0, in case a subreaper looks


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os._exit(ORPHAN_EXIT_CODE)  # no cleanup to run: the work is the parent's, and it is gone


def exit_when_parent_dies(parent_pid: int | None = None) -> None:
    """Exit this process (without cleanup) within POLL_SECONDS of its parent's death, whatever it is doing.

    ``parent_pid``: the parent as its owner knew it (default: the parent now); if it is already gone, exit now."""
    expected = os.getppid() if parent_pid is None else parent_pid
    if os.getppid() != expected:
        os._exit(ORPHAN_EXIT_CODE)
    threading.Thread(target=_watch, args=(expected,), name="exit-when-parent-dies", daemon=True).start()
