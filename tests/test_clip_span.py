"""``video.mp4#t=START,END``: a span of a longer video read as its own clip (video/clip_span.py, video/read.py).

The long video's frame k is grey level 4k, so every decoded frame says which frame of the long video it is. A clip
cut at exactly [START, END) (its frames encoded on their own) is read alike: same indices, times, duration and
frames; through the qwen2_vl_exact plugin the span gives the cut clip's tokens, and tokens equal features.
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import plugins
import video.read
from video import (
    ClipSpan,
    VideoReadError,
    clip_reference,
    frame_times,
    probe_video,
    read_sampled_frames,
    sample_indices,
    split_clip_reference,
)

FPS, N_FRAMES, GOP = 10, 60, 12
SPAN = ClipSpan(1.5, 4.0)  # frames 15..39: starts inside the GOP of keyframe 12
FIRST, STOP = 15, 40
SAMPLING = {"video_fps": 2.0, "video_maxlen": 8}


def _encode(path: Path, frame_numbers: range) -> Path:
    """Flat grey frames, frame k of the long video at grey level 4k, at FPS, a keyframe every GOP frames."""
    container_format = {".mp4": "mp4", ".mkv": "matroska"}[path.suffix]
    with av.open(str(path), mode="w", format=container_format) as container:
        x264 = f"keyint={GOP}:min-keyint={GOP}:scenecut=0"
        options = {"preset": "ultrafast", "threads": "1", "x264-params": x264}
        stream = container.add_stream("libx264", rate=Fraction(FPS), options=options)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k in frame_numbers:
            pixels = np.full((48, 64, 3), 4 * k, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def _long_frame_numbers(frames) -> list[int]:
    return [round(float(frame.mean()) / 4) for frame in frames]


@pytest.fixture(scope="module", params=[".mp4", ".mkv"])  # MP4: sample tables and seeks; MKV: demux, untrusted times
def videos(request, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("span")
    long = _encode(folder / f"long{request.param}", range(N_FRAMES))
    cut = _encode(folder / f"cut{request.param}", range(FIRST, STOP))
    return long, cut


def test_a_reference_splits_into_the_file_and_its_span(tmp_path):
    assert split_clip_reference("a/b.mp4#t=1.5,4") == ("a/b.mp4", ClipSpan(1.5, 4.0))
    assert split_clip_reference("a/b.mp4#t=npt:10,20") == ("a/b.mp4", ClipSpan(10.0, 20.0))
    assert split_clip_reference("a/b.mp4") == ("a/b.mp4", None)
    assert split_clip_reference("a/b.mp4#chapter2") == ("a/b.mp4#chapter2", None)
    odd = tmp_path / "take#t=1,2.mp4"
    odd.write_bytes(b"x")
    real = tmp_path / "clip.mp4#t=1,2"  # a file whose name looks like a span is that file
    real.write_bytes(b"x")
    assert split_clip_reference(str(real)) == (str(real), None)
    assert split_clip_reference(str(odd)) == (str(odd), None)
    assert clip_reference("a/b.mp4", ClipSpan(1, 4)) == "a/b.mp4#t=1,4"
    assert split_clip_reference(clip_reference("a/b.mp4", ClipSpan(1.25, 4)))[1] == ClipSpan(1.25, 4.0)
    assert clip_reference("a/b.mp4", None) == "a/b.mp4"


@pytest.mark.parametrize(
    "fragment, message",
    [("t=4,1.5", "0 <= start < end"), ("t=2,2", "0 <= start < end"), ("t=-1,2", "not a time span"),
     ("t=1", "not a time span"), ("t=a,b", "not a time span")],
)  # fmt: skip
def test_a_malformed_span_is_refused_naming_the_reference(fragment, message):
    with pytest.raises(ValueError, match=message) as caught:
        split_clip_reference(f"videos/x.mp4#{fragment}")
    assert f"videos/x.mp4#{fragment}" in str(caught.value)


def test_the_span_reads_as_the_clip_cut_at_exactly_its_times(videos, monkeypatch):
    long, cut = videos
    reference = f"{long}#t=1.5,4"
    span_info, span_indices, span_frames = read_sampled_frames(reference, **SAMPLING)
    cut_info, cut_indices, cut_frames = read_sampled_frames(cut, **SAMPLING)
    assert span_info.n_frames == cut_info.n_frames == STOP - FIRST
    assert span_indices == cut_indices == sample_indices(probe_video(reference), **SAMPLING)
    assert len(span_indices) == 5  # floor(2.5 s x 2 fps): the span's duration, not the long video's 6 s
    assert span_info.duration_s == pytest.approx(cut_info.duration_s, abs=1e-6)
    assert frame_times(span_info, span_indices) == pytest.approx(frame_times(cut_info, cut_indices), abs=1e-6)
    assert _long_frame_numbers(span_frames) == _long_frame_numbers(cut_frames) == [FIRST + i for i in span_indices]
    # a stand-in sampler asking for the span's first and last frames, out of order, then for one past its end
    monkeypatch.setattr(video.read, "sample_indices", lambda info, **settings: [0, 24, 3])
    assert _long_frame_numbers(read_sampled_frames(reference, **SAMPLING)[2]) == [FIRST, FIRST + 24, FIRST + 3]
    monkeypatch.setattr(video.read, "sample_indices", lambda info, **settings: [25])
    with pytest.raises(ValueError, match="outside the clip's 25 frames"):
        read_sampled_frames(reference, **SAMPLING)  # frame 40 of the long video: outside the span


def test_the_whole_video_is_still_read_whole(videos):
    long, _ = videos
    info, indices, frames = read_sampled_frames(long, **SAMPLING)
    assert info.n_frames == N_FRAMES and _long_frame_numbers(frames) == indices


@pytest.mark.parametrize("fragment", ["#t=5,7", "#t=6.5,8"])
def test_a_span_past_the_end_is_an_error_naming_the_sample(videos, fragment):
    reference = f"{videos[0]}{fragment}"
    for read in (probe_video, lambda ref: read_sampled_frames(ref, **SAMPLING)):
        with pytest.raises(VideoReadError) as caught:
            read(reference)
        assert caught.value.reason == "bad_span" and str(caught.value).startswith(f"{reference}: cannot read video")
        assert "after the video's 6.000 s" in str(caught.value)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    """(tokenizer, processor, qwen2_vl_exact template) through LLaMA-Factory's loaders."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_tokenizer

    plugins.register()
    model_args, data_args, _, _ = get_infer_args({"model_name_or_path": str(tiny_model_dir),
                                                  "template": "qwen2_vl_exact", **SAMPLING})  # fmt: skip
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    return tokenizer_module["tokenizer"], tokenizer_module["processor"], template


