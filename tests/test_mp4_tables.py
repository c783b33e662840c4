"""video.mp4_tables: sample tables equal what a demux of every packet reports; anything unusual gives None."""

from fractions import Fraction

import av
import numpy as np
import pytest

from tests.clips import decode_all_frames, frame_pixels, make_clip, remux_mp4
from video import VideoReadError, probe_video, read_sampled_frames
from video.container import info_from_mp4_index
from video.decode import decode_by_seeking
from video.mp4_tables import read_mp4_index


def _demuxed(path):
    """(pts, dts, is_keyframe) of every packet a decode shows, in presentation order."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size and not p.is_discard]
        return sorted((p.pts, p.dts, p.is_keyframe) for p in packets)


def _with_audio_track(path, n_frames: int = 72):
    """H.264 with B-frames plus an AAC track interleaved, as clips with sound are muxed."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=24, options={"preset": "ultrafast",
                                     "x264-params": "keyint=12:min-keyint=12:scenecut=0:bframes=2"})  # fmt: skip
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for i in range(n_frames):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame_pixels(i, 96, 64), format="rgb24")))
            if i % 2 == 0:
                sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                sound.sample_rate, sound.pts = 16000, i // 2 * 1024
                container.mux(audio.encode(sound))
        container.mux(video.encode())
        container.mux(audio.encode())
    return path


def test_a_clip_with_sound_takes_the_seek_path_exactly(tmp_path):
    path = _with_audio_track(tmp_path / "with_sound.mp4")
    index = read_mp4_index(path)
    assert index is not None and len(index.pts) == 72
    with av.open(str(path)) as container:
        assert [stream.type for stream in container.streams] == ["video", "audio"]
        info = info_from_mp4_index(container, path)
        every_third = list(range(0, 72, 3)) + [71]
        found = decode_by_seeking(container, info, every_third)
    full = decode_all_frames(path)
    assert all(np.array_equal(found[i], full[i]) for i in every_third)


def test_tables_equal_a_demux_on_every_mp4_and_mov(clip_matrix):
    read = []
    for name, (path, _) in clip_matrix.items():
        if path.suffix not in (".mp4", ".mov"):
            continue
        index = read_mp4_index(path)
        if index is None:
            continue
        read.append(name)
        order = np.argsort(index.pts, kind="stable")
        from_tables = list(
            zip(index.pts[order].tolist(), index.dts[order].tolist(), index.is_keyframe[order].tolist(), strict=True)
        )
        assert from_tables == _demuxed(path), name
        with av.open(str(path)) as container:
            assert container.streams.video[0].time_base == Fraction(1, index.timescale), name
    assert "h264_bframes3_gop24.mp4" in read and "h264_variable_rate.mp4" in read and len(read) == 12
    assert "h264_edit_list_cut.mp4" not in read  # its edit list hides frames: only a demux can say which


def test_other_containers_and_non_videos_give_none(clip_matrix, tmp_path):
    for name in ("h264_30fps_gop15.avi", "h264_bframes3_gop25.mkv", "vp9_24fps_gop24.webm"):
        assert read_mp4_index(clip_matrix[name][0]) is None, name
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_bytes(b"not a video\n" * 50)
    (tmp_path / "noise.mp4").write_bytes(b"\x00\x00\x00\x10ftypisom" + np.random.default_rng(0).bytes(100_000))
    for name in ("empty.mp4", "notes.mp4", "noise.mp4", "nowhere.mp4"):
        assert read_mp4_index(tmp_path / name) is None, name


def test_fragmented_mp4_gives_none_and_is_still_read_exactly(clip_matrix, tmp_path):
    source, _ = clip_matrix["h264_24fps_gop24.mp4"]
    path = remux_mp4(source, tmp_path / "fragmented.mp4", "frag_keyframe+empty_moov")
    assert read_mp4_index(path) is None
    info, indices, frames = read_sampled_frames(path, video_fps=8.0, video_maxlen=8)
    full = decode_all_frames(path)
    assert info.n_frames == len(full)
    assert all(np.array_equal(frame, full[index]) for index, frame in zip(indices, frames, strict=True))


def test_moov_first_mp4_cut_short_gives_none_and_a_truncation_error(tmp_path):
    path = remux_mp4(make_clip(tmp_path / "source.mp4", 96), tmp_path / "faststart.mp4", "faststart")
    assert read_mp4_index(path) is not None
    with open(path, "rb") as f:
        assert f.read(16)[4:8] == b"ftyp" and b"moov" in f.read(200)  # tables before the media data
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    assert read_mp4_index(cut) is None  # samples reach past the end of the file
    with pytest.raises(VideoReadError) as caught:
        probe_video(cut)
    assert caught.value.reason == "truncated"


@pytest.mark.parametrize(
    ("table", "offset"),
    [(b"stts", 8), (b"stts", 12), (b"stsz", 12), (b"stss", 8)],
    ids=["stts_entries", "stts_first_run_samples", "stsz_samples", "stss_entries"],
)
def test_a_corrupt_count_gives_none(clip_matrix, tmp_path, table, offset):
    """Offsets count from the box type: version/flags at 4, then the table's counts."""
    data = bytearray(clip_matrix["h264_24fps_gop24.mp4"][0].read_bytes())
    at = data.index(table) + offset
    data[at : at + 4] = (0xFFFFFFF0).to_bytes(4, "big")  # a run of 4 billion samples would need 32 GB expanded
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    assert read_mp4_index(path) is None


def test_a_zero_timescale_gives_none(clip_matrix, tmp_path):
    """An mdhd timescale of 0 cannot time anything (it made the probe divide by zero): the demux path decides."""
    plain = remux_mp4(clip_matrix["h264_24fps_gop24.mp4"][0], tmp_path / "plain.mp4", "faststart")
    data = bytearray(plain.read_bytes())
    mdhd = data.index(b"mdhd")
    data[mdhd + 16 : mdhd + 20] = bytes(4)  # type, version/flags, creation, modification, then the timescale
    if b"edts" in data:  # without an edit list nothing else rejects the tables
        at = data.index(b"edts")
        data[at : at + 4] = b"free"
    path = tmp_path / "zero_timescale.mp4"
    path.write_bytes(bytes(data))
    assert read_mp4_index(path) is None
