"""AVI clips with an audio track, as FFmpeg's AVI muxer writes them (MSVD ships AVIs).

With an audio stream FFmpeg's AVI muxer writes a video frame count one above the packets it wrote: the header
of a 75-frame clip says 76, and the file plays and decodes without error.
"""

from pathlib import Path

import av
import numpy as np

from tests.clips import frame_pixels

SAMPLE_RATE = 44100


def make_avi_with_audio(path: Path, n_frames: int = 75, fps: int = 25, width: int = 96, height: int = 64) -> Path:
    """mpeg4 video (frames told apart as in tests/clips.py) plus a mono AAC sine tone as long as the video."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="avi") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        for i in range(n_frames):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame_pixels(i, width, height), format="rgb24")))
        n_samples = n_frames * SAMPLE_RATE // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n_samples) / SAMPLE_RATE)).astype(np.float32)
        step = audio.codec_context.frame_size
        for start in range(0, n_samples, step):
            chunk = tone[start : start + step]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format=audio.codec_context.format.name, layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            container.mux(audio.encode(frame))
        container.mux(video.encode())
        container.mux(audio.encode())
    return path
