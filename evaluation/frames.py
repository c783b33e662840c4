"""The frames the model actually saw, recovered from its own input tensor, saved as one strip for the report.

Inverting the Qwen2-VL video processor's patch flattening (and its normalisation) gives back exactly the resized
frames behind ``pixel_values_videos`` — no second decode that could differ from what the model got.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

STRIP_COMMENT = "frames"  # the JPEG comment of a strip: "frames 8"


def frames_from_pixel_values(pixel_values_videos: torch.Tensor, grid_thw: torch.Tensor, video_processor) -> np.ndarray:
    """(frames, height, width, 3) uint8 frames of one video from its flattened patches and grid (t, h, w)."""
    grid_t, grid_h, grid_w = (int(v) for v in grid_thw)
    patch, temporal, merge = video_processor.patch_size, video_processor.temporal_patch_size, video_processor.merge_size
    channels = pixel_values_videos.shape[-1] // (temporal * patch * patch)
    patches = pixel_values_videos.float().reshape(
        grid_t, grid_h // merge, grid_w // merge, merge, merge, channels, temporal, patch, patch
    )
    # back to (t, temporal, channel, h-blocks, merge, patch, w-blocks, merge, patch)
    frames = patches.permute(0, 6, 5, 1, 3, 7, 2, 4, 8).reshape(
        grid_t * temporal, channels, grid_h * patch, grid_w * patch
    )
    mean = torch.tensor(video_processor.image_mean).view(1, -1, 1, 1)
    std = torch.tensor(video_processor.image_std).view(1, -1, 1, 1)
    pixels = (frames * std + mean) / video_processor.rescale_factor
    return pixels.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_frame_strip(frames: np.ndarray, path: Path) -> Path:
    """All frames side by side as one JPEG, each at the size the model saw it; the JPEG comment says how many
    (read back by strip_layout, so the report can lay the frames out one by one)."""
    height, width = frames.shape[1:3]
    strip = Image.new("RGB", (width * len(frames), height))
    for index, frame in enumerate(frames):
        strip.paste(Image.fromarray(frame), (index * width, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    strip.save(path, quality=85, comment=f"{STRIP_COMMENT} {len(frames)}")
    return path


def strip_layout(path: Path) -> tuple[int, int, int] | None:
    """(frames, frame width, frame height) of a strip saved by save_frame_strip (header only, no decoding); None
    for a missing or unreadable file, or a strip saved without the count."""
    try:
        with Image.open(path) as strip:
            comment = strip.info.get("comment", b"").decode("ascii", "replace").split()
            width, height = strip.size
    except (OSError, ValueError):
        return None
    if len(comment) != 2 or comment[0] != STRIP_COMMENT or not comment[1].isdigit() or int(comment[1]) < 1:
        return None
    count = int(comment[1])
    return (count, width // count, height) if width % count == 0 else None
