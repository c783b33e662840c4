"""Probe clips in parallel and remember the results, keyed by (path, size, mtime), in a SQLite file.

A re-run over a growing folder only probes files it has not seen (or that changed since). Each probe demuxes the
clip with ``plugins.video_sampling.probe_video`` (no decoding), which also catches files cut short.
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing import Pool
from pathlib import Path

from data.clip_checks import ClipSummary
from plugins.video_sampling import VideoReadError, probe_video

PROBE_VERSION = 1  # bump when what a probe checks changes, so old cache rows are re-probed


@dataclass(frozen=True)
class ProbeOutcome:
    """A readable clip's summary, or why it is unreadable (a VideoReadError reason code and detail)."""

    summary: ClipSummary | None
    error_reason: str | None = None
    error_detail: str = ""

    def to_json(self) -> str:
        if self.summary is None:
            return json.dumps({"error": [self.error_reason, self.error_detail]})
        return json.dumps({"info": asdict(self.summary)})

    @classmethod
    def from_json(cls, text: str) -> "ProbeOutcome":
        data = json.loads(text)
        if "error" in data:
            return cls(None, *data["error"])
        return cls(ClipSummary(**data["info"]))


def probe_clip(path: str) -> ProbeOutcome:
    """Demux ``path`` (no decoding). Never raises for a bad clip: the outcome says why."""
    try:
        info = probe_video(path)
    except VideoReadError as error:
        return ProbeOutcome(None, error.reason, error.detail)
    return ProbeOutcome(
        ClipSummary(info.width, info.height, info.fps, info.duration_s, info.n_frames, info.header_frames,
                    info.metadata_trusted)
    )


CacheKey = tuple[str, int, int]  # (path, size, mtime_ns)


class ProbeCache:
    """SQLite table of probe outcomes. Use as a context manager; lookups and writes go in batches."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS probes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
            "version INTEGER, outcome TEXT)"
        )

    def __enter__(self) -> "ProbeCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.commit()
        self._db.close()

    def get_many(self, keys: list[CacheKey]) -> dict[CacheKey, ProbeOutcome]:
        """Cached outcomes for the keys whose file is unchanged (same size and mtime) since it was probed."""
        found = {}
        wanted = {path: (size, mtime) for path, size, mtime in keys}
        paths = list(wanted)
        for start in range(0, len(paths), 900):  # stay under SQLite's bound-parameter limit
            batch = paths[start : start + 900]
            rows = self._db.execute(
                f"SELECT path, size, mtime_ns, outcome FROM probes WHERE version = ? AND path IN "
                f"({','.join('?' * len(batch))})",
                [PROBE_VERSION, *batch],
            )
            for path, size, mtime, outcome in rows:
                if wanted[path] == (size, mtime):
                    found[(path, size, mtime)] = ProbeOutcome.from_json(outcome)
        return found

    def put_many(self, items: Iterable[tuple[CacheKey, ProbeOutcome]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?)",
            [(path, size, mtime, PROBE_VERSION, outcome.to_json()) for (path, size, mtime), outcome in items],
        )
        self._db.commit()


class Prober:
    """Probes many clips at once on ``workers`` processes (inline when workers is 1)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = Pool(workers) if workers > 1 else None

    def __enter__(self) -> "Prober":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()

    def probe(self, paths: list[str]) -> Iterator[ProbeOutcome]:
        """Outcomes in the order of ``paths``."""
        if self._pool is None:
            return map(probe_clip, paths)
        return self._pool.imap(probe_clip, paths, chunksize=max(1, min(16, len(paths) // (4 * self.workers))))
