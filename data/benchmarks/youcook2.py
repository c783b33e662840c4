"""YouCook2's caption file ``youcookii_annotations_trainval.json``: captioned segments of longer cooking videos.

    {"database": {"GLd3aX16zBg": {"duration": 241.62, "subset": "training", "recipe_type": "113",
                                  "video_url": "https://www.youtube.com/watch?v=GLd3aX16zBg",
                                  "annotations": [{"id": 0, "segment": [90, 102], "sentence": "spread margarine ..."},
                                                  ...]}, ...}}

``subset`` is ``training`` or ``validation`` (1,333 / 457 videos; the test videos' captions are not published, so
papers report the validation split); each segment is one clip with one reference, its sentence. A clip is the span
of its video, named ``{video}#t=START,END`` (video/clip_span.py: the exact templates sample frames over the span
only); its id is ``{youtube id}_{segment id}``. Videos are found as ``{subset}/{recipe_type}/{youtube id}.{ext}``
(the raw_videos folders of YouCook2's download script) or ``{youtube id}.{ext}`` directly under --video-dir.
Record numbers are 1-based positions of the segments in the file (every subset counted; a video entry that cannot
be read counts as one).
"""

import json
import math
from collections.abc import Iterator
from pathlib import Path

from data.benchmarks import BAD_SPAN, MALFORMED_ROW, AnnotatedClip, AnnotationSkip, DroppedReference
from video.clip_span import ClipSpan

SUBSETS = {"val": "validation", "train": "training"}  # our split name -> YouCook2's subset


def _load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a JSON file ({error}); pass youcookii_annotations_trainval.json") from None
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise ValueError(f"{path} has no 'database' object: is it YouCook2's youcookii_annotations_trainval.json?")
    return data["database"]


def _number(value) -> float | None:
    """A finite number of seconds, or None (booleans and text are not times)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _stems(video_id: str, subset: str, recipe_type) -> tuple[str, ...]:
    plain = isinstance(recipe_type, str) and recipe_type.strip() and "/" not in recipe_type and ".." not in recipe_type
    return (f"{subset}/{recipe_type}/{video_id}", video_id) if plain else (video_id,)


def _segment(number: int, video_id: str, segment, duration: float | None, stems: tuple[str, ...]):
    """One segment as an AnnotatedClip, or why it cannot be one (AnnotationSkip, and a DroppedReference first)."""
    if not isinstance(segment, dict) or isinstance(segment.get("id"), bool) or not isinstance(segment.get("id"), int):
        yield AnnotationSkip(number, video_id, MALFORMED_ROW, f"segment {number} has no integer id")
        return
    clip_id = f"{video_id}_{segment['id']}"
    times = segment.get("segment")
    start, end = (_number(value) for value in times) if isinstance(times, list) and len(times) == 2 else (None, None)
    if start is None or end is None:
        yield AnnotationSkip(number, clip_id, MALFORMED_ROW, f"segment is {times!r}, not [start, end] in seconds")
        return
    try:
        span = ClipSpan(start, end)
    except ValueError as error:
        yield AnnotationSkip(number, clip_id, BAD_SPAN, str(error))
        return
    if duration is not None and end > duration:
        yield AnnotationSkip(number, clip_id, BAD_SPAN, f"segment ends at {end:g} s, after the video's {duration:g} s")
        return
    sentence = segment.get("sentence")
    if not isinstance(sentence, str):
        yield DroppedReference(number, clip_id, MALFORMED_ROW, f"sentence is {sentence!r}, not text")
    captions = ((number, sentence),) if isinstance(sentence, str) else ()
    yield AnnotatedClip(number, clip_id, stems, captions, span)


def read_youcook2(path: Path, split: str) -> Iterator[AnnotatedClip | AnnotationSkip | DroppedReference]:
    """Every segment of the ``split`` (val or train) videos, as a clip spanning it, in file order."""
    database = _load(path)
    subset = SUBSETS[split]
    number = 0
    for video_id, video in database.items():
        segments = video.get("annotations") if isinstance(video, dict) else None
        if not isinstance(segments, list) or not video_id.strip():
            number += 1
            if not isinstance(video, dict) or video.get("subset") == subset:
                yield AnnotationSkip(number, video_id, MALFORMED_ROW, "the video entry has no 'annotations' list")
            continue
        if video.get("subset") != subset:
            number += len(segments)
            continue
        stems = _stems(video_id, subset, video.get("recipe_type"))
        duration = _number(video.get("duration"))
        for segment in segments:
            number += 1
            yield from _segment(number, video_id, segment, duration, stems)
