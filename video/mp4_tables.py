"""An MP4/MOV video track's frame timestamps and keyframes, read from its sample tables without touching media data.

    from video.mp4_tables import display_rotation, read_mp4_index
    index = read_mp4_index("clip.mp4")      # Mp4Index, or None where this reader does not apply
    degrees = display_rotation("clip.mp4")  # a phone clip's display matrix: 0, 90, -90 or 180

FFmpeg builds these tables when it opens an MP4, but PyAV does not expose them, and demuxing every packet to learn
them costs more than decoding the few frames a sampled clip needs. Only the common layout is read: a
non-fragmented file with one video track whose edit list, if any, is a single edit that shows every frame (what
encoders write for B-frame delay). Anything else gives None and the caller demuxes instead. Timestamps are given as
FFmpeg reports them for such files (shifted by the edit's media time); video/decode.py checks every decoded frame
against them, and tests/test_mp4_tables.py checks them against a demux on the clip matrix.
"""

import math
import os
import struct
from dataclasses import dataclass

import numpy as np

# What an MP4/MOV may start with; any other file is not walked as boxes at all.
MP4_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
MAX_TOP_LEVEL_BOXES = 64  # plain files have a handful; past this the file is not what this reader is for
MAX_SAMPLES = 10_000_000  # over four days at 25 fps: a larger count is a corrupt table, not a clip


@dataclass(frozen=True)
class Mp4Index:
    """One video track's samples in decode order."""

    timescale: int  # ticks per second of the timestamps
    dts: np.ndarray  # decode timestamps, int64, in the track's timescale
    pts: np.ndarray  # presentation timestamps, int64, same order
    is_keyframe: np.ndarray  # bool, same order
    sizes: np.ndarray  # bytes per sample


def _box_header(data: bytes | memoryview, offset: int, remaining: int) -> tuple[bytes, int, int]:
    """``(type, header size, box size)`` of the box at ``offset`` in ``data`` with ``remaining`` bytes to its end.

    Raises ValueError for a box that is smaller than its header or runs past its parent.
    """
    size, kind = struct.unpack_from(">I4s", data, offset)
    header_size = 8
    if size == 1:  # a 64-bit size follows the type
        (size,) = struct.unpack_from(">Q", data, offset + 8)
        header_size = 16
    elif size == 0:  # the box runs to the end of its parent
        size = remaining
    if size < header_size or size > remaining:
        raise ValueError(f"box {kind!r} overruns its parent")
    return kind, header_size, size


def _children(data: memoryview) -> dict[bytes, list[memoryview]]:
    """The boxes directly inside ``data``, by type. Raises ValueError on a box that overruns its parent."""
    boxes: dict[bytes, list[memoryview]] = {}
    offset = 0
    while offset + 8 <= len(data):
        kind, header_size, size = _box_header(data, offset, len(data) - offset)
        boxes.setdefault(kind, []).append(data[offset + header_size : offset + size])
        offset += size
    return boxes


def _only(boxes: dict[bytes, list[memoryview]], kind: bytes) -> memoryview | None:
    found = boxes.get(kind, [])
    return found[0] if len(found) == 1 else None


def _find_moov(path: str | os.PathLike) -> tuple[memoryview | None, int]:
    """The top-level moov box's payload (None if absent, repeated or fragmented) and the file size."""
    moov = None
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        offset = 0
        for box_number in range(MAX_TOP_LEVEL_BOXES + 1):
            if offset + 8 > file_size:
                break
            if box_number == MAX_TOP_LEVEL_BOXES:
                return None, file_size
            f.seek(offset)
            kind, header_size, size = _box_header(f.read(16), 0, file_size - offset)
            if offset == 0 and kind not in MP4_FIRST_BOXES:
                return None, file_size
            if kind in (b"moof", b"mvex") or (kind == b"moov" and moov is not None):
                return None, file_size
            if kind == b"moov":
                f.seek(offset + header_size)
                payload = f.read(size - header_size)
                if len(payload) != size - header_size:
                    return None, file_size
                moov = memoryview(payload)
            offset += size
    return moov, file_size


