"""Look clips up in a built store directory: frames as the plugin would return them, or None and why not.

    store = FrameStore.open("data/webvid/frames/0123456789abcdef")   # None until the merge wrote its index
    clip = store.get("videos/a.mp4")      # StoredClip, or None (not stored / stale / corrupt: counted, warned)
    store.counts                           # {"hits": 40, "not_stored": 2, "stale": 1, "corrupt": 0}

An entry is served only if its bytes match their checksum, its header names the same resolved path and, where the
clip is still on disk, the same size and mtime_ns. Anything else returns None after one warning per clip
(logger ``frame_store``, with the running count), and the caller decodes the clip instead.
"""

import logging
import mmap
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frame_store.codec import decode
from frame_store.key import StoreSettings, clip_identity, key_number, key_of_resolved, resolved
from frame_store.shard import checksum, shard_name, unpack_entry

LOGGER = logging.getLogger("frame_store")
FALLBACKS = ("stale", "corrupt")  # what warns; "not_stored" (a clip the store was never built for) does not


@dataclass(frozen=True)
class StoredClip:
    frames: np.ndarray  # (T, H, W, 3) uint8: the plugin's frames after LLaMA-Factory's resize
    results: dict  # the plugin's other per-video values (fps_per_video, durations, frames_indices, ...)
    metadata: dict  # what the tokens are counted from (width, height, average_fps, sample_indices)

    def as_results(self) -> dict[str, list]:
        """This clip as the plugin's read_videos returns one video."""
        from PIL import Image

        return {"videos": [[Image.fromarray(frame) for frame in self.frames]],
                **{key: [value] for key, value in self.results.items()}}  # fmt: skip


class FrameStore:
    """A merged store directory, memory-mapped: the sorted index and each shard's data file."""

    def __init__(self, directory: Path, manifest: dict):
        self.directory = directory
        self.manifest = manifest
        self.index = np.load(directory / "index.npy", mmap_mode="r")
        self.counts: Counter = Counter()
        self._warned: set[str] = set()
        self._maps: dict[int, mmap.mmap] = {}
        try:
            self.settings: StoreSettings | None = StoreSettings(**manifest["settings"])
        except TypeError:  # a directory of another format version: no reader of this checkout matches it
            self.settings = None

    @classmethod
    def open(cls, directory: str | os.PathLike) -> "FrameStore | None":
        import json

        directory = Path(directory)
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
            if (directory / "index.npy").stat().st_size != manifest["index_bytes"]:
                raise ValueError("index.npy does not match manifest.json")
            return cls(directory, manifest)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            LOGGER.warning("frame store %s cannot be read (%s): decoding clips instead; rebuild it", directory, error)
            return None

    def _shard_bytes(self, shard: int, offset: int, length: int) -> memoryview | None:
        current = self._maps.get(shard)
        if current is None or offset + length > len(current):
            path = self.directory / f"{shard_name(shard, self.manifest['num_shards'])}.data"
            if not path.exists() or path.stat().st_size < offset + length:
                return None
            with open(path, "rb") as data:
                current = self._maps[shard] = mmap.mmap(data.fileno(), 0, access=mmap.ACCESS_READ)
        return memoryview(current)[offset : offset + length]

    def _fallback(self, path: str, kind: str, why: str) -> None:
        self.counts[kind] += 1
        if path not in self._warned:
            self._warned.add(path)
            fallen = sum(self.counts[name] for name in FALLBACKS)
            LOGGER.warning("frame store: %s: %s; decoding the clip instead (%d clips so far)", path, why, fallen)

    def _rows(self, real: str) -> np.ndarray:
        """The index rows whose key starts as that of the resolved path ``real``."""
        number = np.uint64(key_number(key_of_resolved(real)))
        start = np.searchsorted(self.index["key"], number, side="left")
        end = np.searchsorted(self.index["key"], number, side="right")
        return self.index[start:end]

    def holds(self, path: str | os.PathLike) -> bool:
        """Whether an entry for ``path`` is indexed (its header read, its frames not checked)."""
        real = resolved(path)
        for row in self._rows(real):
            data = self._shard_bytes(int(row["shard"]), int(row["offset"]), int(row["length"]))
            try:
                if data is not None and unpack_entry(data)[0]["path"] == real:
                    return True
            except ValueError:
                continue
        return False

    def _entry(self, path: str) -> tuple[dict, memoryview] | None:
        """The checked (header, payload) of ``path``'s entry, or None (counted; stale or corrupt warns)."""
        real = resolved(path)
        for row in self._rows(real):
            data = self._shard_bytes(int(row["shard"]), int(row["offset"]), int(row["length"]))
            if data is None:
                self._fallback(path, "corrupt", "its entry is missing from the shard (truncated?)")
                return None
            if checksum(data) != bytes(row["checksum"]).hex():
                self._fallback(path, "corrupt", "its entry fails its checksum (damaged shard)")
                return None
            try:
                header, payload = unpack_entry(data)
            except ValueError as error:
                self._fallback(path, "corrupt", str(error))
                return None
            if header["path"] != real:
                continue  # another clip whose key shares the first 8 bytes
            identity = clip_identity(path)
            if identity is not None and (header["size"], header["mtime_ns"]) != identity:
                self._fallback(path, "stale", "the clip changed since its frames were stored (rebuild: make frames)")
                return None
            self.counts["hits"] += 1
            return header, payload
        self.counts["not_stored"] += 1
        return None

    def get(self, path: str | os.PathLike) -> StoredClip | None:
        """The stored clip, or None (counted; a stale or corrupt entry also warns once per clip)."""
        entry = self._entry(str(path))
        if entry is None:
            return None
        header, payload = entry
        return StoredClip(decode(header["codec"], payload, header["shape"]), header["results"], header["metadata"])

    def metadata(self, path: str | os.PathLike) -> dict | None:
        """The stored token metadata of ``path`` (its frames are checked, not decompressed), or None as get()."""
        entry = self._entry(str(path))
        return entry[0]["metadata"] if entry is not None else None


def read_counts(store: FrameStore | None) -> dict[str, int]:
    """hits, not_stored, stale, corrupt of a store in this process (all 0 for no store)."""
    counts = store.counts if store is not None else Counter()
    return {name: counts[name] for name in ("hits", "not_stored", *FALLBACKS)}
