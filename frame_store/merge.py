"""Check every shard of a store directory is complete and write the index readers use.

    python -m plugins.frames merge CONFIG.yaml [key=value ...]                     # the config's store directory
    python -m plugins.frames merge --store-dir data/webvid/frames/0123456789abcdef   # a directory by name
    merge_store(directory)                                                           # from Python

Refuses (exit 1, naming the shards) when a shard is missing, unfinished (no .done) or changed after it was
finished; otherwise writes index.npy (entries sorted by key: shard, offset, length, checksum) and manifest.json
atomically, manifest last: readers see the old index or the new one. failures.jsonl lists the clips that failed.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from data.publish import fsync_dir, write_text_atomic
from frame_store.shard import latest_by_path, read_done, read_lines, shard_name

INDEX_DTYPE = np.dtype(
    [("key", "<u8"), ("shard", "<u4"), ("offset", "<u8"), ("length", "<u8"), ("checksum", "u1", (16,))]
)


class MergeError(Exception):
    """A shard is missing, unfinished or changed; the message names each and what to run."""


def _shard_problems(directory: Path, num_shards: int) -> list[str]:
    problems = []
    for index in range(num_shards):
        base = directory / shard_name(index, num_shards)
        marker = read_done(base.with_suffix(".done"))
        if marker is None:
            state = "unfinished" if base.with_suffix(".jsonl").exists() else "missing"
            problems.append(f"{base.name} is {state} (run: python -m plugins.frames build ... --shard-index {index})")
            continue
        sizes = (base.with_suffix(".data").stat().st_size, base.with_suffix(".jsonl").stat().st_size)
        if sizes != (marker["data_bytes"], marker["index_bytes"]):
            problems.append(f"{base.name} changed after it was finished (rerun its build)")
    return problems


def _done_markers(directory: Path, num_shards: int) -> dict[str, dict | None]:
    """Each shard's done marker: what the index was merged from."""
    names = [shard_name(index, num_shards) for index in range(num_shards)]
    return {name: read_done(directory / f"{name}.done") for name in names}


def is_merged(directory: Path, num_shards: int) -> bool:
    """Whether manifest.json and index.npy index the shards as they are now (nothing to merge, nothing to write)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        index_bytes = (directory / "index.npy").stat().st_size
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("index_bytes") != index_bytes:
        return False
    if "shards" not in manifest:  # merged before the manifest named its shards: no shard finished after it
        written = (directory / "manifest.json").stat().st_mtime_ns
        dones = [directory / f"{shard_name(index, num_shards)}.done" for index in range(num_shards)]
        return all(done.exists() and done.stat().st_mtime_ns <= written for done in dones)
    return manifest.get("shards") == _done_markers(directory, num_shards)


def _write_index(path: Path, index: np.ndarray) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
        np.save(f, index)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)
    fsync_dir(path.parent)


def merge_store(directory: str | os.PathLike) -> dict:
    """Index every complete shard of ``directory``; returns the manifest. Raises MergeError naming bad shards."""
    from frame_store.key import built_with, clip_key, key_number  # settings.json damaged: StoreFileError

    directory = Path(directory)
    settings = built_with(directory)
    if settings is None:
        raise MergeError(f"{directory}: no settings.json: not a frame store (build it: python -m plugins.frames build "
                         "CONFIG.yaml)")  # fmt: skip
    num_shards = settings["num_shards"]
    problems = _shard_problems(directory, num_shards)
    if problems:
        raise MergeError(f"{directory}: {len(problems)} of {num_shards} shards not complete: " + "; ".join(problems))
    parts, failures = [], []
    for index in range(num_shards):  # one shard's lines in memory at a time; the index itself is ~36 bytes a clip
        lines = latest_by_path(read_lines(directory / f"{shard_name(index, num_shards)}.jsonl"))
        failures += [line for line in lines.values() if "failed" in line]
        entries = [(path, line) for path, line in lines.items() if "failed" not in line]
        part = np.zeros(len(entries), dtype=INDEX_DTYPE)
        for row, (path, line) in enumerate(entries):
            digest = np.frombuffer(bytes.fromhex(line["checksum"]), dtype=np.uint8)
            part[row] = (key_number(clip_key(path)), index, line["offset"], line["length"], digest)
        parts.append(part)
    table = np.concatenate(parts) if parts else np.zeros(0, dtype=INDEX_DTYPE)
    table = table[np.argsort(table["key"], kind="stable")]
    _write_index(directory / "index.npy", table)
    write_text_atomic(directory / "failures.jsonl", "".join(json.dumps(line) + "\n" for line in failures))
    manifest = {**settings, "entries": len(table), "failures": len(failures),
                "index_bytes": (directory / "index.npy").stat().st_size,
                "shards": _done_markers(directory, num_shards)}  # fmt: skip
    write_text_atomic(directory / "manifest.json", json.dumps(manifest, indent=1))
    return manifest
