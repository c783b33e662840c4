"""Convert a WebVid CSV and its downloaded clips into LLaMA-Factory ShareGPT splits, skipping (and listing) bad rows.

    python -m data.convert_webvid --csv data/sample/webvid.csv --video-dir data/sample/videos --out-dir data/webvid
    python -m data.convert_webvid --csv results_2M_train.csv --video-dir /data/webvid/videos --out-dir data/webvid \\
        --val-ratio 0.01 --test-ratio 0.01 --workers 16          # `make data CSV=... VIDEO_DIR=...` runs the first
    python -m data.convert_webvid --video-dir /data/webvid/shards --out-dir data/webvid   # video2dataset, no CSV:
                                                         # captions from each clip's {key}.txt (or its json's caption)

Writes OUT/webvid_{train,val,test}.json (one ShareGPT record per kept clip: "<video>" + prompt -> caption, the
clip path relative to --media-dir, and the videoid as "id"), OUT/report.json (rows read, kept, skipped by
reason), OUT/skipped.csv (line, videoid, reason, detail of every skipped row) and OUT/dataset_info.json (the
splits registered as webvid_train/webvid_val/webvid_test: train on them with `dataset_dir=OUT media_dir=.`), all
published together when the run completes (a failed, interrupted or killed run leaves the previous ones as they
were), plus OUT/probe_cache.sqlite. Exits 1, publishing nothing, when no row (or no training row) is kept. Clips are
found under the layouts in data/clip_layouts.py; kept clips are probed (no decoding, cached by path+size+mtime)
as data/clip_checks.py says.
"""

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from data.caption_text import check_prompt
from data.clip_checks import TOO_SHORT, ClipRules, check_probed_clip
from data.clip_layouts import ClipLocator, ClipLookupError, LocatedClip
from data.convert_report import ConversionReport, format_summary
from data.dataset_info import DATASET_INFO_NAME, dataset_info_text, registered_splits, split_file_name
from data.probe_cache import ProbeCache, Prober, ProbeWorkerDied
from data.publish import StagedOutputs, write_text_atomic
from data.sharegpt import DEFAULT_PROMPT, JsonArrayWriter, caption_record_json
from data.splits import SPLITS, assign_split, check_ratios
from data.video2dataset import video2dataset_rows
from data.webvid_csv import CsvSkip, WebVidRow, read_header, read_webvid_csv

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


class _Pipeline:
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
        outcomes = self.cache.get_many(keys)
        self.report.probe_cache_hits += len(outcomes)
        to_probe = list(dict.fromkeys(key for key in keys if key not in outcomes))
        fresh = []
        try:
            for item in zip(to_probe, self.prober.probe([path for path, _, _ in to_probe]), strict=True):
                fresh.append(item)  # noqa: PERF402 - one at a time: a failure keeps what came before it
        finally:  # a dead worker or Ctrl-C: what was probed stays cached, so a rerun does not probe it again
            self.cache.put_many(fresh)
        outcomes.update(fresh)
        self.report.probed += len(fresh)
        for (row, clip), key in zip(self.pending, keys, strict=True):
            outcome = outcomes[key]
            if outcome.summary is None:
                self.report.skip(row.line, row.videoid, outcome.error_reason, f"{clip.path}: {outcome.error_detail}")
                continue
            problem = check_probed_clip(outcome.summary, self.rules)
            if problem is not None:
                self.report.skip(row.line, row.videoid, problem[0], f"{clip.path}: {problem[1]}")
                continue
            self._keep(row, clip)
        self.pending.clear()

    def _keep(self, row: WebVidRow, clip: LocatedClip) -> None:
        split = assign_split(row.videoid, self.options.val_ratio, self.options.test_ratio, self.options.split_salt)
        self.writers[split].write_json(
            caption_record_json(row.videoid, row.caption, self.media_path(clip.path), self.options.prompt)
        )
        self.report.keep(split, clip.layout)


class ConversionFailed(RuntimeError):
    """The run finished but its output would be unusable (no row kept, empty train split): nothing is published."""


def _check_usable(report: ConversionReport, options: ConvertOptions) -> None:
    """Raise ConversionFailed, naming the likely cause, when the splits could not train anything."""
    summary = report.as_dict()
    if report.kept == 0:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in summary["skipped_by_reason"].items())
        cause = f"0 of {report.rows_read:,} rows kept ({reasons or 'the CSV has no data rows'})."
        if report.skipped["missing"] and report.skipped["missing"] >= report.rows_read / 2:
            cause += (
                f" {report.skipped['missing']:,} clips were not found under --video-dir "
                f"{os.path.abspath(options.video_dir)}: is that the folder holding the clips "
                f"({{page_dir}}/{{videoid}}.mp4, {{videoid}}.mp4 or video2dataset shards)?"
            )
        example = next(iter(report.first_skip.values()), None)
        if example:
            cause += f" First skipped row: {example}."
        raise ConversionFailed(cause)
    if report.splits["train"] == 0:
        raise ConversionFailed(
            f"all {report.kept:,} kept rows went to val/test (--val-ratio {options.val_ratio}, --test-ratio "
            f"{options.test_ratio}): the train split would be empty; lower the ratios or convert more rows"
        )


def _ignore_in_git(out_dir: Path) -> None:
    """Generated data never shows up in ``git status``, wherever DATA_OUT points."""
    marker = out_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# written by data.convert_webvid: generated data, never committed\n*\n", encoding="utf-8")


