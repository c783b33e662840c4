"""Reversed copies of a test set's clips: frame k of the copy is frame n-1-k of the original, nothing else changes."""

import json
import os
from dataclasses import replace

import av
import numpy as np
import pytest

from data.reverse_clips import ReverseError, reverse_clip, reverse_test_set
from data.sample_webvid import clip_spec, write_clip


def _frames(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory):
    """A 1 s, 12 fps, 112x64 sample clip of a shape crossing the frame: every frame differs from the others."""
    spec = replace(clip_spec(0), width=112, height=64, fps=12, duration_s=1, gop=4, direction="right")
    path = tmp_path_factory.mktemp("clips") / "data" / "clip.mp4"
    write_clip(spec, path)
    return path


def test_reversed_frame_k_is_original_frame_n_minus_1_minus_k(moving_clip, tmp_path):
    target = tmp_path / "reversed.mp4"
    assert reverse_clip(moving_clip, target) == 12
    original, backwards = _frames(moving_clip), _frames(target)
    assert len(backwards) == len(original) == 12
    for k, frame in enumerate(backwards):
        assert np.abs(frame - original[-1 - k]).mean() < 2.0, f"frame {k}"  # codec loss only
    assert np.abs(backwards[0] - original[0]).mean() > 10 * np.abs(backwards[0] - original[-1]).mean()
    with av.open(str(moving_clip)) as a, av.open(str(target)) as b:
        sa, sb = a.streams.video[0], b.streams.video[0]
        assert (sb.average_rate, sb.width, sb.height) == (sa.average_rate, sa.width, sa.height)


def test_test_set_points_at_the_copies_with_everything_else_unchanged(moving_clip, tmp_path):
    media_dir = moving_clip.parents[1]
    record = {"id": "7", "messages": [{"role": "user", "content": "<video>Describe."},
                                      {"role": "assistant", "content": "A red circle moves right"}],
              "references": ["A red circle moves right", "a ball goes right"], "videos": ["data/clip.mp4"]}  # fmt: skip
    test_data = tmp_path / "webvid_test.json"
    test_data.write_text(json.dumps([record]))

    out = reverse_test_set(test_data, media_dir, media_dir / "rev", workers=1)

    assert out == media_dir / "rev" / "webvid_test_reversed.json"
    [copy] = json.loads(out.read_text())
    assert copy == {**record, "videos": ["rev/videos/data/clip.mp4"]}
    assert len(_frames(media_dir / copy["videos"][0])) == 12

    # a rerun keeps a copy newer than its clip and rewrites one older than it (the clip was replaced since)
    copy_path = media_dir / copy["videos"][0]
    copy_path.write_bytes(b"stale")
    os.utime(copy_path, ns=(moving_clip.stat().st_mtime_ns + 10**9,) * 2)
    reverse_test_set(test_data, media_dir, media_dir / "rev", workers=1)
    assert copy_path.read_bytes() == b"stale"
    os.utime(copy_path, ns=(moving_clip.stat().st_mtime_ns - 10**9,) * 2)
    reverse_test_set(test_data, media_dir, media_dir / "rev", workers=1)
    assert len(_frames(copy_path)) == 12


def test_a_clip_that_cannot_be_decoded_is_named(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    with pytest.raises(ReverseError, match="broken.mp4"):
        reverse_clip(tmp_path / "broken.mp4", tmp_path / "out.mp4")
    with pytest.raises(ReverseError, match="missing.mp4"):
        reverse_clip(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_path_outside_the_media_dir_is_refused(tmp_path):
    record = {"id": "1", "messages": [], "videos": ["../elsewhere.mp4"]}
    (tmp_path / "t.json").write_text(json.dumps([record]))
    with pytest.raises(ReverseError, match="relative to --media-dir"):
        reverse_test_set(tmp_path / "t.json", tmp_path, tmp_path / "rev", workers=1)
