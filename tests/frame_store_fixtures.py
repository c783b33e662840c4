"""Shared pieces of the frame-store tests: the plugin, settings and a built store over some clips."""

import dataclasses
import os
from pathlib import Path

from frame_store.build import build_store
from frame_store.key import StoreSettings, StoreTarget, store_dir
from plugins.frame_source import builder_plugin

TEMPLATE = "qwen2_vl_exact"
READ = {"video_fps": 8.0, "video_maxlen": 8, "image_max_pixels": 112 * 112, "image_min_pixels": 16 * 16}


def exact_plugin(root: str | os.PathLike | None = None):
    """Our template's plugin, as training gets it, reading the store under ``root`` (None: decoding every clip); a
    copy, so the registered template keeps its own source."""
    from plugins.registry import template_plugin

    return dataclasses.replace(template_plugin(TEMPLATE), frame_store_root=Path(root) if root is not None else None)


def settings_for(plugin, read: dict = READ) -> StoreSettings:
    return StoreSettings.from_read_settings(plugin, read)


def build(root, clips, plugin, read: dict = READ, **target_options):
    """Build ``root``'s store for ``read`` over ``clips`` (2 processes); returns (target, BuildResult)."""
    settings = settings_for(plugin, read)
    target = StoreTarget(store_dir(root, settings), TEMPLATE, settings, **target_options)
    return target, build_store([str(clip) for clip in clips], target, builder_plugin(plugin), workers=2)
