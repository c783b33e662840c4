"""Shared pieces of the frame-store tests: the plugin, settings and a built store over some clips."""

import os

from frame_store.build import build_store
from frame_store.key import FRAME_STORE_ENV, StoreSettings, StoreTarget, store_dir

TEMPLATE = "qwen2_vl_exact"
READ = {"video_fps": 8.0, "video_maxlen": 8, "image_max_pixels": 112 * 112, "image_min_pixels": 16 * 16}


def exact_plugin():
    """Our template's plugin, as training gets it."""
    import plugins
    from plugins.llamafactory_boundary import TEMPLATES

    plugins.register()
    return TEMPLATES[TEMPLATE].mm_plugin


def settings_for(plugin, read: dict = READ) -> StoreSettings:
    return StoreSettings.from_read_settings(plugin, read)


def build(root, clips, plugin, read: dict = READ, **target_options):
    """Build ``root``'s store for ``read`` over ``clips`` (2 processes); returns (target, BuildResult)."""
    settings = settings_for(plugin, read)
    target = StoreTarget(store_dir(root, settings), TEMPLATE, settings, **target_options)
    return target, build_store([str(clip) for clip in clips], target, workers=2)


def use_store(monkeypatch, root) -> None:
    """Point readers at ``root`` for this test."""
    monkeypatch.setenv(FRAME_STORE_ENV, os.fspath(root))
