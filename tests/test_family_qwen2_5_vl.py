"""Qwen2.5-VL (plugin ``qwen2_vl``, templates qwen2_vl and every other LLaMA-Factory template on that plugin) on the
exact video path, with an in-process Qwen2_5_VLProcessor (patch 14, merge 2) around the tiny tokenizer.

Where the header is right, ids, pixels, grids and ``second_per_grid_ts`` (seconds per temporal patch, which Qwen2.5-VL
feeds its rotary time axis) are the stock plugin's; where the header lies, the seconds per patch come from the frames
really shown. Qwen2-VL itself: tests/test_mm_plugin.py.
"""

import dataclasses

import pytest
import torch

import plugins
from plugins import llamafactory_boundary as boundary
from plugins.mm_plugin import UnsupportedProcessor
from tests.family_processors import VIDEO_SETTINGS, family_processor
from video import frame_times, probe_video, sample_indices

PROMPT = "<video>Describe this video in one sentence."
SAMPLING = {"video_fps": VIDEO_SETTINGS["video_fps"], "video_maxlen": VIDEO_SETTINGS["video_maxlen"]}


@pytest.fixture(scope="module")
def qwen2_5(tiny_model_dir):
    """(processor, our template, the stock template)."""
    plugins.register()
    processor = family_processor("qwen2_5_vl", tiny_model_dir)
    return processor, boundary.TEMPLATES["qwen2_vl_exact"], boundary.TEMPLATES["qwen2_vl"]


def _encode(template, processor, video):
    """(ids, mm_inputs) of a one-turn sample, as training builds them."""
    messages = [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": "a caption"}]
    messages = template.mm_plugin.process_messages(messages, [], [video], [], processor)
    prompt_ids, answer_ids = template.encode_oneturn(processor.tokenizer, messages)
    ids = prompt_ids + answer_ids
    return ids, template.mm_plugin.get_mm_inputs([], [video], [], [0], [1], [0], [ids], processor)


def test_every_qwen2_vl_plugin_template_has_an_exact_twin():
    twins = plugins.register()
    stock_class = boundary.MM_PLUGINS["qwen2_vl"]
    served = [name for name, template in boundary.TEMPLATES.items() if type(template.mm_plugin) is stock_class]
    assert {"qwen2_vl", "mimo_vl"} <= set(served)
    for name in served:
        ours, stock = boundary.TEMPLATES[f"{name}_exact"], boundary.TEMPLATES[name]
        assert f"{name}_exact" in twins and type(ours.mm_plugin).__name__ == "ExactQwen2VLPlugin", name
        for field in dataclasses.fields(stock):
            if field.name != "mm_plugin":
                assert getattr(ours, field.name) == getattr(stock, field.name), (name, field.name)


def test_ids_pixels_and_seconds_per_patch_equal_stock_where_the_header_is_right(qwen2_5, clip_matrix):
    processor, ours, stock = qwen2_5
    assert "second_per_grid_ts" in processor.model_input_names
    video_token = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    compared = 0
    for name, (path, header_right) in clip_matrix.items():
        ids, mm_inputs = _encode(ours, processor, str(path))
        assert ids.count(video_token) == int(mm_inputs["video_grid_thw"].prod()) // 4 > 0, name
        if not header_right:
            continue
        stock_ids, stock_inputs = _encode(stock, processor, str(path))
        assert ids == stock_ids, name
        assert torch.equal(mm_inputs["video_grid_thw"], stock_inputs["video_grid_thw"]), name
        assert torch.equal(mm_inputs["pixel_values_videos"], stock_inputs["pixel_values_videos"]), name
        assert mm_inputs["second_per_grid_ts"] == stock_inputs["second_per_grid_ts"], name
        compared += 1
    assert compared == 14


@pytest.mark.parametrize("name", ["h264_edit_list_cut.mp4", "h264_2997fps_gop30.mkv", "vp9_24fps_gop24.webm"])
def test_seconds_per_patch_come_from_the_frames_shown_where_the_header_lies(qwen2_5, clip_matrix, name):
    """LLaMA-Factory's formula, 2 / (frames sampled / seconds), over the seconds a player shows. With no duration in
    the header (MKV/WebM) the stock plugin assumes the frames are video_fps apart (0.25 s per patch here, for
    frames spread over seconds); an edit list's duration is the shown one, so there only the frames differed."""
    processor, ours, stock = qwen2_5
    path = str(clip_matrix[name][0])
    info = probe_video(path)
    times = frame_times(info, sample_indices(info, **SAMPLING))
    shown_s = times[-1] + 1 / info.fps  # the last sampled frame is the last frame shown
    [seconds] = _encode(ours, processor, path)[1]["second_per_grid_ts"]
    [stock_seconds] = _encode(stock, processor, path)[1]["second_per_grid_ts"]
    assert seconds == pytest.approx(2 / (len(times) / shown_s), rel=0.01)
    if not name.endswith(".mp4"):
        assert stock_seconds == 2 / SAMPLING["video_fps"] != pytest.approx(seconds, rel=0.5)


def test_a_processor_of_another_family_is_refused_by_name(qwen2_5, tiny_model_dir, clip_matrix):
    _, ours, _ = qwen2_5
    wrong = family_processor("qwen3_vl", tiny_model_dir)
    messages = [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": "a caption"}]
    video = str(clip_matrix["h264_24fps_gop24.mp4"][0])
    with pytest.raises(UnsupportedProcessor, match=r"Qwen2VLProcessor, Qwen2_5_VLProcessor only.*is Qwen3VLProcessor"):
        ours.mm_plugin.process_messages(messages, [], [video], [], wrong)
    with pytest.raises(UnsupportedProcessor, match="Use the stock template"):
        ours.mm_plugin.get_mm_inputs([], [video], [], [0], [1], [0], [[0]], wrong)
    remote_code = family_processor("qwen2_5_vl", tiny_model_dir)  # e.g. dots.ocr's: a subclass, its own behaviour
    remote_code.__class__ = type("DotsVLProcessor", (type(remote_code),), {})
    with pytest.raises(UnsupportedProcessor, match="this model's processor is DotsVLProcessor"):
        ours.mm_plugin.process_messages(messages, [], [video], [], remote_code)
