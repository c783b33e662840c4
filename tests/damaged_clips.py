"""Damaged copies of a clip, as real downloads break: the header intact, the frames not.

``faststart_clip`` puts the MP4 index (moov) first, as web-delivered files do, so a file damaged after its
header still probes fine from its sample tables: only decoding can tell.
"""

import random
from pathlib import Path

from tests.clips import make_clip, remux_mp4


def faststart_clip(path: Path, **clip_options) -> Path:
    """An H.264 MP4 with its index before the frames (``make_clip`` options; textured, 96 frames by default)."""
    path = Path(path)
    options = {"n_frames": 96, "fps": 24, "width": 96, "height": 64, "gop": 12, "textured": True, **clip_options}
    raw = make_clip(path.with_name(f"{path.stem}.raw.mp4"), **options)
    remux_mp4(raw, path, "faststart")
    raw.unlink()
    return path


def zero_tail(source: Path, destination: Path, keep: float = 0.4) -> Path:
    """A preallocated download killed at ``keep`` of its size: same length, zeros after."""
    data = bytearray(Path(source).read_bytes())
    cut = int(len(data) * keep)
    data[cut:] = bytes(len(data) - cut)
    Path(destination).write_bytes(data)
    return Path(destination)


def cut_short(source: Path, destination: Path, keep: float = 0.6) -> Path:
    """A download that stopped at ``keep`` of its size."""
    data = Path(source).read_bytes()
    Path(destination).write_bytes(data[: int(len(data) * keep)])
    return Path(destination)


def corrupt_bytes(source: Path, destination: Path, at: float = 0.5, n_bytes: int = 4096, seed: int = 0) -> Path:
    """``n_bytes`` random bytes written over the file from ``at`` of its size (fixed seed)."""
    data = bytearray(Path(source).read_bytes())
    start = int(len(data) * at)
    rng = random.Random(seed)
    data[start : start + n_bytes] = bytes(rng.randrange(256) for _ in range(min(n_bytes, len(data) - start)))
    Path(destination).write_bytes(data)
    return Path(destination)


def zero_frames(source: Path, destination: Path, frames: range) -> Path:
    """Zeros over the coded data of ``frames`` (packet order; the clips here have no B-frames): the header intact."""
    import av

    data = bytearray(Path(source).read_bytes())
    with av.open(str(source)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
        for packet in packets[frames.start : frames.stop]:
            data[packet.pos : packet.pos + packet.size] = bytes(packet.size)
    Path(destination).write_bytes(data)
    return Path(destination)
