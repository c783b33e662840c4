"""The clip matrix the parity tests run on: containers, codecs, frame rates, GOPs, lengths and sizes that differ.

Clips are small (96×64 unless the case is about size) so the whole matrix encodes and decodes in seconds.
"""

from dataclasses import dataclass, field
from pathlib import Path

import av

from tests.clips import make_clip


@dataclass(frozen=True)
class ClipCase:
    name: str  # file name; the suffix picks the container
    seconds: float
    fps: float
    gop: int
    options: dict = field(default_factory=dict)  # more make_clip arguments
    header_right: bool = True  # the container header's frame count is what a decode shows

    @property
    def n_frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


CLIP_CASES = (
    ClipCase("h264_24fps_gop24.mp4", 10, 24, 24),
    ClipCase("h264_25fps_60s_single_gop.mp4", 60, 25, 1500),
    ClipCase("h264_2997fps_gop1.mp4", 4, 29.97, 1),
    ClipCase("h264_30fps_gop30.mov", 5, 30, 30),
    ClipCase("h264_30fps_gop15.avi", 5, 30, 15),
    ClipCase("mpeg4_25fps_gop10.mp4", 4, 25, 10, {"codec": "mpeg4"}),
    ClipCase("mpeg4_25fps_gop25.avi", 3, 25, 25, {"codec": "mpeg4"}),
    ClipCase("h264_bframes3_gop24.mp4", 4, 24, 24, {"bframes": 3}),  # decode order differs from display order
    ClipCase("h264_bframes3_single_gop.mov", 5, 25, 125, {"bframes": 3}),
    ClipCase("h264_bframes3_gop25.mkv", 4, 25, 25, {"bframes": 3}, header_right=False),
    ClipCase("h264_variable_rate.mp4", 3, 24, 12, {"variable_frame_rate": True}),
    ClipCase("h264_7_frames_odd.mp4", 1, 7, 3),  # 7 sampled frames: padded to 8
    ClipCase("h264_5_frames_short.mp4", 5 / 24, 24, 5),  # fewer frames than asked for
    ClipCase("h264_vertical.mp4", 2, 30, 30, {"width": 64, "height": 96}),
    ClipCase("h264_tiny_16x16.mp4", 2, 25, 25, {"width": 16, "height": 16}),
    ClipCase("h264_2997fps_gop30.mkv", 6, 29.97, 30, header_right=False),  # Matroska states no frame count
    ClipCase("vp9_24fps_gop24.webm", 3, 24, 24, {"codec": "libvpx-vp9"}, header_right=False),
)


def make_edit_list_clip(source: Path, path: Path, skipped_frames: int) -> Path:
    """Remux ``source`` with its first ``skipped_frames`` frames before time zero, as `ffmpeg -ss … -c copy` does.

    MP4 keeps them (for decoding) behind an edit list: the header counts them, a decode does not show them.
    """
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        shift = None
        for packet in src.demux(stream):
            if packet.size == 0:
                continue
            if shift is None:
                shift = skipped_frames * round(1 / (stream.average_rate * stream.time_base))
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = out
            dst.mux(packet)
    return path


def build_clip_matrix(directory: Path) -> dict[str, tuple[Path, bool]]:
    """Write every case into ``directory``; returns name -> (path, header_right)."""
    clips = {}
    for case in CLIP_CASES:
        path = make_clip(directory / case.name, n_frames=case.n_frames, fps=case.fps, gop=case.gop, **case.options)
        clips[case.name] = (path, case.header_right)
    source = make_clip(directory / "edit_list_source.mp4", n_frames=72, fps=24, gop=24)
    clips["h264_edit_list_cut.mp4"] = (make_edit_list_clip(source, directory / "h264_edit_list_cut.mp4", 10), False)
    return clips
