"""The mm plugin names every clip it reads in this process's heartbeat, one clip at a time (plugins.heartbeat)."""

import json

import pytest

import plugins
from plugins import heartbeat as heartbeat_module
from plugins import mm_plugin
from plugins.heartbeat import heartbeat_dir, start_process_heartbeat
from plugins.llamafactory_boundary import TEMPLATES, regularized_videos
from tests.training_fixtures import sample_clips

SETTINGS = {"image_max_pixels": 112 * 112, "image_min_pixels": 16 * 16, "video_fps": 8.0, "video_maxlen": 8}


@pytest.fixture(autouse=True)
def _no_process_heartbeat(monkeypatch):
    monkeypatch.setattr(heartbeat_module, "_process_heartbeat", None)
    monkeypatch.delenv("RANK", raising=False)


def test_each_clip_of_a_batch_is_named_while_it_is_read(sample_dir, tmp_path, monkeypatch):
    plugins.register()
    clips = [str(clip) for clip in sample_clips(sample_dir, 2)]
    start_process_heartbeat(tmp_path, hang_timeout_s=60)
    rank_file = heartbeat_dir(tmp_path) / "rank-0.json"
    named_during_reads = []
    read = mm_plugin.read_through_store

    def read_and_look(root, plugin, videos, settings, decode):
        named_during_reads.append((videos, json.loads(rank_file.read_text())["clip"]))
        return read(root, plugin, videos, settings, decode)

    monkeypatch.setattr(mm_plugin, "read_through_store", read_and_look)
    frames = regularized_videos(TEMPLATES["qwen2_vl_exact"].mm_plugin, clips, **SETTINGS)
    assert len(frames) == 2 and all(len(video) == 8 for video in frames)
    assert named_during_reads == [([clips[0]], clips[0]), ([clips[1]], clips[1])]
    assert json.loads(rank_file.read_text())["clip"] is None
