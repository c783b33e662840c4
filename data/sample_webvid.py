"""Generate a small WebVid-format dataset whose captions are learnable from the pixels.

    python -m data.sample_webvid                               # 120 clips into data/sample/ (`make sample-data`)
    python -m data.sample_webvid --count 500 --out-dir /tmp/wv  # a larger set elsewhere

Writes ``OUT/webvid.csv`` with the real WebVid header (videoid,name,page_idx,page_dir,duration,contentUrl;
ISO-8601 durations) and H.264 MP4 clips at ``OUT/videos/{page_dir}/{videoid}.mp4``. Each clip shows one
coloured shape crossing a plain background in one direction, and its caption (``name``) says exactly that,
e.g. "A red circle moves left on a blue background". Clips vary the way WebVid does: 2-30 s, 24/25/30 fps,
mostly 596x336 with some 640x360, 1280x720 and vertical 336x596, short (0.5 s) and long (whole-clip) GOPs.
Everything is a pure function of the clip index and the seed, so the same command writes the same dataset. Its
encoding processes (common.pool) stop within a fraction of a second when it is killed, even by kill -9.
"""

import argparse
import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.pool import WorkerPool

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "sample"
DEFAULT_COUNT = 120
DEFAULT_SEED = 0
WEBVID_HEADER = ("videoid", "name", "page_idx", "page_dir", "duration", "contentUrl")
CLIPS_PER_PAGE = 50  # WebVid's page_dir groups ids 50 at a time: 027701_027750
FIRST_VIDEO_ID = 1_000_001

COLOURS = {  # RGB; far apart so even a random vision tower separates them
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 220, 40),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
SHAPE_COLOURS = ("red", "green", "blue", "yellow")
BACKGROUND_COLOURS = ("white", "black", "blue", "green")
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = ("left", "right", "up", "down")

# (width, height) and how often they appear, roughly WebVid's mix of previews.
FRAME_SIZES = ((596, 336),) * 7 + ((640, 360), (640, 360), (1280, 720), (336, 596), (336, 596))
FRAME_RATES = (24, 25, 30)
DURATIONS_S = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 18, 22, 30)


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip and its CSV row."""

    index: int
    shape: str
    shape_colour: str
    background: str
    direction: str
    width: int
    height: int
    fps: int
    duration_s: int
    gop: int

    @property
    def videoid(self) -> str:
        return str(FIRST_VIDEO_ID + self.index)

    @property
    def page_idx(self) -> int:
        return self.index // CLIPS_PER_PAGE + 1

    @property
    def page_dir(self) -> str:
        first = (self.page_idx - 1) * CLIPS_PER_PAGE + 1
        return f"{first:06d}_{first + CLIPS_PER_PAGE - 1:06d}"

    @property
    def caption(self) -> str:
        return caption_for(self.shape_colour, self.shape, self.direction, self.background)

    @property
    def relative_path(self) -> str:
        return f"{self.page_dir}/{self.videoid}.mp4"


def caption_for(shape_colour: str, shape: str, direction: str, background: str) -> str:
    return f"A {shape_colour} {shape} moves {direction} on a {background} background"


def all_caption_patterns() -> list[str]:
    """Every caption the generator can write (the tiny tokenizer is trained on them)."""
    return [
        caption_for(colour, shape, direction, background)
        for colour in SHAPE_COLOURS
        for shape in SHAPES
        for direction in DIRECTIONS
        for background in BACKGROUND_COLOURS
        if colour != background
    ]


def clip_spec(index: int, seed: int = DEFAULT_SEED) -> ClipSpec:
    """The clip at ``index``: a pure function of (index, seed)."""
    rng = random.Random(f"{seed}:{index}")
    shape_colour = rng.choice(SHAPE_COLOURS)
    background = rng.choice([c for c in BACKGROUND_COLOURS if c != shape_colour])
    width, height = rng.choice(FRAME_SIZES)
    fps = rng.choice(FRAME_RATES)
    duration_s = rng.choice(DURATIONS_S)
    if width * height > 640 * 360:  # keep big clips short so the demo set stays quick to write and read
        duration_s = min(duration_s, 6)
    gop = rng.choice((fps // 2, fps * duration_s))  # 0.5 s GOPs, or one keyframe for the whole clip
    return ClipSpec(
        index=index,
        shape=rng.choice(SHAPES),
        shape_colour=shape_colour,
        background=background,
        direction=rng.choice(DIRECTIONS),
        width=width,
        height=height,
        fps=fps,
        duration_s=duration_s,
        gop=gop,
    )


def _shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean size×size mask of the shape."""
    yy, xx = np.mgrid[0:size, 0:size]
    centre = (size - 1) / 2
    if shape == "circle":
        return (yy - centre) ** 2 + (xx - centre) ** 2 <= (size / 2) ** 2
    if shape == "square":
        return np.ones((size, size), dtype=bool)
    if shape == "triangle":  # apex up, base at the bottom
        return np.abs(xx - centre) <= yy / 2
    raise ValueError(f"unknown shape {shape!r}")


