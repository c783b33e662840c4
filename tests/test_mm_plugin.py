"""qwen2_vl_exact through LLaMA-Factory's own process_messages/get_mm_inputs with the tiny model.

Tokens equal features on every clip of the matrix; where the header is right, token ids and pixels are the
stock qwen2_vl plugin's, bit for bit; where it is wrong, our frames are the truth.
"""

import dataclasses

import av
import pytest
import torch

import plugins
from plugins.llamafactory_boundary import TEMPLATES, AlignedSample, encode_sample, regularized_videos
from plugins.mm_plugin import UnsupportedFamily
from tests.damaged_clips import faststart_clip, zero_tail
from video import VideoReadError, probe_video, sample_indices

PROMPT = "<video>Describe this video in one sentence."
VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    """(tokenizer, processor, our template) through LLaMA-Factory's loaders, as training and eval get them."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_tokenizer

    plugins.register()
    model_args, data_args, _, _ = get_infer_args(
        {"model_name_or_path": str(tiny_model_dir), "template": "qwen2_vl_exact", **VIDEO_SETTINGS}
    )
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    return tokenizer_module["tokenizer"], tokenizer_module["processor"], template


def _encode(plugin, template, tokenizer, processor, video):
    messages = [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": "a caption"}]
    messages = plugin.process_messages(messages, [], [video], [], processor)
    prompt_ids, _ = template.encode_oneturn(tokenizer, messages)
    mm_inputs = plugin.get_mm_inputs([], [video], [], [0], [1], [0], [prompt_ids], processor)
    return prompt_ids, mm_inputs


def test_register_is_idempotent_and_derives_qwen2_vl():
    plugins.register()
    plugins.register()
    ours, stock = TEMPLATES["qwen2_vl_exact"], TEMPLATES["qwen2_vl"]
    assert type(ours) is type(stock)
    for field in dataclasses.fields(stock):
        if field.name != "mm_plugin":
            assert getattr(ours, field.name) == getattr(stock, field.name), field.name
    assert type(ours.mm_plugin).__name__ == "ExactQwen2VLPlugin"
    assert ours.mm_plugin.video_token == stock.mm_plugin.video_token == "<|video_pad|>"


@pytest.mark.parametrize("name", ["glm4v", "qwen2_omni", "qwen3_omni"])
def test_a_qwen_vl_variant_we_do_not_make_exact_is_refused_by_name(loaded, clip_matrix, name):
    """Its plugin reads video its own way: ``<it>_exact`` exists only to say so when LLaMA-Factory loads the template
    (training, preflight and evaluation all do, before any data), and again if a sample reaches its plugin."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.processor import SupervisedDatasetProcessor
    from llamafactory.hparams import DataArguments

    tokenizer, processor, _ = loaded
    assert f"{name}_exact" not in plugins.register()  # not among the twins that run
    data_args = DataArguments(template=f"{name}_exact")
    with pytest.raises(UnsupportedFamily) as caught:
        get_template_and_fix_tokenizer(tokenizer, data_args)
    plugin_class = type(TEMPLATES[name].mm_plugin).__name__
    assert str(caught.value).startswith(f"template {name}_exact: '{name}' uses LLaMA-Factory's {plugin_class}")
    assert f"Use '{name}' (stock) or one of: " in str(caught.value) and "qwen3_vl_exact" in str(caught.value)

    encoder = SupervisedDatasetProcessor(template=TEMPLATES[f"{name}_exact"], tokenizer=tokenizer,
                                         processor=processor, data_args=data_args)  # fmt: skip
    sample = AlignedSample(prompt=[{"role": "user", "content": PROMPT}], response=[{"role": "assistant",
                           "content": "a caption"}], system=None, tools=None, images=[],
                           videos=[str(clip_matrix["h264_24fps_gop24.mp4"][0])], audios=[])  # fmt: skip
    with pytest.raises(UnsupportedFamily, match=f"template {name}_exact: "):
        encode_sample(encoder, sample)


def test_tokens_equal_features_and_match_stock_where_the_header_is_right(loaded, clip_matrix):
    tokenizer, processor, template = loaded
    stock_plugin = TEMPLATES["qwen2_vl"].mm_plugin
    video_token_id = tokenizer.convert_tokens_to_ids(template.mm_plugin.video_token)
    merge = processor.video_processor.merge_size**2
    for name, (path, header_right) in clip_matrix.items():
        ids, mm_inputs = _encode(template.mm_plugin, template, tokenizer, processor, str(path))
        n_features = int(mm_inputs["video_grid_thw"].prod()) // merge
        assert ids.count(video_token_id) == n_features > 0, name
        if not header_right:
            continue
        stock_ids, stock_inputs = _encode(stock_plugin, template, tokenizer, processor, str(path))
        assert ids == stock_ids, name
        assert torch.equal(mm_inputs["video_grid_thw"], stock_inputs["video_grid_thw"]), name
        assert torch.equal(mm_inputs["pixel_values_videos"], stock_inputs["pixel_values_videos"]), name


def _sampler_kwargs():
    return {"video_fps": VIDEO_SETTINGS["video_fps"], "video_maxlen": VIDEO_SETTINGS["video_maxlen"]}


def test_edit_listed_clip_gets_every_sampled_frame_where_stock_loses_some(loaded, clip_matrix):
    """Stock trusts the header (72 frames) of a clip showing 62, and silently returns fewer than 8 frames."""
    template = loaded[2]
    path = str(clip_matrix["h264_edit_list_cut.mp4"][0])
    settings = {"image_max_pixels": 224 * 224, "image_min_pixels": 16 * 16, **_sampler_kwargs()}
    stock_frames = regularized_videos(TEMPLATES["qwen2_vl"].mm_plugin, [path], **settings)[0]
    ours = regularized_videos(template.mm_plugin, [path], **settings)[0]
    info = probe_video(path)
    with av.open(path) as container:  # the truth: every frame the clip shows, decoded in order
        shown = [frame.to_image() for frame in container.decode(video=0)]
    indices = sample_indices(info, **_sampler_kwargs())
    assert len(shown) == 62 and len(set(indices)) == 8 and max(indices) < len(shown)
    truth = template.mm_plugin.resize_frames([shown[index] for index in indices], **settings)  # LLaMA-Factory's resize
    assert [image.tobytes() for image in ours] == [image.tobytes() for image in truth]
    assert len({image.tobytes() for image in stock_frames}) < 8  # stock padded or repeated frames


def test_unreadable_clip_raises_a_readable_error_through_llamafactory(loaded, tmp_path):
    tokenizer, processor, template = loaded
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoReadError, match="broken.mp4: cannot read video \\(not_a_video\\)"):
        _encode(template.mm_plugin, template, tokenizer, processor, str(broken))


def test_a_clip_damaged_after_preflight_stops_training_naming_it_and_the_fix(loaded, tmp_path):
    """The header still reads (token counts are fine), the frames do not: the error names the clip and says why."""
    tokenizer, processor, template = loaded
    clip = faststart_clip(tmp_path / "clip_7.mp4")
    ids, _ = _encode(template.mm_plugin, template, tokenizer, processor, str(clip))  # what the preflight saw
    zero_tail(clip, clip)  # then the file changed on disk
    with pytest.raises(VideoReadError) as caught:
        template.mm_plugin.get_mm_inputs([], [str(clip)], [], [0], [1], [0], [ids], processor)
    message = str(caught.value)
    assert message.startswith(f"{clip}: cannot read video (truncated)")
    assert "this clip passed preflight but fails now: it changed on disk?" in message
    assert "rerun make preflight" in message and "--drop-offending" in message
