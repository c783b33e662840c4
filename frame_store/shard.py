"""One shard of a store directory: an append-only data file, its index lines, and a done marker.

    shard-00003-of-00016.data    entries back to back: b"FSE1", header length (u32), header JSON, frame bytes
    shard-00003-of-00016.jsonl   one line per entry ({"path", "offset", "length", "checksum", "size", "mtime_ns",
                                 "sample"}) or failed clip ({"path", "failed", "size", "mtime_ns", "sample"}: the
                                 clip's identity, frame_store.key.ClipIdentity), written after the data
                                 they point at is fsynced; a later line for a path replaces an earlier one
    shard-00003-of-00016.done    written (atomically) when every clip assigned to the shard is in it

A killed build leaves at most a torn last line and unindexed bytes at the end of the data file; ShardWriter cuts
both off when it reopens the shard, so a resumed build keeps every indexed entry and writes nothing twice.
One writer per shard at a time (an flock on shard-....lock); the second waits.
"""

import fcntl
import hashlib
import json
import os
import struct
from pathlib import Path

from data.publish import fsync_dir, write_text_atomic
from frame_store.key import ClipIdentity

MAGIC = b"FSE1"
HEADER_LENGTH = struct.Struct("<I")


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}"


def checksum(data: bytes | memoryview) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def pack_entry(header: dict, payload: bytes) -> bytes:
    """One entry's bytes: magic, header length, header JSON, payload."""
    text = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + HEADER_LENGTH.pack(len(text)) + text + payload


def unpack_entry(data: bytes | memoryview) -> tuple[dict, memoryview]:
    """(header, payload) of one entry's bytes; ValueError where they are not an entry."""
    view = memoryview(data)
    if len(view) < 8 or bytes(view[:4]) != MAGIC:
        raise ValueError("not a frame store entry (bad magic)")
    (length,) = HEADER_LENGTH.unpack_from(view, 4)
    if 8 + length > len(view):
        raise ValueError("frame store entry cut short")
    return json.loads(bytes(view[8 : 8 + length])), view[8 + length :]


def read_lines(path: Path) -> list[dict]:
    """The complete index lines of a shard (a torn last line, left by a kill, is not one)."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_bytes().split(b"\n")[:-1]:  # the part after the last newline is torn (or empty)
        lines.append(json.loads(raw))
    return lines


def latest_by_path(lines: list[dict]) -> dict[str, dict]:
    """Each path's last line (a rebuilt clip's new entry replaces its old one)."""
    return {line["path"]: line for line in lines}


class ShardWriter:
    """Appends entries to one shard; reopening a killed shard first cuts off what its index does not cover."""

    def __init__(self, directory: Path, index: int, count: int):
        self.base = Path(directory) / shard_name(index, count)
        self.data_path, self.index_path, self.done_path = (
            self.base.with_suffix(suffix) for suffix in (".data", ".jsonl", ".done")
        )
        self._lock = open(self.base.with_suffix(".lock"), "a")  # noqa: SIM115 - held until close()
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.lines = self._recover()
        self.latest = latest_by_path(self.lines)
        self._data = open(self.data_path, "ab")  # noqa: SIM115 - closed in close()
        self._pending: list[dict] = []

    def _recover(self) -> list[dict]:
        data_size = self.data_path.stat().st_size if self.data_path.exists() else 0
        lines = read_lines(self.index_path)
        lines = [line for line in lines if line.get("offset", 0) + line.get("length", 0) <= data_size]
        end = max((line["offset"] + line["length"] for line in lines if "offset" in line), default=0)
        with open(self.data_path, "ab") as data:
            data.truncate(end)
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        if not self.index_path.exists() or self.index_path.read_text() != text:
            write_text_atomic(self.index_path, text)
        return lines

    def known(self, path: str, identity: ClipIdentity | None) -> dict | None:
        """The shard's line for ``path`` if it was made from the clip as it is now (same identity), or the clip's
        entry where the clip is gone."""
        line = self.latest.get(path)
        if line is None:
            return None
        if identity is None:  # the clip is gone: its entry is now the only copy of its frames (failures are not)
            return line if "offset" in line else None
        return line if ClipIdentity.of(line) == identity else None

    def add(self, path: str, identity: ClipIdentity, entry: bytes | None, failure: str | None) -> None:
        """Queue one clip's entry (or its failure); written by flush()."""
        if self.done_path.exists():  # the shard grows: it is complete again only when finish() says so
            self.done_path.unlink()
        line = {"path": path, **identity.fields()}
        if entry is None:
            line["failed"] = failure
        else:
            line.update(offset=self._data.tell(), length=len(entry), checksum=checksum(entry))
            self._data.write(entry)
        self._pending.append(line)

    def flush(self) -> None:
        """Data to disk first, then the index lines that point at it."""
        if not self._pending:
            return
        self._data.flush()
        os.fsync(self._data.fileno())
        with open(self.index_path, "a") as index:
            index.write("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in self._pending))
            index.flush()
            os.fsync(index.fileno())
        for line in self._pending:
            self.lines.append(line)
            self.latest[line["path"]] = line
        self._pending = []

    def finish(self, assigned: int) -> None:
        """Mark the shard complete: every one of its ``assigned`` clips has a line."""
        self.flush()
        if self.done_path.exists() and json.loads(self.done_path.read_text()).get("assigned") == assigned:
            return  # nothing added since the shard was last complete
        done = {"assigned": assigned, "data_bytes": self._data.tell(), "index_bytes": self.index_path.stat().st_size}
        write_text_atomic(self.done_path, json.dumps(done))
        fsync_dir(self.base.parent)

    def close(self) -> None:
        self.flush()
        self._data.close()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
