"""Read exactly the frames a sampled clip needs: probe without decoding, pick indices, decode only what they need.

    from plugins.video_sampling import probe_video, sample_indices, read_frames, read_sampled_frames
    info = probe_video("clip.mp4")                                   # no decoding: counts, timestamps, keyframes
    indices = sample_indices(info, video_fps=8.0, video_maxlen=8)    # LLaMA-Factory's stock indices
    frames = read_frames(info, indices)                              # RGB uint8 arrays, equal to a full decode's
    info, indices, frames = read_sampled_frames("clip.mp4", video_fps=8.0, video_maxlen=8)  # all three, one open

Frame indices count the frames a full decode shows, in presentation order. Where the container's header is
right they are the indices LLaMA-Factory 0.9.5's stock sampler chooses; where it is wrong (MKV/WebM report no
frame count, edit-listed MP4s report frames that are never shown) they are spread over the frames really shown.

When the metadata can be trusted (header count equals the frames shown, constant frame rate, every frame
timestamped, nothing hidden by an edit list), decoding starts at the keyframe before each target and goes forward,
visiting targets in order. For plain MP4/MOV files the metadata comes from the sample tables
(plugins/mp4_index.py) and each span is reached by a seek, so only the spans' packets are read; for other
containers one demux pass learns it and the spans are fed from the packets it kept. H.264 frames that nothing
references (most B-frames) are skipped unless they are targets: no other frame's pixels depend on them.
Otherwise decoding starts at the first frame and stops after the last target. Either way every returned frame is
matched to its target by timestamp or position, so a decode that lands wrong starts over on the next path
(seek, then kept packets, then from the start) instead of returning a different frame.
"""

import bisect
import itertools
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from plugins.mp4_index import MP4_FIRST_BOXES, display_rotation, read_mp4_index

# File signatures of the containers we read: an unopenable file that starts like one was cut short.
VIDEO_SIGNATURES = (b"\x1a\x45\xdf\xa3", b"RIFF")  # Matroska/WebM, AVI
# Decoders whose "skip non-reference frames" mode is proven exact by tests/test_video_sampling.py.
SKIP_NONREF_CODECS = ("h264",)


class VideoReadError(Exception):
    """A clip that cannot be read. ``reason`` is one of the REASONS codes; the message names file and fix."""

    def __init__(self, path: str | os.PathLike, reason: str, detail: str = ""):
        self.path, self.reason, self.detail = str(path), reason, detail
        message = f"{self.path}: cannot read video ({reason}): {REASONS[reason]}"
        super().__init__(f"{message} [{detail}]" if detail else message)


REASONS = {
    "missing": "the file does not exist; check the path and the video directory",
    "empty": "the file has zero bytes; download it again",
    "unreadable": "the file cannot be opened (permission denied, name too long, I/O error); check the path",
    "not_a_video": "the file is not a video container PyAV can open, or has no video stream",
    "unknown_codec": "FFmpeg knows no codec for the video stream (or its description is corrupt); re-encode it",
    "corrupt": "the container header is corrupt; download the file again",
    "truncated": "the file is cut short or corrupt; download it again",
    "no_frames": "the video stream has no frames",
    "too_short": "the clip is shorter than the frames the config asks for",
}


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


def _open(path: str | os.PathLike):
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
    """A file that ends before its header says it does was cut short (a partial download)."""
    if header_frames > n_frames and n_discarded == 0:
        raise VideoReadError(path, "truncated", f"header promises {header_frames} frames, {n_frames} present")
    # Matroska/WebM state no frame count, only a duration; audio may outlast video, so only video-only files.
    header_duration_s = container.duration / av.time_base if container.duration else 0.0
    slack_s = 2 / fps if fps else 0.1
    if header_frames == 0 and len(container.streams) == 1 and duration_s + slack_s < header_duration_s:
        raise VideoReadError(path, "truncated", f"{duration_s:.2f} s of frames, header says {header_duration_s:.2f} s")


def _demux(container, path, keep_packets: bool) -> tuple[VideoInfo, list]:
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
    if stream.duration is not None and trusted:
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
    )
    return info, kept


