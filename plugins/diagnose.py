"""One screen on a training run that seems stuck: every rank's and data worker's last heartbeat, who waits on what,
the clip being read, and the top frames of each watchdog stack dump.

    make diagnose OUTPUT_DIR=saves/tiny_qwen2vl_demo
    python -m plugins.diagnose saves/tiny_qwen2vl_demo

Reads output_dir/heartbeat/ (plugins.heartbeat, plugins.watchdog); works while the run hangs or after it was killed.
A process on this host is looked up in /proc: "stopped" (SIGSTOP, a debugger) or "disk sleep" (a stalled mount)
says why it does not move. A heartbeat older than the run's HANG_TIMEOUT_S (recorded in it) counts as stalled.
"""

import argparse
import re
import socket
import sysconfig
import time
from pathlib import Path

from plugins.heartbeat import READING_CLIP, heartbeat_dir, read_heartbeats
from plugins.watchdog import DEFAULT_HANG_TIMEOUT_S, FROZEN_STACKS_SUFFIX

TOP_FRAMES = 6  # frames shown per thread of a stack dump (most recent first)
FRAME_LINE = re.compile(
    r'File "(.*)", line (\d+),? in (.*)$'
)  # traceback's "line 3, in f"; faulthandler's "line 3 in f"
STDLIB = sysconfig.get_paths()["stdlib"] + "/"
REPO_ROOT = str(Path(__file__).resolve().parents[1])
PROC_STATES = {"T": "stopped", "t": "stopped (traced)", "D": "disk sleep", "Z": "zombie", "R": "running",
               "S": "sleeping"}  # fmt: skip
STUCK_STATES = ("stopped", "stopped (traced)", "disk sleep", "zombie", "gone")  # a process that cannot move on
PHASE_ORDER = ("start", "data", "forward", "backward", "optimizer step", "evaluate", "save", "done")


