"""Qwen3-VL family (plugin ``qwen3_vl``: templates qwen3_vl, qwen3_vl_nothink, qwen3_5, qwen3_5_nothink, qwen3_6) on
the exact video path, with an in-process Qwen3VLProcessor (patch 16, merge 2) around the tiny tokenizer.

Where the header is right, ids (timestamp text included), pixels and grids are the stock plugin's; where it lies,
frames and timestamps are those of the frames really shown; the preflight's count (metadata only) equals the tokens
built from frames read; each video is expanded with its own grid and times wherever it sits in the conversation.
"""

import dataclasses
import re

import pytest
import torch
from PIL import Image

import plugins
from plugins import llamafactory_boundary as boundary
from plugins.mm_plugin import UnsupportedProcessor
from tests.clips import make_clip
from tests.family_processors import VIDEO_SETTINGS, family_processor
from video import frame_times, probe_video, sample_indices

PROMPT = "<video>Describe this video in one sentence."
SAMPLING = {"video_fps": VIDEO_SETTINGS["video_fps"], "video_maxlen": VIDEO_SETTINGS["video_maxlen"]}
STOCK_TEMPLATES = ("qwen3_vl", "qwen3_vl_nothink", "qwen3_5", "qwen3_5_nothink", "qwen3_6")
TIMESTAMP = re.compile(r"<(\d+\.\d) seconds>")


@pytest.fixture(scope="module")
def qwen3(tiny_model_dir):
    """(processor, tokenizer, our template, the stock template)."""
    plugins.register()
    processor = family_processor("qwen3_vl", tiny_model_dir)
    return processor, processor.tokenizer, boundary.TEMPLATES["qwen3_vl_exact"], boundary.TEMPLATES["qwen3_vl"]


def _conversation(*user_turns: str) -> list[dict[str, str]]:
    messages = []
    for index, turn in enumerate(user_turns):
        messages += [{"role": "user", "content": turn}, {"role": "assistant", "content": f"answer {index}"}]
    return messages


def _encode(template, processor, videos, messages=None):
    """(expanded messages, ids of the conversation, mm_inputs) as training builds them."""
    plugin, tokenizer = template.mm_plugin, processor.tokenizer
    expanded = plugin.process_messages(messages or _conversation(PROMPT), [], videos, [], processor)
    ids = [token for prompt, answer in template.encode_multiturn(tokenizer, expanded) for token in prompt + answer]
    mm_inputs = plugin.get_mm_inputs([], videos, [], [0], [len(videos)], [0], [ids], processor)
    return expanded, ids, mm_inputs


def _video_text(messages) -> str:
    return "".join(message["content"] for message in messages)


def _features(mm_inputs, processor) -> int:
    return int(mm_inputs["video_grid_thw"].prod(dim=-1).sum()) // processor.video_processor.merge_size**2


def test_every_qwen3_vl_template_has_an_exact_twin():
    twins = plugins.register()
    for name in STOCK_TEMPLATES:
        ours, stock = boundary.TEMPLATES[f"{name}_exact"], boundary.TEMPLATES[name]
        assert f"{name}_exact" in twins and type(ours) is type(stock)
        assert type(ours.mm_plugin).__name__ == "ExactQwen3VLPlugin", name
        for field in dataclasses.fields(stock):
            if field.name != "mm_plugin":
                assert getattr(ours, field.name) == getattr(stock, field.name), (name, field.name)


@pytest.mark.parametrize("name", STOCK_TEMPLATES)
def test_each_template_of_the_family_encodes_as_its_stock_twin(qwen3, clip_matrix, name):
    """Qwen3-VL, Qwen3.5 and Qwen3.6 share the processor (transformers maps qwen3_5 to Qwen3VLProcessor) and differ in
    chat format only: each twin's ids are its stock template's, timestamp text included."""
    processor = qwen3[0]
    path = str(clip_matrix["h264_30fps_gop30.mov"][0])
    expanded, ids, _ = _encode(boundary.TEMPLATES[f"{name}_exact"], processor, [path])
    stock_expanded, stock_ids, _ = _encode(boundary.TEMPLATES[name], processor, [path])
    assert ids == stock_ids and expanded == stock_expanded
    assert len(TIMESTAMP.findall(_video_text(expanded))) == 4


