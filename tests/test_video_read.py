"""video.read and its stages: frame-exact against a full decode on the clip matrix, stock indices, errors.

A stand-in sampler (video.read.sample_indices replaced) asks for frames the stock formula never picks: out of order,
twice, past the end."""

import av
import numpy as np
import pytest

import video.read
from tests.clips import decode_all_frames, make_clip
from tests.reference_decoder import read_frames
from video import VideoReadError, probe_video, read_sampled_frames, sample_indices
from video.container import demux, info_from_mp4_index
from video.decode import SpanMissed, decode_by_seeking, decode_kept_packets, frames_of

VIDEO_FPS, VIDEO_MAXLEN = 8.0, 8


@pytest.fixture(scope="module")
def full_decodes(clip_matrix):
    return {name: decode_all_frames(path) for name, (path, _) in clip_matrix.items()}


def test_probe_counts_the_frames_a_decode_shows(clip_matrix, full_decodes):
    for name, (path, header_right) in clip_matrix.items():
        info = probe_video(path)
        assert info.n_frames == len(full_decodes[name]), name
        assert (info.header_frames == info.n_frames) == header_right, name
        assert (info.width, info.height) == full_decodes[name][0].shape[1::-1], name


def test_sampled_frames_equal_a_full_decode(clip_matrix):
    for name, (path, _) in clip_matrix.items():
        _, indices, frames = read_sampled_frames(path, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
        assert len(frames) == len(indices), name
        for index, frame, reference in zip(indices, frames, read_frames(path, indices), strict=True):
            assert frame.dtype == np.uint8 and frame.ndim == 3, name
            assert np.array_equal(frame, reference), f"{name}: frame {index} differs"


def _sampler_asking_for(monkeypatch, indices: list[int]) -> None:
    """The reader picks ``indices`` whatever the clip (a stand-in for the stock formula)."""
    monkeypatch.setattr(video.read, "sample_indices", lambda info, **settings: list(indices))


def test_wrong_headers_are_untrusted_and_sampling_spreads_over_the_frames_shown(clip_matrix):
    for name in ("h264_edit_list_cut.mp4", "h264_2997fps_gop30.mkv", "vp9_24fps_gop24.webm"):
        info = probe_video(clip_matrix[name][0])
        assert not info.metadata_trusted, name
        indices = sample_indices(info, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
        assert indices[0] == 0 and indices[-1] == info.n_frames - 1 and len(indices) == VIDEO_MAXLEN, name
    assert not probe_video(clip_matrix["h264_variable_rate.mp4"][0]).metadata_trusted


def test_frames_come_back_in_the_order_asked(clip_matrix, full_decodes, monkeypatch):
    path, _ = clip_matrix["h264_24fps_gop24.mp4"]
    indices = [200, 3, 3, 120]
    _sampler_asking_for(monkeypatch, indices)
    _, asked, frames = read_sampled_frames(path, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
    assert asked == indices
    assert all(np.array_equal(f, full_decodes["h264_24fps_gop24.mp4"][i]) for i, f in zip(indices, frames, strict=True))


@pytest.mark.parametrize(
    ("n_frames", "duration_s", "expected"),
    [
        (240, 10.0, [0, 34, 68, 102, 136, 170, 204, 239]),  # 8 evenly spaced over the whole clip
        (7, 1.0, [0, 1, 2, 3, 4, 5, 6]),  # fewer frames than video_maxlen: all of them
        (5, 0.2, [0]),  # floor(0.2 s × 8 fps) = 1, at least one
        (30, 0.5, [0, 9, 19, 29]),  # floor(0.5 × 8) = 4
    ],
)
def test_sample_indices_formula(n_frames, duration_s, expected):
    assert sample_indices(n_frames, duration_s, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN) == expected


def test_out_of_range_index_is_refused(clip_matrix, monkeypatch):
    _sampler_asking_for(monkeypatch, [7])
    with pytest.raises(ValueError, match="outside the clip's 7 frames"):
        read_sampled_frames(clip_matrix["h264_7_frames_odd.mp4"][0], video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)


def _written(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncated_copy(source, path):
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make_bad", "reason"),
    [
        (lambda tmp: tmp / "nowhere.mp4", "missing"),
        (lambda tmp: _written(tmp / "empty.mp4", b""), "empty"),
        (lambda tmp: _written(tmp / "notes.mp4", b"not a video\n" * 50), "not_a_video"),
        (lambda tmp: _truncated_copy(make_clip(tmp / "whole.mp4", 48), tmp / "cut.mp4"), "truncated"),
        (lambda tmp: _truncated_copy(make_clip(tmp / "whole.mkv", 48), tmp / "cut.mkv"), "truncated"),
        (lambda tmp: _truncated_copy(make_clip(tmp / "whole.avi", 48), tmp / "cut.avi"), "truncated"),
    ],
    ids=["missing", "empty", "not_a_video", "truncated_mp4", "truncated_mkv", "truncated_avi"],
)
def test_unreadable_clips_raise_a_readable_error(tmp_path, make_bad, reason):
    path = make_bad(tmp_path)
    with pytest.raises(VideoReadError) as caught:
        read_sampled_frames(path, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
    assert caught.value.reason == reason
    assert str(path) in str(caught.value)


def test_one_open_path_is_exact_on_every_clip(clip_matrix, full_decodes):
    """read_sampled_frames (one open, whichever path a clip takes) = probe_video + sample_indices + a full decode."""
    for name, (path, _) in clip_matrix.items():
        info, indices, frames = read_sampled_frames(path, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
        assert info == probe_video(path), name
        assert indices == sample_indices(info, video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN), name
        for index, frame in zip(indices, frames, strict=True):
            assert np.array_equal(frame, full_decodes[name][index]), f"{name}: frame {index} differs"


def _kept_packets(path):
    container = av.open(str(path))
    info, packets = demux(container, path, keep_packets=True)
    return container, info, packets


def test_kept_packet_path_itself_is_exact_on_every_trusted_clip(clip_matrix, full_decodes):
    """Drives the in-memory packet path alone (no fallback), every third frame, B-frame clips included."""
    trusted_bframe_clips = 0
    for name, (path, _) in clip_matrix.items():
        container, info, packets = _kept_packets(path)
        with container:
            if not info.metadata_trusted:
                continue
            trusted_bframe_clips += "bframes" in name
            every_third = list(range(0, info.n_frames, 3)) + [info.n_frames - 1]
            found = decode_kept_packets(container.streams.video[0], packets, info, every_third)
        for index in every_third:
            assert np.array_equal(found[index], full_decodes[name][index]), f"{name}: frame {index} differs"
    assert trusted_bframe_clips == 2


def test_non_reference_frames_are_skipped_and_the_target_is_still_exact(clip_matrix, full_decodes):
    name = "h264_bframes3_single_gop.mov"
    container, info, packets = _kept_packets(clip_matrix[name][0])
    with container:
        codec = container.streams.video[0].codec_context
        last_pts = frozenset({info.frame_pts[-1]})
        decoded = list(frames_of(codec, packets, last_pts, skip_nonref=True))
    assert len(decoded) < 0.8 * info.n_frames  # x264's non-reference B-frames were never decoded
    assert decoded[-1].pts == info.frame_pts[-1]
    assert np.array_equal(decoded[-1].to_ndarray(format="rgb24"), full_decodes[name][-1])


def test_a_failed_packet_path_falls_back_to_a_full_decode(clip_matrix, full_decodes, monkeypatch):
    """If the packet path gives up half-way (decoder mid-GOP, non-reference frames being skipped), nothing leaks."""
    name = "h264_bframes3_gop24.mp4"
    real = decode_kept_packets
    calls = []

    def gives_up_half_way(stream, packets, info, targets):
        calls.append(info.path)
        real(stream, packets[: len(packets) // 2], info, targets[:2])
        stream.codec_context.skip_frame = "NONREF"
        raise SpanMissed

    monkeypatch.setattr(video.read, "info_from_mp4_index", lambda container, path: None)  # the demux path
    monkeypatch.setattr(video.read, "decode_kept_packets", gives_up_half_way)
    _, indices, frames = read_sampled_frames(clip_matrix[name][0], video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
    assert len(calls) == 1
    for index, frame in zip(indices, frames, strict=True):
        assert np.array_equal(frame, full_decodes[name][index]), f"frame {index} differs"


def test_the_seek_path_is_exact_on_every_trusted_mp4(clip_matrix, full_decodes):
    """MP4/MOV clips whose sample tables are trusted: seek to each keyframe, decode forward, every third frame."""
    seek_path_clips = []
    for name, (path, _) in clip_matrix.items():
        with av.open(str(path)) as container:
            info = info_from_mp4_index(container, path)
            if info is None:
                continue
            seek_path_clips.append(name)
            every_third = list(range(0, info.n_frames, 3)) + [info.n_frames - 1]
            found = decode_by_seeking(container, info, every_third)
        for index in every_third:
            assert np.array_equal(found[index], full_decodes[name][index]), f"{name}: frame {index} differs"
    trusted_mp4s = []  # by a demux of every packet
    for name, (path, _) in clip_matrix.items():
        container, info, _ = _kept_packets(path)
        container.close()
        if path.suffix in (".mp4", ".mov") and info.metadata_trusted:
            trusted_mp4s.append(name)
    assert seek_path_clips == trusted_mp4s and len(trusted_mp4s) == 11  # all MP4/MOVs but variable-rate, edit-listed
    assert "h264_bframes3_gop24.mp4" in seek_path_clips and "h264_bframes3_single_gop.mov" in seek_path_clips


def test_trusted_mp4s_are_read_without_a_demux_pass(clip_matrix, full_decodes, monkeypatch):
    def no_demux(*args, **kwargs):
        raise AssertionError("demuxed the whole file")

    monkeypatch.setattr(video.read, "demux", no_demux)
    name = "h264_24fps_gop24.mp4"
    info, indices, frames = read_sampled_frames(clip_matrix[name][0], video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
    assert info.metadata_trusted and len(frames) == VIDEO_MAXLEN
    for index, frame in zip(indices, frames, strict=True):
        assert np.array_equal(frame, full_decodes[name][index]), f"frame {index} differs"


def test_a_failed_seek_path_falls_back_to_the_demux_path(clip_matrix, full_decodes, monkeypatch):
    """A seek that lands wrong half-way (decoder mid-GOP, frames being skipped) starts over from a demux."""
    name = "h264_bframes3_gop24.mp4"
    real = decode_by_seeking
    calls = []

    def lands_wrong_half_way(container, info, targets):
        calls.append(info.path)
        real(container, info, targets[:2])
        container.streams.video[0].codec_context.skip_frame = "NONREF"
        raise SpanMissed

    monkeypatch.setattr(video.read, "decode_by_seeking", lands_wrong_half_way)
    info, indices, frames = read_sampled_frames(clip_matrix[name][0], video_fps=VIDEO_FPS, video_maxlen=VIDEO_MAXLEN)
    assert len(calls) == 1 and info == probe_video(clip_matrix[name][0])
    for index, frame in zip(indices, frames, strict=True):
        assert np.array_equal(frame, full_decodes[name][index]), f"frame {index} differs"