def process_state(beat: dict) -> str | None:
    """The process's state from /proc where it runs on this host ("gone" if it has ended), else None."""
    if beat.get("host") != socket.gethostname():
        return None
    try:
        fields = Path(f"/proc/{beat['pid']}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return "gone"
    return PROC_STATES.get(fields[0], fields[0])


def _stale_after(beats: list[dict]) -> float:
    timeouts = [beat.get("hang_timeout_s") or 0 for beat in beats]
    return max(timeouts) if any(timeouts) else DEFAULT_HANG_TIMEOUT_S


def _progress(beat: dict) -> tuple[int, int]:
    phase = beat.get("phase")
    return beat.get("step", 0), PHASE_ORDER.index(phase) if phase in PHASE_ORDER else 0


def heartbeat_line(beat: dict, now: float) -> str:
    state = process_state(beat)
    who = f"rank {beat['rank']}" if beat.get("worker") is None else f"  worker {beat['worker']} of rank {beat['rank']}"
    line = f"{who:<22} pid {beat['pid']:<8} last beat {now - beat['time']:>6.0f} s ago  "
    line += f"phase {beat.get('phase')!r}" + ("" if beat.get("worker") is not None else f" step {beat.get('step')}")
    if state is not None:
        line += f"  [{state}]"
    if beat.get("clip"):
        line += f"\n{'':<24}reading {beat['clip']} for {now - beat['clip_started']:.0f} s"
    if beat.get("slow_read"):
        line += f"\n{'':<24}last slow read: {beat['slow_read']['clip']} ({beat['slow_read']['seconds']:.0f} s)"
    return line


def waits(beats: list[dict], now: float) -> list[str]:
    """One sentence per stalled rank: what it waits on (a clip, its data, another rank) or where it is stuck."""
    stale_after = _stale_after(beats)
    ranks = [beat for beat in beats if beat.get("worker") is None]
    states = {rank["rank"]: process_state(rank) for rank in ranks}
    behind = min(ranks, key=_progress) if len(ranks) > 1 else None
    sentences = []
    for rank in ranks:
        idle = now - rank["time"]
        if rank.get("phase") == "done" or idle < stale_after:
            continue
        where = f"rank {rank['rank']}: no progress for {idle:.0f} s at step {rank['step']} in phase {rank['phase']!r}"
        reads = [beat for beat in beats if beat["rank"] == rank["rank"] and beat.get("clip")]
        blocked = [other for other in ranks if other is not rank and states[other["rank"]] in STUCK_STATES]
        if states[rank["rank"]] in STUCK_STATES:
            sentences.append(f"{where}; its process is {states[rank['rank']]}")
        elif reads:
            for beat in reads:
                who = "itself" if beat.get("worker") is None else f"data worker {beat['worker']} (pid {beat['pid']})"
                worker_state = process_state(beat)
                sentences.append(
                    f"{where}: waits for {who}, reading clip {beat['clip']} for {now - beat['clip_started']:.0f} s"
                    + (f" (process {worker_state})" if worker_state in STUCK_STATES else "")
                )
        elif blocked:
            names = ", ".join(f"rank {other['rank']} (process {states[other['rank']]})" for other in blocked)
            sentences.append(f"{where}: waits in a collective for {names}")
        elif behind is not None and _progress(behind) < _progress(rank):
            sentences.append(f"{where}: waits in a collective for rank {behind['rank']}, which is behind "
                             f"(step {behind['step']}, phase {behind['phase']!r})")  # fmt: skip
        elif rank.get("phase") == "data":
            sentences.append(f"{where}: waits for its data workers, none of which is reading a clip ({READING_CLIP!r})")
        else:
            sentences.append(where)
    return sentences


def stack_summary(path: Path, top: int = TOP_FRAMES) -> list[str]:
    """A watchdog dump's header and the ``top`` most recent frames of each thread (the main thread first)."""
    text = path.read_text(errors="replace")
    header, _, body = text.partition("\n\n")
    main = next((line.split(": ", 1)[1] for line in header.splitlines() if line.startswith("main thread: ")), None)
    lines = [f"{path.name} (written {time.strftime('%H:%M:%S', time.gmtime(path.stat().st_mtime))} UTC):"]
    lines += [f"  {line}" for line in header.splitlines() if not line.startswith("main thread: ")]
    threads = [block for block in body.split("\nThread ") if block.strip()]
    threads.sort(key=lambda block: main is None or f"({main})" not in block.splitlines()[0])
    for block in threads:
        block_lines = block.removeprefix("Thread ").splitlines()
        lines.append(f"  thread {block_lines[0].split(',')[0]}:")
        frames = [line.strip() for line in block_lines[1:] if line.startswith("  File ")]
        lines += [f"    {frame}" for frame in top_frames(frames, top)]
    return lines


def frozen_summary(path: Path, top: int = TOP_FRAMES) -> list[str]:
    """A faulthandler dump (plugins.watchdog): what it means, and the ``top`` most recent frames of each thread."""
    written = time.strftime("%H:%M:%S", time.gmtime(path.stat().st_mtime))
    lines = [
        f"{path.name} (written {written} UTC): the rank's watchdog thread did not run for HANG_TIMEOUT_S: a thread "
        "held the GIL (C code) or the process was stopped; faulthandler's stacks at that moment:"
    ]
    for block in path.read_text(errors="replace").split("\n\n"):
        block_lines = [line for line in block.splitlines() if line.strip()]
        if not block_lines:
            continue
        lines.append(f"  {block_lines[0].removesuffix(' (most recent call first):').lower()}:")
        frames = [line.strip() for line in block_lines[1:] if line.strip().startswith("File ")]
        lines += [f"    {frame}" for frame in top_frames(frames, top)]
    return lines


def top_frames(frames: list[str], top: int) -> list[str]:
    """The most recent frame, then the next ``top`` - 1 outside Python's standard library (where a thread waits is
    stdlib; why it waits is the caller: the DataLoader, a collective), as ``function (file:line)``."""
    shown, skipped = [], 0
    for index, frame in enumerate(frames):
        match = FRAME_LINE.match(frame)
        if match is None:
            continue
        path, line, function = match.groups()
        if index > 0 and path.startswith(STDLIB):
            skipped += 1
            continue
        short = path.split("site-packages/", 1)[-1].removeprefix(f"{REPO_ROOT}/")
        shown.append(f"{function} ({short}:{line})" + (f"  [{skipped} stdlib frames skipped]" if skipped else ""))
        skipped = 0
        if len(shown) == top:
            break
    return shown


def render(output_dir: Path, now: float | None = None) -> str:
    """The whole screen for ``output_dir``."""
    now = time.time() if now is None else now
    directory = heartbeat_dir(output_dir)
    beats = read_heartbeats(directory)
    if not beats:
        return (f"no heartbeat in {directory}: the run has not started training, or it ran without "
                f"python -m plugins.train (the heartbeat is written from the first training step)")  # fmt: skip
    lines = [f"heartbeats in {directory} (now {time.strftime('%H:%M:%S', time.gmtime(now))} UTC, "
             f"stalled after {_stale_after(beats):g} s)"]  # fmt: skip
    lines += [heartbeat_line(beat, now) for beat in beats]
    stalled = waits(beats, now)
    lines += ["", "waiting:" if stalled else "waiting: no rank has stalled"]
    lines += [f"  {sentence}" for sentence in stalled]
    dumps = sorted(directory.glob("rank-*.stacks.txt"))
    if dumps:
        lines.append("")
        for path in dumps:
            lines += stack_summary(path)
    frozen = [path for path in sorted(directory.glob(f"rank-*{FROZEN_STACKS_SUFFIX}")) if path.stat().st_size]
    for path in frozen:
        lines += ["", *frozen_summary(path)]
    traces = sorted(directory.glob("nccl-trace-rank-*"))
    if traces:
        lines += ["", "NCCL flight recorder dumps: " + ", ".join(str(path) for path in traces)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m plugins.diagnose", description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="the run's output_dir")
    args = parser.parse_args(argv)
    if not args.output_dir.is_dir():
        raise SystemExit(f"{args.output_dir} is not a directory: pass the run's output_dir (the config's output_dir)")
    print(render(args.output_dir))


if __name__ == "__main__":
    main()
