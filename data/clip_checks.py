"""Decide whether a probed clip is fit for training: sane metadata and long enough.

Unreadable clips (missing, empty, not a video, truncated: a file cut short is caught by ``probe_video``, which
checks the file reaches the size its container declares; a header's frame count alone refuses nothing) never get
here.
"""

import math
from dataclasses import dataclass

MAX_DURATION_S = 3600.0  # WebVid clips are 5-60 s; hours means a broken header
MAX_FPS = 1000.0
TOO_SHORT, BAD_METADATA = "too_short", "bad_metadata"


@dataclass(frozen=True)
class ClipSummary:
    """The part of a probe the converter decides on (VideoInfo minus per-frame tables, which can be large)."""

    width: int
    height: int
    fps: float
    duration_s: float
    n_frames: int
    header_frames: int
    metadata_trusted: bool


@dataclass(frozen=True)
class ClipRules:
    """What a kept clip must satisfy (defaults: 8 frames over >= 1 s, i.e. video_maxlen 8 at video_fps 8)."""

    min_duration_s: float = 1.0
    min_frames: int = 8


def check_probed_clip(info: ClipSummary, rules: ClipRules) -> tuple[str, str] | None:
    """(reason, detail) why a probed clip must be skipped, or None to keep it. Pure: uses the probe result only."""
    if not (info.width > 0 and info.height > 0):
        return BAD_METADATA, f"frame size {info.width}x{info.height}"
    if not (0 < info.fps <= MAX_FPS) or not math.isfinite(info.duration_s):
        return BAD_METADATA, f"frame rate {info.fps}"
    if not 0 < info.duration_s <= MAX_DURATION_S:
        return BAD_METADATA, f"duration {info.duration_s:.2f} s"
    if info.duration_s < rules.min_duration_s:
        return TOO_SHORT, f"{info.duration_s:.2f} s < {rules.min_duration_s} s"
    if info.n_frames < rules.min_frames:
        return TOO_SHORT, f"{info.n_frames} frames < {rules.min_frames}"
    return None
