"""The frame store returns exactly what decoding returns, or decodes: never stale or damaged frames."""

import logging
import os
import shutil

import numpy as np
import pytest

from frame_store.plugin_hook import open_store
from frame_store.reader import read_counts
from tests.frame_store_fixtures import READ, build, exact_plugin


def _same(stored: dict, decoded: dict) -> None:
    assert stored.keys() == decoded.keys()
    for key in decoded:
        if key == "videos":
            for ours, theirs in zip(stored[key], decoded[key], strict=True):
                assert [frame.mode for frame in ours] == [frame.mode for frame in theirs]
                assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(ours, theirs, strict=True))
        else:
            assert stored[key] == decoded[key], key


@pytest.fixture(scope="module")
def matrix_store(clip_matrix, tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    plugin = exact_plugin()
    target, result = build(root, [path for path, _ in clip_matrix.values()], plugin)
    return root, target, result


def test_store_is_bit_identical_to_decoding_on_the_clip_matrix(clip_matrix, matrix_store):
    root, target, result = matrix_store
    assert result.failures == {} and result.n_decoded == len(clip_matrix)
    plugin = exact_plugin()
    decoded = {name: plugin.read_videos([str(path)], **READ) for name, (path, _) in clip_matrix.items()}
    metadata = {name: plugin.clip_metadata(str(path), 8.0, 8) for name, (path, _) in clip_matrix.items()}
    plugin = exact_plugin(root)
    store = open_store(target.directory)
    before = read_counts(store)["hits"]
    for name, (path, _) in clip_matrix.items():
        _same(plugin.read_videos([str(path)], **READ), decoded[name])
        stored_meta = plugin.clip_metadata(str(path), 8.0, 8)
        assert stored_meta == {**metadata[name], "sample_indices": list(metadata[name]["sample_indices"])}, name
    assert read_counts(store)["hits"] - before == 2 * len(clip_matrix)  # frames and metadata, every clip


def test_a_second_pass_decodes_nothing(clip_matrix, matrix_store):
    root, _, _ = matrix_store
    _, again = build(root, [path for path, _ in clip_matrix.values()], exact_plugin())
    assert (again.n_clips, again.n_decoded, again.failures) == (len(clip_matrix), 0, {})


@pytest.fixture
def small_store(clip_matrix, tmp_path):
    """Two copies of matrix clips (the tests change them) and their store."""
    clips = []
    for name in ("h264_24fps_gop24.mp4", "h264_30fps_gop15.avi"):
        clips.append(tmp_path / name)
        shutil.copy2(clip_matrix[name][0], clips[-1])
    target, result = build(tmp_path / "frames", clips, exact_plugin())
    assert result.failures == {}
    return clips, target


def test_a_changed_clip_is_decoded_again_never_served_stale(small_store, clip_matrix, caplog):
    clips, target = small_store
    plugin = exact_plugin(target.directory.parent)
    shutil.copy2(clip_matrix["h264_2997fps_gop1.mp4"][0], clips[0])  # rewritten: other content under the same name
    os.utime(clips[1], ns=(os.stat(clips[1]).st_atime_ns, os.stat(clips[1]).st_mtime_ns + 1))  # touched only
    decoded = [exact_plugin().read_videos([str(clip)], **READ) for clip in clips]
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        for clip, expected in zip(clips, decoded, strict=True):
            _same(plugin.read_videos([str(clip)], **READ), expected)
            _same(plugin.read_videos([str(clip)], **READ), expected)
    store = open_store(target.directory)
    assert read_counts(store)["stale"] == 4 and read_counts(store)["hits"] == 0
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2  # once per clip
    assert "changed since its frames were stored" in warnings[0] and "(1 clips so far)" in warnings[0]


def test_a_changed_setting_reads_another_store(small_store):
    clips, target = small_store
    plugin = exact_plugin(target.directory.parent)
    for changed in ({"video_maxlen": 4}, {"image_max_pixels": 56 * 56}, {"video_fps": 4.0}, {"image_min_pixels": 0}):
        read = {**READ, **changed}
        stored = plugin.read_videos([str(clips[0])], **read)
        _same(stored, exact_plugin().read_videos([str(clips[0])], **read))
    assert read_counts(open_store(target.directory)) == {"hits": 0, "not_stored": 0, "stale": 0, "corrupt": 0}


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(bytes(data[: len(data) // 3]))


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_shard_falls_back_to_decoding_with_a_counted_warning(small_store, caplog, how):
    clips, target = small_store
    decoded = [exact_plugin().read_videos([str(clip)], **READ) for clip in clips]
    _damage(target.directory / "shard-00000-of-00001.data", how)
    plugin = exact_plugin(target.directory.parent)
    with caplog.at_level(logging.WARNING, logger="frame_store"):
        for clip, expected in zip(clips, decoded, strict=True):
            _same(plugin.read_videos([str(clip)], **READ), expected)
    counts = read_counts(open_store(target.directory))
    assert counts["corrupt"] >= 1 and counts["corrupt"] + counts["hits"] == 2
    assert [record.getMessage() for record in caplog.records][-1].endswith(f"({counts['corrupt']} clips so far)")
    assert any("checksum" in r.getMessage() or "truncated" in r.getMessage() for r in caplog.records)


def test_every_family_reads_its_own_store_bit_identically(sample_dir, tmp_path):
    """Qwen3-VL's plugin (its own class, so its own store directory) reads through the same hook."""
    import dataclasses

    from frame_store.build import build_store
    from frame_store.key import StoreSettings, StoreTarget, store_dir
    from plugins.registry import template_plugin

    clips = [str(path) for path in sorted((sample_dir / "videos").rglob("*.mp4"))[:2]]
    read = {**READ, "image_max_pixels": 224 * 224}
    for template in ("qwen2_vl_exact", "qwen3_vl_exact"):
        plugin = dataclasses.replace(template_plugin(template), frame_store_root=None)  # decoding
        settings = StoreSettings.from_read_settings(plugin, read)
        decoded = [plugin.read_videos([clip], **read) for clip in clips]
        metadata = [plugin.clip_metadata(clip, 8.0, 8) for clip in clips]
        target = StoreTarget(store_dir(tmp_path, settings), template, settings)
        assert build_store(clips, target, plugin).failures == {}
        plugin = dataclasses.replace(plugin, frame_store_root=tmp_path)
        for clip, expected, meta in zip(clips, decoded, metadata, strict=True):
            _same(plugin.read_videos([clip], **read), expected)
            assert plugin.clip_metadata(clip, 8.0, 8) == {**meta, "sample_indices": list(meta["sample_indices"])}
        assert read_counts(open_store(store_dir(tmp_path, settings)))["hits"] == 2 * len(clips)
    assert len(list(tmp_path.iterdir())) == 2  # one directory per family


def test_an_upgrade_of_the_decoding_libraries_reads_another_store(monkeypatch):
    """Pillow's resampling, FFmpeg's decoders and LLaMA-Factory's resize decide pixels too: part of the key."""
    import importlib.metadata

    from frame_store.key import StoreSettings, reader_fingerprint

    plugin = exact_plugin()
    before = StoreSettings.from_read_settings(plugin, READ)
    installed = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "99.0" if name == "pillow" else installed(name))
    reader_fingerprint.cache_clear()
    try:
        after = StoreSettings.from_read_settings(plugin, READ)
    finally:
        monkeypatch.undo()
        reader_fingerprint.cache_clear()
    assert after.code != before.code and after.digest != before.digest
    assert StoreSettings.from_read_settings(plugin, READ) == before


def test_a_store_of_another_format_version_is_passed_over(small_store):
    """A directory whose settings name a field this checkout does not know (a later format) is not read, nor fatal:
    token metadata comes from the clip as without a store."""
    import json

    from frame_store.key import settings_digest
    from frame_store.plugin_hook import stored_metadata

    clips, target = small_store
    plugin, root = exact_plugin(), target.directory.parent
    assert stored_metadata(root, plugin, str(clips[0]), READ["video_fps"], READ["video_maxlen"]) is not None
    manifest_path = target.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["settings"]["frame_layout"] = "planar"  # a field from a later format version
    manifest_path.write_text(json.dumps(manifest))
    later = target.directory.rename(target.directory.with_name(settings_digest(manifest["settings"])))  # its name
    written = later.parent.stat().st_mtime_ns
    os.utime(later.parent, ns=(written + 10**9, written + 10**9))  # a later listing, even on a coarse-clock filesystem
    assert open_store(later).settings is None
    assert stored_metadata(root, plugin, str(clips[0]), READ["video_fps"], READ["video_maxlen"]) is None