def _info_from_mp4_index(container, path) -> VideoInfo | None:
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
    )


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Describe ``path``'s video stream without decoding: from an MP4's sample tables, else by demuxing it.

    Raises VideoReadError (its ``reason`` one of REASONS) for any clip whose metadata cannot be read, never
    another error.
    """
    container = _open(path)
    try:
        return _info_from_mp4_index(container, path) or _demux(container, path, keep_packets=False)[0]
    finally:
        container.close()


def sample_indices(
    info_or_n_frames: VideoInfo | int, duration_s: float | None = None, *, video_fps: float, video_maxlen: int
) -> list[int]:
    """Evenly spaced frame indices: min(frames, video_maxlen, floor(duration * video_fps)) of them, at least one.

    The formula of LLaMA-Factory 0.9.5's stock sampler, applied to the frames a decode really shows.
    """
    if isinstance(info_or_n_frames, VideoInfo):
        n_frames, duration_s = info_or_n_frames.n_frames, info_or_n_frames.duration_s
    else:
        n_frames = info_or_n_frames
    if n_frames <= 0 or duration_s is None:
        raise ValueError(f"sample_indices needs a positive frame count and a duration, got {n_frames}, {duration_s}")
    n_samples = min(n_frames, video_maxlen, max(1, math.floor(float(duration_s) * video_fps)))
    return np.linspace(0, n_frames - 1, n_samples).astype(np.int32).tolist()


class _SpanMissed(Exception):
    """A keyframe span did not give the frame the index said; decode from the start instead."""


def _frames_of(codec, packets, wanted_pts: frozenset, skip_nonref: bool):
    """Decode ``packets`` in order, then drain the decoder; with ``skip_nonref`` skip frames nothing refers to.

    A frame no other frame references (most B-frames) cannot change any other frame's pixels, so skipping it is
    exact; the targets themselves are always decoded.
    """
    for packet in packets:
        if packet.size == 0:
            continue
        if skip_nonref:
            codec.skip_frame = "DEFAULT" if packet.pts in wanted_pts else "NONREF"
        yield from codec.decode(packet)
    codec.skip_frame = "DEFAULT"
    yield from codec.decode(None)


def _to_rgb(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def _check_undamaged(frame, path: str, index: int) -> None:
    """A frame the targets depend on that the decoder had to conceal errors in: the file's data is damaged.

    FFmpeg hides such errors (the frame comes back patched up, only flagged), so a corrupt download would
    otherwise reach the model as garbage pixels; it is a read error instead, in the preflight and in training alike.
    """
    if frame.is_corrupt:
        raise VideoReadError(path, "truncated", f"frame {index} decoded with errors")


def _decode_by_keyframes(codec, packets_from, info: VideoInfo, targets: list[int], convert=_to_rgb) -> dict:
    """From the keyframe before each target group, decode forward, matching frames to targets by timestamp.

    ``packets_from(keyframe_slot)`` resets the decoder and returns the packets from that keyframe on;
    ``convert`` turns each target frame into what the caller keeps.
    """
    wanted = frozenset(targets)
    wanted_pts = frozenset(info.frame_pts[i] for i in targets)
    skip_nonref = codec.name in SKIP_NONREF_CODECS
    found: dict[int, np.ndarray] = {}
    decoded_up_to = -1  # index of the last frame the current decoder produced
    frames = None
    for target in targets:
        if target in found:
            continue
        keyframe_slot = bisect.bisect_right(info.keyframes, target) - 1
        if frames is None or info.keyframes[keyframe_slot] > decoded_up_to:
            frames = _frames_of(codec, packets_from(keyframe_slot), wanted_pts, skip_nonref)
            span_start = info.keyframes[keyframe_slot]
        target_pts = info.frame_pts[target]
        for frame in frames:
            if frame.pts is None:
                raise _SpanMissed
            index = bisect.bisect_left(info.frame_pts, frame.pts)
            if index >= len(info.frame_pts) or info.frame_pts[index] != frame.pts:
                raise _SpanMissed
            decoded_up_to = index
            if index >= span_start:  # leading frames of an open GOP reference the previous one: not ours to judge
                _check_undamaged(frame, info.path, index)
            if index in wanted and index not in found:
                found[index] = convert(frame)
            if frame.pts >= target_pts:
                break
        if target not in found:
            raise _SpanMissed
    return found


def _decode_kept_packets(stream, packets: list, info: VideoInfo, targets: list[int], convert=_to_rgb) -> dict:
    """Decode from packets already demuxed (decode order): the spans from each target's keyframe, no seeking.

    ``convert`` (RGB uint8 arrays by default) is a seam for bench/, which times the decoding alone.
    """
    codec = stream.codec_context
    packet_dts = [packet.dts for packet in packets]

    def packets_from(keyframe_slot: int):
        codec.flush_buffers()
        start = bisect.bisect_left(packet_dts, info.keyframe_dts[keyframe_slot])
        if start == len(packets) or packet_dts[start] != info.keyframe_dts[keyframe_slot]:
            raise _SpanMissed
        return iter(packets[start:])

    return _decode_by_keyframes(codec, packets_from, info, targets, convert)


def _decode_by_seeking(container, info: VideoInfo, targets: list[int]) -> dict[int, np.ndarray]:
    """Seek to the keyframe before each target and decode forward: only the spans' packets are read."""
    stream = container.streams.video[0]
    codec = stream.codec_context

    def packets_from(keyframe_slot: int):
        codec.flush_buffers()
        # FFmpeg's MP4 demuxer seeks by presentation time; the first packet must be the keyframe we asked for.
        container.seek(info.frame_pts[info.keyframes[keyframe_slot]], stream=stream, backward=True)
        packets = container.demux(stream)
        first = next((packet for packet in packets if packet.size), None)
        if first is None or not first.is_keyframe or first.dts != info.keyframe_dts[keyframe_slot]:
            raise _SpanMissed
        return itertools.chain([first], packets)

    return _decode_by_keyframes(codec, packets_from, info, targets)


