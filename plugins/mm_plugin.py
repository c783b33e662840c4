"""LLaMA-Factory's Qwen2-VL multimodal plugin with our video reading (see the video package, video/read.py).

Only where frames come from changes: token counts use our probe (frames really shown, no decoding) and
pixels use our frame-exact reader. Resizing, odd-count padding, the processor call and token expansion stay
LLaMA-Factory's own, so a clip whose header is right gives exactly the stock plugin's tokens and pixels.
The LLaMA-Factory hooks behind clip_metadata and read_videos are reached through plugins/llamafactory_boundary.py.
"""

import os
from dataclasses import dataclass
from typing import Any

from PIL import Image
from typing_extensions import override

from plugins.llamafactory_boundary import QwenVideoPlugin, is_frame_list
from video import VideoReadError, probe_video, read_sampled_frames, sample_indices

FRAME_FIX = "pass a video file path, or frames as 8-bit RGB PIL images: the processor divides by 255 itself"
CHANGED_SINCE_PREFLIGHT = (
    "The preflight decodes these very frames of every clip before training, so this clip passed preflight but "
    "fails now: it changed on disk? Replace it, or rerun make preflight (python -m plugins.preflight CONFIG.yaml) "
    "to list every such clip and drop them (--drop-offending DIR)."
)


class ClipReadError(VideoReadError):
    """A clip whose frames cannot be read when a batch is built (the error names the clip and what to do)."""

    def __init__(self, error: VideoReadError):
        super().__init__(error.path, error.reason, error.detail)
        self.args = (f"{self.args[0]}\n{CHANGED_SINCE_PREFLIGHT}",)


def check_video_input(video) -> None:
    """A clip path, or a list of 8-bit PIL frames (or image paths). Float frames (e.g. normalised to [0,1]) would be
    rescaled twice by the processor and reach the model as near-constant pixels with no error: refuse them here."""
    if isinstance(video, (str, os.PathLike)):
        return
    if not isinstance(video, (list, tuple)):
        raise ValueError(f"a video given as {type(video).__name__} is not accepted: {FRAME_FIX}")
    for frame in video:
        if isinstance(frame, Image.Image):
            if frame.mode in ("F", "I") or frame.mode.startswith("I;"):
                raise ValueError(f"a video frame has PIL mode {frame.mode!r}, not 8-bit: {FRAME_FIX}")
        elif hasattr(frame, "dtype"):  # numpy array or torch tensor
            kind = "not 8-bit" if str(frame.dtype) not in ("uint8", "torch.uint8") else "use PIL.Image.fromarray"
            raise ValueError(f"a video frame given as a {frame.dtype} array ({kind}): {FRAME_FIX}")
        elif not isinstance(frame, (str, os.PathLike, dict)):
            raise ValueError(f"a video frame given as {type(frame).__name__} is not accepted: {FRAME_FIX}")


@dataclass
class ExactQwen2VLPlugin(QwenVideoPlugin):
    """``qwen2_vl`` with frame sampling by video.read; an unreadable clip raises VideoReadError
    (ClipReadError where frames are read: a clip that passed the preflight's decode check and fails now)."""

    @override
    def clip_metadata(self, video, video_fps: float, video_maxlen: int) -> dict[str, Any] | None:
        if not isinstance(video, (str, os.PathLike)):
            return None  # in-memory frames: LLaMA-Factory regularizes them to count tokens
        info = probe_video(video)
        width, height = info.display_size  # frames are read upright, so the tokens are counted upright
        return {
            "width": width,
            "height": height,
            "average_fps": info.fps,
            "sample_indices": sample_indices(info, video_fps=video_fps, video_maxlen=video_maxlen),
        }

    @override
    def read_videos(self, videos: list, **kwargs) -> dict[str, list]:
        video_fps, video_maxlen = kwargs.get("video_fps", 2.0), kwargs.get("video_maxlen", 128)
        results: dict[str, list] = {"videos": [], "fps_per_video": [], "durations": [], "frames_indices": []}
        for video in videos:
            check_video_input(video)
            if is_frame_list(video):  # already sampled frames: the stock path
                for key, values in self.stock_read_videos([video], **kwargs).items():
                    results[key].extend(values)
                continue
            try:
                info, indices, arrays = read_sampled_frames(video, video_fps=video_fps, video_maxlen=video_maxlen)
            except VideoReadError as error:
                raise ClipReadError(error) from None
            frames = [Image.fromarray(frame) for frame in arrays]
            if len(frames) % 2 != 0:  # Qwen2-VL's temporal patch is 2 frames
                frames.append(frames[-1])
            results["videos"].append(self.resize_frames(frames, **kwargs))
            results["fps_per_video"].append(len(indices) / info.duration_s)
            results["durations"].append(info.duration_s)
            results["frames_indices"].append([index / info.fps * video_fps for index in indices])
        return results
