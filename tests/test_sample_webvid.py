"""Sample WebVid data: real schema and layout, varied clips, captions that describe the pixels."""

import csv
import hashlib
import re

import av
import numpy as np
import pytest

from data import sample_webvid
from data.sample_webvid import COLOURS, WEBVID_HEADER, clip_spec


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("webvid")
    sample_webvid.generate(out, count=6, workers=1)
    return out


def test_csv_has_the_webvid_schema_and_layout(small_set):
    with open(small_set / "webvid.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == WEBVID_HEADER
        rows = list(reader)
    assert len(rows) == 6
    for row in rows:
        assert re.fullmatch(r"PT\d\dH\d\dM\d\dS", row["duration"])
        assert re.fullmatch(r"\d{6}_\d{6}", row["page_dir"])
        assert (small_set / "videos" / row["page_dir"] / f"{row['videoid']}.mp4").is_file()


def test_clip_properties_match_their_spec(small_set):
    for index in range(6):
        spec = clip_spec(index)
        with av.open(str(small_set / "videos" / spec.relative_path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.width, stream.height) == (spec.width, spec.height)
            assert stream.average_rate == spec.fps
            assert stream.frames == spec.fps * spec.duration_s


def test_generator_is_varied_like_webvid():
    specs = [clip_spec(i) for i in range(200)]
    assert {(s.width, s.height) for s in specs} == {(596, 336), (640, 360), (1280, 720), (336, 596)}
    assert {s.fps for s in specs} == {24, 25, 30}
    assert min(s.duration_s for s in specs) == 2 and max(s.duration_s for s in specs) == 30
    assert any(s.gop < s.fps for s in specs) and any(s.gop == s.fps * s.duration_s for s in specs)
    assert len({s.caption for s in specs}) > 50


def _shape_centre(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, float]:
    """(x, y) centre of the pixels close to ``colour`` (H.264 blurs edges a little)."""
    close = np.abs(frame.astype(int) - np.array(colour)).sum(axis=-1) < 60
    ys, xs = np.nonzero(close)
    assert len(xs) > 50, "shape not found"
    return xs.mean(), ys.mean()


def test_caption_describes_the_pixels(small_set):
    for index in range(6):
        spec = clip_spec(index)
        with av.open(str(small_set / "videos" / spec.relative_path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        first, last = frames[0], frames[-1]
        corner = first[2, 2].astype(int)
        assert np.abs(corner - COLOURS[spec.background]).sum() < 40, "background colour"
        (x0, y0), (x1, y1) = (
            _shape_centre(first, COLOURS[spec.shape_colour]),
            _shape_centre(last, COLOURS[spec.shape_colour]),
        )
        moved = {"left": x0 - x1, "right": x1 - x0, "up": y0 - y1, "down": y1 - y0}[spec.direction]
        assert moved > spec.width * 0.2 or moved > spec.height * 0.2, f"{spec.caption}: moved {moved}"
        assert spec.shape_colour in spec.caption and spec.direction in spec.caption


def test_same_command_writes_the_same_bytes(tmp_path):
    spec = clip_spec(3)
    sample_webvid.write_clip(spec, tmp_path / "a.mp4")
    sample_webvid.write_clip(spec, tmp_path / "b.mp4")
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.mp4", "b.mp4")]
    assert digest[0] == digest[1]
