"""What the converter did: counts by reason in ``report.json``, every skipped row in ``skipped.csv``, a summary."""

import csv
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from data.clip_checks import BAD_METADATA, TOO_SHORT
from data.probe_cache import ProbeWorkerDied
from data.splits import SPLITS
from video.errors import REASONS

# Every reason a row can be skipped, in the order the converter checks them. A clip that is missing or cannot be
# read is counted under the video package's reason codes and explained in its words (video/errors.py: the same
# codes and texts training, the preflight and evaluation report).
SKIP_REASONS = {
    "malformed_row": "bad quoting, wrong field count, empty id/caption, bad duration or non-UTF-8",
    "control_char": "NUL or other control character (not tab/newline) in a field: refused, not cleaned",
    "chat_markup": "caption holds <video>/<image>/<audio> or a chat token such as <|im_end|>: refused",
    "path_escape": "videoid/page_dir is not a plain file name (could leave the video dir)",
    "ambiguous_clip": "video2dataset: the row's videoid/url names several clips (a clipped video); use clip keys",
    "duplicate_id": "videoid seen on an earlier row (first wins)",
    "no_captions": "benchmark clip without a usable reference (none given, or all dropped: see "
    "{dataset}_dropped_references.csv)",
    "not_in_mapping": "MSVD clip name absent from --mapping (youtube_mapping.txt): its split and vidN are unknown",
    **REASONS,
    BAD_METADATA: "impossible size, frame rate or duration",
    TOO_SHORT: "shorter than --min-duration or fewer than --min-frames frames",
}


class ConversionReport:
    """Counts rows as they stream past and appends each skip to ``skipped.csv`` immediately."""

    def __init__(self, out_dir: Path, prefix: str = ""):
        """``prefix`` names the files (``{prefix}report.json``, ``{prefix}skipped.csv``): one pair per output."""
        self.out_dir = Path(out_dir)
        self.prefix = prefix
        self.rows_read = 0
        self.kept = 0
        self.skipped: Counter[str] = Counter()
        self.splits: Counter[str] = Counter()
        self.layouts: Counter[str] = Counter()
        self.probed = 0
        self.probe_cache_hits = 0
        self.first_skip: dict[str, str] = {}  # reason -> the first row skipped for it, for error messages
        self._skipped_file = open(self.out_dir / f"{prefix}skipped.csv", "w", newline="", encoding="utf-8")
        self._skipped_csv = csv.writer(self._skipped_file)
        self._skipped_csv.writerow(["row", "videoid", "reason", "detail"])

    def skip(self, line: int, videoid: str, reason: str, detail: str = "") -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        self.rows_read += 1
        self.skipped[reason] += 1
        self.first_skip.setdefault(reason, f"line {line} {videoid!r}: {reason} {detail}".rstrip())
        self._skipped_csv.writerow([line, videoid, reason, detail])

    def keep(self, split: str, layout: str) -> None:
        self.rows_read += 1
        self.kept += 1
        self.splits[split] += 1
        self.layouts[layout] += 1

    def as_dict(self, **context) -> dict:
        return {
            **context,
            "rows_read": self.rows_read,
            "kept": self.kept,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": {reason: self.skipped[reason] for reason in SKIP_REASONS if self.skipped[reason]},
            "splits": dict(self.splits),
            "layouts": dict(self.layouts),
            "probed": self.probed,
            "probe_cache_hits": self.probe_cache_hits,
        }

    def finish(self, **context) -> dict:
        """Close the skipped csv, write the report json; returns the report."""
        self._skipped_file.close()
        report = self.as_dict(**context)
        (self.out_dir / f"{self.prefix}report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return report


def format_summary(report: dict) -> str:
    """One screen: totals, each skip reason with a count, the splits, where the files are."""
    lines = [
        f"WebVid conversion: {report['csv'] or report['video_dir'] + ' (captions from the video2dataset clips)'}"
        + f" -> {report['out_dir']}",
        f"  rows read   {report['rows_read']:>10,}",
        f"  kept        {report['kept']:>10,}   "
        + "  ".join(f"{split} {report['splits'].get(split, 0):,}" for split in SPLITS),
        f"  skipped     {report['skipped']:>10,}",
    ]
    for reason, count in report["skipped_by_reason"].items():
        lines.append(f"    {reason:<14}{count:>10,}   {SKIP_REASONS[reason]}")
    layouts = ", ".join(f"{name} {count:,}" for name, count in report["layouts"].items()) or "none"
    lines.append(f"  layouts     {layouts}")
    for shard in report.get("broken_shards", []):  # video2dataset shards read only up to their damage
        lines.append(
            f"  BROKEN      {shard['path']}: {shard['error']} "
            f"(the {shard['clips_indexed']:,} clips before the damage are used)"
        )
    probing = (
        f"{report['probed']:,} probed, {report['probe_cache_hits']:,} from cache"
        if report["probe"]
        else "disabled (--no-probe): clips only checked to exist and be non-empty"
    )
    lines += [
        f"  probing     {probing}",
        f"  time        {report['elapsed_s']:.1f} s "
        f"({report['rows_read'] / max(report['elapsed_s'], 1e-9):,.0f} rows/s)",
        f"  wrote       {', '.join(report['files'])}",
        f"  registered  {', '.join(report['datasets'])} in {report['dataset_info']}",
        f'  train on it make train CONFIG=... ARGS="dataset_dir={Path(report["dataset_info"]).parent} '
        f'media_dir={report["media_dir"]}"',
    ]
    if report["skipped"]:
        lines.append(f"  every skipped row, with its line number and reason: {report['out_dir']}/skipped.csv")
    return "\n".join(lines)


class ConversionFailed(RuntimeError):
    """The run finished but its output would be unusable (no row kept, empty train split): nothing is published."""


def run_converter(convert: Callable[[object], dict], options, out_dir: Path, summarise: Callable[[dict], str]) -> None:
    """A converter's command line: print the summary, or exit naming why nothing was published (1; Ctrl-C: 130)."""
    try:
        report = convert(options)
    except (ConversionFailed, ProbeWorkerDied) as error:
        raise SystemExit(f"conversion FAILED, nothing published ({out_dir} is as it was): {error}") from None
    except (ValueError, FileNotFoundError) as error:  # a bad header, ratio, prompt or folder: named, before any output
        raise SystemExit(f"conversion FAILED: {error}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing published ({out_dir} is as it was)", file=sys.stderr)
        raise SystemExit(130) from None
    print(summarise(report))
