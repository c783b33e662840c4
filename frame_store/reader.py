"""Look clips up in a built store directory: frames as the plugin would return them, or None and why not.

    store = FrameStore.open("data/webvid/frames/0123456789abcdef")   # None until the merge wrote its index
    clip = store.get("videos/a.mp4")      # StoredClip, or None (not stored / stale / corrupt: counted, warned)
    store.counts                           # {"hits": 40, "not_stored": 2, "stale": 1, "corrupt": 0}
    store.status("videos/a.mp4")           # "stored", "not_stored", "stale" or "damaged" (nothing counted)
    damaged_entries(shard_data_path, lines)  # the paths of a shard's entries whose bytes fail their checksum

A directory is opened only if the settings it records are those its name is the key of (a directory copied or
synced under another setting's name holds that setting's frames: refused, with a warning naming the settings it
holds and the directory it belongs in). An entry is served only if its bytes match their checksum, its header names
the same resolved path and, where the clip is still on disk, the same identity (frame_store.key.ClipIdentity: size,
mtime_ns, a hash of both ends). Anything else returns None after one warning per clip (logger ``frame_store``, with
the running count), and the caller decodes the clip instead. A damaged entry is not stored as far as the build is
concerned: the next build decodes it again.
"""

import json
import logging
import mmap
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frame_store.codec import decode
from frame_store.key import (
    ClipIdentity,
    StoreSettings,
    clip_identity,
    key_number,
    key_of_resolved,
    resolved,
    settings_digest,
    settings_in_words,
)
from frame_store.shard import checksum, shard_name, unpack_entry

LOGGER = logging.getLogger("frame_store")
FALLBACKS = ("stale", "corrupt")  # what warns; "not_stored" (a clip the store was never built for) does not
SETTINGS_PEOPLE_SET = ("family", "video_fps", "video_maxlen", "max_pixels", "min_pixels")
STORED, NOT_STORED, STALE, DAMAGED = "stored", "not_stored", "stale", "damaged"  # status(); damaged counts corrupt


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
        """The merged store in ``directory``; None (with a warning, but for a directory never merged) where it
        cannot be read or holds another setting's frames."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
            if (directory / "index.npy").stat().st_size != manifest["index_bytes"]:
                raise ValueError("index.npy does not match manifest.json")
            recorded = manifest["settings"]
            if settings_digest(recorded) != directory.name:
                LOGGER.warning("%s", foreign_settings(directory, recorded))
                return None
            return cls(directory, manifest)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
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

    def _check(self, path: str) -> tuple[str, str, dict | None, memoryview | None]:
        """(status, why, header, payload) of ``path``'s entry; header and payload only where it is stored."""
        real = resolved(path)
        for row in self._rows(real):
            data = self._shard_bytes(int(row["shard"]), int(row["offset"]), int(row["length"]))
            if data is None:
                return DAMAGED, "its entry is missing from the shard (truncated?)", None, None
            if checksum(data) != bytes(row["checksum"]).hex():
                return DAMAGED, "its entry fails its checksum (damaged shard)", None, None
            try:
                header, payload = unpack_entry(data)
            except ValueError as error:
                return DAMAGED, str(error), None, None
            if header["path"] != real:
                continue  # another clip whose key shares the first 8 bytes
            identity = clip_identity(path)
            if identity is not None and ClipIdentity.of(header) != identity:
                return STALE, "the clip changed since its frames were stored (rebuild: make frames)", None, None
            return STORED, "", header, payload
        return NOT_STORED, "", None, None

    def status(self, path: str | os.PathLike) -> str:
        """STORED, NOT_STORED, STALE (the clip on disk is not the one stored) or DAMAGED (the entry's bytes fail
        their checksum: make frames decodes the clip again); nothing counted or warned."""
        return self._check(str(path))[0]

    def holds(self, path: str | os.PathLike) -> bool:
        """Whether ``path``'s entry would be served (checked: a damaged entry is not held)."""
        return self.status(path) == STORED

    def _entry(self, path: str) -> tuple[dict, memoryview] | None:
        """The checked (header, payload) of ``path``'s entry, or None (counted; stale or damaged warns)."""
        status, why, header, payload = self._check(path)
        if status == STORED:
            self.counts["hits"] += 1
            return header, payload
        if status == NOT_STORED:
            self.counts[NOT_STORED] += 1
        elif status == STALE:
            self._fallback(path, "stale", why)
        else:
            self._fallback(path, "corrupt", f"{why}; make frames decodes it again")
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


def foreign_settings(directory: Path, recorded: dict) -> str:
    """Why a directory whose recorded settings are not those its name is the key of is not read."""
    built_for = settings_in_words(recorded, SETTINGS_PEOPLE_SET)
    belongs = directory.with_name(settings_digest(recorded))
    return (f"frame store {directory} holds another setting's frames (a directory copied or synced under another "
            f"name?): built for {built_for}, while its name is the key of other settings. Not read: "
            f"decoding clips instead. Move it to {belongs} or delete it, then rebuild (make frames)")  # fmt: skip


def damaged_entries(data_path: Path, lines: Iterable[dict]) -> set[str]:
    """The paths of a shard's index ``lines`` whose entry in ``data_path`` is missing or fails its checksum: not
    stored, so the build decodes them again. Reads every entry (the preflight's token count reads them anyway)."""
    entries = [line for line in lines if "offset" in line]
    if not entries:
        return set()
    damaged = set()
    with open(data_path, "rb") as data:
        size = os.fstat(data.fileno()).st_size
        for line in sorted(entries, key=lambda line: line["offset"]):  # one forward pass over the file
            if line["offset"] + line["length"] > size:
                damaged.add(line["path"])
                continue
            data.seek(line["offset"])
            if checksum(data.read(line["length"])) != line["checksum"]:
                damaged.add(line["path"])
    return damaged


def read_counts(store: FrameStore | None) -> dict[str, int]:
    """hits, not_stored, stale, corrupt of a store in this process (all 0 for no store)."""
    counts = store.counts if store is not None else Counter()
    return {name: counts[name] for name in ("hits", "not_stored", *FALLBACKS)}
