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
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from data.caption_text import check_prompt
from data.convert_pipeline import PROGRESS_EVERY, ConvertOptions, Pipeline
from data.convert_report import ConversionFailed, ConversionReport, format_summary, run_converter
from data.dataset_info import DATASET_INFO_NAME, dataset_info_text, registered_splits, split_file_name
from data.probe_cache import ProbeCache, Prober
from data.publish import StagedOutputs, write_text_atomic
from data.sharegpt import JsonArrayWriter
from data.splits import SPLITS, check_ratios
from data.webvid_csv import read_header


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
        with ExitStack() as stack:  # on any error: queued probes cancelled, cache and split files closed
            for writer in writers.values():
                stack.callback(writer.close)
            cache = prober = None
            if options.probe:
                cache = stack.enter_context(ProbeCache(options.probe_cache or out_dir / "probe_cache.sqlite"))
                prober = stack.enter_context(Prober(options.workers))
            pipeline = Pipeline(options, report, cache, prober, writers)
            items, total = pipeline.rows()
            with tqdm(total=total, desc="converting", unit="row", smoothing=0.1) as progress:
                count = 0
                for count, item in enumerate(items, 1):
                    pipeline.add(item)
                    if count % PROGRESS_EVERY == 0:
                        progress.update(PROGRESS_EVERY)
                progress.update(count % PROGRESS_EVERY)
                if pipeline.pending:
                    pipeline.flush()
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
    run_converter(convert, options, options.out_dir, format_summary)


if __name__ == "__main__":
    main()