def convert(options: ConvertOptions) -> dict:
    """Run the whole conversion; returns the report (also written to OUT/report.json).

    Splits, skipped.csv, report.json and the dataset_info.json registration are published together, only when
    the run completed and kept something to train on (data/publish.py): a failed, interrupted or killed run
    leaves the previous outputs exactly as they were. Raises ConversionFailed when nothing usable was kept.
    """
    check_ratios(options.val_ratio, options.test_ratio)
    check_prompt(options.prompt)  # another <video>/<image> or a chat token in it fails before any output
    if options.csv is not None and not Path(options.csv).is_file():
        raise FileNotFoundError(f"CSV {options.csv} does not exist; pass --csv PATH to a WebVid CSV")
    started = time.perf_counter()
    out_dir = Path(options.out_dir)
    if options.csv is not None:
        read_header(options.csv)  # a missing column fails before any output is written
    out_dir.mkdir(parents=True, exist_ok=True)
    _ignore_in_git(out_dir)
    dataset_info = Path(options.dataset_info or out_dir / DATASET_INFO_NAME)
    info_in_out_dir = os.path.abspath(dataset_info.parent) == os.path.abspath(out_dir)
    with StagedOutputs(out_dir) as staged:
        report = ConversionReport(staged.dir)
        writers = {split: JsonArrayWriter(staged.path(split_file_name(split))) for split in SPLITS}
        cache = ProbeCache(options.probe_cache or out_dir / "probe_cache.sqlite") if options.probe else None
        prober = Prober(options.workers) if options.probe else None
        try:
            pipeline = _Pipeline(options, report, cache, prober, writers)
            items, total = pipeline.rows()
            progress = tqdm(total=total, desc="converting", unit="row", smoothing=0.1)
            count = 0
            for count, item in enumerate(items, 1):
                pipeline.add(item)
                if count % PROGRESS_EVERY == 0:
                    progress.update(PROGRESS_EVERY)
            progress.update(count % PROGRESS_EVERY)
            if pipeline.pending:
                pipeline.flush()
            progress.close()
        finally:
            for writer in writers.values():
                writer.close()
            if cache is not None:
                cache.close()
            if prober is not None:
                prober.__exit__(None, None, None)
        _check_usable(report, options)
        merged_info, entries = registered_splits(dataset_info, out_dir)
        if info_in_out_dir:
            staged.path(dataset_info.name).write_text(dataset_info_text(merged_info), encoding="utf-8")
        summary = report.finish(
            csv=str(options.csv) if options.csv is not None else None,
            video_dir=str(options.video_dir),
            out_dir=str(out_dir),
            files=[str(out_dir / writer.path.name) for writer in writers.values()],
            datasets=list(entries),
            dataset_info=str(dataset_info),
            media_dir=os.path.abspath(options.media_dir),
            probe=options.probe,
            broken_shards=[asdict(shard) for shard in pipeline.locator.broken_shards],
            elapsed_s=round(time.perf_counter() - started, 3),
        )
        staged.publish()
    if not info_in_out_dir:
        write_text_atomic(dataset_info, dataset_info_text(merged_info))
    return summary


def parse_args(argv: list[str] | None = None) -> ConvertOptions:
    defaults = ConvertOptions(csv=Path(), video_dir=Path(), out_dir=Path())
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--csv",
        type=Path,
        help="WebVid CSV (videoid,name,page_idx,page_dir,...); omit it to take "
        "captions from video2dataset clips under --video-dir ({key}.txt, else the json's caption)",
    )
    parser.add_argument("--video-dir", type=Path, required=True, help="folder with the downloaded clips")
    parser.add_argument("--out-dir", type=Path, default=Path("data/webvid"), help="where the splits go")
    parser.add_argument(
        "--media-dir",
        type=Path,
        default=defaults.media_dir,
        help="folder clip paths are written relative to; LLaMA-Factory's media_dir (default: .)",
    )
    parser.add_argument(
        "--dataset-info",
        type=Path,
        default=defaults.dataset_info,
        help="dataset_info.json to register webvid_* in (its folder is the config's dataset_dir; "
        "default OUT/dataset_info.json)",
    )
    parser.add_argument("--prompt", default=defaults.prompt, help="instruction in the user turn after <video>")
    parser.add_argument("--val-ratio", type=float, default=defaults.val_ratio, help="fraction of ids in val")
    parser.add_argument("--test-ratio", type=float, default=defaults.test_ratio, help="fraction of ids in test")
    parser.add_argument(
        "--split-salt",
        default=defaults.split_salt,
        help="changes which ids land in which split (keep it fixed to keep splits stable)",
    )
    parser.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="only check clips exist and are non-empty (fast; broken clips reach training)",
    )
    parser.add_argument("--probe-cache", type=Path, help="probe cache file (default OUT/probe_cache.sqlite)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="probing processes")
    parser.add_argument(
        "--min-duration",
        dest="min_duration_s",
        type=float,
        default=defaults.min_duration_s,
        help="skip shorter clips (s); 1.0 gives 8 frames at video_fps 8",
    )
    parser.add_argument(
        "--min-frames",
        type=int,
        default=defaults.min_frames,
        help="skip clips showing fewer frames (the config's video_maxlen)",
    )
    parser.add_argument("--extract-dir", type=Path, help="where video2dataset shard clips go (default OUT/clips)")
    options = ConvertOptions(**vars(parser.parse_args(argv)))
    try:
        check_prompt(options.prompt)
    except ValueError as error:
        parser.error(str(error))
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    try:
        report = convert(options)
    except (ConversionFailed, ProbeWorkerDied) as error:
        raise SystemExit(f"conversion FAILED, nothing published ({options.out_dir} is as it was): {error}") from None
    except (ValueError, FileNotFoundError) as error:  # a bad header, ratio, prompt or folder: named, before any output
        raise SystemExit(f"conversion FAILED: {error}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing published ({options.out_dir} is as it was)", file=sys.stderr)
        raise SystemExit(130) from None
    print(format_summary(report))


if __name__ == "__main__":
    main()
