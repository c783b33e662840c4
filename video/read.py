"""Read exactly the frames a sampled clip needs: probe without decoding, pick indices, decode only what they need.

    from video import read_sampled_frames
    info, indices, frames = read_sampled_frames("clip.mp4", video_fps=8.0, video_maxlen=8)
    # info: the probe (probe_video's), indices: LLaMA-Factory's stock ones (sample_indices), frames: RGB uint8
    # arrays equal to a full decode's, all from one open of the clip

The fallback chain: for plain MP4/MOV files whose sample tables are trusted (video/mp4_tables.py), seek to each
target's keyframe span; if a seek lands wrong, reopen the clip and demux it. A demuxed clip whose metadata is trusted
(video/container.py) decodes the spans from the packets it kept; otherwise, or if that misses, decoding starts at
the first frame and stops after the last target (video/decode.py). Frames come back in the order asked, turned
upright as a player shows them (a phone clip's display rotation).
"""

import os

import av
import numpy as np

from video.clip_span import span_view, split_clip_reference
from video.container import VideoInfo, demux, info_from_mp4_index, open_clip
from video.decode import SpanMissed, decode_by_seeking, decode_from_start, decode_kept_packets
from video.errors import VideoReadError
from video.indices import sample_indices


def _checked_targets(info: VideoInfo, indices: list[int]) -> list[int]:
    bad = [i for i in indices if not 0 <= i < info.n_frames]
    if bad:
        raise ValueError(f"{info.path}: frame indices {bad} outside the clip's {info.n_frames} frames")
    return sorted({int(i) for i in indices})


def _in_order_asked(info: VideoInfo, found: dict[int, np.ndarray], indices: list[int]) -> list[np.ndarray]:
    """The frames asked for, in the order asked, turned upright as a player shows them (phone clips)."""
    missing = sorted({int(i) for i in indices} - found.keys())
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
                return decode_kept_packets(stream, packets, info, targets)
            except SpanMissed:
                pass
        return decode_from_start(container, stream, targets)
    except av.FFmpegError as error:
        raise VideoReadError(path, "truncated", str(error)) from None


def _read(reference: str | os.PathLike, choose_indices) -> tuple[VideoInfo, list[int], dict[int, np.ndarray]]:
    """``(info, indices, frames by index)``; ``choose_indices(info)`` picks the frames. A span of a longer video
    (``video.mp4#t=START,END``, video/clip_span.py) is read as its own clip: info, indices and frames are the span's.
    """
    path, span = split_clip_reference(reference)
    if span is None:
        return _read_file(path, choose_indices)

    views = []  # (span view, its first frame's index) of each whole-video info read; the last is the one returned

    def choose_in_span(info: VideoInfo) -> list[int]:
        views.append(span_view(info, span, os.fspath(reference)))
        view, first = views[-1]
        chosen = choose_indices(view)
        _checked_targets(view, chosen)  # inside the span, not merely inside the whole video
        return [first + index for index in chosen]

    _, indices, found = _read_file(path, choose_in_span)
    view, first = views[-1]
    return view, [index - first for index in indices], {index - first: frame for index, frame in found.items()}


def _read_file(path: str | os.PathLike, choose_indices) -> tuple[VideoInfo, list[int], dict[int, np.ndarray]]:
    """``(info, indices, frames by index)`` of a whole file; ``choose_indices(info)`` picks the frames.

    MP4 sample tables and seeks where they serve, else (or if a seek lands wrong: the clip is reopened) a demux.
    """
    container = open_clip(path)
    try:
        info = info_from_mp4_index(container, path)
        if info is not None:
            indices = choose_indices(info)
            try:
                return info, indices, decode_by_seeking(container, info, _checked_targets(info, indices))
            except SpanMissed:
                container.close()
                container = open_clip(path)  # start over on the demux path, from a fresh demuxer
            except av.FFmpegError as error:
                raise VideoReadError(path, "truncated", str(error)) from None
        info, packets = demux(container, path, keep_packets=True)
        indices = choose_indices(info)
        return info, indices, _decode_targets(container, path, info, packets, _checked_targets(info, indices))
    finally:
        container.close()


def read_sampled_frames(
    path: str | os.PathLike, *, video_fps: float, video_maxlen: int
) -> tuple[VideoInfo, list[int], list[np.ndarray]]:
    """Probe, sample and read in one open: ``(info, indices, frames)``: probe_video's info, sample_indices' indices
    and their frames (of a full decode, presentation order) as RGB uint8 HxWx3 arrays, in the order of indices."""

    def choose_indices(info: VideoInfo) -> list[int]:
        return sample_indices(info, video_fps=video_fps, video_maxlen=video_maxlen)

    info, indices, found = _read(path, choose_indices)
    return info, indices, _in_order_asked(info, found, indices)
