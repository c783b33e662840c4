"""Ctrl-C as a terminal sends it, after a state the test can observe: never after a guessed number of seconds.

process = start_in_own_group([sys.executable, "evaluate_model.py", ...])
output_until(process.stderr, "generating")   # the run has reached generation
press_ctrl_c(process)                          # SIGINT to its whole process group (workers included)
"""

import os
import select
import signal
import subprocess
import time

DEADLINE_S = 600  # a bound for a failing test, not a wait: the awaited line usually comes within seconds


def start_in_own_group(command: list[str], cwd, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``command`` with binary stdout/stderr pipes, leading its own process group (as a terminal's foreground job)."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def output_until(stream, marker: str, deadline_s: float = DEADLINE_S) -> str:
    """What was printed on ``stream`` (a binary pipe) up to and including ``marker``. Read from the file descriptor,
    unbuffered, so that select() sees every byte."""
    seen, deadline = b"", time.monotonic() + deadline_s
    while marker.encode() not in seen:
        assert time.monotonic() < deadline, f"{marker!r} not printed within {deadline_s} s: {seen[-2000:]!r}"
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the process ended before printing {marker!r}: {seen[-2000:]!r}"
            seen += chunk
    return seen.decode(errors="replace")


def press_ctrl_c(process: subprocess.Popen, timeout_s: float = 300) -> tuple[str, str]:
    """SIGINT to ``process``'s group, as the terminal sends it; returns the rest of (stdout, stderr) once it ended."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        out, err = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return out.decode(errors="replace"), err.decode(errors="replace")