def test_ids_timestamps_and_pixels_equal_stock_where_the_header_is_right(qwen3, clip_matrix):
    processor, tokenizer, ours, stock = qwen3
    video_token = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    compared = 0
    for name, (path, header_right) in clip_matrix.items():
        if name == "h264_tiny_16x16.mp4":
            continue  # under Qwen3-VL's 32-pixel grid: refused (test_a_clip_under_the_32_pixel_grid_is_refused...)
        expanded, ids, mm_inputs = _encode(ours, processor, [str(path)])
        assert ids.count(video_token) == _features(mm_inputs, processor) > 0, name
        assert len(TIMESTAMP.findall(_video_text(expanded))) == int(mm_inputs["video_grid_thw"][0][0]), name
        if not header_right:
            continue
        stock_expanded, stock_ids, stock_inputs = _encode(stock, processor, [str(path)])
        assert TIMESTAMP.findall(_video_text(expanded)) == TIMESTAMP.findall(_video_text(stock_expanded)), name
        assert ids == stock_ids, name
        assert torch.equal(mm_inputs["video_grid_thw"], stock_inputs["video_grid_thw"]), name
        assert torch.equal(mm_inputs["pixel_values_videos"], stock_inputs["pixel_values_videos"]), name
        compared += 1
    assert compared == 13  # the 14 header-right clips but the 16x16 one


def _true_timestamps(path) -> list[str]:
    """Per temporal patch of 2 frames, the mean time at which a player shows them, as Qwen3-VL writes it."""
    info = probe_video(path)
    times = frame_times(info, sample_indices(info, **SAMPLING))
    times += times[-1:] * (len(times) % 2)
    return [f"{(times[i] + times[i + 1]) / 2:.1f}" for i in range(0, len(times), 2)]


@pytest.mark.parametrize("name", ["h264_edit_list_cut.mp4", "h264_2997fps_gop30.mkv", "vp9_24fps_gop24.webm"])
def test_timestamps_are_those_of_the_frames_shown_where_the_header_lies(qwen3, clip_matrix, name):
    """Stock times frames the edit list hides (past the clip's end) or the first 8 frames of an MKV (all within its
    first third of a second); ours are the times of evenly spread frames really shown."""
    processor, _, ours, stock = qwen3
    path = str(clip_matrix[name][0])
    ours_times = TIMESTAMP.findall(_video_text(_encode(ours, processor, [path])[0]))
    stock_times = TIMESTAMP.findall(_video_text(stock.mm_plugin.process_messages(
        _conversation(PROMPT), [], [path], [], processor)))  # fmt: skip
    assert ours_times == _true_timestamps(path)
    assert ours_times != stock_times
    assert float(ours_times[-1]) <= probe_video(path).duration_s


def test_a_variable_rate_clip_gets_its_frames_presentation_times(qwen3, tmp_path):
    """Frames alternately 3 and 1 ticks apart: index / average fps is not when they are shown; the pts are."""
    processor, _, ours, _ = qwen3
    clip = make_clip(tmp_path / "vfr.mp4", n_frames=48, fps=12, variable_frame_rate=True)
    info = probe_video(clip)
    indices = sample_indices(info, **SAMPLING)
    assert frame_times(info, indices) != [index / info.fps for index in indices]
    assert TIMESTAMP.findall(_video_text(_encode(ours, processor, [str(clip)])[0])) == _true_timestamps(clip)


