"""LLaMA-Factory's Qwen3-VL multimodal plugin (Qwen3-VL, Qwen3.5, Qwen3.6) with our video reading and frame times.

Qwen3-VL writes a timestamp before each temporal patch of a video (``<0.7 seconds>``), so its token count depends on
the frame times. Frames, token counts and pixels come from our probe and reader as for Qwen2-VL
(plugins/mm_plugin.py, ExactVideoReading); the timestamps are the times of the frames really shown
(video.frame_times: ``index / fps`` where the header is right, exactly the stock plugin's arithmetic, else the frames'
presentation times), computed from the probe alone, so the preflight counts them without decoding. Each video is
expanded with its own grid and times: the stock process_messages reads ``video_metadata`` by message index (a video
in any message but the first fails or takes another video's times) and every video's frame count from the first
video's grid. The steps it calls are reached through plugins/llamafactory_boundary.py (Qwen3VideoPlugin).
"""

import os
from copy import deepcopy
from dataclasses import dataclass

from llamafactory.extras.constants import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER
from transformers import Qwen3VLProcessor
from typing_extensions import override

from plugins.llamafactory_boundary import Qwen3VideoPlugin, processor_video_sampling
from plugins.mm_plugin import ExactVideoReading

TOO_SMALL = (
    "a video is smaller than Qwen3-VL's 32-pixel grid on a side after LLaMA-Factory's resize (it fails the same way "
    "with the stock template): drop clips under 32 pixels on a side, or raise video_min_pixels (e.g. 4096) so they "
    "are upscaled"
)


@dataclass
class ExactQwen3VLPlugin(ExactVideoReading, Qwen3VideoPlugin):
    """``qwen3_vl`` with frame sampling by video.read and timestamps from the frames really shown."""

    SUPPORTED_PROCESSORS = (Qwen3VLProcessor,)
    FAMILY = "qwen3_vl"

    def video_timestamps(self, video, stock_metadata, processor) -> list[float]:
        """Seconds written before each temporal patch of ``video``: the ``frame_times`` of its clip_metadata (our
        probe, no decoding); where it has none (frames given as images), those of the frames read to count them."""
        sampling = processor_video_sampling(processor)
        # what the token count read (a frame store may serve it); None: the frames were read (read_videos) to count
        metadata = self.clip_metadata(video, **sampling) if isinstance(video, (str, os.PathLike)) else None
        if metadata is None:
            return self.timestamps(processor, stock_metadata.frames_indices, stock_metadata.fps)
        video_fps = sampling["video_fps"]
        seconds = metadata.get("frame_times")
        if seconds is None:  # metadata without our frame times (e.g. stored by an older build): LLaMA-Factory's
            seconds = [index / metadata["average_fps"] for index in metadata["sample_indices"]]
        # times x video_fps, then / video_fps in timestamps(): the stock plugin's arithmetic, bit for bit
        return self.timestamps(processor, [time * video_fps for time in seconds], video_fps)

    def video_text(self, grid, timestamps: list[float], merge_length: int) -> str:
        """One video's expansion: per temporal patch, its time then its vision tokens."""
        tokens_per_patch = int(grid[1:].prod()) // merge_length
        patch = f"{self.vision_bos_token}{self.video_token * tokens_per_patch}{self.vision_eos_token}"
        return "".join(f"<{timestamps[index]:.1f} seconds>{patch}" for index in range(int(grid[0])))

    @override
    def process_messages(self, messages, images, videos, audios, processor):
        self.check_processor(processor)
        if not self.expand_mm_tokens:
            return super().process_messages(messages, images, videos, audios, processor)
        self.check_inputs(messages, images, videos, audios, processor)
        try:
            inputs = self.token_inputs(images, videos, audios, processor)
        except ValueError as error:
            if "must be larger than factor" not in str(error):
                raise
            raise ValueError(f"{TOO_SMALL} ({error}; videos: {', '.join(map(str, videos))})") from None
        image_grids, video_grids = inputs.get("image_grid_thw", []), inputs.get("video_grid_thw", [])
        stock_metadata = inputs.get("video_metadata") or [None] * len(videos)
        image_merge = processor.image_processor.merge_size**2
        video_merge = processor.video_processor.merge_size**2
        video_texts = [
            self.video_text(grid, self.video_timestamps(video, metadata, processor), video_merge)
            for video, grid, metadata in zip(videos, video_grids, stock_metadata, strict=True)
        ]
        image_texts = [
            f"{self.vision_bos_token}{self.image_token * (int(grid.prod()) // image_merge)}{self.vision_eos_token}"
            for grid in image_grids
        ]
        messages = deepcopy(messages)
        for message in messages:
            content = message["content"]
            while IMAGE_PLACEHOLDER in content:
                content = content.replace(IMAGE_PLACEHOLDER, image_texts.pop(0), 1)
            while VIDEO_PLACEHOLDER in content:
                content = content.replace(VIDEO_PLACEHOLDER, video_texts.pop(0), 1)
            message["content"] = content
        return messages

    @override
    def get_mm_inputs(self, images, videos, audios, imglens, vidlens, audlens, batch_ids, processor):
        self.check_processor(processor)
        return super().get_mm_inputs(images, videos, audios, imglens, vidlens, audlens, batch_ids, processor)
