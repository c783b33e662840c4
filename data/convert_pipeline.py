"""The converter's row pipeline: each row is located, checked and probed (in batches, in parallel, cached), then
written to its split or counted as a skip. ``data.convert_webvid.convert`` runs it inside a staged output folder.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data.clip_checks import TOO_SHORT, ClipRules
from data.clip_layouts import ClipLocator, ClipLookupError, LocatedClip
from data.convert_report import ConversionReport
from data.probe_cache import ProbeCache, Prober, probe_and_check
from data.sharegpt import DEFAULT_PROMPT, JsonArrayWriter, caption_record_json
from data.splits import assign_split
from data.video2dataset import video2dataset_rows
from data.webvid_csv import CsvSkip, WebVidRow, read_webvid_csv

PROGRESS_EVERY = 1000
CHUNK_ROWS = 4096  # rows probed together: enough to keep every worker busy, small enough to stream


@dataclass(frozen=True)
class ConvertOptions:
    csv: Path | None  # None: captions from the video2dataset clips under video_dir
    video_dir: Path
    out_dir: Path
    media_dir: Path = Path(".")
    dataset_info: Path | None = None  # default OUT/dataset_info.json (OUT is then the dataset_dir)
    prompt: str = DEFAULT_PROMPT
    val_ratio: float = 0.05
    test_ratio: float = 0.05
    split_salt: str = ""
    probe: bool = True
    probe_cache: Path | None = None  # default OUT/probe_cache.sqlite
    workers: int = 2
    min_duration_s: float = 1.0
    min_frames: int = 8
    extract_dir: Path | None = None  # default OUT/clips (video2dataset shard members)


def _count_lines(path: Path) -> int:
    """Physical lines, for the progress bar's total (captions with newlines make it a slight overestimate)."""
    count = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            count += block.count(b"\n")
    return count


class MediaPaths:
    """Clip paths as LLaMA-Factory will resolve them: relative to media_dir when inside it, else absolute."""

    def __init__(self, media_dir: Path):
        self.prefix = os.path.abspath(media_dir) + os.sep

    def __call__(self, path: Path) -> str:
        absolute = os.path.abspath(path)
        return absolute.removeprefix(self.prefix)


class Pipeline:
    """Rows -> checks -> split files. Rows waiting for a probe are batched so the workers stay busy."""

    def __init__(
        self,
        options: ConvertOptions,
        report: ConversionReport,
        cache: ProbeCache | None,
        prober: Prober | None,
        writers: dict[str, JsonArrayWriter],
    ):
        self.options, self.report, self.cache, self.prober, self.writers = options, report, cache, prober, writers
        self.rules = ClipRules(options.min_duration_s, options.min_frames)
        self.locator = ClipLocator(options.video_dir, options.extract_dir or options.out_dir / "clips")
        self.media_path = MediaPaths(options.media_dir)
        self.first_line_of: dict[str, int] = {}
        self.pending: list[tuple[WebVidRow, LocatedClip]] = []

    def rows(self) -> tuple[Iterator[WebVidRow | CsvSkip], int]:
        """The rows to convert and how many (for the progress bar): the CSV's, or without one, one per
        video2dataset clip under video_dir, captioned from its shard (data/video2dataset.py)."""
        if self.options.csv is not None:
            return read_webvid_csv(self.options.csv), max(0, _count_lines(self.options.csv) - 1)
        index = self.locator.video2dataset()
        if not index.clips:
            raise FileNotFoundError(
                f"no video2dataset clips ({{key}}.mp4 with {{key}}.txt/.json, or .tar shards) under "
                f"{self.locator.video_dir} to take captions from; pass --csv PATH to a WebVid CSV for other layouts"
            )
        return video2dataset_rows(index), len(index.clips)

    def add(self, item: WebVidRow | CsvSkip) -> None:
        report = self.report
        if isinstance(item, CsvSkip):
            report.skip(item.line, item.videoid, item.reason, item.detail)
            return
        row = item
        first_line = self.first_line_of.setdefault(row.videoid, row.line)
        if first_line != row.line:
            report.skip(row.line, row.videoid, "duplicate_id", f"first seen on line {first_line}")
            return
        try:
            clip = self.locator.locate(row.videoid, row.page_dir, row.content_url)
        except ClipLookupError as error:  # an unsafe id, a path the filesystem refuses, a url several clips share
            report.skip(row.line, row.videoid, error.reason, str(error))
            return
        if clip is None:
            report.skip(
                row.line,
                row.videoid,
                "missing",
                f"not under {self.options.video_dir} in any layout" + self.locator.broken_shards_note(),
            )
            return
        if clip.size == 0:
            report.skip(row.line, row.videoid, "empty", str(clip.path))
            return
        if not self.options.probe:
            if row.duration_s is not None and row.duration_s < self.rules.min_duration_s:
                report.skip(row.line, row.videoid, TOO_SHORT, f"CSV duration {row.duration_s} s")
                return
            self._keep(row, clip)
            return
        self.pending.append((row, clip))
        if len(self.pending) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Probe the pending clips (cache first, then in parallel) and keep or skip each."""
        keys = [(clip.path, clip.size, clip.mtime_ns) for _, clip in self.pending]
        verdicts = probe_and_check(keys, self.cache, self.prober, self.rules)
        self.report.probe_cache_hits += verdicts.cache_hits
        self.report.probed += verdicts.probed
        for (row, clip), problem in zip(self.pending, verdicts.problems, strict=True):
            if problem is not None:
                self.report.skip(row.line, row.videoid, *problem)
                continue
            self._keep(row, clip)
        self.pending.clear()

    def _keep(self, row: WebVidRow, clip: LocatedClip) -> None:
        split = assign_split(row.videoid, self.options.val_ratio, self.options.test_ratio, self.options.split_salt)
        self.writers[split].write_json(
            caption_record_json(row.videoid, row.caption, self.media_path(clip.path), self.options.prompt)
        )
        self.report.keep(split, clip.layout)
