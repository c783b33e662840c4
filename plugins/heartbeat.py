"""Heartbeat files: what each training process (rank) and each of its DataLoader workers is doing, and since when.

    output_dir/heartbeat/rank-0.json            rank 0's training loop: step, phase, the clip it reads (no workers)
    output_dir/heartbeat/rank-0-worker-1.json   DataLoader worker 1 of rank 0 (its own process): the clip it reads

A file holds ``{"rank", "worker", "pid", "host", "step", "phase", "clip", "clip_started", "time",
"hang_timeout_s", "slow_read"}`` (times are Unix seconds) and is replaced atomically at every change (a temporary
file, then os.replace: a reader never sees half of one; no fsync, a heartbeat is only worth its latest value).
The training entry points start one per rank (start_process_heartbeat); plugins.heartbeat_callback moves its phase
(data, forward, backward, optimizer step, save, evaluate), the mm plugin wraps every clip read in reading_clip,
plugins.watchdog dumps the stacks of a rank that stops beating, plugins.diagnose renders them all.
"""

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HEARTBEAT_DIR_NAME = "heartbeat"
SLOW_CLIP_READ_S = 30.0  # a clip read that took longer is logged and kept in the heartbeat's "slow_read"
READING_CLIP = "reading clip"  # a DataLoader worker's phase while it reads; "idle" between reads

logger = logging.getLogger(__name__)


def heartbeat_dir(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / HEARTBEAT_DIR_NAME


def heartbeat_name(rank: int, worker: int | None = None) -> str:
    return f"rank-{rank}.json" if worker is None else f"rank-{rank}-worker-{worker}.json"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file in the same folder, then os.replace)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Heartbeat:
    """The heartbeat file of one process; ``beat(**changes)`` records the changes, the time, and rewrites it."""

    def __init__(self, directory: Path, rank: int, worker: int | None = None, hang_timeout_s: float = 0.0):
        self.path = Path(directory) / heartbeat_name(rank, worker)
        self.pid = os.getpid()
        self.state: dict = {
            "rank": rank, "worker": worker, "pid": self.pid, "host": socket.gethostname(), "step": 0,
            "phase": "start" if worker is None else "idle", "clip": None, "clip_started": None,
            "time": time.time(), "hang_timeout_s": hang_timeout_s, "slow_read": None,
        }  # fmt: skip
        self.last_progress = time.monotonic()  # what the watchdog measures a stall from
        self.beats = 0

    @property
    def rank(self) -> int:
        return self.state["rank"]

    def beat(self, **changes) -> None:
        self.state.update(changes, time=time.time())
        self.last_progress = time.monotonic()
        self.beats += 1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(self.state))
        except OSError as error:  # a full or read-only disk must not stop training: the heartbeat is advisory
            logger.warning("heartbeat %s not written: %s", self.path, error)


def read_heartbeats(directory: Path) -> list[dict]:
    """Every heartbeat in ``directory``, ranks in order, each rank's workers after it; unreadable files skipped."""
    beats = []
    for path in sorted(Path(directory).glob("rank-*.json")):
        try:
            beats.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(beats, key=lambda beat: (beat.get("rank", 0), -1 if beat.get("worker") is None else beat["worker"]))


# This process's heartbeat. Module state because the clip reads happen deep inside LLaMA-Factory's collator, in
# DataLoader workers forked from the rank: they inherit it, and derive their own file from it (process_heartbeat).
_process_heartbeat: Heartbeat | None = None


def start_process_heartbeat(output_dir: str | os.PathLike, hang_timeout_s: float) -> Heartbeat:
    """This rank's heartbeat (rank from torchrun's RANK, else 0), written at once; its DataLoader workers derive
    theirs from it."""
    global _process_heartbeat
    _process_heartbeat = Heartbeat(heartbeat_dir(output_dir), int(os.environ.get("RANK", "0")), None, hang_timeout_s)
    _process_heartbeat.beat()
    return _process_heartbeat


def process_heartbeat() -> Heartbeat | None:
    """This process's heartbeat: the rank's, or in a DataLoader worker forked from it, the worker's own; None where
    no training entry point started one (preflight, evaluation, tests)."""
    global _process_heartbeat
    if _process_heartbeat is None or _process_heartbeat.pid == os.getpid():
        return _process_heartbeat
    from torch.utils.data import get_worker_info

    info = get_worker_info()
    if info is None:  # a child that is not a DataLoader worker (a preprocessing pool): it writes nothing
        return None
    parent = _process_heartbeat
    _process_heartbeat = Heartbeat(parent.path.parent, parent.rank, info.id, parent.state["hang_timeout_s"])
    return _process_heartbeat


@contextmanager
def reading_clip(clip: str | os.PathLike) -> Iterator[None]:
    """Record in this process's heartbeat that ``clip`` is being read, and since when, until the read returns."""
    heartbeat = process_heartbeat()
    if heartbeat is None:
        yield
        return
    worker = heartbeat.state["worker"] is not None
    started = time.time()
    heartbeat.beat(clip=os.fspath(clip), clip_started=started, **({"phase": READING_CLIP} if worker else {}))
    try:
        yield
    finally:
        took = time.time() - started
        slow = {"clip": os.fspath(clip), "seconds": round(took, 3)} if took > SLOW_CLIP_READ_S else None
        if slow is not None:
            logger.warning("slow clip read: %s took %.1f s", slow["clip"], took)
        heartbeat.beat(clip=None, clip_started=None, **({"phase": "idle"} if worker else {}),
                       **({"slow_read": slow} if slow else {}))  # fmt: skip
