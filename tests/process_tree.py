"""Look at a command's processes through /proc (Linux), for the tests that interrupt or kill a run.

    process = subprocess.Popen(command, start_new_session=True)    # the command and all it starts: one session
    workers = wait_for(lambda: children(process.pid), "the pool's workers")
    with frozen(process.pid):                # SIGSTOP the session: nothing moves while the test looks and signals
        assert children(process.pid)         # still true when the signal lands
        os.kill(process.pid, signal.SIGKILL)
    wait_for(lambda: not session_processes(process.pid), "every process of the run gone")

A state seen while the processes are stopped cannot have moved on by the time the signal arrives, however busy the
machine: the signal is pending when they resume.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

ON_LINUX = Path("/proc/self/stat").exists()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, session) of ``pid``; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[3])


def _live() -> dict[int, tuple[str, int, int]]:
    """Every process not yet exited (zombies, waiting for a parent to reap them, count as exited)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[0] not in "ZX":
            found[int(entry.name)] = stat
    return found


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    return sorted(child for child, (_, parent, _) in _live().items() if parent == pid)


def session_processes(session: int) -> list[int]:
    """The live processes of a session: a command started with start_new_session and all it started, orphans too."""
    return sorted(pid for pid, (_, _, sid) in _live().items() if sid == session)


def describe(pids: list[int]) -> str:
    """pid, state and command line of each, for a failure message."""
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            command = "?"
        stat = _stat(pid)
        lines.append(f"{pid} ({stat[0] if stat else 'gone'}, parent {stat[1] if stat else '-'}): {command[:200]}")
    return "\n".join(lines)


def wait_for(condition, what: str, timeout: float = 120.0, poll: float = 0.05):
    """Poll ``condition()`` until it is true and return its value; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(poll)
    return value


@contextlib.contextmanager
def frozen(session: int):
    """Stop every process of ``session`` for the block (SIGSTOP, waited for until each shows it), then resume them.

    Signals sent inside the block are delivered when the processes resume."""
    os.killpg(session, signal.SIGSTOP)
    try:
        wait_for(lambda: all(state == "T" for state, _, sid in _live().values() if sid == session),
                 "the run's processes to stop", timeout=30)  # fmt: skip
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session, signal.SIGCONT)


def kill_session(session: int) -> None:
    """SIGKILL whatever is left of a session the test started (cleanup after a failed assertion)."""
    for pid in session_processes(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