def test_the_exact_plugin_gives_the_span_the_cut_clips_tokens(loaded, videos):
    tokenizer, processor, template = loaded
    plugin = template.mm_plugin
    video_token_id = tokenizer.convert_tokens_to_ids(plugin.video_token)

    def encode(video: str):
        messages = [{"role": "user", "content": "<video>Describe."}, {"role": "assistant", "content": "a caption"}]
        messages = plugin.process_messages(messages, [], [video], [], processor)
        ids, _ = template.encode_oneturn(tokenizer, messages)
        return ids, plugin.get_mm_inputs([], [video], [], [0], [1], [0], [ids], processor)

    long, cut = videos
    span_ids, span_inputs = encode(f"{long}#t=1.5,4")
    cut_ids, cut_inputs = encode(str(cut))
    whole_ids, _ = encode(str(long))
    n_features = int(span_inputs["video_grid_thw"].prod()) // processor.video_processor.merge_size**2
    assert span_ids.count(video_token_id) == n_features > 0
    assert span_ids == cut_ids and span_inputs["video_grid_thw"].tolist() == cut_inputs["video_grid_thw"].tolist()
    assert whole_ids.count(video_token_id) > n_features  # the whole 6 s video samples more frames than the span


def test_the_frame_store_keeps_each_span_as_a_clip_of_its_own(videos, tmp_path):
    """Keyed by file and span (any spelling of one span is one entry), stat'ed by the file; bit-identical frames."""
    from frame_store.plugin_hook import clip_available, open_store
    from frame_store.reader import read_counts
    from tests.frame_store_fixtures import READ, build, exact_plugin

    long = videos[0]
    clips = [str(long), f"{long}#t=1.5,4", f"{long}#t=3,5.5"]
    target, result = build(tmp_path / "frames", clips, exact_plugin())
    assert (result.failures, result.n_decoded) == ({}, 3)
    decoded = [exact_plugin().read_videos([clip], **READ) for clip in clips]
    plugin = exact_plugin(tmp_path / "frames")
    store = open_store(target.directory)
    for clip, expected in zip([*clips, f"{long}#t=1.50,4.0"], [*decoded, decoded[1]], strict=True):
        stored = plugin.read_videos([clip], **READ)
        assert stored["frames_indices"] == expected["frames_indices"] and stored["durations"] == expected["durations"]
        assert [np.asarray(f).tobytes() for f in stored["videos"][0]] == [
            np.asarray(f).tobytes() for f in expected["videos"][0]
        ]
    assert read_counts(store)["hits"] == 4
    assert _long_frame_numbers([np.asarray(decoded[2]["videos"][0][0])]) == [30]  # #t=3,5.5 starts at frame 30
    assert clip_available(f"{long}#t=1.5,4", tmp_path / "frames") and store.holds(f"{long}#t=1.5,4")
    assert not store.holds(f"{long}#t=1,4")


