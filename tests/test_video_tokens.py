"""One token count: plugins.video_tokens, from a clip's metadata alone, gives LLaMA-Factory's own count (the stock
plugin's expansion, where the clip's header is right) and the processor's own grid of the pixels training reads, for
each Qwen-VL family on the clip matrix; Qwen3-VL's timestamp text is the stock plugin's too."""

import pytest

import plugins
from plugins import llamafactory_boundary as boundary
from plugins.video_tokens import clip_seconds, qwen3_video_text, video_grid, video_token_count
from tests.family_processors import VIDEO_SETTINGS, family_processor

SAMPLING = {"video_fps": VIDEO_SETTINGS["video_fps"], "video_maxlen": VIDEO_SETTINGS["video_maxlen"]}
# family (processor) -> LLaMA-Factory's template, whose plugin is the family's stock one
FAMILIES = {"qwen2_vl": "qwen2_vl", "qwen2_5_vl": "qwen2_vl", "qwen3_vl": "qwen3_vl"}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, tiny_model_dir):
    """(family, processor, our plugin, the stock plugin)."""
    plugins.register()
    template = FAMILIES[request.param]
    stock, ours = boundary.TEMPLATES[template].mm_plugin, boundary.TEMPLATES[f"{template}_exact"].mm_plugin
    return request.param, family_processor(request.param, tiny_model_dir), ours, stock


def _stock_expansion(stock, path: str, processor) -> str | ValueError:
    try:
        return stock.process_messages([{"role": "user", "content": "<video>"}], [], [path], [], processor)[0]["content"]
    except ValueError as error:  # Qwen3-VL: a clip under its 32-pixel grid fails in the stock plugin too
        return error


def test_the_count_from_metadata_is_llamafactorys_and_the_processors(family, clip_matrix):
    name, processor, ours, stock = family
    compared = 0
    for clip, (path, header_right) in clip_matrix.items():
        metadata = ours.clip_metadata(str(path), **SAMPLING)
        expected = _stock_expansion(stock, str(path), processor)
        if isinstance(expected, ValueError):
            with pytest.raises(ValueError, match="must be larger than factor"):
                video_grid(ours, metadata, processor)
            continue
        grid = video_grid(ours, metadata, processor)
        read = ours.get_mm_inputs([], [str(path)], [], [0], [1], [0], [[0]], processor)  # pixels, processor's grid
        assert list(grid) == read["video_grid_thw"][0].tolist(), (name, clip)
        if not header_right:  # the stock plugin samples other frames here; the processor's grid is the truth
            continue
        assert expected.count(stock.video_token) == video_token_count(grid, processor), (name, clip)
        if name == "qwen3_vl":
            fps = SAMPLING["video_fps"]
            timestamps = ours.timestamps(processor, [time * fps for time in clip_seconds(metadata)], fps)
            assert qwen3_video_text(ours, grid, timestamps, processor) == expected, clip
        compared += 1
    assert compared >= 12  # every clip whose header is right


def test_the_plugin_expands_each_video_by_that_count(family, clip_matrix):
    """What training and the preflight encode: the plugin's expansion holds exactly video_token_count tokens."""
    name, processor, ours, _ = family
    path = str(clip_matrix["h264_bframes3_gop25.mkv"][0])  # a lying header: the count is ours, not the stock one
    grid = video_grid(ours, ours.clip_metadata(path, **SAMPLING), processor)
    expanded = ours.process_messages([{"role": "user", "content": "<video><video>"}], [], [path, path], [], processor)
    assert expanded[0]["content"].count(ours.video_token) == 2 * video_token_count(grid, processor), name


def test_metadata_without_frame_times_counts_as_llamafactory_does():
    assert clip_seconds({"average_fps": 4.0, "sample_indices": [0, 2, 6]}) == [0.0, 0.5, 1.5]
    assert clip_seconds({"frame_times": [0.1, 0.4], "average_fps": 4.0, "sample_indices": [0, 2]}) == [0.1, 0.4]


def test_the_routed_hooks_are_llamafactorys_own(family, clip_matrix):
    """Contract of the hooks behind video_tokens: LLaMA-Factory's token metadata (through the boundary's routed
    plugin, unchanged) has our grid; its resize keeps the pixel budget; the family's resize lands on its grid."""
    name, processor, ours, stock = family
    path = str(clip_matrix["h264_30fps_gop30.mov"][0])
    routed_class = boundary.Qwen3VideoPlugin if name == "qwen3_vl" else boundary.QwenVideoPlugin
    routed = routed_class(image_token=stock.image_token, video_token=stock.video_token, audio_token=None)
    grid = video_grid(ours, ours.clip_metadata(path, **SAMPLING), processor)
    assert routed.video_token_metadata([path], processor)["video_grid_thw"].tolist() == [list(grid)]
    width, height = ours.regularized_frame_size(640, 480, 224 * 224, 256)
    assert width * height <= 224 * 224 and abs(width / height - 4 / 3) < 0.01
    video_processor = processor.video_processor
    factor = video_processor.patch_size * video_processor.merge_size
    resized = ours.family_resize(8, 100, 130, video_processor.patch_size, 2, 2, factor * factor, 224 * 224)
    assert all(side % factor == 0 for side in resized)