def test_the_preflight_count_decodes_nothing_and_equals_the_tokens_built_from_frames(qwen3, clip_matrix, monkeypatch):
    """LLaMA-Factory's own encode (boundary.encode_sample, as the preflight calls it) with decoding made to fail
    gives the very ids built when clip_metadata is withheld and the frames are read to count."""
    from llamafactory.data.processor import SupervisedDatasetProcessor
    from llamafactory.hparams import DataArguments

    processor, tokenizer, ours, _ = qwen3
    data_args = DataArguments(template="qwen3_vl_exact", cutoff_len=8192)
    encoder = SupervisedDatasetProcessor(template=ours, tokenizer=tokenizer, processor=processor, data_args=data_args)
    clip_type = type(ours.mm_plugin)
    for name in ("h264_24fps_gop24.mp4", "h264_2997fps_gop30.mkv", "h264_edit_list_cut.mp4", "h264_7_frames_odd.mp4"):
        sample = boundary.AlignedSample(
            prompt=[{"role": "user", "content": PROMPT}],
            response=[{"role": "assistant", "content": "a caption"}],
            system=None,
            tools=None,
            images=[],
            videos=[str(clip_matrix[name][0])],
            audios=[],
        )
        with monkeypatch.context() as patch:
            patch.setattr(clip_type, "read_videos", lambda self, videos, **kw: pytest.fail("the count decoded"))
            counted = boundary.encode_sample(encoder, sample)
        with monkeypatch.context() as patch:
            patch.setattr(clip_type, "clip_metadata", lambda self, video, video_fps, video_maxlen: None)
            built = boundary.encode_sample(encoder, sample)
        assert counted == built, name
        assert TIMESTAMP.search(tokenizer.decode(counted)), name


def test_each_video_gets_its_own_grid_and_times_in_any_message(qwen3, clip_matrix):
    """Two clips of different lengths, the second in the second user turn: the stock plugin reads video_metadata by
    message index (the third message has none) and both videos' frame counts from the first video's grid."""
    processor, tokenizer, ours, stock = qwen3
    short, long = (str(clip_matrix[name][0]) for name in ("h264_5_frames_short.mp4", "h264_24fps_gop24.mp4"))
    messages = _conversation(PROMPT, "<video>And this one?")
    expanded, ids, mm_inputs = _encode(ours, processor, [short, long], messages)
    assert ids.count(tokenizer.convert_tokens_to_ids("<|video_pad|>")) == _features(mm_inputs, processor)
    assert TIMESTAMP.findall(expanded[0]["content"]) == _true_timestamps(short)
    assert TIMESTAMP.findall(expanded[2]["content"]) == _true_timestamps(long)
    with pytest.raises(IndexError):
        stock.mm_plugin.process_messages(messages, [], [short, long], [], processor)


def test_frames_given_as_images_and_an_image_beside_the_video_expand_as_stock(qwen3):
    """Frames as images carry no clip to probe: their times are LLaMA-Factory's (positions at video_fps)."""
    processor, _, ours, stock = qwen3
    frames = [Image.new("RGB", (64, 64), (index * 30, 0, 0)) for index in range(6)]
    image = Image.new("RGB", (96, 64), (0, 90, 0))
    messages = _conversation("<image><video>What changes?")
    expanded = ours.mm_plugin.process_messages(messages, [image], [frames], [], processor)
    assert expanded == stock.mm_plugin.process_messages(messages, [image], [frames], [], processor)
    assert len(TIMESTAMP.findall(expanded[0]["content"])) == 3 and "<|image_pad|>" in expanded[0]["content"]


def test_a_clip_under_the_32_pixel_grid_is_refused_naming_it_and_the_fix(qwen3, clip_matrix):
    processor, _, ours, _ = qwen3
    path = str(clip_matrix["h264_tiny_16x16.mp4"][0])
    with pytest.raises(ValueError, match=r"smaller than Qwen3-VL's 32-pixel grid.*raise video_min_pixels") as caught:
        _encode(ours, processor, [path])
    assert path in str(caught.value)


def test_a_processor_of_another_family_is_refused_by_name(qwen3, tiny_model_dir, clip_matrix):
    _, _, ours, _ = qwen3
    wrong = family_processor("qwen2_5_vl", tiny_model_dir)
    with pytest.raises(UnsupportedProcessor, match=r"verified with Qwen3VLProcessor only.*is Qwen2_5_VLProcessor"):
        ours.mm_plugin.process_messages(_conversation(PROMPT), [], [str(clip_matrix["h264_24fps_gop24.mp4"][0])],
                                        [], wrong)  # fmt: skip