def render_frames(spec: ClipSpec):
    """Yield the clip's RGB uint8 frames: the shape crosses the frame along its direction."""
    size = max(16, min(spec.width, spec.height) // 3)
    mask = _shape_mask(spec.shape, size)
    background = np.array(COLOURS[spec.background], dtype=np.uint8)
    colour = np.array(COLOURS[spec.shape_colour], dtype=np.uint8)
    n_frames = spec.fps * spec.duration_s
    span_x, span_y = spec.width - size, spec.height - size
    empty = np.empty((spec.height, spec.width, 3), dtype=np.uint8)
    empty[:] = background  # filled once: copying it is ~40x cheaper than broadcasting the colour per frame
    for i in range(n_frames):
        progress = i / max(1, n_frames - 1)
        forward = {"right": progress, "left": 1 - progress, "down": progress, "up": 1 - progress}[spec.direction]
        if spec.direction in ("left", "right"):
            x, y = round(forward * span_x), span_y // 2
        else:
            x, y = span_x // 2, round(forward * span_y)
        frame = empty.copy()
        frame[y : y + size, x : x + size][mask] = colour
        yield frame


def write_clip(spec: ClipSpec, path: Path) -> None:
    """Encode the clip as H.264 MP4 with PyAV (single-threaded x264, so the bytes are reproducible)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with av.open(str(partial), mode="w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=spec.fps,
            options={
                "preset": "ultrafast",
                "crf": "23",
                "threads": "1",
                "x264-params": f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        for frame in render_frames(spec):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    partial.rename(path)


def csv_row(spec: ClipSpec) -> dict[str, str]:
    """The clip's WebVid CSV row."""
    return {
        "videoid": spec.videoid,
        "name": spec.caption,
        "page_idx": str(spec.page_idx),
        "page_dir": spec.page_dir,
        "duration": f"PT00H{spec.duration_s // 60:02d}M{spec.duration_s % 60:02d}S",
        "contentUrl": f"https://ak.picdn.net/shutterstock/videos/{spec.videoid}/preview/stock-footage-sample.mp4",
    }


def _write_one(job: tuple[ClipSpec, Path]) -> str:
    spec, video_dir = job
    path = video_dir / spec.relative_path
    if not path.exists():
        write_clip(spec, path)
    return spec.videoid


def generate(
    out_dir: Path = DEFAULT_OUT_DIR, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, workers: int = 2
) -> Path:
    """Write ``count`` clips and their CSV under ``out_dir``; clips already on disk are kept. Returns the CSV."""
    from tqdm import tqdm

    specs = [clip_spec(i, seed) for i in range(count)]
    video_dir = Path(out_dir) / "videos"
    jobs = [(spec, video_dir) for spec in specs]
    with WorkerPool(workers, start_method="fork") as pool:
        writing = pool.results(_write_one, jobs, ordered=False)
        for _ in tqdm(writing, total=len(jobs), desc="writing clips", unit="clip"):
            pass
    csv_path = Path(out_dir) / "webvid.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=WEBVID_HEADER)
        writer.writeheader()
        writer.writerows(csv_row(spec) for spec in specs)
    return csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="dataset root (CSV + videos/)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="number of clips")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="changes every clip's content")
    parser.add_argument("--workers", type=int, default=2, help="encoding processes")
    args = parser.parse_args()
    csv_path = generate(args.out_dir, args.count, args.seed, args.workers)
    print(f"{args.count} clips and {csv_path} written")


if __name__ == "__main__":
    main()
