"""An AVI whose header counts one frame more than it holds (FFmpeg's muxer with an audio track) is a good clip.

A header count is a hint, never proof of truncation: every path samples over the frames a decode really shows.
A file that is really cut short (it ends before its RIFF header says) is still refused as truncated.
"""

import av
import numpy as np
import pytest

from data.probe_cache import probe_clip
from tests.audio_clips import make_avi_with_audio
from tests.damaged_clips import cut_short
from video import VideoReadError, probe_video, read_sampled_frames, sample_indices


@pytest.fixture(scope="module")
def avi(tmp_path_factory):
    return make_avi_with_audio(tmp_path_factory.mktemp("avi") / "with_audio.avi", n_frames=75)


def full_decode(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_fixture_has_the_muxers_extra_header_frame(avi):
    with av.open(str(avi)) as container:
        assert container.streams.video[0].frames == 76
        assert len(container.streams.audio) == 1
    assert len(full_decode(avi)) == 75


def test_probe_counts_the_frames_present(avi):
    info = probe_video(avi)
    assert (info.n_frames, info.header_frames) == (75, 76)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)


def test_sampling_spreads_over_the_frames_present_and_reads_them_exactly(avi):
    decoded = full_decode(avi)
    info, indices, frames = read_sampled_frames(avi, video_fps=8.0, video_maxlen=8)
    assert indices == sample_indices(75, info.duration_s, video_fps=8.0, video_maxlen=8)
    assert indices[0] == 0 and indices[-1] == 74
    for index, frame in zip(indices, frames, strict=True):
        assert np.array_equal(frame, decoded[index]), index


def test_the_converters_shared_probe_keeps_it(avi):
    outcome = probe_clip(str(avi))
    assert outcome.error_reason is None, outcome.error_detail
    assert outcome.summary.n_frames == 75


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.9])
def test_a_cut_avi_with_audio_is_still_truncated(avi, tmp_path, keep):
    cut = cut_short(avi, tmp_path / "cut.avi", keep=keep)
    with pytest.raises(VideoReadError) as caught:
        probe_video(cut)
    assert caught.value.reason == "truncated"
    assert "cut.avi" in str(caught.value)
