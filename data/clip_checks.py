"""Decide whether a probed clip is fit for training: complete, sane, and long enough.

``probe_video`` (plugins.video_sampling) demuxes every packet, which catches a file cut inside a packet. A file
cut exactly between packets demuxes cleanly but shows fewer frames than it should, which looks the same as an
edit-listed MP4; ``declared_length`` tells them apart by reading only the container's top-level structure
(MP4/MOV boxes, the Matroska/WebM Segment, the AVI RIFF chunks): a file shorter than it declares is truncated.
"""

import math
import os
from dataclasses import dataclass


MAX_DURATION_S = 3600.0  # WebVid clips are 5-60 s; hours means a broken header
MAX_FPS = 1000.0
TRUNCATED, TOO_SHORT, BAD_METADATA = "truncated", "too_short", "bad_metadata"
_EBML_MAGIC, _MATROSKA_SEGMENT = b"\x1a\x45\xdf\xa3", 0x18538067


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


def _mp4_length(f, file_size: int) -> int | None:
    """End of the last top-level box, from the box headers alone."""
    offset = 0
    while offset < file_size:
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            return offset + 8
        size = int.from_bytes(header[:4], "big")
        if size == 1:
            if len(header) < 16:
                return offset + 16
            size = int.from_bytes(header[8:16], "big")
        elif size == 0:  # the box runs to the end of the file
            return file_size
        if size < 8:
            return None  # not box structured after all: let the demuxer be the judge
        offset += size
    return offset


def _ebml_vint(f) -> tuple[int, int, bool]:
    """(value, bytes used, all-ones i.e. 'unknown size') of one EBML variable-length integer."""
    first = f.read(1)
    if not first:
        raise EOFError
    length = 9 - first[0].bit_length()
    if not 1 <= length <= 8:
        raise ValueError("bad EBML integer")
    rest = f.read(length - 1)
    if len(rest) < length - 1:
        raise EOFError
    value = first[0] & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def _matroska_length(f) -> int | None:
    """End of the Segment element (None when written with 'unknown size', as live muxers do)."""
    offset = 0
    while True:
        f.seek(offset)
        first = f.read(1)
        if not first:
            return offset
        id_length = 9 - first[0].bit_length()
        if not 1 <= id_length <= 4:
            raise ValueError("bad EBML element id")
        element_id = int.from_bytes(first + f.read(id_length - 1), "big")
        size, size_length, unknown = _ebml_vint(f)
        if unknown:
            return None
        end = offset + id_length + size_length + size
        if element_id == _MATROSKA_SEGMENT:
            return end
        offset = end


def _riff_length(f, file_size: int) -> int:
    """End of the last RIFF chunk (AVI files over 1 GB chain RIFF AVIX chunks)."""
    offset = 0
    while offset + 8 <= file_size:
        f.seek(offset)
        header = f.read(8)
        if header[:4] != b"RIFF":
            break
        offset += 8 + int.from_bytes(header[4:8], "little")
    return offset


def declared_length(path: str | os.PathLike) -> int | None:
    """Bytes the container's top-level structure says the file has, or None when it does not say."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        try:
            if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return _mp4_length(f, file_size)
            if head.startswith(_EBML_MAGIC):
                return _matroska_length(f)
            if head.startswith(b"RIFF"):
                return _riff_length(f, file_size)
        except (EOFError, ValueError):
            return file_size + 1  # the structure itself is cut off
    return None


def is_truncated(path: str | os.PathLike) -> bool:
    """True when the file is shorter than its container says (a download cut short)."""
    declared = declared_length(path)
    return declared is not None and declared > os.path.getsize(path)


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
