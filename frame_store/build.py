"""Fill a store directory in one parallel pass that also proves every clip readable (the preflight's decode check).

    from frame_store.build import build_store
    from frame_store.key import StoreTarget
    result = build_store(paths, StoreTarget(directory, "qwen2_vl_exact", settings), plugin)   # result.failures

    python -m plugins.frames build CONFIG.yaml [key=value ...] [--workers K]   # from a config (`make frames`)

Each clip goes, in a worker process, through the given mm plugin (one that reads no store: its decode_videos gives
the frames its read_videos hands the processor, after LLaMA-Factory's resize; its clip_metadata what its tokens
are counted from), and is written with both into the shard its key hashes to. Clips already in their shard, made
from the clip as it is now, are not decoded again: a killed build resumes where its last fsync left it, and a
complete store makes the pass a stat per clip. Without a shard index every shard is built here and merged at the
end; with it, only that shard (each machine of an array writes its own files), and frame_store.merge checks and
indexes them all.
"""

import json
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from data.publish import write_text_atomic
from frame_store.codec import encode
from frame_store.key import (
    SETTINGS_FILE,
    StoreSettings,
    StoreTarget,
    built_with,
    clip_identity,
    clip_key,
    key_number,
    resolved,
)
from frame_store.shard import ShardWriter, pack_entry
from video import VideoReadError

MAX_CLIPS_PER_TASK = 16  # entries travel back to the parent: a few MB per task at most
IN_PROCESS_UP_TO = 16  # clips: starting a worker (importing LLaMA-Factory, 3-9 s) costs more than decoding them


class StoreBuildError(Exception):
    """The build could not finish (a worker died, a store built with other options); says what to do."""


@dataclass
class BuildResult:
    n_clips: int
    n_decoded: int
    workers: int
    seconds: float
    failures: dict[str, str] = field(default_factory=dict)  # clip path as given -> reason

    def summary(self) -> str:
        rate = self.n_decoded / self.seconds if self.seconds > 0 else 0.0
        return (f"frame store: {self.n_clips} clips, {self.n_decoded} decoded in {self.seconds:.1f} s ({rate:.1f} "
                f"clips/s, {self.workers} processes), {self.n_clips - self.n_decoded} already stored or failed "
                f"before, {len(self.failures)} failed")  # fmt: skip


def _plain(value):
    """numpy scalars and arrays as JSON values."""
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def decode_entry(plugin, path: str, settings: StoreSettings, codec: str, identity: tuple[int, int]) -> bytes:
    """One clip's entry: the frames and values the plugin's read_videos returns for it, and its token metadata."""
    metadata = plugin.clip_metadata(path, settings.video_fps, settings.video_maxlen)
    results = plugin.decode_videos([path], **settings.read_settings())
    frames = results["videos"][0]
    if any(frame.mode != "RGB" for frame in frames):
        raise ValueError(f"{path}: the plugin returned non-RGB frames, which the store does not keep")
    array = np.stack([np.asarray(frame) for frame in frames])
    header = {
        "path": resolved(path), "size": identity[0], "mtime_ns": identity[1], "codec": codec,
        "shape": list(array.shape), "metadata": metadata,
        "results": {key: values[0] for key, values in results.items() if key != "videos"},
    }  # fmt: skip
    header = json.loads(json.dumps(header, default=_plain))
    return pack_entry(header, encode(codec, array))


def _build_task(paths: list[str], plugin, settings: StoreSettings, codec: str) -> list[tuple]:
    """(path, identity, entry or None, failure or None) per clip; any error is one training would die of."""
    done = []
    for path in paths:
        identity = clip_identity(path)
        try:
            if identity is None:
                raise FileNotFoundError(f"{path}: no such file")
            done.append((path, identity, decode_entry(plugin, path, settings, codec, identity), None))
        except VideoReadError as error:  # the reason alone (not the plugin's "changed since preflight?" advice)
            reason = str(VideoReadError(error.path, error.reason, error.detail))
            done.append((path, identity, None, reason))
        except Exception as error:  # noqa: BLE001 - recorded per clip, as the decode check reports it
            reason = str(error) if path in str(error) else f"{path}: {type(error).__name__}: {error}"
            done.append((path, identity, None, reason))
    return done


