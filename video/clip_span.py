"""A span of a longer video named as a clip: ``path/to/video.mp4#t=START,END`` (W3C Media Fragments, seconds).

    from video.clip_span import clip_reference, split_clip_reference
    split_clip_reference("cooking/abc.mp4#t=12.5,31")   # ("cooking/abc.mp4", ClipSpan(12.5, 31.0))
    split_clip_reference("cooking/abc.mp4")             # ("cooking/abc.mp4", None)
    clip_reference("cooking/abc.mp4", ClipSpan(12.5, 31.0))   # "cooking/abc.mp4#t=12.5,31.0"
    probe_video("cooking/abc.mp4#t=12.5,31")            # the span described as if it were its own clip

This is the only parser of the fragment; a fragment that is no span raises BadSpanError (a VideoReadError, reason
``bad_span``), which every path reports as that one sample's error. A span holds the frames whose presentation
time (seconds from the video's first frame shown, video.frame_times) lies in [START, END); ``span_view`` describes
them as a clip of their own: frame indices, times and duration count from the span's first frame, so sampling,
token counts and the times given to the model are those of a clip cut at exactly [START, END). video/read.py
decodes the span's frames from the whole video. A path that exists as written is a plain path even if it holds
'#'. YouCook2's segments use it (data/benchmarks/youcook2.py); LLaMA-Factory's stock plugins cannot read such a
reference (only *_exact templates).
"""

import dataclasses
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from video.container import VideoInfo
from video.container import probe_video as probe_file
from video.errors import VideoReadError
from video.indices import frame_times

FRAGMENT = "#t="
# t=[npt:]START,END in seconds (Media Fragments' Normal Play Time, its plain-seconds form)
TEMPORAL = re.compile(r"t=(?:npt:)?(?P<start>[0-9]*\.?[0-9]+),(?P<end>[0-9]*\.?[0-9]+)")


@dataclass(frozen=True)
class ClipSpan:
    """Seconds from the video's first frame shown: the span holds the frames shown in [start_s, end_s)."""

    start_s: float
    end_s: float

    def __post_init__(self):
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s) and 0 <= self.start_s < self.end_s):
            raise ValueError(f"a clip span needs 0 <= start < end (seconds), got [{self.start_s}, {self.end_s}]")

    @property
    def fragment(self) -> str:
        """The canonical ``#t=START,END`` (one spelling per span, so a span has one frame-store key)."""
        return f"{FRAGMENT}{self.start_s!r},{self.end_s!r}"


class BadSpanError(VideoReadError, ValueError):
    """A ``#t=`` fragment that is no span: malformed, reversed, empty, negative, not finite, or in exponent form.

    A VideoReadError of reason ``bad_span`` naming the reference, so every path that reports an unreadable clip as
    one sample's error (preflight, frame store build, evaluation) reports this one alike."""

    def __init__(self, reference: str, detail: str):
        super().__init__(reference, "bad_span", detail)


def _fragment_of(text: str) -> tuple[str, str] | None:
    """``(file path, fragment after '#')`` when ``text`` names a ``#t=`` span (it does not exist as written)."""
    path, hash_sign, fragment = text.rpartition("#")
    if not hash_sign or not fragment.startswith("t=") or os.path.exists(text):
        return None
    return path, fragment


def split_clip_reference(text: str | os.PathLike) -> tuple[str, ClipSpan | None]:
    """``(file path, span or None)``. Raises BadSpanError, naming the reference, for a fragment that is no span."""
    text = os.fspath(text)
    parts = _fragment_of(text)
    if parts is None:
        return text, None
    path, fragment = parts
    match = TEMPORAL.fullmatch(fragment)
    if match is None:
        raise BadSpanError(text, f"#{fragment} is not a time span; write {path}#t=START,END (seconds, e.g. #t=12,31.5)")
    try:
        return path, ClipSpan(float(match["start"]), float(match["end"]))
    except ValueError as error:
        raise BadSpanError(text, str(error)) from None


def clip_reference(path: str | os.PathLike, span: ClipSpan | None) -> str:
    """``path`` with ``span``'s fragment (``path`` itself when there is no span)."""
    return os.fspath(path) if span is None else f"{os.fspath(path)}{span.fragment}"


def clip_file(text: str | os.PathLike) -> str:
    """The file a clip reference reads (the reference without its span): what to check exists or stat. A malformed
    span still names its file here; reading, probing or keying the reference raises BadSpanError."""
    text = os.fspath(text)
    parts = _fragment_of(text)
    return text if parts is None else parts[0]


def span_view(info: VideoInfo, span: ClipSpan, reference: str) -> tuple[VideoInfo, int]:
    """``(the span as its own clip, index of its first frame in the whole video)``.

    Raises VideoReadError (reason ``bad_span``, naming ``reference``) when the span ends after the video or holds
    no frame. The view's duration is the time its frames are shown: from its first frame to the next frame after
    the span (the video's end for the last frames), as the probe measures a whole clip.
    """
    if span.end_s > info.duration_s + 1e-6:
        raise VideoReadError(
            reference, "bad_span", f"the span ends at {span.end_s:g} s, after the video's {info.duration_s:.3f} s"
        )
    times = np.asarray(frame_times(info, list(range(info.n_frames))))
    first, stop = (int(i) for i in np.searchsorted(times, [span.start_s, span.end_s], side="left"))
    if first >= stop:
        raise VideoReadError(
            reference, "bad_span", f"no frame is shown in [{span.start_s:g}, {span.end_s:g}) s of {info.n_frames}"
        )
    end_time = float(times[stop]) if stop < info.n_frames else info.duration_s
    keyframe_slots = [slot for slot, index in enumerate(info.keyframes) if first <= index < stop]
    view = dataclasses.replace(
        info,
        path=reference,
        duration_s=end_time - float(times[first]),
        n_frames=stop - first,
        header_frames=stop - first if info.header_frames else 0,
        keyframes=tuple(info.keyframes[slot] - first for slot in keyframe_slots),
        keyframe_dts=tuple(info.keyframe_dts[slot] for slot in keyframe_slots if slot < len(info.keyframe_dts)),
        frame_pts=info.frame_pts[first:stop],
    )
    return view, first


def probe_video(reference: str | os.PathLike) -> VideoInfo:
    """Describe a clip without decoding: a file (video.container.probe_video), or a span of one (span_view)."""
    path, span = split_clip_reference(reference)
    info = probe_file(path)
    return info if span is None else span_view(info, span, os.fspath(reference))[0]
