"""Convert a standard captioning benchmark's annotation file and its clips into one multi-reference test file.

    python -m data.convert_benchmark --format msrvtt --annotations test_videodatainfo.json \\
        --video-dir /data/msrvtt/TestVideo --out-dir data/msrvtt                  # --split test (default)
    python -m data.convert_benchmark --format msvd --annotations AllVideoDescriptions.txt \\
        --mapping youtube_mapping.txt --video-dir /data/msvd/YouTubeClips --out-dir data/msvd
    python -m data.convert_benchmark --format vatex --annotations vatex_public_test_english_v1.1.json \\
        --video-dir /data/vatex/test --out-dir data/vatex      # the split (test) is read from the file's name
    python -m data.convert_benchmark --format youcook2 --annotations youcookii_annotations_trainval.json \\
        --video-dir /data/youcook2/raw_videos --out-dir data/youcook2 --split val

Writes OUT/<format>_<split>.json (one ShareGPT record per kept clip: "<video>" + prompt -> the first reference,
the clip path relative to --media-dir, the clip id as "id", and "references": every usable caption, for
multi-reference scoring), OUT/<format>_<split>_report.json, OUT/<format>_<split>_skipped.csv (every skipped clip:
line or record number, id, reason), OUT/<format>_<split>_dropped_references.csv (captions left out of a kept clip's
references: chat markup, empty, unreadable) and OUT/dataset_info.json (registered as <format>_<split>; several
splits converted into one OUT each keep theirs), all published together when the run completes (a failed,
interrupted or killed run leaves the previous ones as they were). Exits 1, publishing nothing, when no clip
is kept. Parsers: data/benchmarks/{msrvtt,msvd,vatex,youcook2}.py. A YouCook2 record is one captioned segment:
its video entry is the span "{video}#t=START,END", which only the *_exact templates read (video/clip_span.py); a
segment ending up to 1 s (or 2 % of the video) past its downloaded file's end is cut at that end and counted
(report: segments_clamped).
"""

import argparse
import dataclasses
import json
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from data.benchmarks import screen_references
from data.benchmarks.msrvtt import SPLIT_NAMES, read_msrvtt
from data.benchmarks.msvd import SPLIT_RANGES, read_mapping, read_msvd
from data.benchmarks.pipeline import CLAMP_TOLERANCE_FRACTION, CLAMP_TOLERANCE_S, DROPPED_NAME, BenchmarkPipeline
from data.benchmarks.vatex import read_vatex
from data.benchmarks.youcook2 import SUBSETS, read_youcook2
from data.caption_text import check_prompt
from data.clip_checks import ClipRules
from data.convert_report import ConversionFailed, ConversionReport, run_converter
from data.dataset_info import DATASET_INFO_NAME, dataset_info_text, file_name_for, sharegpt_video_entry
from data.probe_cache import ProbeCache, Prober
from data.publish import StagedOutputs
from data.sharegpt import DEFAULT_PROMPT, JsonArrayWriter

EXTENSIONS = {
    "msrvtt": (".mp4",),
    "msvd": (".avi", ".mp4"),
    "vatex": (".mp4", ".mkv", ".webm"),  # yt-dlp writes whichever container the stream came in
    "youcook2": (".mp4", ".mkv", ".webm"),
}  # tried in this order; YouCook2's are YouTube downloads
SPLITS = {"msrvtt": tuple(SPLIT_NAMES), "msvd": tuple(SPLIT_RANGES), "vatex": ("train", "val", "test"),
          "youcook2": tuple(SUBSETS)}  # fmt: skip


@dataclass(frozen=True)
class BenchmarkOptions:
    format: str  # msrvtt, msvd, vatex or youcook2
    annotations: Path
    video_dir: Path
    out_dir: Path
    split: str | None = None  # MSR-VTT/MSVD/YouCook2: which clips (default test); VATEX: from the file's name
    mapping: Path | None = None  # MSVD's youtube_mapping.txt
    media_dir: Path = Path(".")
    prompt: str = DEFAULT_PROMPT
    probe: bool = True
    probe_cache: Path | None = None  # default OUT/probe_cache.sqlite
    workers: int = 2
    min_duration_s: float = 0.0  # a benchmark keeps every readable clip, so scores compare with papers'
    min_frames: int = 1