def _table(box: memoryview, dtype: str, columns: int, header: int = 8) -> np.ndarray:
    """A full box's entry table: ``entry_count`` rows of ``columns`` big-endian numbers after ``header`` bytes."""
    (count,) = struct.unpack_from(">I", box, header - 4)
    width = np.dtype(dtype).itemsize * columns
    if header + count * width > len(box):
        raise ValueError("table overruns its box")
    return np.frombuffer(box, dtype=dtype, count=count * columns, offset=header).reshape(count, columns)


def _timescale(box: memoryview) -> int:
    """Timescale field of an mvhd/mdhd full box (version 0 or 1)."""
    return struct.unpack_from(">I", box, 20 if box[0] == 1 else 12)[0]


def _sizes(stsz: memoryview, n_samples: int) -> np.ndarray | None:
    """Bytes per sample; None unless the table counts ``n_samples`` samples."""
    sample_size, count = struct.unpack_from(">II", stsz, 4)
    if count != n_samples:
        return None
    if sample_size:
        return np.full(count, sample_size, dtype=np.int64)
    return _table(stsz, ">u4", 1, header=12)[:, 0].astype(np.int64)


def _media_end(stbl: dict, sizes: np.ndarray) -> int | None:
    """Byte offset where the last sample ends (None where chunks and samples disagree)."""
    stco, co64, stsc = _only(stbl, b"stco"), _only(stbl, b"co64"), _only(stbl, b"stsc")
    if (stco is None and co64 is None) or stsc is None:
        return None
    offsets = (_table(stco, ">u4", 1) if stco is not None else _table(co64, ">u8", 1))[:, 0].astype(np.int64)
    runs = _table(stsc, ">u4", 3).astype(np.int64)
    if len(runs) == 0 or runs[0, 0] != 1:
        return None
    chunk_numbers = np.arange(1, len(offsets) + 1)
    per_chunk = runs[np.searchsorted(runs[:, 0], chunk_numbers, side="right") - 1, 1]
    if per_chunk.sum() != len(sizes):
        return None
    first_sample = np.concatenate([[0], np.cumsum(per_chunk)[:-1]])
    size_sums = np.concatenate([[0], np.cumsum(sizes)])
    return int((offsets + size_sums[first_sample + per_chunk] - size_sums[first_sample]).max())


def _edit_shift(trak: dict, movie_timescale: int, media_timescale: int, pts: np.ndarray) -> int | None:
    """Media time of a single edit that shows every frame (0 without an edit list); None for any other edit."""
    edts = _only(trak, b"edts")
    if edts is None:
        return 0
    elst = _only(_children(edts), b"elst")
    if elst is None:
        return None
    (count,) = struct.unpack_from(">I", elst, 4)
    if count == 0:
        return 0
    if count != 1:
        return None
    layout = ">Qqhh" if elst[0] == 1 else ">Iihh"
    segment_duration, media_time, rate_integer, rate_fraction = struct.unpack_from(layout, elst, 8)
    if media_time < 0 or (rate_integer, rate_fraction) != (1, 0) or segment_duration == 0 or movie_timescale == 0:
        return None
    segment_end = media_time + segment_duration * media_timescale / movie_timescale
    if pts.min() < media_time or pts.max() >= segment_end:  # FFmpeg would hide frames outside the edit
        return None
    return media_time


def _video_tracks(movie: dict[bytes, list[memoryview]]) -> list[tuple[dict, dict]]:
    """(trak children, mdia children) of each video track in a moov's children."""
    tracks = []
    for trak_box in movie.get(b"trak", []):
        trak = _children(trak_box)
        mdia = _children(trak[b"mdia"][0]) if _only(trak, b"mdia") is not None else {}
        hdlr = _only(mdia, b"hdlr")
        if hdlr is not None and bytes(hdlr[8:12]) == b"vide":
            tracks.append((trak, mdia))
    return tracks


def _matrix_rotation(tkhd: memoryview) -> int:
    """The rotation in a tkhd's display matrix, in FFmpeg's convention (degrees counterclockwise, -90/0/90/180,
    what a decoded frame's ``rotation`` reports); 0 for anything but a pure multiple of 90 degrees."""
    matrix_at = 4 + (32 if tkhd[0] == 1 else 20) + 16  # version/flags, times and ids, reserved/layer/group/volume
    a, b, _, c, d = struct.unpack_from(">5i", tkhd, matrix_at)
    if a * d - b * c <= 0:  # mirrored or degenerate: not a rotation
        return 0
    degrees = -math.degrees(math.atan2(b, a))
    nearest = round(degrees / 90) * 90
    if abs(degrees - nearest) > 1:
        return 0
    return 180 if nearest in (180, -180) else int(nearest)


