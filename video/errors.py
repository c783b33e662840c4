"""The one vocabulary for a clip that cannot be read: a reason code, the text that explains it, the error raised.

    from video.errors import REASONS, VideoReadError
    raise VideoReadError("clip.mp4", "truncated", "header promises 240 frames, 180 present")
    # clip.mp4: cannot read video (truncated): the file is cut short or corrupt; download it again [header ...]

Training, preflight and evaluation raise VideoReadError; the converter (data/convert_report.py) counts skipped rows
under the same codes and explains them with the same texts.
"""

import os

REASONS = {
    "missing": "the file does not exist; check the path and the video directory",
    "empty": "the file has zero bytes; download it again",
    "unreadable": "the file cannot be opened (permission denied, name too long, I/O error); check the path",
    "not_a_video": "the file is not a video container PyAV can open, or has no video stream",
    "unknown_codec": "FFmpeg knows no codec for the video stream (or its description is corrupt); re-encode it",
    "corrupt": "the container header is corrupt; download the file again",
    "truncated": "the file is cut short or corrupt; download it again",
    "no_frames": "the video stream has no frames",
    "bad_span": "the #t=START,END span is malformed or not inside the video; write #t=START,END in seconds with "
    "0 <= START < END within the video, or use the full video",
}


class VideoReadError(Exception):
    """A clip that cannot be read. ``reason`` is one of the REASONS codes; the message names file and fix."""

    def __init__(self, path: str | os.PathLike, reason: str, detail: str = ""):
        self.path, self.reason, self.detail = str(path), reason, detail
        message = f"{self.path}: cannot read video ({reason}): {REASONS[reason]}"
        super().__init__(f"{message} [{detail}]" if detail else message)
