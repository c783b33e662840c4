"""Fill a store directory in one parallel pass that also proves every clip readable (the preflight's decode check).

    from frame_store.build import build_store
    from frame_store.key import StoreTarget
    result = build_store(paths, StoreTarget(directory, "qwen2_vl_exact", settings), plugin)   # result.failures

    python -m plugins.frames build CONFIG.yaml [key=value ...] [--workers K]   # from a config (`make frames`)

Each clip goes, in a worker process, through the given mm plugin (one that reads no store: its decode_videos gives
the frames its read_videos hands the processor, after LLaMA-Factory's resize; its clip_metadata what its tokens
are counted from), and is written with both into the shard its key hashes to. Clips already in their shard, made
from the clip as it is now (frame_store.key.ClipIdentity) and intact (checksum), are not decoded again: a killed
build resumes where its last fsync left it, and a complete store makes the pass an identity check per clip and one
read of its shards. Without a shard index every shard is built here and merged at the end; with it, only that shard
(each machine of an array writes its own files), and frame_store.merge checks and indexes them all.
"""

import json
import os
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from common.pool import WorkerDied, WorkerPool
from data.publish import write_text_atomic
from frame_store.codec import encode
from frame_store.disk import SpaceCheck, StoreFullError, directory_bytes, human, write_failure
from frame_store.key import (
    SETTINGS_FILE,
    ClipIdentity,
    StoreFileError,
    StoreSettings,
    StoreTarget,
    built_with,
    clip_identity,
    clip_key,
    key_number,
    resolved,
    settings_difference,
    settings_digest,
)
from frame_store.reader import damaged_entries
from frame_store.shard import ShardView, ShardWriter, known_line, pack_entry
from video import VideoReadError
from video.clip_span import BadSpanError

MAX_CLIPS_PER_TASK = 16  # entries travel back to the parent: a few MB per task at most
TASKS_PER_WORKER = 8  # at least: the bar moves every few clips, not once per worker's 16 clips
BAR_REFRESH_SECONDS = 1.0  # tqdm redraws at most this often
IN_PROCESS_UP_TO = 16  # clips: starting a worker (importing LLaMA-Factory, 3-9 s) costs more than decoding them
INTERRUPTED = "frame store interrupted (Ctrl-C): the clips decoded so far are kept"


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


