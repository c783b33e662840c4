"""LLaMA-Factory's Qwen2-VL multimodal plugin with our video reading (see the video package, video/read.py).

Only where frames come from changes: token counts use our probe (frames really shown, no decoding) and
pixels use our frame-exact reader. Resizing, odd-count padding, the processor call and token expansion stay
LLaMA-Factory's own, so a clip whose header is right gives exactly the stock plugin's tokens and pixels.
The LLaMA-Factory hooks behind clip_metadata and read_videos are reached through plugins/llamafactory_boundary.py.
ExactVideoReading is shared with the Qwen3-VL plugin (plugins/mm_plugin_qwen3.py). Times given to the model come
from the frames really shown (video.frame_times): Qwen2.5-VL's ``second_per_grid_ts`` is LLaMA-Factory's
``temporal_patch_size / (frames sampled / seconds shown)``, Qwen3-VL's timestamps are the frames' times.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor
from typing_extensions import override

from frame_store.plugin_hook import read_through_store, stored_metadata
from plugins.heartbeat import reading_clip
from plugins.llamafactory_boundary import BasePlugin, QwenVideoPlugin, is_frame_list, processor_video_sampling
from plugins.video_tokens import video_grid
from video import VideoReadError, frame_times, probe_video, read_sampled_frames, sample_indices
from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

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


class UnsupportedProcessor(ValueError):
    """A model whose processor the exact video path was not verified with: refused rather than run half-right."""


class UnsupportedFamily(ValueError):
    """A ``<template>_exact`` whose LLaMA-Factory plugin reads video its own way (GLM-4V, Qwen-Omni): refused."""


@dataclass
class RefusedVideoPlugin(BasePlugin):
    """The plugin of a ``<template>_exact`` we cannot make exact: any sample it is asked to build raises
    UnsupportedFamily with ``refusal`` (the template and the reason), before anything is trained or generated."""

    refusal: str = ""

    @override
    def process_messages(self, messages, images, videos, audios, processor):
        raise UnsupportedFamily(self.refusal)

    @override
    def get_mm_inputs(self, images, videos, audios, imglens, vidlens, audlens, batch_ids, processor):
        raise UnsupportedFamily(self.refusal)


@dataclass
class ExactVideoReading:
    """clip_metadata and read_videos by our probe and frame-exact reader (mixed into each family's plugin).

    An unreadable clip raises VideoReadError (ClipReadError where frames are read: a clip that passed the
    preflight's decode check and fails now). ``SUPPORTED_PROCESSORS``: the processor classes this family's exact
    path is verified with; any other is refused by name (check_processor). ``frame_store_root``: where frames and
    token metadata are read first (plugins/frame_source.py sets it from the run config at each entry point; the
    plugin travels inside the template into DataLoader workers); None: every clip is decoded.
    """

    SUPPORTED_PROCESSORS: ClassVar[tuple[type, ...]] = ()
    FAMILY: ClassVar[str] = ""
    frame_store_root: Path | None = None

    def check_processor(self, processor) -> None:
        """Raise UnsupportedProcessor unless ``processor`` (None: text only) is one this family is verified with."""
        if processor is None or type(processor) in self.SUPPORTED_PROCESSORS:  # a remote-code subclass is not proven
            return
        verified = ", ".join(cls.__name__ for cls in self.SUPPORTED_PROCESSORS)
        raise UnsupportedProcessor(
            f"the exact {self.FAMILY} video path is verified with {verified} only, and this model's processor is "
            f"{type(processor).__name__}: its frames, token counts and times are not proven to match what the "
            f"model expects. Use the stock template (the name without _exact), or a model whose processor is one "
            f"of those."
        )

    def clip_metadata(self, video, video_fps: float, video_maxlen: int) -> dict[str, Any] | None:
        if not isinstance(video, (str, os.PathLike)):
            return None  # in-memory frames: LLaMA-Factory regularizes them to count tokens
        stored = stored_metadata(self.frame_store_root, self, video, video_fps, video_maxlen)  # a store holds it?
        if stored is not None:
            return stored
        info = probe_video(video)
        width, height = info.display_size  # frames are read upright, so the tokens are counted upright
        indices = sample_indices(info, video_fps=video_fps, video_maxlen=video_maxlen)
        return {
            "width": width,
            "height": height,
            "average_fps": info.fps,
            "sample_indices": indices,
            "frame_times": frame_times(info, indices),  # ours (LLaMA-Factory reads the others): Qwen3-VL's timestamps
        }

    def video_token_metadata(self, videos: list, processor) -> dict[str, Any] | None:
        """Each clip's grid from its clip_metadata (plugins.video_tokens: the one token count); None where a video
        has none (frames given as images: LLaMA-Factory reads them all to count, as it does)."""
        if not videos:
            return super().video_token_metadata(videos, processor)
        sampling = processor_video_sampling(processor)
        clips = [self.clip_metadata(video, **sampling) for video in videos]
        grids = [video_grid(self, metadata, processor) if metadata is not None else None for metadata in clips]
        if None in grids:
            return None
        return self.token_metadata(grids, clips, sampling)

    def token_metadata(self, grids: list, clips: list[dict], sampling: dict) -> dict[str, Any]:
        """What the family's expansion reads besides the grids (nothing for Qwen2-VL)."""
        return {"video_grid_thw": torch.tensor(grids, dtype=torch.long)}

    def read_videos(self, videos: list, **kwargs) -> dict[str, list]:
        """Clips the frame store holds come from it (frame_store.plugin_hook); the others, decode_videos. Each clip
        is read on its own, named in this process's heartbeat while it is (plugins.heartbeat)."""
        if not videos:
            return read_through_store(self.frame_store_root, self, videos, kwargs, self.decode_videos)
        results: dict[str, list] = {}
        for video in videos:
            with reading_clip(video if isinstance(video, (str, os.PathLike)) else "<frames in memory>"):
                part = read_through_store(self.frame_store_root, self, [video], kwargs, self.decode_videos)
            for key, values in part.items():
                results.setdefault(key, []).extend(values)
        return results

    def decode_videos(self, videos: list, **kwargs) -> dict[str, list]:
        video_fps = kwargs.get("video_fps", LLAMAFACTORY_DEFAULTS["video_fps"])
        video_maxlen = kwargs.get("video_maxlen", LLAMAFACTORY_DEFAULTS["video_maxlen"])
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
            if len(frames) % 2 != 0:  # the temporal patch is 2 frames
                frames.append(frames[-1])
            results["videos"].append(self.resize_frames(frames, **kwargs))
            results["fps_per_video"].append(len(indices) / info.duration_s)
            results["durations"].append(info.duration_s)
            # LLaMA-Factory's "frames_indices" are frame times x video_fps (Qwen3-VL divides by video_fps again).
            results["frames_indices"].append([seconds * video_fps for seconds in frame_times(info, indices)])
        return results


@dataclass
class ExactQwen2VLPlugin(ExactVideoReading, QwenVideoPlugin):
    """``qwen2_vl`` (Qwen2-VL, Qwen2.5-VL) with frame sampling by video.read."""

    SUPPORTED_PROCESSORS = (Qwen2VLProcessor, Qwen2_5_VLProcessor)
    FAMILY = "qwen2_vl"

    @override
    def process_messages(self, messages, images, videos, audios, processor):
        self.check_processor(processor)
        return super().process_messages(messages, images, videos, audios, processor)

    @override
    def get_mm_inputs(self, images, videos, audios, imglens, vidlens, audlens, batch_ids, processor):
        self.check_processor(processor)
        return super().get_mm_inputs(images, videos, audios, imglens, vidlens, audlens, batch_ids, processor)