# VATEX's files are per split: vatex_training_v1.0.json, vatex_validation_v1.0.json, vatex_public_test_english_v1.1.json
VATEX_SPLIT_WORDS = {"training": "train", "train": "train", "validation": "val", "val": "val", "test": "test"}


def _vatex_split(annotations: Path, split: str | None) -> str:
    """The split a VATEX caption file holds, from its name; --split must agree with it, or name it when it cannot."""
    words = {
        VATEX_SPLIT_WORDS[w] for w in re.split(r"[^a-z]+", Path(annotations).name.lower()) if w in VATEX_SPLIT_WORDS
    }
    if len(words) == 1:
        (derived,) = words
        if split is not None and split != derived:
            raise ValueError(
                f"{Path(annotations).name} is VATEX's {derived} file but --split is {split}: drop --split (it is read "
                "from the file name) or pass the caption file of that split"
            )
        return derived
    if split is None:
        raise ValueError(
            f"cannot tell from its name which VATEX split {annotations} holds: pass --split train, val or test"
        )
    return split


def _resolved_split(options: BenchmarkOptions) -> str:
    if options.format == "vatex":
        return _vatex_split(options.annotations, options.split)
    return options.split or "test"


def _items(options: BenchmarkOptions):
    if options.format == "msrvtt":
        return read_msrvtt(options.annotations, options.split)
    if options.format == "msvd":
        mapping = read_mapping(options.mapping) if options.mapping is not None else None
        return read_msvd(options.annotations, options.split, mapping)
    if options.format == "youcook2":
        return read_youcook2(options.annotations, options.split)
    return read_vatex(options.annotations)


def _check_usable(report: ConversionReport, options: BenchmarkOptions) -> None:
    """Raise ConversionFailed, naming the likely cause, when no clip was kept."""
    if report.kept:
        return
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in report.as_dict()["skipped_by_reason"].items())
    if not report.rows_read:
        raise ConversionFailed(
            f"{options.annotations} holds no {options.format} clip of the {options.split} split: is --split right "
            f"for this file (MSR-VTT's test_videodatainfo.json holds only test clips)?"
        )
    cause = f"0 of {report.rows_read:,} clips kept ({reasons})."
    if report.skipped["missing"] >= report.rows_read / 2:
        stems = ("{subset}/{recipe_type}/{youtube id}", "{youtube id}") if options.format == "youcook2" else ("{id}",)
        names = " or ".join(f"{stem}{ext}" for stem in stems for ext in EXTENSIONS[options.format])
        cause += f" Clips were not found under --video-dir {os.path.abspath(options.video_dir)} as {names}."
    example = next(iter(report.first_skip.values()), None)
    raise ConversionFailed(cause + (f" First skipped: {example}." if example else ""))


def _dataset_info(path: Path, name: str, data_file: Path) -> dict:
    """``path``'s entries (if it exists) with ``name`` added or replaced."""
    existing = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); fix or remove it, then re-run") from None
        if not isinstance(existing, dict):
            raise ValueError(f"{path} must hold a JSON object of dataset entries")
    return {**existing, name: sharegpt_video_entry(file_name_for(data_file, path))}


