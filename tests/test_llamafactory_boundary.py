"""The LLaMA-Factory boundary (plugins/llamafactory_boundary.py): one contract test per private hook we rely on,
the check that refuses an installed LLaMA-Factory without them, and a scan that keeps every other file off them.

This file and the boundary module are the only ones allowed to name LLaMA-Factory's private API.
"""

import ast
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from llamafactory.data import mm_plugin as lf_mm_plugin
from llamafactory.data.mm_plugin import Qwen2VLPlugin, Qwen3VLPlugin
from llamafactory.data.processor import SupervisedDatasetProcessor
from PIL import Image

import plugins
from plugins import llamafactory_boundary as boundary
from tests.clips import make_clip
from tests.family_processors import family_processor
from tests.overlay_venv import make_overlay_venv
from tests.training_fixtures import DATASET_NAME, PROMPT, write_dataset
from video import probe_video, sample_indices

REPO_ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {REPO_ROOT / "plugins" / "llamafactory_boundary.py", Path(__file__).resolve()}
VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}
SAMPLING = {"video_fps": 8.0, "video_maxlen": 8}
FRAME_BUDGET = {"image_max_pixels": 224 * 224, "image_min_pixels": 16 * 16}
CLIP_VIDEO_TOKENS = 256  # 8 frames of 224x224: grid (4, 16, 16) / merge 2x2


