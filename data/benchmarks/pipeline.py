"""Screened benchmark clips -> located, probed (cached, in parallel) -> test records, or counted skips.

``data.convert_benchmark.convert`` runs it inside a staged output folder. A kept clip becomes a ShareGPT record
(data/sharegpt.py) whose assistant turn is its first reference, plus ``references``: all of them. A segment of a
longer video (YouCook2) is probed and written as its span, ``video.mp4#t=START,END`` (video/clip_span.py).
"""

import csv
import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from data.benchmarks import AnnotationSkip, DroppedReference, ScreenedClip
from data.clip_checks import ClipRules
from data.clip_paths import ClipLookupError, check_path_component, stat_file
from data.convert_pipeline import CHUNK_ROWS, MediaPaths
from data.convert_report import ConversionReport
from data.probe_cache import ProbeCache, Prober, probe_and_check
from data.sharegpt import JsonArrayWriter, caption_record
from video.clip_span import ClipSpan, clip_reference

DROPPED_NAME = "dropped_references.csv"  # written as {dataset}_dropped_references.csv, one per split
# A segment may end this far past its video file's end (a download a little shorter than the annotated video):
# it is cut at the file's end and counted, instead of being lost as a bad span.
CLAMP_TOLERANCE_S = 1.0
CLAMP_TOLERANCE_FRACTION = 0.02  # of the video's duration, when that is more than CLAMP_TOLERANCE_S


def clamped_span(span: ClipSpan, video_duration_s: float) -> ClipSpan | None:
    """``span`` cut at the video's end when it ends past it by at most the tolerance; None when it is not cut."""
    over = span.end_s - video_duration_s
    tolerance = max(CLAMP_TOLERANCE_S, CLAMP_TOLERANCE_FRACTION * video_duration_s)
    if 0 < over <= tolerance and span.start_s < video_duration_s:
        return ClipSpan(span.start_s, video_duration_s)
    return None


@dataclass(frozen=True)
class FoundClip:
    path: Path
    size: int
    mtime_ns: int
    layout: str  # how it was named, for the report: "{stem}.avi", or "{vidN}.avi (mapping)"


def _layout(clip: ScreenedClip, stem: str, extension: str) -> str:
    """How a clip was named, for the report: by its id, by another name (MSVD's vidN), or a segment's video."""
    if stem == clip.clip_id:
        return f"{{id}}{extension}"
    if clip.span is not None:
        return f"{{folders}}/{{video}}{extension}" if "/" in stem else f"{{video}}{extension}"
    return f"{{mapped name}}{extension}"


class BenchmarkPipeline:
    """Each screened item is counted: a dropped reference, a skipped clip, or a written record."""

    def __init__(
        self,
        video_dir: Path,
        extensions: tuple[str, ...],
        rules: ClipRules,
        media_dir: Path,
        prompt: str,
        report: ConversionReport,
        split: str,
        writer: JsonArrayWriter,
        cache: ProbeCache | None = None,
        prober: Prober | None = None,
        dropped_name: str = DROPPED_NAME,
    ):
        self.video_dir, self.extensions, self.rules = Path(video_dir), extensions, rules
        self.media_path, self.prompt = MediaPaths(media_dir), prompt
        self.report, self.split, self.writer, self.cache, self.prober = report, split, writer, cache, prober
        self.dropped: Counter[str] = Counter()
        self.references = 0
        self.clamped = 0  # segments cut at their video's end (CLAMP_TOLERANCE_S)
        self.pending: list[tuple[ScreenedClip, FoundClip]] = []
        self._dropped_file = open(report.out_dir / dropped_name, "w", newline="", encoding="utf-8")
        self._dropped_csv = csv.writer(self._dropped_file)
        self._dropped_csv.writerow(["row", "videoid", "reason", "detail"])

    def close(self) -> None:
        self._dropped_file.close()

    def add(self, item: ScreenedClip | AnnotationSkip | DroppedReference) -> None:
        if isinstance(item, DroppedReference):
            self.dropped[item.reason] += 1
            self._dropped_csv.writerow([item.line, item.clip_id, item.reason, item.detail])
            return
        if isinstance(item, AnnotationSkip):
            self.report.skip(item.line, item.clip_id, item.reason, item.detail)
            return
        try:
            found = self._locate(item)
        except ClipLookupError as error:
            self.report.skip(item.line, item.clip_id, error.reason, str(error))
            return
        if found is None:
            names = ", ".join(stem + ext for stem in item.stems for ext in self.extensions)
            self.report.skip(item.line, item.clip_id, "missing", f"none of {names} under {self.video_dir}")
        elif found.size == 0:
            self.report.skip(item.line, item.clip_id, "empty", str(found.path))
        elif self.prober is None:
            self._keep(item, found)
        else:
            self.pending.append((item, found))
            if len(self.pending) >= CHUNK_ROWS:
                self.flush()

    def _locate(self, clip: ScreenedClip) -> FoundClip | None:
        for stem in clip.stems:
            for extension in self.extensions:  # a stem may name sub-folders (YouCook2's {subset}/{recipe_type}/)
                name = "/".join(check_path_component(part, "clip name") for part in (stem + extension).split("/"))
                stat = stat_file(str(self.video_dir / name))
                if stat is not None:
                    layout = _layout(clip, stem, extension)
                    return FoundClip(self.video_dir / name, stat.st_size, stat.st_mtime_ns, layout)
        return None

    def flush(self) -> None:
        """Probe the pending clips (cache first, then in parallel) and keep or skip each."""
        self._clamp_spans()
        # a segment's probe is its span's (video.probe_video): a span past the video's end is skipped as bad_span
        keys = [(clip_reference(found.path, clip.span), found.size, found.mtime_ns) for clip, found in self.pending]
        verdicts = probe_and_check(keys, self.cache, self.prober, self.rules)
        self.report.probe_cache_hits += verdicts.cache_hits
        self.report.probed += verdicts.probed
        for (clip, found), problem in zip(self.pending, verdicts.problems, strict=True):
            if problem is not None:
                self.report.skip(clip.line, clip.clip_id, *problem)
                continue
            self._keep(clip, found)
        self.pending.clear()

    def _clamp_spans(self) -> None:
        """Cut each pending segment that ends just past its video file's end (probed whole, cached) at that end."""
        files = {i: (str(found.path), found.size, found.mtime_ns) for i, (clip, found) in enumerate(self.pending)
                 if clip.span is not None}  # fmt: skip
        if not files:
            return
        keys = list(dict.fromkeys(files.values()))
        verdicts = probe_and_check(keys, self.cache, self.prober, ClipRules(min_duration_s=0.0, min_frames=1))
        self.report.probe_cache_hits += verdicts.cache_hits
        self.report.probed += verdicts.probed
        outcomes = self.cache.get_many(keys)
        for i, key in files.items():
            clip, found = self.pending[i]
            summary = outcomes[key].summary
            cut = clamped_span(clip.span, summary.duration_s) if summary is not None else None
            if cut is not None:
                self.pending[i] = (dataclasses.replace(clip, span=cut), found)
                self.clamped += 1

    def _keep(self, clip: ScreenedClip, found: FoundClip) -> None:
        video = clip_reference(self.media_path(found.path), clip.span)  # a segment: video.mp4#t=START,END
        record = caption_record(clip.clip_id, clip.references[0], video, self.prompt)
        record["references"] = list(clip.references)
        self.writer.write(record)
        self.references += len(clip.references)
        self.report.keep(self.split, found.layout)
