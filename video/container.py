"""Open a clip and describe its video stream without decoding a frame: the probe.

    from video.container import probe_video
    info = probe_video("clip.mp4")   # VideoInfo: size, frame rate, frames shown, keyframes, timestamps, rotation

Frame indices count the frames a full decode shows, in presentation order: a demux counts the packets shown (those
an MP4 edit list discards excluded), so MKV/WebM (no frame count in the header) and edit-listed MP4s (frames listed
but never shown) are counted right. For plain MP4/MOV files the sample tables (video/mp4_tables.py) give the same
description without a demux pass. ``metadata_trusted`` says whether the keyframe spans can be decoded on their own
(header count equals the frames shown, constant frame rate, every frame timestamped, nothing hidden by an edit
list). Every failure to open or describe a clip is a VideoReadError (video/errors.py) naming the file.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video.cut_short import missing_bytes
from video.errors import VideoReadError
from video.mp4_tables import MP4_FIRST_BOXES, display_rotation, read_mp4_index

# File signatures of the containers we read: an unopenable file that starts like one was cut short.
VIDEO_SIGNATURES = (b"\x1a\x45\xdf\xa3", b"RIFF")  # Matroska/WebM, AVI


@dataclass(frozen=True)
class VideoInfo:
    """What demuxing a clip tells us, without decoding a frame."""

    path: str
    width: int
    height: int
    fps: float  # the stream's average frame rate
    duration_s: float
    n_frames: int  # frames a full decode shows (counted from packets, discarded ones excluded)
    header_frames: int  # what the container header claims (0 when it does not say)
    keyframes: tuple[int, ...]  # indices (presentation order) of keyframes
    metadata_trusted: bool  # header count, timestamps and frame rate consistent: keyframe spans are safe
    frame_pts: tuple[int, ...]  # presentation timestamp of every shown frame, ascending
    keyframe_dts: tuple[int, ...]  # decode timestamp of each keyframe (where a span starts), aligned with keyframes
    rotation: int = 0  # display rotation (MP4/MOV display matrix), FFmpeg's convention: degrees counterclockwise
    time_base: Fraction | None = None  # seconds per unit of frame_pts

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the frames as shown, and as read: a player's rotation applied."""
        return (self.height, self.width) if self.rotation in (90, -90) else (self.width, self.height)


def _classify_open_failure(path: Path, error: Exception) -> VideoReadError:
    with open(path, "rb") as f:
        head = f.read(12)
    looks_like_video = head.startswith(VIDEO_SIGNATURES) or head[4:8] in MP4_FIRST_BOXES
    return VideoReadError(path, "truncated" if looks_like_video else "not_a_video", str(error))


@contextmanager
def _metadata_errors(path):
    """Any failure to read a clip's metadata becomes a VideoReadError naming the file (never a bare traceback)."""
    try:
        yield
    except VideoReadError:
        raise
    except av.FFmpegError as error:
        raise VideoReadError(path, "corrupt", str(error)) from error
    except Exception as error:  # a header crafted or damaged so that PyAV or our tables trip over it
        raise VideoReadError(path, "corrupt", f"{type(error).__name__}: {error}") from error


def open_clip(path: str | os.PathLike):
    """An open PyAV container with a video stream FFmpeg can decode; any other outcome is a VideoReadError."""
    path = Path(path)
    try:
        if not path.is_file():
            raise VideoReadError(path, "missing")
        if path.stat().st_size == 0:
            raise VideoReadError(path, "empty")
    except OSError as error:
        raise VideoReadError(path, "unreadable", error.strerror or str(error)) from None
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise _classify_open_failure(path, error) from None
    except OSError as error:
        raise VideoReadError(path, "unreadable", error.strerror or str(error)) from None
    except Exception as error:
        raise VideoReadError(path, "corrupt", f"{type(error).__name__}: {error}") from error
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "not_a_video", "no video stream")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise VideoReadError(path, "unknown_codec", "the video stream has no codec FFmpeg can decode")
    return container


def _is_constant_rate(sorted_pts: list[int]) -> bool:
    """Steps between frames equal, within one tick of timestamp rounding."""
    steps = np.diff(sorted_pts)
    return len(steps) == 0 or int(steps.max()) - int(steps.min()) <= 1


def _spans_are_safe(stream, frame_pts: tuple, keyframes: tuple, fps: float) -> bool:
    """Header count equals the frames shown, one timestamp each at a constant rate, and frame 0 is a keyframe."""
    return (
        stream.frames == len(frame_pts)
        and stream.duration is not None
        and fps > 0
        and len(set(frame_pts)) == len(frame_pts)
        and bool(keyframes)
        and keyframes[0] == 0
        and _is_constant_rate(list(frame_pts))
    )


