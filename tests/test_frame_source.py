"""The frame source is a value: chosen from the run config at the entry point, carried by the template's plugin (into
DataLoader workers, by pickling), never left in the environment; the console says which source is read."""

import os
import pickle

import pytest

from frame_store.plugin_hook import open_store
from plugins.frame_source import (
    FRAME_STORE_ENV,
    FrameSource,
    builder_plugin,
    store_root,
    store_root_of,
    use_frame_source,
)
from plugins.preflight_measure import measure
from plugins.registry import template_plugin
from tests.clips import make_clip
from tests.frame_store_fixtures import READ, TEMPLATE, build, exact_plugin
from tests.preflight_fixtures import config, record, write_datasets


def test_the_root_is_the_config_s_media_dir_unless_the_user_overrides_it(tmp_path, monkeypatch):
    monkeypatch.delenv(FRAME_STORE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert store_root({"media_dir": "media", "dataset_dir": "data"}) == tmp_path / "media" / "frames"
    assert store_root({"dataset_dir": "data"}) == tmp_path / "data" / "frames"
    assert store_root({}) == tmp_path / "data" / "frames"  # LLaMA-Factory's dataset_dir default
    monkeypatch.setenv(FRAME_STORE_ENV, str(tmp_path / "elsewhere"))
    assert store_root({"dataset_dir": "data"}) == tmp_path / "elsewhere"
    monkeypatch.setenv(FRAME_STORE_ENV, "off")
    assert store_root({"dataset_dir": "data"}) is None


def test_the_plugin_carries_its_source_where_it_travels_and_the_builder_reads_none(tmp_path):
    plugin = exact_plugin()
    source = FrameSource(tmp_path, tmp_path / "0123")
    assert source.attach(plugin) is source and store_root_of(plugin) == tmp_path
    assert store_root_of(pickle.loads(pickle.dumps(plugin))) == tmp_path  # a DataLoader worker's copy
    builder = builder_plugin(plugin)
    assert store_root_of(builder) is None and store_root_of(plugin) == tmp_path
    assert type(builder) is type(plugin)


def test_a_stock_template_reads_no_store(tmp_path):
    stock = template_plugin("qwen2_vl")
    assert use_frame_source(stock, {"dataset_dir": str(tmp_path)}) == FrameSource(None, None)
    assert not hasattr(stock, "frame_store_root") and builder_plugin(stock) is stock
    assert use_frame_source(None, {}) == FrameSource(None, None)  # a template LLaMA-Factory does not know


def test_the_console_line_says_the_store_and_how_many_clips_it_holds(clip_matrix, tmp_path):
    clips = [str(path) for path, _ in list(clip_matrix.values())[:2]]
    target, result = build(tmp_path, clips[:1], exact_plugin())
    assert result.failures == {}
    assert FrameSource(tmp_path, target.directory).describe(clips) == f"frames: store {target.directory} (1 of 2 clips)"
    assert FrameSource(tmp_path, tmp_path / "not_built").describe(clips) == "frames: decoding clips"
    assert FrameSource(None, None).describe(clips) == "frames: decoding clips"


def test_the_source_names_the_store_the_build_fills_and_the_plugin_reads(clip_matrix, tmp_path):
    """use_frame_source's directory is the one a build at the config's settings writes, and the plugin reads it."""
    clip = str(next(iter(clip_matrix.values()))[0])
    settings = {"template": TEMPLATE, "dataset_dir": str(tmp_path), "video_fps": READ["video_fps"],
                "video_maxlen": READ["video_maxlen"], "video_max_pixels": READ["image_max_pixels"],
                "video_min_pixels": READ["image_min_pixels"]}  # fmt: skip
    target, _ = build(tmp_path / "frames", [clip], exact_plugin())
    plugin = exact_plugin()
    assert use_frame_source(plugin, settings) == FrameSource(tmp_path / "frames", target.directory)
    stored = plugin.read_videos([clip], **READ)
    assert open_store(target.directory).counts["hits"] == 1 and stored["videos"]


@pytest.fixture
def preflight_dir(tmp_path):
    make_clip(tmp_path / "clips" / "a.mp4", n_frames=24, fps=12, width=64, height=48)
    make_clip(tmp_path / "clips" / "b.mp4", n_frames=24, fps=12, width=64, height=48)
    write_datasets(tmp_path, {"clips_train": [record("a", "clips/a.mp4"), record("b", "clips/b.mp4")]})
    return tmp_path


def test_the_preflight_points_the_template_at_the_store_and_leaves_the_environment_alone(
    tiny_model_dir, preflight_dir, monkeypatch
):
    """Training in the same process reads what the preflight filled; nothing is handed on through the environment
    (a torchrun rank chooses again from the same config: plugins.train_worker)."""
    monkeypatch.delenv(FRAME_STORE_ENV, raising=False)
    before = dict(os.environ)
    report = measure(config(tiny_model_dir, preflight_dir), decode_workers=1, workers=1).report
    assert dict(os.environ) == before
    root = (preflight_dir / "frames").absolute()
    assert store_root_of(template_plugin(TEMPLATE)) == root
    (directory,) = root.iterdir()
    assert report.frames == f"frames: store {directory} (2 of 2 clips)"

    monkeypatch.setenv(FRAME_STORE_ENV, "off")  # the user's override, read at the entry point
    report = measure(config(tiny_model_dir, preflight_dir), decode_workers=1, workers=1).report
    assert store_root_of(template_plugin(TEMPLATE)) is None and report.frames == "frames: decoding clips"


def test_the_frames_command_names_a_bad_setting_in_one_sentence(tmp_path):
    from plugins.frames import main

    config = tmp_path / "run.yaml"
    config.write_text(f"template: {TEMPLATE}\ndataset_dir: {tmp_path}\n")
    with pytest.raises(SystemExit, match=r"run.yaml: video_maxlen = 0 is not valid: .*\(e.g. video_maxlen=8\)"):
        main(["merge", str(config), "video_maxlen=0"])
