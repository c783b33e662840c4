"""Decode every clip's sampled frames before training: the frames training will read, read the way it reads them.

    from plugins.decode_check import decode_clips
    check = decode_clips(paths, video_fps=8.0, video_maxlen=8)   # processes: one per CPU by default
    check.failures        # {clip path: why it cannot be read}
    check.summary()       # "decode check: 120 clips in 1.9 s (63.2 clips/s, 2 processes), 0 failed"
    check = decode_clips(paths, video_fps=8.0, video_maxlen=8, store=target, plugin=builder)   # and fill the store

With ``store`` (a frame_store.key.StoreTarget: the preflight passes the run's, plugins.frame_source.target_for_run)
the check is the frame store's build: each clip is decoded once, through ``plugin`` (the template's own, copied to
read no store: plugins.frame_source.builder_plugin), and its frames written to the store, which training, preflight
and evaluation then read instead of the clip; clips already stored from the clip as it is now are not decoded
again (python -m plugins.frames build runs the same pass from a config).

The preflight runs this on every clip of the training config (python -m plugins.preflight; --skip-decode-check
skips it). Metadata alone cannot tell a download preallocated and killed at 40 % (zeros after the header) from a
good clip; decoding can. Each clip goes through video.read_sampled_frames, the reader the
``qwen2_vl_exact`` plugin uses in training, with the same video_fps and video_maxlen, so a clip that passes
here decodes the same frames in training. A worker process that dies (e.g. the out-of-memory killer) raises
DecodeCheckError instead of leaving the check waiting.
"""

import os
import time
from dataclasses import dataclass, field
from functools import partial

from common.pool import WorkerDied, WorkerPool
from frame_store.build import StoreBuildError, build_store
from frame_store.merge import MergeError
from video import read_sampled_frames

MAX_CLIPS_PER_TASK = 64  # one task per few dozen clips: cheap to hand out, fine-grained enough for the bar


class DecodeCheckError(Exception):
    """The check itself could not finish (a worker process died); says what to do."""


@dataclass
class DecodeCheck:
    n_clips: int
    workers: int
    seconds: float
    failures: dict[str, str] = field(default_factory=dict)  # clip path -> reason
    already_stored: int = 0  # clips the frame store held from an earlier pass, not decoded again

    @property
    def rate(self) -> float:
        return self.n_clips / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        if not self.n_clips:
            return "decode check: no clips to decode"
        return (
            f"decode check: {self.n_clips} clips in {self.seconds:.1f} s ({self.rate:.1f} clips/s, "
            f"{self.workers} processes), {len(self.failures)} failed"
            + (f", {self.already_stored} already checked (frame store)" if self.already_stored else "")
        )


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _decode_task(paths: list[str], video_fps: float, video_maxlen: int) -> dict[str, str]:
    """Read each clip's sampled frames; ``{path: reason}`` for those that fail, whatever the error."""
    failures = {}
    for path in paths:
        try:
            read_sampled_frames(path, video_fps=video_fps, video_maxlen=video_maxlen)
        except Exception as error:  # noqa: BLE001 - any error here is one training would die of on this clip
            failures[path] = str(error) if path in str(error) else f"{path}: {type(error).__name__}: {error}"
    return failures


def _tasks(paths: list[str], workers: int) -> list[list[str]]:
    size = max(1, min(MAX_CLIPS_PER_TASK, len(paths) // (workers * 16)))
    return [paths[start : start + size] for start in range(0, len(paths), size)]


def _build_store(paths: list[str], store, plugin, workers: int | None) -> DecodeCheck:
    try:
        result = build_store(paths, store, plugin, workers=workers or default_workers())
    except (StoreBuildError, MergeError) as error:
        raise DecodeCheckError(str(error)) from None
    return DecodeCheck(
        result.n_clips, result.workers, result.seconds, result.failures, result.n_clips - result.n_decoded
    )


def decode_clips(
    paths, *, video_fps: float, video_maxlen: int, workers: int | None = None, store=None, plugin=None
) -> DecodeCheck:
    """Decode the sampled frames of every clip in ``paths`` (each once) over ``workers`` processes; with ``store``
    (a frame_store StoreTarget at these video settings) decode them through ``plugin`` (one that reads no store)
    and write them into it, skipping clips already there.

    Shows a progress bar; returns a DecodeCheck (failures, rate). Raises DecodeCheckError if a worker dies.
    """
    from tqdm import tqdm

    if store is not None:
        return _build_store(list(dict.fromkeys(str(path) for path in paths)), store, plugin, workers)
    unique = list(dict.fromkeys(str(path) for path in paths))
    if not unique:  # e.g. a text-only dataset: no processes to start
        return DecodeCheck(0, 0, 0.0)
    workers = max(1, min(workers or default_workers(), len(unique)))
    start = time.perf_counter()
    failures: dict[str, str] = {}
    decode = partial(_decode_task, video_fps=video_fps, video_maxlen=video_maxlen)
    try:
        # spawn, not fork: the preflight has torch and tokenizers loaded, whose threads a forked child may deadlock on
        with (
            WorkerPool(workers, start_method="spawn") as pool,
            tqdm(total=len(unique), desc="decode check", unit="clip") as bar,
        ):
            for task, task_failures in pool.results(decode, _tasks(unique, workers), ordered=False):
                failures.update(task_failures)
                bar.update(len(task))
    except WorkerDied as died:
        raise DecodeCheckError(
            f"a decode-check worker process died (killed, e.g. by the out-of-memory killer?) with {died.task[0]} and "
            f"{len(died.task) - 1} more clips undecoded: the check did not finish. Rerun with fewer processes "
            f"(--decode-workers N, now {workers}) or more memory."
        ) from None
    return DecodeCheck(len(unique), workers, time.perf_counter() - start, failures)
