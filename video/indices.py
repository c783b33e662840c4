"""Which frames to sample from a clip: LLaMA-Factory 0.9.5's stock formula, over the frames a decode really shows.

    from video.indices import frame_times, sample_indices
    sample_indices(probe_video("clip.mp4"), video_fps=8.0, video_maxlen=8)   # e.g. [0, 34, 68, ..., 239]
    sample_indices(240, 10.0, video_fps=8.0, video_maxlen=8)                 # from a frame count and a duration
    frame_times(probe_video("clip.mp4"), [0, 34])                           # seconds at which they are shown

Where the container's header is right these are the indices the stock sampler chooses; where it is wrong (MKV/WebM
report no frame count, edit-listed MP4s report frames that are never shown) they are spread over the frames shown.
"""

import math

import numpy as np

from video.container import VideoInfo


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


def frame_times(info: VideoInfo, indices: list[int]) -> list[float]:
    """Seconds from the first frame shown to each of ``indices``: when a player shows those frames.

    Where the probe trusts the clip (header count right, constant frame rate) that is ``index / fps``, the very
    arithmetic of LLaMA-Factory's stock plugin, so the times are bit-for-bit the stock ones; otherwise (MKV/WebM,
    edit lists, variable frame rates) the frames' own presentation timestamps say it.
    """
    if info.metadata_trusted or not info.frame_pts or info.time_base is None:
        return [index / info.fps for index in indices]
    first = info.frame_pts[0]
    return [float((info.frame_pts[index] - first) * info.time_base) for index in indices]
