"""A clip's video tokens, counted in one place: from the clip's metadata (clip_metadata: our probe, or the frame
store) and the processor LLaMA-Factory loaded, without decoding a frame.

    grid = video_grid(plugin, metadata, processor)     # (t, h, w) patches; None: the processor lacks patch sizes
    video_token_count(grid, processor)                 # <|video_pad|> tokens of the clip: t * h * w / merge_size**2
    qwen3_video_text(plugin, grid, timestamps, processor)   # Qwen3-VL: "<0.1 seconds><|vision_start|>...<|vision_end|>"
    clip_seconds(metadata)                             # the times of the sampled frames (Qwen3-VL's timestamps)

The family decides the resize (the plugin's family_resize: Qwen2-VL's smart_resize, or Qwen3-VL's, which also takes
the frame count) and, for Qwen3-VL, the text around each temporal patch. The arithmetic is LLaMA-Factory 0.9.5's
(Qwen2VLPlugin._get_qwen_video_grid_metadata): the sampled frames padded to an even count, each resized to the
video pixel budget (LLaMA-Factory's resize), then the family's smart_resize within the processor's pixel bounds.
Callers: both plugins' token expansion (video_token_metadata, plugins/mm_plugin*.py), so the preflight's count and
training's ids; evaluation's check of tokens against features (evaluation/inputs.py). tests/test_video_tokens.py
holds it against the stock plugin's expansion and the processor's own output on the clip matrix.
"""

import math
from typing import Any

from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS


def _bounds(video_processor) -> tuple[int, int] | None:
    """(min_pixels, max_pixels) of the processor's smart_resize, or None where it has none."""
    size = getattr(video_processor, "size", None)
    if isinstance(size, dict):
        bounds = size.get("shortest_edge"), size.get("longest_edge")
    else:
        bounds = getattr(size, "shortest_edge", None), getattr(size, "longest_edge", None)
    return None if None in bounds else bounds


def video_grid(plugin, metadata: dict[str, Any], processor) -> tuple[int, int, int] | None:
    """(temporal, height, width) patches the processor makes of the clip ``metadata`` describes (width, height and
    sample_indices), as the ``plugin``'s family resizes them; None where the processor lacks its patch sizes (then
    LLaMA-Factory counts from the frames it reads)."""
    image_processor = getattr(processor, "image_processor", None)
    video_processor = getattr(processor, "video_processor", None) or image_processor
    if image_processor is None or video_processor is None:
        return None
    patch = getattr(video_processor, "patch_size", None)
    temporal = getattr(video_processor, "temporal_patch_size", None)
    merge = getattr(video_processor, "merge_size", None)
    bounds = _bounds(video_processor)
    if patch is None or temporal is None or merge is None or bounds is None:
        return None
    budget = getattr(processor, "video_max_pixels", LLAMAFACTORY_DEFAULTS["video_max_pixels"])
    smallest = getattr(processor, "video_min_pixels", LLAMAFACTORY_DEFAULTS["video_min_pixels"])
    width, height = plugin.regularized_frame_size(metadata["width"], metadata["height"], budget, smallest)
    frames = len(metadata["sample_indices"])
    frames += frames % 2  # the last frame repeated to fill the temporal patch
    height, width = plugin.family_resize(frames, height, width, patch, temporal, merge, *bounds)
    return math.ceil(frames / temporal), height // patch, width // patch


def video_token_count(grid, processor) -> int:
    """The vision tokens of a video of ``grid`` (t, h, w) patches: one per merge_size x merge_size patches."""
    t, h, w = (int(value) for value in grid)
    return t * h * w // processor.video_processor.merge_size**2


def clip_seconds(metadata: dict[str, Any]) -> list[float]:
    """The times of the clip's sampled frames: its ``frame_times`` (our probe), else LLaMA-Factory's
    ``index / average_fps`` (metadata from elsewhere, e.g. a store built before frame_times were kept)."""
    seconds = metadata.get("frame_times")
    if seconds is None:
        seconds = [index / metadata["average_fps"] for index in metadata["sample_indices"]]
    return list(seconds)


def qwen3_video_text(plugin, grid, timestamps: list[float], processor) -> str:
    """Qwen3-VL's expansion of one video placeholder: per temporal patch, its time then its vision tokens."""
    t, h, w = (int(value) for value in grid)
    per_patch = video_token_count((1, h, w), processor)
    patch = f"{plugin.vision_bos_token}{plugin.video_token * per_patch}{plugin.vision_eos_token}"
    return "".join(f"<{timestamps[index]:.1f} seconds>{patch}" for index in range(t))