def write_settings(target: StoreTarget) -> None:
    """settings.json of the directory; a store built with another codec or shard count is refused."""
    target.directory.mkdir(parents=True, exist_ok=True)
    wanted = {"settings": target.settings.as_dict(), "codec": target.codec, "num_shards": target.num_shards}
    found = built_with(target.directory)
    if found is None:
        write_text_atomic(target.directory / SETTINGS_FILE, json.dumps(wanted, indent=1))
    elif found != wanted:
        raise StoreBuildError(
            f"{target.directory} was built with codec {found['codec']}, {found['num_shards']} shards; asked for "
            f"{target.codec}, {target.num_shards}: pass those (--codec, --num-shards) or delete the directory"
        )


def shard_of(path: str, num_shards: int) -> int:
    """The shard a clip belongs to (hashed partition: stable when the dataset grows or is reordered)."""
    return key_number(clip_key(path)) % num_shards


def _record(results: list[tuple], writers, shard_by_path, failures, bar) -> None:
    for path, identity, entry, failure in results:
        if failure is not None:
            failures[path] = failure
        if identity is not None:
            writers[shard_by_path[path]].add(resolved(path), identity, entry, failure)
        bar.update(1)
    for writer in writers.values():
        writer.flush()


def _run_pool(todo, target, plugin, workers, writers, shard_by_path, failures, bar) -> None:
    tasks = [todo[start : start + MAX_CLIPS_PER_TASK] for start in range(0, len(todo), MAX_CLIPS_PER_TASK)]
    # spawn, not fork: the preflight has torch and tokenizers loaded, whose threads a forked child may deadlock on.
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    finished = False
    try:
        pending = {executor.submit(_build_task, task, plugin, target.settings, target.codec) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                _record(future.result(), writers, shard_by_path, failures, bar)
        finished = True
    except BrokenProcessPool:
        raise StoreBuildError(
            "a frame-store worker process died (killed, e.g. by the out-of-memory killer?): the pass did not "
            f"finish (what it wrote is kept). Rerun with fewer processes (now {workers}) or more memory."
        ) from None
    finally:
        executor.shutdown(wait=finished, cancel_futures=True)


def build_store(paths, target: StoreTarget, plugin, workers: int | None = None) -> BuildResult:
    """Decode every clip of ``paths`` (each once) not yet in its shard through ``plugin`` (an mm plugin that reads
    no store), over ``workers`` processes, and write it.

    Shows a progress bar with the rate; returns a BuildResult. Merges the index when every shard was built here.
    Raises StoreBuildError if a worker dies (entries written so far are kept)."""
    from tqdm import tqdm

    from frame_store.merge import merge_store

    start = time.perf_counter()
    unique = list(dict.fromkeys(str(path) for path in paths))
    write_settings(target)
    shards = range(target.num_shards) if target.shard_index is None else [target.shard_index]
    shard_by_path = {path: shard_of(path, target.num_shards) for path in unique}
    mine = [path for path in unique if shard_by_path[path] in shards]
    failures: dict[str, str] = {}
    writers = {}
    try:
        for index in shards:
            writers[index] = ShardWriter(target.directory, index, target.num_shards)
        todo = []
        for path in mine:
            line = writers[shard_by_path[path]].known(resolved(path), clip_identity(path))
            if line is None:
                todo.append(path)
            elif "failed" in line:
                failures[path] = line["failed"]
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo))) if todo else 0
        with tqdm(total=len(mine), initial=len(mine) - len(todo), desc="frame store", unit="clip") as bar:
            if len(todo) <= IN_PROCESS_UP_TO:
                n_workers = 1 if todo else 0
                for first in range(0, len(todo), 4):  # in this process, a few clips per fsync
                    chunk = _build_task(todo[first : first + 4], plugin, target.settings, target.codec)
                    _record(chunk, writers, shard_by_path, failures, bar)
            else:
                _run_pool(todo, target, plugin, n_workers, writers, shard_by_path, failures, bar)
        for index, writer in writers.items():
            writer.finish(sum(1 for path in mine if shard_by_path[path] == index))
    finally:
        for writer in writers.values():
            writer.close()
    if target.shard_index is None:
        merge_store(target.directory)
    return BuildResult(len(mine), len(todo), n_workers, time.perf_counter() - start, failures)
