"""The reference the video tests compare our reader against: a plain full decode with PyAV.

    from tests.reference_decoder import read_frames
    frames = read_frames("clip.mp4", [0, 34, 68])   # RGB uint8 HxWx3 arrays, in the order asked

Every frame is decoded from the first, in presentation order (what a player shows), and the frames asked for are
picked from them: none of video/read.py's sample tables, seeks, kept packets or spans, so a bug there cannot hide
in the reference as well. Frames come as coded (no display rotation): give it upright clips.
"""

from pathlib import Path

import numpy as np

from tests.clips import decode_all_frames


def read_frames(path: str | Path, indices: list[int]) -> list[np.ndarray]:
    """Frames ``indices`` of a full decode of ``path``, in the order asked."""
    frames = decode_all_frames(Path(path))
    outside = [index for index in indices if not 0 <= index < len(frames)]
    if outside:
        raise IndexError(f"{path}: frame indices {outside} outside the clip's {len(frames)} frames")
    return [frames[index] for index in indices]