def convert(options: BenchmarkOptions) -> dict:
    """Run the whole conversion; returns the report (also written to OUT/report.json). Raises ConversionFailed
    (publishing nothing) when no clip is kept, ValueError/FileNotFoundError for a wrong file before any output."""
    check_prompt(options.prompt)
    options = dataclasses.replace(options, split=_resolved_split(options))
    if options.split not in SPLITS[options.format]:
        hint = (
            " (its test captions are not published: papers report --split val)" if options.format == "youcook2" else ""
        )
        raise ValueError(f"--split {options.split!r}: {options.format} has {', '.join(SPLITS[options.format])}{hint}")
    for path in (options.annotations, options.mapping):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{path} does not exist")
    started = time.perf_counter()
    items = screen_references(_items(options))
    name = f"{options.format}_{options.split}"
    out_dir = Path(options.out_dir)
    info_path = out_dir / DATASET_INFO_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / ".gitignore").exists():  # generated data never shows up in `git status`
        (out_dir / ".gitignore").write_text("# written by data.convert_benchmark: generated data\n*\n")
    with StagedOutputs(out_dir) as staged, ExitStack() as stack:
        report = ConversionReport(staged.dir, prefix=f"{name}_")
        writer = JsonArrayWriter(staged.path(f"{name}.json"))
        stack.callback(writer.close)
        cache = prober = None
        if options.probe:
            cache = stack.enter_context(ProbeCache(options.probe_cache or out_dir / "probe_cache.sqlite"))
            prober = stack.enter_context(Prober(options.workers))
        rules = ClipRules(options.min_duration_s, options.min_frames)
        pipeline = BenchmarkPipeline(
            options.video_dir, EXTENSIONS[options.format], rules, options.media_dir, options.prompt, report,
            options.split, writer, cache, prober, f"{name}_{DROPPED_NAME}",
        )  # fmt: skip
        stack.callback(pipeline.close)
        for item in items:
            pipeline.add(item)
        if pipeline.pending:
            pipeline.flush()
        writer.close()
        pipeline.close()
        _check_usable(report, options)
        info = _dataset_info(info_path, name, out_dir / f"{name}.json")
        staged.path(DATASET_INFO_NAME).write_text(dataset_info_text(info), encoding="utf-8")
        summary = report.finish(
            format=options.format,
            annotations=str(options.annotations),
            split=options.split,
            video_dir=str(options.video_dir),
            out_dir=str(out_dir),
            file=str(out_dir / f"{name}.json"),
            dataset=name,
            dataset_info=str(info_path),
            media_dir=os.path.abspath(options.media_dir),
            probe=options.probe,
            references=pipeline.references,
            references_dropped=dict(pipeline.dropped),
            segments_clamped=pipeline.clamped,
            elapsed_s=round(time.perf_counter() - started, 3),
        )
        staged.publish()
    return summary


def format_summary(report: dict) -> str:
    """One screen: clips kept and skipped by reason, references kept and dropped, where the files are."""
    lines = [
        f"{report['format']} {report['split']}: {report['annotations']} -> {report['file']}",
        f"  clips read  {report['rows_read']:>8,}",
        f"  kept        {report['kept']:>8,}   with {report['references']:,} references",
        f"  skipped     {report['skipped']:>8,}",
        *(f"    {reason:<16}{count:>6,}" for reason, count in report["skipped_by_reason"].items()),
        f"  references dropped {sum(report['references_dropped'].values()):,}"
        + "".join(f", {reason} {count:,}" for reason, count in report["references_dropped"].items()),
        f"  registered  {report['dataset']} in {report['dataset_info']}",
    ]
    if report["skipped"]:
        lines.append(f"  every skipped clip: {report['out_dir']}/{report['dataset']}_skipped.csv")
    if report["references_dropped"]:
        lines.append(f"  every dropped reference: {report['out_dir']}/{report['dataset']}_{DROPPED_NAME}")
    if report["segments_clamped"]:
        lines.append(
            f"  {report['segments_clamped']:,} segments ended up to {CLAMP_TOLERANCE_S:g} s (or "
            f"{CLAMP_TOLERANCE_FRACTION:.0%}) past their video file's end: cut at its end"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> BenchmarkOptions:
    defaults = BenchmarkOptions(format="msrvtt", annotations=Path(), video_dir=Path(), out_dir=Path())
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", required=True, choices=sorted(EXTENSIONS), help="the benchmark")
    parser.add_argument("--annotations", type=Path, required=True, help="the benchmark's caption file")
    parser.add_argument("--video-dir", type=Path, required=True, help="folder holding the clips")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the test file and report go")
    parser.add_argument(
        "--split",
        default=defaults.split,
        help="msrvtt: train/val/test (default test); msvd: train/val/test (needs --mapping) or all; vatex: read "
        "from the file name (vatex_training_* is train), needed only for another name; youcook2: val/train",
    )
    parser.add_argument("--mapping", type=Path, help="MSVD's youtube_mapping.txt (VIDEONAME vidN per line)")
    parser.add_argument("--media-dir", type=Path, default=defaults.media_dir, help="clip paths relative to this")
    parser.add_argument("--prompt", default=defaults.prompt, help="instruction in the user turn after <video>")
    parser.add_argument("--no-probe", dest="probe", action="store_false", help="only check clips exist")
    parser.add_argument("--probe-cache", type=Path, help="probe cache file (default OUT/probe_cache.sqlite)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="probing processes")
    parser.add_argument("--min-duration", dest="min_duration_s", type=float, default=defaults.min_duration_s)
    parser.add_argument("--min-frames", type=int, default=defaults.min_frames)
    return BenchmarkOptions(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    run_converter(convert, options, options.out_dir, format_summary)


if __name__ == "__main__":
    main()
