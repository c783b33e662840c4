"""Decode strategies: the frames a sampled clip needs, matched to their targets by timestamp or position.

From the keyframe before each target, decode forward, visiting targets in order: reached by a seek (plain MP4/MOV,
only the spans' packets are read: ``decode_by_seeking``) or fed from packets a demux kept (``decode_kept_packets``).
H.264 frames that nothing references (most B-frames) are skipped unless they are targets: no other frame's pixels
depend on them. A span that lands anywhere but on the frames the index promised raises SpanMissed, and the caller
(video/read.py) starts over on the next strategy; ``decode_from_start`` decodes in order from the first frame.
A frame decoded with concealed errors is a VideoReadError, never garbage pixels handed on.
"""

import bisect
import itertools

import numpy as np

from video.container import VideoInfo
from video.errors import VideoReadError

# Decoders whose "skip non-reference frames" mode is proven exact by tests/test_video_read.py.
SKIP_NONREF_CODECS = ("h264",)


class SpanMissed(Exception):
    """A keyframe span did not give the frame the index said; decode from the start instead."""


def frames_of(codec, packets, wanted_pts: frozenset, skip_nonref: bool):
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


def to_rgb(frame) -> np.ndarray:
    """A decoded frame as an RGB uint8 HxWx3 array."""
    return frame.to_ndarray(format="rgb24")


def check_undamaged(frame, path: str, index: int) -> None:
    """A frame the targets depend on that the decoder had to conceal errors in: the file's data is damaged.

    FFmpeg hides such errors (the frame comes back patched up, only flagged), so a corrupt download would
    otherwise reach the model as garbage pixels; it is a read error instead, in the preflight and in training alike.
    """
    if frame.is_corrupt:
        raise VideoReadError(path, "truncated", f"frame {index} decoded with errors")


def decode_by_keyframes(codec, packets_from, info: VideoInfo, targets: list[int]) -> dict[int, np.ndarray]:
    """From the keyframe before each target group, decode forward, matching frames to targets by timestamp.

    ``packets_from(keyframe_slot)`` resets the decoder and returns the packets from that keyframe on; the targets
    come back as RGB uint8 arrays by index.
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
            frames = frames_of(codec, packets_from(keyframe_slot), wanted_pts, skip_nonref)
            span_start = info.keyframes[keyframe_slot]
        target_pts = info.frame_pts[target]
        for frame in frames:
            if frame.pts is None:
                raise SpanMissed
            index = bisect.bisect_left(info.frame_pts, frame.pts)
            if index >= len(info.frame_pts) or info.frame_pts[index] != frame.pts:
                raise SpanMissed
            decoded_up_to = index
            if index >= span_start:  # leading frames of an open GOP reference the previous one: not ours to judge
                check_undamaged(frame, info.path, index)
            if index in wanted and index not in found:
                found[index] = to_rgb(frame)
            if frame.pts >= target_pts:
                break
        if target not in found:
            raise SpanMissed
    return found


def decode_kept_packets(stream, packets: list, info: VideoInfo, targets: list[int]) -> dict[int, np.ndarray]:
    """Decode from packets already demuxed (decode order): the spans from each target's keyframe, no seeking."""
    codec = stream.codec_context
    packet_dts = [packet.dts for packet in packets]

    def packets_from(keyframe_slot: int):
        codec.flush_buffers()
        start = bisect.bisect_left(packet_dts, info.keyframe_dts[keyframe_slot])
        if start == len(packets) or packet_dts[start] != info.keyframe_dts[keyframe_slot]:
            raise SpanMissed
        return iter(packets[start:])

    return decode_by_keyframes(codec, packets_from, info, targets)


def decode_by_seeking(container, info: VideoInfo, targets: list[int]) -> dict[int, np.ndarray]:
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
            raise SpanMissed
        return itertools.chain([first], packets)

    return decode_by_keyframes(codec, packets_from, info, targets)


def decode_from_start(container, stream, targets: list[int]) -> dict[int, np.ndarray]:
    """Decode in order from the first frame, keeping the targets, stopping after the last one."""
    wanted, last = set(targets), max(targets)
    found: dict[int, np.ndarray] = {}
    container.seek(0)
    stream.codec_context.flush_buffers()
    stream.codec_context.skip_frame = "DEFAULT"  # a failed keyframe path may have left frames skipped
    for index, frame in enumerate(container.decode(stream)):
        check_undamaged(frame, container.name, index)
        if index in wanted:
            found[index] = to_rgb(frame)
        if index >= last:
            break
    return found
