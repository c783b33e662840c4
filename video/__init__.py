"""Our video reader: exactly the frames a full decode shows, decoding only what the sampled frames need.

    from video import VideoReadError, probe_video, read_sampled_frames, sample_indices
    info = probe_video("clip.mp4")                                   # no decoding: counts, timestamps, keyframes
    indices = sample_indices(info, video_fps=8.0, video_maxlen=8)    # LLaMA-Factory's stock indices
    info, indices, frames = read_sampled_frames("clip.mp4", video_fps=8.0, video_maxlen=8)  # all three, one open:
    # frames are RGB uint8 arrays, equal to a full decode's

One file per stage: errors.py (VideoReadError and its REASONS, the converter's vocabulary too), container.py
(open a clip, the probe: VideoInfo, probe_video), mp4_tables.py (MP4/MOV sample tables and display rotation, read
without a demux), indices.py (sample_indices), decode.py (decode strategies, damage checks), read.py
(read_sampled_frames: the fallback chain and rotation), clip_span.py (``video.mp4#t=START,END``: a span of a longer
video read as its own clip; probe_video and read_sampled_frames accept it). Nothing here imports LLaMA-Factory.

FRAMES_VERSION names the frames our reader and our plugins' read_videos return; the frame store's key includes it
(frame_store.key), so a stored frame is served only by code that returns the same frames.
"""

from video.clip_span import ClipSpan, clip_file, clip_reference, probe_video, split_clip_reference
from video.container import VideoInfo
from video.errors import REASONS, VideoReadError
from video.indices import frame_times, sample_indices
from video.mp4_tables import MP4_FIRST_BOXES, display_rotation, read_mp4_index
from video.read import read_sampled_frames

# Bump when a change alters the frames, their sampled indices or the per-clip values our reader and plugins return
# (tests/test_frames_golden.py fails until you do; then regenerate its golden: python -m tests.frames_golden).
# Comments, refactors and speed-ups that leave frames alone keep it, and with it every frame store.
FRAMES_VERSION = 1

__all__ = [
    "FRAMES_VERSION",
    "ClipSpan",
    "MP4_FIRST_BOXES",
    "REASONS",
    "VideoInfo",
    "VideoReadError",
    "clip_file",
    "clip_reference",
    "display_rotation",
    "frame_times",
    "probe_video",
    "read_mp4_index",
    "read_sampled_frames",
    "sample_indices",
    "split_clip_reference",
]