@pytest.fixture(scope="module")
def trained_on(tiny_model_dir, tmp_path_factory):
    """(model_args, data_args, training_args, tokenizer, processor, template, clip) for a two-record dataset of one
    224x224 clip, parsed by LLaMA-Factory as training parses it."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    root = tmp_path_factory.mktemp("boundary")
    clip = make_clip(root / "clip.mp4", n_frames=24, fps=12, width=224, height=224)
    write_dataset(root, [clip, clip])
    plugins.register()
    model_args, data_args, training_args, _, _ = get_train_args({
        "model_name_or_path": str(tiny_model_dir), "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "dataset": DATASET_NAME, "dataset_dir": str(root), "template": "qwen2_vl_exact", "cutoff_len": 1024,
        "output_dir": str(root / "out"), "report_to": "none", "overwrite_cache": True, **VIDEO_SETTINGS,
    })  # fmt: skip
    module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(module["tokenizer"], data_args)
    return model_args, data_args, training_args, module["tokenizer"], module["processor"], template, clip


def _aligned(trained_on):
    from llamafactory.data.parser import get_dataset_list

    model_args, data_args, training_args, *_ = trained_on
    [attr] = get_dataset_list([DATASET_NAME], data_args.dataset_dir)
    return boundary.load_aligned_samples(attr, model_args, data_args, training_args)


def test_load_single_dataset_aligns_the_records_in_file_order(trained_on):
    samples = _aligned(trained_on)
    assert len(samples) == 2
    first = next(iter(samples))
    assert first.prompt == [{"role": "user", "content": PROMPT}]
    assert first.response == [{"role": "assistant", "content": "caption 0"}]
    assert first.videos == [str(trained_on[-1])] and first.images == [] and first.audios == []
    assert [sample.response[0]["content"] for sample in samples] == ["caption 0", "caption 1"]


def test_encode_data_example_expands_the_video_tokens_and_truncates_at_cutoff_len(trained_on):
    import dataclasses

    _, data_args, _, tokenizer, processor, template, _ = trained_on
    sample = next(iter(_aligned(trained_on)))
    encoder = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=processor,
                                         data_args=data_args)  # fmt: skip
    ids = boundary.encode_sample(encoder, sample)
    video_token_id = tokenizer.convert_tokens_to_ids(template.mm_plugin.video_token)
    assert ids.count(video_token_id) == CLIP_VIDEO_TOKENS
    assert "caption 0" in tokenizer.decode(ids) and "Describe this video" in tokenizer.decode(ids)
    short = SupervisedDatasetProcessor(
        template=template,
        tokenizer=tokenizer,
        processor=processor,
        data_args=dataclasses.replace(data_args, cutoff_len=100),
    )
    assert len(boundary.encode_sample(short, sample)) <= 100 < len(ids)


def _count_video_tokens(plugin, tokenizer, processor, clip) -> int:
    messages = [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": "a caption"}]
    expanded = plugin.process_messages(messages, [], [str(clip)], [], processor)
    return expanded[0]["content"].count(plugin.video_token)


def test_the_token_count_decodes_no_video(trained_on, monkeypatch):
    """LLaMA-Factory counts a clip's video tokens from _get_qwen_video_stream_metadata alone: with the only path
    that decodes frames (_regularize_videos) made to fail, the stock plugin and ours still count every token."""
    *_, tokenizer, processor, template, clip = trained_on
    stock = boundary.TEMPLATES["qwen2_vl"].mm_plugin

    def no_decoding(self, videos, **kwargs):
        raise AssertionError("the token count decoded frames")

    monkeypatch.setattr(Qwen2VLPlugin, "_regularize_videos", no_decoding)
    monkeypatch.setattr(boundary.QwenVideoPlugin, "_regularize_videos", no_decoding)
    assert _count_video_tokens(stock, tokenizer, processor, clip) == CLIP_VIDEO_TOKENS
    assert _count_video_tokens(template.mm_plugin, tokenizer, processor, clip) == CLIP_VIDEO_TOKENS
    metadata = template.mm_plugin._get_qwen_video_stream_metadata(str(clip), **SAMPLING)
    assert set(metadata) >= {"width", "height", "average_fps", "sample_indices"}  # what LLaMA-Factory reads


def test_the_token_count_falls_back_to_decoding_where_metadata_is_none(trained_on):
    """Frames given as images have no metadata (our clip_metadata returns None): LLaMA-Factory reads them instead."""
    *_, processor, template, _ = trained_on
    frames = [Image.new("RGB", (64, 48), (index * 30, 0, 0)) for index in range(8)]
    assert template.mm_plugin._get_qwen_video_stream_metadata(frames, **SAMPLING) is None
    messages = [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": "a caption"}]
    expanded = template.mm_plugin.process_messages(messages, [], [frames], [], processor)
    assert expanded[0]["content"].count(template.mm_plugin.video_token) > 0


def test_regularize_videos_returns_what_the_collator_reads(trained_on):
    """Keys, and 8-bit RGB frames within the pixel budget, from the stock plugin: ours returns the same shape."""
    *_, template, clip = trained_on
    for plugin in (boundary.TEMPLATES["qwen2_vl"].mm_plugin, template.mm_plugin):
        result = plugin._regularize_videos([str(clip)], **FRAME_BUDGET, **SAMPLING)
        assert set(result) == {"videos", "fps_per_video", "durations", "frames_indices"}, type(plugin).__name__
        [frames] = result["videos"]
        assert len(frames) == 8 and all(frame.mode == "RGB" for frame in frames)
        assert all(frame.width * frame.height <= FRAME_BUDGET["image_max_pixels"] for frame in frames)
        assert boundary.regularized_videos(plugin, [str(clip)], **FRAME_BUDGET, **SAMPLING)[0] == frames


def test_regularize_images_resizes_to_the_budget():
    plugin = boundary.TEMPLATES["qwen2_vl"].mm_plugin
    [image] = plugin._regularize_images([Image.new("L", (640, 480))], **FRAME_BUDGET)["images"]
    assert image.mode == "RGB" and image.width * image.height <= FRAME_BUDGET["image_max_pixels"]
    assert abs(image.width / image.height - 640 / 480) < 0.02


def test_check_video_is_nested_images_tells_frames_from_a_file(tmp_path):
    frames = [Image.new("RGB", (8, 8))] * 2
    for video, is_frames in [(frames, True), (["a.png", "b.png"], True), ("clip.mp4", False), (tmp_path, False)]:
        assert lf_mm_plugin._check_video_is_nested_images(video) is is_frames, video
        assert boundary.is_frame_list(video) is is_frames, video


def test_find_medias_joins_media_dir_where_the_joined_path_is_a_file_and_ours_joins_a_spans_file(tmp_path):
    from llamafactory.data import converter as lf_converter
    from llamafactory.data.parser import DatasetAttr

    (tmp_path / "clip.mp4").write_bytes(b"")
    attr, data_args = DatasetAttr("file", "clips", formatting="sharegpt"), SimpleNamespace(media_dir=str(tmp_path))
    joined = str(tmp_path / "clip.mp4")
    medias = ["clip.mp4", "clip.mp4#t=1,2", "gone.mp4#t=1,2", "gone.mp4"]
    stock = lf_converter.SharegptDatasetConverter(attr, data_args)
    assert stock._find_medias(medias) == [joined, "clip.mp4#t=1,2", "gone.mp4#t=1,2", "gone.mp4"]
    ours = boundary.SpanSharegptDatasetConverter(attr, data_args)
    assert ours._find_medias(medias) == [joined, f"{joined}#t=1,2", "gone.mp4#t=1,2", "gone.mp4"]
    assert ours._find_medias("clip.mp4#t=1,2") == [f"{joined}#t=1,2"] and ours._find_medias([]) is None
    assert ours._find_medias([["clip.mp4", "gone.png"]]) == [[joined, "gone.png"]]  # frame lists: stock
    plugins.register()
    assert {name: lf_converter.DATASET_CONVERTERS[name] for name in boundary.SPAN_CONVERTERS} == {
        name: ours for name, (_, ours) in boundary.SPAN_CONVERTERS.items()
    }


def test_a_converter_replaced_by_something_else_is_refused_naming_it(monkeypatch):
    from llamafactory.data import converter as lf_converter

    monkeypatch.setitem(lf_converter.DATASET_CONVERTERS, "openai", dict)
    with pytest.raises(boundary.LlamaFactoryVersionError, match=r"dataset converter 'openai' is <class 'dict'>, not"):
        boundary.join_media_dir_to_spans()


def test_stock_sample_indices_equal_ours_where_the_header_is_right(clip_matrix):
    """Our sampler reproduces _get_video_sample_indices exactly where the container header is right."""
    plugin = boundary.TEMPLATES["qwen2_vl"].mm_plugin
    right = {name: path for name, (path, header_right) in clip_matrix.items() if header_right}
    assert len(right) >= 10
    for name, path in right.items():
        with av.open(str(path)) as container:
            stock = plugin._get_video_sample_indices(container.streams.video[0], **SAMPLING)
        assert sample_indices(probe_video(path), **SAMPLING) == list(stock), name


def test_processor_carries_the_config_video_sampling(tiny_model_dir):
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_tokenizer

    model_args, *_ = get_infer_args({"model_name_or_path": str(tiny_model_dir), "template": "qwen2_vl",
                                     "video_fps": 3.0, "video_maxlen": 4})  # fmt: skip
    processor = load_tokenizer(model_args)["processor"]
    assert boundary.processor_video_sampling(processor) == {"video_fps": 3.0, "video_maxlen": 4}


# --- the Qwen3-VL plugin's hooks (an in-process Qwen3VLProcessor: patch 16, merge 2, the tiny tokenizer) ---


@pytest.fixture(scope="module")
def qwen3(tiny_model_dir, tmp_path_factory):
    """(stock qwen3_vl plugin, processor, a 64x64 clip of 24 frames at 12 fps)."""
    clip = make_clip(tmp_path_factory.mktemp("qwen3") / "clip.mp4", n_frames=24, fps=12, width=64, height=64)
    return boundary.TEMPLATES["qwen3_vl"].mm_plugin, family_processor("qwen3_vl", tiny_model_dir), str(clip)


def test_validate_input_refuses_a_missing_processor(qwen3):
    plugin, processor, clip = qwen3
    plugin._validate_input(processor, [], [clip], [])
    with pytest.raises(ValueError, match="Processor was not found"):
        plugin._validate_input(None, [], [clip], [])


def test_validate_messages_counts_placeholders_against_videos(qwen3):
    plugin, _, clip = qwen3
    plugin._validate_messages([{"role": "user", "content": PROMPT}], [], [clip], [])
    with pytest.raises(ValueError, match="number of videos does not match"):
        plugin._validate_messages([{"role": "user", "content": PROMPT}], [], [clip, clip], [])


def test_get_mm_token_metadata_counts_from_the_header_with_frame_positions(qwen3, monkeypatch):
    """Grids and each video's frames_indices (frame index / fps x video_fps) and fps, decoding nothing; None for
    frames given as images (LLaMA-Factory then reads them: _get_mm_inputs)."""
    plugin, processor, clip = qwen3
    monkeypatch.setattr(Qwen3VLPlugin, "_regularize_videos", lambda self, videos, **kw: pytest.fail("decoded"))
    inputs = plugin._get_mm_token_metadata([], [clip], [], processor)
    assert inputs["video_grid_thw"].tolist() == [[4, 4, 4]]  # 8 frames of 64x64 on a 16-pixel patch grid
    [metadata] = inputs["video_metadata"]
    positions = [index / 12 * 8.0 for index in sample_indices(24, 2.0, **SAMPLING)]
    assert metadata.fps == 8.0 and metadata.frames_indices == positions
    assert plugin._get_mm_token_metadata([], [[Image.new("RGB", (64, 64))] * 2], [], processor) is None


def test_get_mm_inputs_reads_frames_and_returns_each_videos_metadata(qwen3):
    plugin, processor, clip = qwen3
    inputs = plugin._get_mm_inputs([], [clip], [], processor)
    assert inputs["video_grid_thw"].tolist() == [[4, 4, 4]]
    assert inputs["pixel_values_videos"].shape[0] == 4 * 4 * 4
    [metadata] = inputs["video_metadata"]
    assert list(metadata.frames_indices) == [i / 12 * 8.0 for i in sample_indices(24, 2.0, **SAMPLING)]


def test_calculate_timestamps_averages_each_temporal_patch(qwen3):
    """Frame positions / fps, padded to whole patches with the last one, averaged per temporal patch."""
    _, processor, _ = qwen3
    assert processor._calculate_timestamps([0, 8, 16, 24], 8.0, 2) == [0.5, 2.5]
    assert boundary.Qwen3VideoPlugin.timestamps(processor, [0, 4, 8], 8.0) == [0.25, 1.0]


# --- the import-time check ---


def test_a_missing_hook_is_named_with_the_supported_versions(monkeypatch):
    monkeypatch.delattr(Qwen2VLPlugin, "_get_qwen_video_stream_metadata")
    with pytest.raises(boundary.LlamaFactoryVersionError) as caught:
        boundary.check_llamafactory("0.9.6")
    assert str(caught.value) == (
        "LLaMA-Factory 0.9.6 is not supported: hook llamafactory.data.mm_plugin.Qwen2VLPlugin."
        "_get_qwen_video_stream_metadata is missing (supported: llamafactory >=0.9.5,<0.9.6 (verified 0.9.5); "
        "pip install llamafactory==0.9.5)"
    )


def test_a_changed_signature_is_named(monkeypatch):
    monkeypatch.setattr(SupervisedDatasetProcessor, "_encode_data_example", lambda self, prompt, response: None)
    with pytest.raises(boundary.LlamaFactoryVersionError, match=(
            r"hook llamafactory\.data\.processor\.supervised\.SupervisedDatasetProcessor\._encode_data_example "
            r"takes \(self, prompt, response\), not \(self, prompt, response, system, tools, images, videos, "
            r"audios\)")):  # fmt: skip
        boundary.check_llamafactory("0.9.5")


def test_a_version_outside_the_range_is_refused_and_the_installed_one_passes():
    with pytest.raises(boundary.LlamaFactoryVersionError, match=r"LLaMA-Factory 0\.10\.0 is not supported \("):
        boundary.check_llamafactory("0.10.0")
    boundary.check_llamafactory("0.9.5")


@pytest.mark.slow  # a fresh interpreter in a venv of its own: make test runs it, make test-fast does not
def test_importing_the_boundary_fails_in_one_sentence_without_a_hook(tmp_path):
    code = ("from llamafactory.data import loader; del loader._load_single_dataset; "
            "import plugins; plugins.register()")  # fmt: skip
    # a venv without the start-up hook `make setup` installs: the hook would import the boundary (and check its
    # hooks) as llamafactory.data is imported, before this deletes one
    python = make_overlay_venv(tmp_path / "venv", with_hook=False) / "python"
    result = subprocess.run([str(python), "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("plugins.llamafactory_boundary.LlamaFactoryVersionError: LLaMA-Factory ")
    assert "hook llamafactory.data.loader._load_single_dataset is missing (supported: llamafactory" in last


# --- nothing else touches LLaMA-Factory's private API ---


def _llamafactory_private_names() -> set[str]:
    """Every underscored function, class and method LLaMA-Factory defines."""
    import llamafactory

    names = set()
    for path in Path(llamafactory.__file__).parent.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            members = node.body if isinstance(node, ast.ClassDef) else []
            for item in [node, *members]:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(item.name)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _our_python_files():
    for root, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [name for name in dirs if not name.startswith(".") and name != "__pycache__"]
        for name in files:
            path = Path(root) / name
            if name.endswith(".py") and path not in ALLOWED:
                yield path


def private_uses(source: str, private: set[str]) -> list[str]:
    """Imports of underscored names from llamafactory, and references to (or overrides of) its private names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "llamafactory":
            parts = (node.module or "").split(".") + [alias.name for alias in node.names]
            found += [f"line {node.lineno}: from {node.module} import {part}" for part in parts
                      if part.startswith("_") and not part.startswith("__")]  # fmt: skip
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] == "llamafactory"
                      and any(part.startswith("_") for part in alias.name.split("."))]  # fmt: skip
        elif isinstance(node, ast.Attribute) and node.attr in private:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ClassDef):
            found += [
                f"line {item.lineno}: overrides {item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in private
            ]
    return found


def test_the_scan_catches_each_kind_of_use():
    private = {"_regularize_videos", "_load_single_dataset"}
    source = (
        "from llamafactory.data.loader import _load_single_dataset\n"
        "import llamafactory.data._private\n"
        "plugin._regularize_videos([])\n"
        "class P(Base):\n    def _regularize_videos(self, videos): ...\n"
        "from llamafactory.data import get_dataset\nself._mine = 1\n"
    )
    lines = sorted(use.split(":")[0] for use in private_uses(source, private))
    assert lines == ["line 1", "line 2", "line 3", "line 5"]


def test_no_other_file_touches_llamafactory_private_names():
    private = _llamafactory_private_names()
    assert {hook.name for hook in boundary.HOOKS} <= private
    offenders = {}
    for path in _our_python_files():
        uses = private_uses(path.read_text(encoding="utf-8"), private)
        if uses:
            offenders[str(path.relative_to(REPO_ROOT))] = uses
    assert not offenders, f"go through plugins/llamafactory_boundary.py instead: {offenders}"