def _decode_from_start(container, stream, targets: list[int]) -> dict[int, np.ndarray]:
    """Decode in order from the first frame, keeping the targets, stopping after the last one."""
    wanted, last = set(targets), max(targets)
    found: dict[int, np.ndarray] = {}
    container.seek(0)
    stream.codec_context.flush_buffers()
    stream.codec_context.skip_frame = "DEFAULT"  # a failed keyframe path may have left frames skipped
    for index, frame in enumerate(container.decode(stream)):
        _check_undamaged(frame, container.name, index)
        if index in wanted:
            found[index] = _to_rgb(frame)
        if index >= last:
            break
    return found


def _checked_targets(info: VideoInfo, indices: list[int]) -> list[int]:
    bad = [i for i in indices if not 0 <= i < info.n_frames]
    if bad:
        raise ValueError(f"{info.path}: frame indices {bad} outside the clip's {info.n_frames} frames")
    return sorted(set(int(i) for i in indices))


def _in_order_asked(info: VideoInfo, found: dict[int, np.ndarray], indices: list[int]) -> list[np.ndarray]:
    """The frames asked for, in the order asked, turned upright as a player shows them (phone clips)."""
    missing = sorted(set(int(i) for i in indices) - found.keys())
    if missing:
        raise VideoReadError(info.path, "truncated", f"frames {missing} could not be decoded")
    if info.rotation:
        return [np.ascontiguousarray(np.rot90(found[int(i)], k=info.rotation // 90)) for i in indices]
    return [found[int(i)] for i in indices]


def _decode_targets(container, path, info: VideoInfo, packets: list, targets: list[int]) -> dict[int, np.ndarray]:
    """Trusted clips: the targets' keyframe spans from the kept packets; otherwise, or if that misses, from frame 0."""
    stream = container.streams.video[0]
    try:
        if info.metadata_trusted:
            try:
                return _decode_kept_packets(stream, packets, info, targets)
            except _SpanMissed:
                pass
        return _decode_from_start(container, stream, targets)
    except av.FFmpegError as error:
        raise VideoReadError(path, "truncated", str(error)) from None


def _read(path: str | os.PathLike, choose_indices) -> tuple[VideoInfo, list[int], dict[int, np.ndarray]]:
    """``(info, indices, frames by index)``; ``choose_indices(info)`` picks the frames.

    MP4 sample tables and seeks where they serve, else (or if a seek lands wrong: the clip is reopened) a demux.
    """
    container = _open(path)
    try:
        info = _info_from_mp4_index(container, path)
        if info is not None:
            indices = choose_indices(info)
            try:
                return info, indices, _decode_by_seeking(container, info, _checked_targets(info, indices))
            except _SpanMissed:
                container.close()
                container = _open(path)  # start over on the demux path, from a fresh demuxer
            except av.FFmpegError as error:
                raise VideoReadError(path, "truncated", str(error)) from None
        info, packets = _demux(container, path, keep_packets=True)
        indices = choose_indices(info)
        return info, indices, _decode_targets(container, path, info, packets, _checked_targets(info, indices))
    finally:
        container.close()


def read_frames(video: VideoInfo | str | os.PathLike, indices: list[int]) -> list[np.ndarray]:
    """Frames ``indices`` (of a full decode, presentation order) as RGB uint8 HxWx3 arrays, in the order asked."""
    if not indices:
        return []
    info, _, found = _read(video.path if isinstance(video, VideoInfo) else video, lambda info: indices)
    return _in_order_asked(info, found, indices)


def read_sampled_frames(
    path: str | os.PathLike, *, video_fps: float, video_maxlen: int
) -> tuple[VideoInfo, list[int], list[np.ndarray]]:
    """Probe, sample and read in one open: ``(info, indices, frames)``, as probe_video/sample_indices/read_frames."""

    def choose_indices(info: VideoInfo) -> list[int]:
        return sample_indices(info, video_fps=video_fps, video_maxlen=video_maxlen)

    info, indices, found = _read(path, choose_indices)
    return info, indices, _in_order_asked(info, found, indices)