def decode_entry(plugin, path: str, settings: StoreSettings, codec: str, identity: ClipIdentity) -> bytes:
    """One clip's entry: the frames and values the plugin's read_videos returns for it, and its token metadata."""
    metadata = plugin.clip_metadata(path, settings.video_fps, settings.video_maxlen)
    results = plugin.decode_videos([path], **settings.read_settings())
    frames = results["videos"][0]
    if any(frame.mode != "RGB" for frame in frames):
        raise ValueError(f"{path}: the plugin returned non-RGB frames, which the store does not keep")
    array = np.stack([np.asarray(frame) for frame in frames])
    header = {
        "path": resolved(path), **identity.fields(), "codec": codec,
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
    try:
        found = built_with(target.directory)
    except StoreFileError as error:
        raise StoreBuildError(str(error)) from None
    if found is None:
        write_text_atomic(target.directory / SETTINGS_FILE, json.dumps(wanted, indent=1))
    elif found.get("settings") != wanted["settings"]:  # e.g. another setting's directory copied under this name
        other = found["settings"]
        raise StoreBuildError(
            f"{target.directory} holds another setting's frames: {settings_difference(other, wanted['settings'])}. "
            f"Move it to {target.directory.with_name(settings_digest(other))} or delete it, then rebuild"
        )
    elif found != wanted:
        raise StoreBuildError(
            f"{target.directory} was built with codec {found['codec']}, {found['num_shards']} shards; asked for "
            f"{target.codec}, {target.num_shards}: pass those (--codec, --num-shards) or delete the directory"
        )


def shard_of(path: str, num_shards: int) -> int:
    """The shard a clip belongs to (hashed partition: stable when the dataset grows or is reordered)."""
    return key_number(clip_key(path)) % num_shards


def _record(results: list[tuple], writers, shard_by_path, failures, bar, space: SpaceCheck) -> None:
    for path, identity, entry, failure in results:
        if failure is not None:
            failures[path] = failure
        if identity is not None:
            writers[shard_by_path[path]].add(resolved(path), identity, entry, failure)
        if entry is not None:
            space.add(len(entry))
        bar.update(1)
    for writer in writers.values():
        writer.flush()
    space.check(remaining=bar.total - bar.n)


def split_tasks(todo: list[str], workers: int) -> list[list[str]]:
    """``todo`` in tasks of at most MAX_CLIPS_PER_TASK clips, at least TASKS_PER_WORKER per worker where there are
    enough clips (each finished task moves the progress bar)."""
    size = max(1, min(MAX_CLIPS_PER_TASK, len(todo) // (workers * TASKS_PER_WORKER)))
    return [todo[start : start + size] for start in range(0, len(todo), size)]


def _run_pool(todo, target, plugin, workers, writers, shard_by_path, failures, bar, space) -> None:
    tasks = split_tasks(todo, workers)
    build = partial(_build_task, plugin=plugin, settings=target.settings, codec=target.codec)
    try:
        # spawn, not fork: the preflight has torch and tokenizers loaded, whose threads a forked child may deadlock on
        with WorkerPool(workers, start_method="spawn") as pool:
            for _, results in pool.results(build, tasks, ordered=False):
                _record(results, writers, shard_by_path, failures, bar, space)
    except WorkerDied as died:
        raise StoreBuildError(
            f"a frame-store worker process died (killed, e.g. by the out-of-memory killer?) with {died.task[0]} and "
            f"{len(died.task) - 1} more clips unstored: the pass did not finish (what it wrote is kept). Rerun with "
            f"fewer processes (now {workers}) or more memory."
        ) from None


def _complete(target: StoreTarget, shards, mine: list[str], shard_by_path, failures: dict[str, str], verify: bool
              ) -> bool:  # fmt: skip
    """Whether every shard holds its clips as they are now (and, with ``verify``, intact), is finished and (building
    all) merged: then nothing is written, so a complete store on a read-only mount serves the decode check. Fills
    ``failures`` when it is."""
    from frame_store.merge import is_merged

    views = {index: ShardView(target.directory, index, target.num_shards) for index in shards}
    identities = {path: clip_identity(path) for path in mine}
    lines = {path: known_line(views[shard_by_path[path]].latest, resolved(path), identities[path]) for path in mine}
    assigned = {index: sum(1 for path in mine if shard_by_path[path] == index) for index in shards}
    if any(line is None for line in lines.values()) or not all(views[i].complete(assigned[i]) for i in shards):
        return False
    for index, view in views.items():
        if _damaged(view, [path for path in mine if shard_by_path[path] == index], identities, verify):
            return False
    if target.shard_index is None and not is_merged(target.directory, target.num_shards):
        return False
    failures.update({path: line["failed"] for path, line in lines.items() if "failed" in line})
    return True


def _damaged(shard, paths: list[str], identities: dict, verify: bool) -> set[str]:
    """The resolved paths among ``paths`` whose entry in ``shard`` fails its checksum: every entry with ``verify``,
    else only those of clips moved away."""
    wanted = {resolved(path) for path in paths if verify or identities[path] is None}
    return damaged_entries(shard.data_path, [line for line in shard.latest.values() if line["path"] in wanted])


def build_store(paths, target: StoreTarget, plugin, workers: int | None = None, verify: bool = False) -> BuildResult:
    """Decode every clip of ``paths`` (each once) not yet in its shard through ``plugin`` (an mm plugin that reads
    no store), over ``workers`` processes, and write it.

    Prints the directory first, the estimated size of the rest and the disk's free space once there is an entry to
    estimate from, and the directory's size at the end; shows a progress bar with the rate; returns a BuildResult.
    Merges the index when every shard was built here. ``verify`` (what `make frames` asks for) reads every stored
    entry against its checksum and decodes damaged ones again. Without it (the preflight's decode check) only the
    entries of clips moved away are read (they are the only copy); for the rest the clip's identity decides, and a
    damaged entry is decoded at read time with a warning. Raises StoreBuildError if a worker dies or the rest of
    the build cannot fit on the disk (entries written so far are kept)."""
    try:
        return _fill(paths, target, plugin, workers, verify)
    except StoreFullError as error:
        raise StoreBuildError(str(error)) from None
    except OSError as error:  # a store write: disk full, file too large, read-only mount (else not ours to word)
        message = write_failure(error, target.directory)
        if message is None:
            raise
        raise StoreBuildError(message) from None


def _fill(paths, target: StoreTarget, plugin, workers: int | None, verify: bool) -> BuildResult:
    """build_store's pass; its errors as raised."""
    from tqdm import tqdm

    from frame_store.merge import merge_store

    start = time.perf_counter()
    unique = list(dict.fromkeys(str(path) for path in paths))
    print(f"frame store: {target.directory}", flush=True)
    write_settings(target)
    shards = range(target.num_shards) if target.shard_index is None else [target.shard_index]
    failures: dict[str, str] = {}
    shard_by_path = {}
    for path in unique:
        try:
            shard_by_path[path] = shard_of(path, target.num_shards)
        except BadSpanError as error:  # no clip to key or decode: that clip's failure, as an unreadable one is
            failures[path] = str(error)
    mine = [path for path in shard_by_path if shard_by_path[path] in shards]
    if _complete(target, shards, mine, shard_by_path, failures, verify):  # read only: no lock taken, nothing written
        print(f"frame store: {target.directory} holds every clip ({human(directory_bytes(target.directory))})")
        return BuildResult(len(mine), 0, 0, time.perf_counter() - start, failures)
    writers = {}
    try:
        for index in shards:
            writers[index] = ShardWriter(target.directory, index, target.num_shards)
        identities = {path: clip_identity(path) for path in mine}
        damaged = set().union(*(
            _damaged(writer, [path for path in mine if shard_by_path[path] == index], identities, verify)
            for index, writer in writers.items()
        ))  # fmt: skip
        todo = []
        for path in mine:
            line = writers[shard_by_path[path]].known(resolved(path), identities[path])
            if line is None or line["path"] in damaged:  # a damaged entry is not stored: decoded again
                todo.append(path)
            elif "failed" in line:
                failures[path] = line["failed"]
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo))) if todo else 0
        lengths = [line["length"] for writer in writers.values() for line in writer.latest.values() if "offset" in line]
        space = SpaceCheck(target.directory, sum(lengths), len(lengths))
        space.check(remaining=len(todo))  # a resumed build estimates from what it stored, and refuses if it cannot fit
        with tqdm(total=len(mine), initial=len(mine) - len(todo), desc="frame store", unit="clip",
                  mininterval=BAR_REFRESH_SECONDS, smoothing=0.05) as bar:  # fmt: skip
            if len(todo) <= IN_PROCESS_UP_TO:
                n_workers = 1 if todo else 0
                for first in range(0, len(todo), 4):  # in this process, a few clips per fsync
                    chunk = _build_task(todo[first : first + 4], plugin, target.settings, target.codec)
                    _record(chunk, writers, shard_by_path, failures, bar, space)
            else:
                _run_pool(todo, target, plugin, n_workers, writers, shard_by_path, failures, bar, space)
        for index, writer in writers.items():
            writer.finish(sum(1 for path in mine if shard_by_path[path] == index))
    finally:
        for writer in writers.values():
            writer.close()
    if target.shard_index is None:
        merge_store(target.directory)
    print(f"frame store: {target.directory} holds {human(directory_bytes(target.directory))}", flush=True)
    return BuildResult(len(mine), len(todo), n_workers, time.perf_counter() - start, failures)
