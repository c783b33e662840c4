"""Phone clips stored sideways with a display-matrix rotation reach the model upright, as a player shows them, in
training and evaluation alike (both read frames through the video package and count tokens through the plugin).

The rotated clips are made by writing a display matrix into an ordinary clip's track header (tkhd); FFmpeg's own
reading of that matrix (a decoded frame's ``rotation``) is the reference for the angle.
"""

import struct

import av
import numpy as np
import pytest

from plugins.mm_plugin import ExactQwen2VLPlugin
from tests.clips import make_clip
from tests.test_mm_plugin import _encode, loaded  # noqa: F401  (fixture: tokenizer, processor, template)
from video import display_rotation, probe_video, read_sampled_frames

# (a, b, c, d) of the 16.16 display matrix; an iPhone held upright writes (0, 1, -1, 0): shown turned 90° clockwise
MATRICES = {
    "upright phone": (0, 1, -1, 0),
    "other way": (0, -1, 1, 0),
    "upside down": (-1, 0, 0, -1),
    "none": (1, 0, 0, 1),
}
SAMPLING = {"video_fps": 8.0, "video_maxlen": 8}


def with_display_matrix(source, destination, abcd):
    """A copy of the MP4 ``source`` whose video track header carries the display matrix ``abcd``."""
    data = bytearray(source.read_bytes())
    tkhd = data.find(b"tkhd")
    matrix_at = tkhd + 4 + 4 + (32 if data[tkhd + 4] == 1 else 20) + 16
    a, b, c, d = (value * 0x10000 for value in abcd)
    data[matrix_at : matrix_at + 24] = struct.pack(">6i", a, b, 0, c, d, 0)
    destination.write_bytes(bytes(data))
    return destination


@pytest.fixture(scope="module")
def landscape(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("rotation") / "coded.mp4", n_frames=24, fps=24, width=64, height=32)


@pytest.mark.parametrize("name", MATRICES)
def test_probe_reads_the_rotation_ffmpeg_reads(landscape, tmp_path, name):
    clip = with_display_matrix(landscape, tmp_path / "clip.mp4", MATRICES[name])
    with av.open(str(clip)) as container:
        ffmpeg_rotation = next(container.decode(video=0)).rotation
    assert display_rotation(clip) % 360 == ffmpeg_rotation % 360
    assert probe_video(clip).rotation % 360 == ffmpeg_rotation % 360


@pytest.mark.parametrize("name, turns", [("upright phone", -1), ("other way", 1), ("upside down", 2)])
def test_frames_are_read_upright(landscape, tmp_path, name, turns):
    clip = with_display_matrix(landscape, tmp_path / "clip.mp4", MATRICES[name])
    _, coded_indices, coded = read_sampled_frames(landscape, **SAMPLING)
    info, indices, shown = read_sampled_frames(clip, **SAMPLING)
    assert indices == coded_indices
    assert info.display_size == (shown[0].shape[1], shown[0].shape[0])
    for upright, sideways in zip(shown, coded, strict=True):
        assert np.array_equal(upright, np.rot90(sideways, k=turns))  # np.rot90 turns counterclockwise
    if name == "upright phone":
        assert shown[0].shape[:2] == (64, 32)  # portrait, as the phone showed it


def test_tokens_equal_features_on_a_rotated_clip(loaded, landscape, tmp_path):  # noqa: F811
    tokenizer, processor, template = loaded
    clip = with_display_matrix(landscape, tmp_path / "phone.mp4", MATRICES["upright phone"])
    assert isinstance(template.mm_plugin, ExactQwen2VLPlugin)
    ids, mm_inputs = _encode(template.mm_plugin, template, tokenizer, processor, str(clip))
    grid_t, grid_h, grid_w = mm_inputs["video_grid_thw"][0].tolist()
    assert grid_h > grid_w  # portrait patches: the frames reached the processor upright
    video_token_id = tokenizer.convert_tokens_to_ids(template.mm_plugin.video_token)
    assert ids.count(video_token_id) == grid_t * grid_h * grid_w // processor.video_processor.merge_size**2
