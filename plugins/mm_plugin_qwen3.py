"""LLaMA-Factory's Qwen3-VL multimodal plugin (Qwen3-VL, Qwen3.5, Qwen3.6) with our video reading and frame times.

Qwen3-VL writes a timestamp before each temporal patch of a video (``<0.7 seconds>``), so its token count depends on
the frame times. Frames, token counts and pixels come from our probe and reader as for Qwen2-VL
(plugins/mm_plugin.py, ExactVideoReading); the timestamps are the times of the frames really shown
(video.frame_times: ``index / fps`` where the header is right, exactly the stock plugin's arithmetic, else the frames'
presentation times), computed from the probe alone, so the preflight counts them without decoding (the count and
the text are plugins/video_tokens.py's, from each clip's metadata: token_metadata). Each video is
expanded with its own grid and times: the stock process_messages reads ``video_metadata`` by message index (a video
in any message but the first fails or takes another video's times) and every video's frame count from the first
video's grid. The steps it calls are reached through plugins/llamafactory_boundary.py (Qwen3VideoPlugin).
"""

from copy import deepcopy
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from llamafactory.extras.constants import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER
from transformers import Qwen3VLProcessor
from typing_extensions import override

from plugins.llamafactory_boundary import Qwen3VideoPlugin
from plugins.mm_plugin import ExactVideoReading
from plugins.video_tokens import clip_seconds, qwen3_video_text

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

    def token_metadata(self, grids: list, clips: list[dict], sampling: dict) -> dict[str, Any]:
        """The grids, and each clip's frame positions as LLaMA-Factory's ``video_metadata`` (``frames_indices``: the
        times of the frames really shown x video_fps, ``fps``: video_fps) that its timestamps are written from."""
        video_fps = sampling["video_fps"]
        # times x video_fps, then / video_fps in timestamps(): the stock plugin's arithmetic, bit for bit
        positions = [[time * video_fps for time in clip_seconds(metadata)] for metadata in clips]
        return {
            **super().token_metadata(grids, clips, sampling),
            "video_metadata": [SimpleNamespace(frames_indices=indices, fps=video_fps) for indices in positions],
        }

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
        image_merge = processor.image_processor.merge_size**2
        # counted from clip metadata (token_metadata), or from frames read where a video is given as frames
        video_texts = [
            qwen3_video_text(self, grid, self.timestamps(processor, metadata.frames_indices, metadata.fps), processor)
            for grid, metadata in zip(video_grids, inputs.get("video_metadata", []), strict=True)
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
