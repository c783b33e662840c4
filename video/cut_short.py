"""Does a file end before its own container structure says it does? The byte-level sign of a cut-short download.

    from video.cut_short import missing_bytes
    missing_bytes("clip.avi")   # None, or "the file ends at 51200 bytes, its RIFF header says 102400"

A frame count in a header is only a hint: FFmpeg's AVI muxer writes one frame too many whenever there is an audio
track, and such files play and decode without error. What proves a file was cut short is a size it declares and
does not reach: an AVI's RIFF chunk size, or an MP4/MOV top-level box (e.g. ``mdat``) running past the end.
Matroska/WebM are not read here (container.py compares their stated duration with the frames present).
"""

import os
import struct

from video.mp4_tables import MP4_FIRST_BOXES

RIFF_SIZE_UNKNOWN = (0, 0xFFFFFFFF)  # written by muxers that could not seek back to fill the size in
MAX_TOP_LEVEL_BOXES = 10_000  # a crafted file cannot keep the walk going for ever


def missing_bytes(path: str | os.PathLike) -> str | None:
    """Why ``path`` is shorter than its container structure says (one phrase), or None where nothing says so."""
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        head = f.read(16)
        if head[:4] == b"RIFF" and len(head) >= 8:
            declared = struct.unpack("<I", head[4:8])[0]
            if declared not in RIFF_SIZE_UNKNOWN and 8 + declared > file_size:
                return f"the file ends at {file_size} bytes, its RIFF header says {8 + declared}"
            return None
        if head[4:8] in MP4_FIRST_BOXES:
            return _box_past_end(f, file_size)
    return None


def _box_past_end(f, file_size: int) -> str | None:
    """The first top-level MP4 box that runs past the end of the file, as a phrase; None if every box fits."""
    offset = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset + 8 > file_size:
            return None
        f.seek(offset)
        header = f.read(16)
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:16])[0]
        if size == 0:  # "to the end of the file": nothing declared to check
            return None
        if size < 8:
            return None  # not a box header we can follow; the demuxer judges the rest
        if offset + size > file_size:
            name = kind.decode("latin-1")
            return f"the file ends at {file_size} bytes, its {name!r} box runs to {offset + size}"
        offset += size
    return None
