"""Watchdog: when a rank's heartbeat stops for HANG_TIMEOUT_S seconds, dump every thread's stack and say why.

    HANG_TIMEOUT_S=600 python -m plugins.train CONFIG.yaml   # the default; 0 turns the watchdog off

A thread of each rank compares the time of its last heartbeat (plugins.heartbeat) with the timeout. On a stall it
writes output_dir/heartbeat/rank-K.stacks.txt once (again after the next stall): a header naming the step, the phase
and any clip this rank or its DataLoader workers have been reading (with when the read started), then every thread's
stack, most recent call first. It logs one line pointing at the file and at `make diagnose`.

A Python thread needs the GIL, so a rank stuck in C code that holds it (rare; NCCL and DataLoader waits release it)
would stop the watchdog too. So the watchdog thread also re-arms faulthandler's timer (a C thread, no GIL needed)
every time it wakes: if the thread has not run for HANG_TIMEOUT_S, faulthandler writes every thread's stack to
output_dir/heartbeat/rank-K.frozen-stacks.txt (left empty, and removed at the end, when that never happens).
"""

import faulthandler
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from plugins.heartbeat import READING_CLIP, Heartbeat, read_heartbeats, write_atomically

HANG_TIMEOUT_ENV = "HANG_TIMEOUT_S"
DEFAULT_HANG_TIMEOUT_S = 600.0
NCCL_TRACE_BUFFER_SIZE = "2000"  # collectives kept per rank by PyTorch's NCCL flight recorder
NCCL_TRACE_PREFIX = "nccl-trace-rank-"  # PyTorch appends the rank
FROZEN_STACKS_SUFFIX = ".frozen-stacks.txt"


def hang_timeout_from_env(environ: dict[str, str] | None = None) -> float:
    """HANG_TIMEOUT_S in seconds (default 600; 0 = off), read once by each training entry point."""
    text = (os.environ if environ is None else environ).get(HANG_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_HANG_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SystemExit(
            f"{HANG_TIMEOUT_ENV}={text!r} is not a number of seconds: set it to e.g. 600, or 0 to turn the watchdog off"
        )
    return value


def nccl_trace_env(output_dir: str | os.PathLike, environ: dict[str, str]) -> dict[str, str]:
    """PyTorch's NCCL flight recorder, on unless the user set these: on a collective timeout each rank writes the
    collectives it had in flight to output_dir/heartbeat/nccl-trace-rank-K."""
    prefix = str((Path(output_dir) / "heartbeat" / NCCL_TRACE_PREFIX).absolute())
    wanted = {
        "TORCH_NCCL_TRACE_BUFFER_SIZE": NCCL_TRACE_BUFFER_SIZE,
        "TORCH_NCCL_DUMP_ON_TIMEOUT": "1",
        "TORCH_NCCL_DEBUG_INFO_TEMP_FILE": prefix,
    }
    return {key: environ.get(key, value) for key, value in wanted.items()}


def stacks_path(heartbeat: Heartbeat) -> Path:
    return heartbeat.path.with_name(f"rank-{heartbeat.rank}.stacks.txt")


def frozen_stacks_path(heartbeat: Heartbeat) -> Path:
    """Where faulthandler writes when the watchdog thread itself could not run (a thread held the GIL)."""
    return heartbeat.path.with_name(f"rank-{heartbeat.rank}{FROZEN_STACKS_SUFFIX}")


def stall_summary(heartbeat: Heartbeat, idle_s: float, now: float) -> list[str]:
    """The dump's header: the rank's step and phase, and every clip it or its workers are reading."""
    state = heartbeat.state
    lines = [
        f"rank {state['rank']} (pid {state['pid']} on {state['host']}): no progress for {idle_s:.0f} s "
        f"({HANG_TIMEOUT_ENV}={state['hang_timeout_s']:g}), at step {state['step']} in phase {state['phase']!r}"
    ]
    for beat in read_heartbeats(heartbeat.path.parent):
        if beat.get("rank") != state["rank"] or not beat.get("clip"):
            continue
        who = "this rank" if beat.get("worker") is None else f"data worker {beat['worker']} (pid {beat['pid']})"
        since = time.strftime("%H:%M:%S", time.gmtime(beat["clip_started"]))
        lines.append(f"{who} has been reading clip {beat['clip']} for {now - beat['clip_started']:.0f} s "
                     f"(since {since} UTC)")  # fmt: skip
    if len(lines) == 1 and state["phase"] == "data":
        lines.append(f"no clip read in progress: the data workers are idle, stopped or gone ({READING_CLIP!r} absent)")
    return lines


def thread_stacks(skip: int | None = None) -> str:
    """Every thread's stack but thread ``skip``'s (the watchdog's own), most recent call first."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    blocks = []
    for ident, frame in sys._current_frames().items():
        if ident == skip:
            continue
        frames = traceback.format_list(list(reversed(traceback.extract_stack(frame))))
        blocks.append(f"Thread {names.get(ident, '?')} (0x{ident:x}), most recent call first:\n" + "".join(frames))
    return "\n".join(blocks)


class Watchdog:
    """Dumps this rank's stacks when its heartbeat has not moved for ``timeout_s`` (once per stall)."""

    def __init__(self, heartbeat: Heartbeat, timeout_s: float):
        self.heartbeat = heartbeat
        self.timeout_s = timeout_s
        self.poll_s = max(0.2, min(5.0, timeout_s / 5))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hang-watchdog", daemon=True)
        self._frozen = None  # the file faulthandler writes to, open while the watchdog runs

    def start(self) -> None:
        if self.timeout_s > 0:
            path = frozen_stacks_path(self.heartbeat)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._frozen = path.open("w")
            faulthandler.dump_traceback_later(self.timeout_s, file=self._frozen)  # armed before start() returns
            self._thread.start()

    def stop(self) -> None:
        """Stop watching; the faulthandler file goes when it stayed empty."""
        self._stop.set()
        if self._frozen is None:
            return
        self._thread.join()
        faulthandler.cancel_dump_traceback_later()
        self._frozen.close()
        path = Path(self._frozen.name)
        if path.stat().st_size == 0:
            path.unlink()
        self._frozen = None

    def _watch(self) -> None:
        dumped_at_beat = -1
        while True:
            # fires only if this thread does not come back within the timeout: the GIL was held all that time
            faulthandler.dump_traceback_later(self.timeout_s, file=self._frozen)
            if self._stop.wait(self.poll_s):
                return
            idle = time.monotonic() - self.heartbeat.last_progress
            if idle >= self.timeout_s and self.heartbeat.beats != dumped_at_beat:
                dumped_at_beat = self.heartbeat.beats
                self.dump(idle)

    def dump(self, idle_s: float) -> Path:
        """Write rank-K.stacks.txt (atomically) and log where it is."""
        path = stacks_path(self.heartbeat)
        header = stall_summary(self.heartbeat, idle_s, time.time())
        text = (
            "\n".join(header)
            + f"\nmain thread: 0x{threading.main_thread().ident:x}\n\n"
            + thread_stacks(skip=self._thread.ident)
        )
        write_atomically(path, text)
        output_dir = self.heartbeat.path.parent.parent
        print(f"watchdog: {'; '.join(header)}; stacks: {path}; see: python -m plugins.diagnose {output_dir}",
              file=sys.stderr, flush=True)  # fmt: skip
        return path
