"""Synthetic clips for tests: any container, codec, frame rate, size, GOP, length, or variable frame rate.

Every frame carries its own index (a moving bar plus a brightness ramp), so a test can tell frames apart.
``textured=True`` draws a moving high-frequency pattern instead, which costs as much to decode as real footage
(flat frames decode several times cheaper than stock video, so they flatter no decoder).
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CONTAINER_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".avi": "avi", ".webm": "webm", ".mov": "mov"}


def frame_pixels(index: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 frame that differs visibly from its neighbours."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (index * 37) % 256
    frame[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    bar = (index * max(1, width // 16)) % max(1, width - 4)
    frame[:, bar : bar + 4, 2] = 255
    return frame


def textured_frame_pixels(index: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 frame: a fixed noise texture panning one pixel per frame, a drifting gradient, fresh grain."""
    texture = np.random.default_rng(0).integers(0, 256, (height, width + 512, 3), dtype=np.uint8)
    shift = index % 512
    frame = texture[:, shift : shift + width].astype(np.int16) // 2
    frame += (np.arange(width)[None, :, None] + 3 * index) % 128
    frame += np.random.default_rng(index + 1).integers(-4, 5, (height, width, 3), dtype=np.int16)
    return np.clip(frame, 0, 255).astype(np.uint8)


def make_clip(
    path: Path,
    n_frames: int = 48,
    fps: float = 24,
    width: int = 96,
    height: int = 64,
    gop: int = 12,
    codec: str = "libx264",
    variable_frame_rate: bool = False,
    bframes: int = 0,
    textured: bool = False,
) -> Path:
    """Encode ``n_frames`` frames to ``path`` (container chosen by suffix). Returns the path.

    ``variable_frame_rate`` spaces the frames unevenly (alternating 1 and 2 ticks) at the same nominal rate.
    ``bframes`` (libx264 only) allows up to that many B-frames in a row, some used as references (b-pyramid),
    so decode order differs from presentation order as in most real H.264 footage.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    options = {"threads": "1"}
    if codec == "libx264":
        options.update({"preset": "ultrafast", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"})
        if bframes:
            options["x264-params"] += f":bframes={bframes}"
    draw = textured_frame_pixels if textured else frame_pixels
    with av.open(str(path), mode="w", format=CONTAINER_FORMATS[path.suffix]) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec != "libx264":
            stream.codec_context.gop_size = gop
        if variable_frame_rate:
            stream.codec_context.time_base = 1 / (rate * 2)
        tick = 0
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(draw(i, width, height), format="rgb24")
            if variable_frame_rate:
                frame.pts, frame.time_base = tick, 1 / (rate * 2)
                tick += 1 if i % 2 else 3
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def remux_mp4(source: Path, destination: Path, movflags: str) -> Path:
    """Copy ``source``'s video packets into an MP4 muxed with ``movflags`` (e.g. faststart: index first)."""
    options = {"movflags": movflags}
    with av.open(str(source)) as src, av.open(str(destination), "w", format="mp4", options=options) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:  # not the empty packet that ends a demux
                packet.stream = out
                dst.mux(packet)
    return Path(destination)


def decode_all_frames(path: Path) -> list[np.ndarray]:
    """Reference decode: every frame in presentation order as RGB uint8 (what a full decode shows)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
