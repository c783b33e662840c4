"""Probe clips in parallel and remember the results, keyed by (path, size, mtime), in a SQLite file.

A re-run over a growing folder only probes files it has not seen (or that changed since). Each probe reads the
clip's metadata with ``video.probe_video`` (MP4 sample tables or a demux pass, no decoding), which
also catches files cut short.
"""

import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from common.pool import WorkerDied, WorkerPool
from data.clip_checks import ClipRules, ClipSummary, check_probed_clip
from video import VideoReadError, probe_video

MAX_CLIPS_PER_TASK = 16  # probes handed to a worker at once: few round trips, a fine-grained progress
PROBE_VERSION = 2  # bump when what a probe checks changes, so old cache rows are re-probed


@dataclass(frozen=True)
class ProbeOutcome:
    """A readable clip's summary, or why it is unreadable (a VideoReadError reason code and detail)."""

    summary: ClipSummary | None
    error_reason: str | None = None
    error_detail: str = ""

    def to_row(self) -> tuple:
        """The outcome as the cache table's value columns (plain columns: no JSON to parse on a re-run)."""
        summary = self.summary
        values = astuple(summary) if summary is not None else (None,) * len(fields(ClipSummary))
        return (*values, self.error_reason, self.error_detail)

    @classmethod
    def from_row(cls, row: tuple) -> "ProbeOutcome":
        *values, error_reason, error_detail = row
        if error_reason is not None:
            return cls(None, error_reason, error_detail)
        return cls(ClipSummary(*values[:-1], bool(values[-1])))


def probe_clip(path: str) -> ProbeOutcome:
    """Probe ``path`` (no decoding). Never raises for a bad clip: the outcome says why."""
    try:
        info = probe_video(path)
    except VideoReadError as error:
        return ProbeOutcome(None, error.reason, error.detail)
    return ProbeOutcome(
        ClipSummary(
            info.width, info.height, info.fps, info.duration_s, info.n_frames, info.header_frames, info.metadata_trusted
        )
    )


CacheKey = tuple[str, int, int]  # (path, size, mtime_ns)


class ProbeCache:
    """SQLite table of probe outcomes. Use as a context manager; lookups and writes go in batches."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:  # garbage or a half-copied file: it only saves time, so start over
            aside = self.path.with_name(self.path.name + ".corrupt")
            self.path.replace(aside)
            print(
                f"warning: probe cache {self.path} is not a readable SQLite file ({error}); moved to {aside}, "
                "every clip is probed again",
                file=sys.stderr,
            )
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS probes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
                "version INTEGER, width INTEGER, height INTEGER, fps REAL, duration_s REAL, n_frames INTEGER, "
                "header_frames INTEGER, metadata_trusted INTEGER, error_reason TEXT, error_detail TEXT)"
            )
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

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
                f"SELECT * FROM probes WHERE version = ? AND path IN ({','.join('?' * len(batch))})",
                [PROBE_VERSION, *batch],
            )
            for path, size, mtime, _, *values in rows:
                if wanted[path] == (size, mtime):
                    found[(path, size, mtime)] = ProbeOutcome.from_row(values)
        return found

    def put_many(self, items: Iterable[tuple[CacheKey, ProbeOutcome]]) -> None:
        self._db.executemany(
            f"INSERT OR REPLACE INTO probes VALUES ({','.join('?' * 13)})",
            [(path, size, mtime, PROBE_VERSION, *outcome.to_row()) for (path, size, mtime), outcome in items],
        )
        self._db.commit()


class ProbeWorkerDied(RuntimeError):
    """A probe worker process died (the out-of-memory killer, a signal): the run stops instead of waiting forever."""


def probe_clips(paths: list[str]) -> list[ProbeOutcome]:
    """A worker's task: a few clips, probed one after another."""
    return [probe_clip(path) for path in paths]


class Prober:
    """Probes many clips at once on ``workers`` processes (inline when workers is 1), a common.pool.WorkerPool.

    A worker that dies raises ProbeWorkerDied; leaving the block on an exception (Ctrl-C included) cancels the
    probes not started and does not wait for the workers.
    """

    def __init__(self, workers: int):
        self.workers = workers
        # fork: the converter runs no library threads a child could deadlock on, and a worker starts in milliseconds
        self._pool = WorkerPool(workers, start_method="fork") if workers > 1 else None

    def __enter__(self) -> "Prober":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = True) -> None:
        """Stop the workers; with ``cancel`` (an interrupted or failed run) drop queued probes and do not wait."""
        if self._pool is not None:
            self._pool.close(cancel)

    def probe(self, paths: list[str]) -> Iterator[ProbeOutcome]:
        """Outcomes in the order of ``paths``. Raises ProbeWorkerDied if a worker process dies."""
        if self._pool is None:
            return map(probe_clip, paths)
        return self._pooled(paths)

    def _pooled(self, paths: list[str]) -> Iterator[ProbeOutcome]:
        size = max(1, min(MAX_CLIPS_PER_TASK, len(paths) // (4 * self.workers)))
        tasks = (paths[start : start + size] for start in range(0, len(paths), size))
        try:
            for _, outcomes in self._pool.results(probe_clips, tasks, ordered=True):
                yield from outcomes
        except WorkerDied as died:
            raise ProbeWorkerDied(
                f"a probe worker died (out of memory?) with {died.task[0]} and {len(died.task) - 1} more of "
                f"{len(paths):,} clips unprobed: "
                "rerun the same command; probes done so far are cached. If it happens again, lower --workers."
            ) from None


@dataclass(frozen=True)
class ProbeVerdicts:
    """Per clip, in the order asked: None to keep it, or (skip reason, detail naming the file)."""

    problems: list[tuple[str, str] | None]
    cache_hits: int
    probed: int


def probe_and_check(keys: list[CacheKey], cache: ProbeCache, prober: Prober, rules: ClipRules) -> ProbeVerdicts:
    """Probe the clips ``keys`` name (cache first, the rest in parallel, each new outcome cached as it arrives, so a
    dead worker or Ctrl-C keeps what was probed before it) and judge each against ``rules``."""
    outcomes = cache.get_many(keys)
    cache_hits = len(outcomes)
    to_probe = list(dict.fromkeys(key for key in keys if key not in outcomes))
    fresh = []
    try:
        for item in zip(to_probe, prober.probe([path for path, _, _ in to_probe]), strict=True):
            fresh.append(item)  # noqa: PERF402 - one at a time: a failure keeps what came before it
    finally:
        cache.put_many(fresh)
    outcomes.update(fresh)
    problems = []
    for key in keys:
        outcome = outcomes[key]
        if outcome.summary is None:
            problems.append((outcome.error_reason, f"{key[0]}: {outcome.error_detail}"))
            continue
        problem = check_probed_clip(outcome.summary, rules)
        problems.append(None if problem is None else (problem[0], f"{key[0]}: {problem[1]}"))
    return ProbeVerdicts(problems, cache_hits, len(fresh))