def _check_not_cut_short(container, path, n_frames, header_frames, n_discarded, duration_s, fps) -> None:
    """A file that ends before its own structure says it does was cut short (a partial download).

    A header's frame count alone proves nothing (FFmpeg's AVI muxer counts one frame too many when there is an
    audio track): where it promises more frames than are present, the file's declared size decides."""
    if header_frames > n_frames and n_discarded == 0:
        cut = missing_bytes(path)
        if cut is not None:
            raise VideoReadError(
                path, "truncated", f"header promises {header_frames} frames, {n_frames} present; {cut}"
            )
    # Matroska/WebM state no frame count, only a duration; audio may outlast video, so only video-only files.
    header_duration_s = container.duration / av.time_base if container.duration else 0.0
    slack_s = 2 / fps if fps else 0.1
    if header_frames == 0 and len(container.streams) == 1 and duration_s + slack_s < header_duration_s:
        raise VideoReadError(path, "truncated", f"{duration_s:.2f} s of frames, header says {header_duration_s:.2f} s")


def demux(container, path, keep_packets: bool) -> tuple[VideoInfo, list]:
    """Describe the video stream from its packets; with ``keep_packets`` also return them, in decode order."""
    with _metadata_errors(path):
        return _demux_stream(container, path, keep_packets)


def _demux_stream(container, path, keep_packets: bool) -> tuple[VideoInfo, list]:
    stream = container.streams.video[0]
    shown = []  # (pts, dts, is_keyframe) of every packet a decode will show
    kept = []
    all_timestamped = True
    n_discarded = 0  # packets kept only to decode others (an MP4 edit list cut them)
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.is_discard:
                n_discarded += 1
                continue
            if packet.is_corrupt:
                raise VideoReadError(path, "truncated", "corrupt packet")
            all_timestamped &= packet.pts is not None and packet.dts is not None
            shown.append((packet.pts, packet.dts, packet.is_keyframe))
            if keep_packets:
                kept.append(packet)
    except av.FFmpegError as error:
        raise VideoReadError(path, "truncated", str(error)) from None
    if not shown:
        raise VideoReadError(path, "no_frames")

    header_frames = stream.frames
    fps = float(stream.average_rate) if stream.average_rate else 0.0
    if all_timestamped:
        shown.sort()
    frame_pts = tuple(pts for pts, _, _ in shown) if all_timestamped else ()
    keyframes = tuple(i for i, (_, _, key) in enumerate(shown) if key)
    trusted = all_timestamped and n_discarded == 0 and _spans_are_safe(stream, frame_pts, keyframes, fps)
    header_right = n_discarded == 0 and header_frames == len(shown)  # e.g. a variable frame rate, nothing hidden
    if stream.duration is not None and (trusted or header_right):
        duration_s = float(stream.duration * stream.time_base)  # what LLaMA-Factory's sampler reads
    elif all_timestamped and len(frame_pts) > 1:
        step = (frame_pts[-1] - frame_pts[0]) / (len(frame_pts) - 1)
        duration_s = float((frame_pts[-1] - frame_pts[0] + step) * stream.time_base)
    else:
        duration_s = len(shown) / fps if fps else 0.0
    _check_not_cut_short(container, path, len(shown), header_frames, n_discarded, duration_s, fps)
    info = VideoInfo(
        path=str(path),
        width=stream.width,
        height=stream.height,
        fps=fps,
        duration_s=duration_s,
        n_frames=len(shown),
        header_frames=header_frames,
        keyframes=keyframes,
        metadata_trusted=trusted,
        frame_pts=frame_pts,
        keyframe_dts=tuple(shown[i][1] for i in keyframes) if trusted else (),
        rotation=display_rotation(path),
        time_base=stream.time_base,
    )
    return info, kept


def info_from_mp4_index(container, path) -> VideoInfo | None:
    """A trusted VideoInfo from an MP4's sample tables, no demux pass; None where only a demux can tell."""
    with _metadata_errors(path):
        return _info_from_tables(container, path)


def _info_from_tables(container, path) -> VideoInfo | None:
    index = read_mp4_index(path)
    stream = container.streams.video[0]
    if index is None or stream.time_base != Fraction(1, index.timescale):
        return None
    order = np.argsort(index.pts, kind="stable")  # decode order -> presentation order
    frame_pts = tuple(index.pts[order].tolist())
    keyframes = tuple(np.flatnonzero(index.is_keyframe[order]).tolist())
    fps = float(stream.average_rate) if stream.average_rate else 0.0
    if not _spans_are_safe(stream, frame_pts, keyframes, fps):
        return None
    return VideoInfo(
        path=str(path),
        width=stream.width,
        height=stream.height,
        fps=fps,
        duration_s=float(stream.duration * stream.time_base),
        n_frames=len(frame_pts),
        header_frames=stream.frames,
        keyframes=keyframes,
        metadata_trusted=True,
        frame_pts=frame_pts,
        keyframe_dts=tuple(index.dts[order][list(keyframes)].tolist()),
        rotation=display_rotation(path),
        time_base=stream.time_base,
    )


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Describe ``path``'s video stream without decoding: from an MP4's sample tables, else by demuxing it.

    Raises VideoReadError (its ``reason`` one of REASONS) for any clip whose metadata cannot be read, never
    another error.
    """
    container = open_clip(path)
    try:
        return info_from_mp4_index(container, path) or demux(container, path, keep_packets=False)[0]
    finally:
        container.close()