def test_evaluation_finds_a_spans_video_and_suggests_its_folder(videos, tmp_path, monkeypatch):
    """The model-free checks look for the span's video file, not for a file named with the fragment."""
    from data.eval_samples import Sample
    from evaluation.outcome import check_clips_exist

    long = videos[0]
    here = [Sample("a", f"{long.name}#t=1.5,4", f"{long}#t=1.5,4", "p", "r")]
    assert check_clips_exist(here, long.parent, tmp_path / "test.json", None) is None
    monkeypatch.chdir(long.parent)  # the paths are relative to the current directory, not to --video-dir
    elsewhere = [Sample("a", f"{long.name}#t=1.5,4", str(tmp_path / f"{long.name}#t=1.5,4"), "p", "r")]
    with pytest.raises(ValueError, match=f"pass --video-dir {long.parent}"):
        check_clips_exist(elsewhere, tmp_path, tmp_path / "test.json", None)


def test_qwen3_vl_exact_writes_the_spans_own_timestamps(tiny_model_dir, videos):
    """Qwen3-VL's time text before each temporal patch counts from the span's start, as for the cut clip."""
    from plugins import llamafactory_boundary as boundary
    from tests.family_processors import family_processor

    plugins.register()
    processor = family_processor("qwen3_vl", tiny_model_dir)
    plugin = boundary.TEMPLATES["qwen3_vl_exact"].mm_plugin

    def expand(video: str) -> tuple[str, int]:
        messages = [{"role": "user", "content": "<video>Describe."}, {"role": "assistant", "content": "a caption"}]
        text = plugin.process_messages(messages, [], [video], [], processor)[0]["content"]
        inputs = plugin.get_mm_inputs([], [video], [], [0], [1], [0], [[]], processor)
        return text, int(inputs["video_grid_thw"].prod()) // processor.video_processor.merge_size**2

    long, cut = videos
    span_text, span_features = expand(f"{long}#t=1.5,4")
    cut_text, _ = expand(str(cut))
    assert span_text == cut_text and span_text.count(plugin.video_token) == span_features > 0
    assert span_text.startswith("<0.") and span_text != expand(str(long))[0]


def test_the_preflight_decode_check_reads_spans_and_names_one_past_the_end(videos):
    from plugins.decode_check import decode_clips

    long = videos[0]
    good, past_end = f"{long}#t=1.5,4", f"{long}#t=5,7"
    check = decode_clips([good, past_end], workers=1, **SAMPLING)
    assert check.n_clips == 2 and list(check.failures) == [past_end]
    assert check.failures[past_end].startswith(f"{past_end}: cannot read video (bad_span)")