def display_rotation(path: str | os.PathLike) -> int:
    """How a player rotates the single video track of an MP4/MOV to show it (a phone clip's display matrix), in
    FFmpeg's convention (degrees counterclockwise); 0 for other files and for anything that cannot be read."""
    try:
        moov, _ = _find_moov(path)
        if moov is None:
            return 0
        tracks = _video_tracks(_children(moov))
        tkhd = _only(tracks[0][0], b"tkhd") if len(tracks) == 1 else None
        return _matrix_rotation(tkhd) if tkhd is not None else 0
    except (ValueError, struct.error, KeyError, IndexError, OSError):
        return 0


def read_mp4_index(path: str | os.PathLike) -> Mp4Index | None:
    """The single video track's samples of a plain MP4/MOV at ``path``; None where this reader does not apply.

    None also for a file whose samples reach past its end (cut short): the caller's demux reports that.
    """
    try:
        moov, file_size = _find_moov(path)
        if moov is None:
            return None
        movie = _children(moov)
        mvhd = _only(movie, b"mvhd")
        if mvhd is None or b"mvex" in movie:
            return None
        video_tracks = _video_tracks(movie)
        if len(video_tracks) != 1:
            return None
        trak, mdia = video_tracks[0]
        mdhd, minf = _only(mdia, b"mdhd"), _only(mdia, b"minf")
        stbl_box = _only(_children(minf), b"stbl") if minf is not None else None
        if mdhd is None or stbl_box is None:
            return None
        stbl = _children(stbl_box)
        if any(kind in stbl for kind in (b"stz2", b"stps")) or _only(stbl, b"stsz") is None:
            return None
        return _index_from_tables(stbl, trak, _timescale(mvhd), _timescale(mdhd), file_size)
    except (ValueError, struct.error, KeyError, IndexError, OSError):
        return None


def _repeat_runs(box: memoryview, dtype: str, n_samples: int) -> np.ndarray | None:
    """Expand an stts/ctts table of (count, value) runs into one value per sample; None if the counts disagree."""
    runs = _table(box, dtype, 2).astype(np.int64)
    if runs[:, 0].sum() != n_samples:
        return None
    return np.repeat(runs[:, 1], runs[:, 0])


def _index_from_tables(
    stbl: dict, trak: dict, movie_timescale: int, media_timescale: int, file_size: int
) -> Mp4Index | None:
    stts = _only(stbl, b"stts")
    if stts is None or media_timescale == 0:  # a zero timescale times nothing: only a demux can tell
        return None
    n_samples = int(_table(stts, ">u4", 2)[:, 0].astype(np.int64).sum())
    if not 0 < n_samples <= MAX_SAMPLES:
        return None
    sizes = _sizes(stbl[b"stsz"][0], n_samples)
    deltas = _repeat_runs(stts, ">u4", n_samples)
    if sizes is None or deltas is None or (sizes == 0).any():
        return None
    dts = np.concatenate([[0], np.cumsum(deltas)[:-1]])
    ctts = _only(stbl, b"ctts")
    offsets = np.zeros(n_samples, dtype=np.int64)
    if ctts is not None:
        offsets = _repeat_runs(ctts, ">i4", n_samples)
        if offsets is None or (offsets < 0).any():
            return None
    pts = dts + offsets
    stss = _only(stbl, b"stss")
    is_keyframe = np.ones(n_samples, dtype=bool)
    if stss is not None:
        sync = _table(stss, ">u4", 1)[:, 0].astype(np.int64) - 1
        if len(sync) == 0 or sync.min() < 0 or sync.max() >= n_samples:
            return None
        is_keyframe = np.zeros(n_samples, dtype=bool)
        is_keyframe[sync] = True
    media_end = _media_end(stbl, sizes)
    if media_end is None or media_end > file_size:
        return None
    shift = _edit_shift(trak, movie_timescale, media_timescale, pts)
    if shift is None:
        return None
    return Mp4Index(timescale=media_timescale, dts=dts - shift, pts=pts - shift, is_keyframe=is_keyframe, sizes=sizes)
