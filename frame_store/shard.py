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

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import struct
from pathlib import Path

from data.publish import fsync_dir, write_text_atomic
from frame_store.key import ClipIdentity

LOGGER = logging.getLogger("frame_store")
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


def _is_line(line) -> bool:
    """An index line: a path, the clip's size and mtime_ns, and an entry's place or the failure."""
    if not isinstance(line, dict) or not isinstance(line.get("path"), str):
        return False
    if not all(isinstance(line.get(key), int) for key in ("size", "mtime_ns")):
        return False
    place = all(isinstance(line.get(key), int) for key in ("offset", "length"))
    return (place and isinstance(line.get("checksum"), str)) or isinstance(line.get("failed"), str)


def read_lines(path: Path) -> list[dict]:
    """The complete index lines of a shard (a torn last line, left by a kill, is not one). A damaged line is
    skipped, counted and warned about: its clip is then not in the shard, so the next build decodes it again."""
    if not path.exists():
        return []
    lines, skipped = [], 0
    for raw in path.read_bytes().split(b"\n")[:-1]:  # the part after the last newline is torn (or empty)
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if _is_line(line):
            lines.append(line)
        else:
            skipped += 1
    if skipped:
        LOGGER.warning("frame store: %s: skipped %d damaged index lines; their clips are decoded again by the next "
                       "build (make frames, or the preflight)", path, skipped)  # fmt: skip
    return lines


def latest_by_path(lines: list[dict]) -> dict[str, dict]:
    """Each path's last line (a rebuilt clip's new entry replaces its old one)."""
    return {line["path"]: line for line in lines}


def known_line(latest: dict[str, dict], path: str, identity: ClipIdentity | None) -> dict | None:
    """The line for ``path`` if it was made from the clip as it is now (same identity), or the clip's entry where the
    clip is gone (its entry is then the only copy of its frames; a failure is not)."""
    line = latest.get(path)
    if line is None:
        return None
    if identity is None:
        return line if "offset" in line else None
    return line if ClipIdentity.of(line) == identity else None


def covered_lines(lines: list[dict], data_size: int) -> list[dict]:
    """The lines whose entry lies within the data file (a killed build's last entry may not)."""
    return [line for line in lines if line.get("offset", 0) + line.get("length", 0) <= data_size]


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def read_done(path: Path) -> dict | None:
    """A shard's done marker, or None where it has none or it is damaged (the shard then counts as unfinished, and
    the next build finishes it again)."""
    try:
        marker = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        LOGGER.warning("frame store: %s is damaged; the shard counts as unfinished until a build finishes it", path)
        return None
    return marker if isinstance(marker, dict) else None


class ShardView:
    """A shard as a reader sees it, taking no lock and writing nothing (a store on a read-only mount): its lines and
    whether it is complete for ``assigned`` clips."""

    def __init__(self, directory: Path, index: int, count: int):
        base = Path(directory) / shard_name(index, count)
        self.data_path, index_path, done_path = (base.with_suffix(suffix) for suffix in (".data", ".jsonl", ".done"))
        self.latest = latest_by_path(covered_lines(read_lines(index_path), file_size(self.data_path)))
        self.done = read_done(done_path)
        self.sizes = (file_size(self.data_path), file_size(index_path))

    def complete(self, assigned: int) -> bool:
        """Finished with ``assigned`` clips and not changed since."""
        return self.done is not None and (self.done.get("assigned"), self.done.get("data_bytes"),
                                          self.done.get("index_bytes")) == (assigned, *self.sizes)  # fmt: skip


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
        self._broken = False  # a write failed (disk full, file too large): write nothing more, reopen recovers

    @contextlib.contextmanager
    def _writing(self, path: Path):
        """A failed write (ENOSPC, EFBIG, ...) raised as an OSError that names ``path`` (a file object's does not);
        the writer then stops writing, so no line is appended after a torn one."""
        try:
            yield
        except OSError as error:
            self._broken, self._pending = True, []
            raise OSError(error.errno, error.strerror, str(path)) from None

    def _recover(self) -> list[dict]:
        lines = covered_lines(read_lines(self.index_path), file_size(self.data_path))
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
        return known_line(self.latest, path, identity)

    def add(self, path: str, identity: ClipIdentity, entry: bytes | None, failure: str | None) -> None:
        """Queue one clip's entry (or its failure); written by flush()."""
        if self.done_path.exists():  # the shard grows: it is complete again only when finish() says so
            self.done_path.unlink()
        line = {"path": path, **identity.fields()}
        if entry is None:
            line["failed"] = failure
        else:
            line.update(offset=self._data.tell(), length=len(entry), checksum=checksum(entry))
            with self._writing(self.data_path):
                self._data.write(entry)
        self._pending.append(line)

    def flush(self) -> None:
        """Data to disk first, then the index lines that point at it."""
        if not self._pending:
            return
        with self._writing(self.data_path):
            self._data.flush()
            os.fsync(self._data.fileno())
        with self._writing(self.index_path), open(self.index_path, "a") as index:
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
        if (read_done(self.done_path) or {}).get("assigned") == assigned:
            return  # nothing added since the shard was last complete
        done = {"assigned": assigned, "data_bytes": self._data.tell(), "index_bytes": self.index_path.stat().st_size}
        write_text_atomic(self.done_path, json.dumps(done))
        fsync_dir(self.base.parent)

    def close(self) -> None:
        try:
            if not self._broken:
                self.flush()
                self._data.close()
        finally:
            if self._broken:  # its buffer holds bytes that failed to write: dropped (a reopen cuts off the rest)
                with contextlib.suppress(OSError):
                    self._data.close()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
