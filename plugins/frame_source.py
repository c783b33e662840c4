"""Where a run's frames come from: the frame store the run config names, or decoding. Chosen here, once per entry
point, and carried as a value by the template's mm plugin (into DataLoader workers; each torchrun rank chooses
again from the same config).

    source = use_frame_source(template.mm_plugin, config)   # the plugin reads that store from now on
    print(source.describe(clips))    # "frames: store data/frames/0123abcd (40 of 42 clips)" / "frames: decoding clips"
    root = store_root(config)                                # where an entry point needs the root before the plugin
    source = frame_source(root, config, plugin).attach(plugin)
    target = target_for_run(source, config, plugin)          # the store directory to build (StoreTarget), or None

The store root is ``<media_dir or dataset_dir>/frames`` (LLaMA-Factory's dataset_dir default: data); the user may
override it with $FRAME_STORE_DIR (a directory, or ``off``: decode every clip), read here at the entry point and
nowhere else. Settings are the config's (LLaMA-Factory's defaults where it has none, as plugins.video_settings
fills them); the family is the template's plugin class. The builder reads no store (builder_plugin). A plugin
reads a store when it has a ``frame_store_root`` (ours: plugins.mm_plugin.ExactVideoReading); stock ones decode.
This module does not import LLaMA-Factory (evaluate_model.py --score-only stays light).
"""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from frame_store.codec import DEFAULT_CODEC
from frame_store.key import StoreFileError, StoreSettings, StoreTarget, built_with, store_dir
from frame_store.plugin_hook import open_store
from plugins.video_settings import check_video_settings
from video.clip_span import BadSpanError

FRAME_STORE_ENV = "FRAME_STORE_DIR"  # the user's override of the store root; "off": decode every clip
DISABLED = "off"
ROOT_FIELD = "frame_store_root"  # the plugin's field holding the root it reads (plugins.mm_plugin.ExactVideoReading)


@dataclass(frozen=True)
class FrameSource:
    """What a run's plugin reads: ``directory`` (the store for the run's settings under ``root``), or decoding
    (``root`` None: $FRAME_STORE_DIR=off, or a stock template, which reads no store)."""

    root: Path | None
    directory: Path | None

    def attach(self, plugin) -> "FrameSource":
        """Point ``plugin`` (the template's, which travels with it) at this source; returns the source."""
        if reads_store(plugin):
            setattr(plugin, ROOT_FIELD, self.root)
        return self

    def describe(self, clips: list[str]) -> str:
        """The console line saying which source training or evaluation reads for ``clips``."""
        store = open_store(self.directory) if self.directory is not None else None
        if store is None:
            return "frames: decoding clips"
        held = sum(1 for clip in dict.fromkeys(clips) if _held(store, clip))
        return f"frames: store {self.directory} ({held} of {len(dict.fromkeys(clips))} clips)"


def _held(store, clip) -> bool:
    """Whether ``store`` holds ``clip``; a malformed ``#t=`` span is held by none (its sample's own error, reported
    by the decode check and training)."""
    try:
        return store.holds(clip)
    except BadSpanError:
        return False


def store_root(config: dict) -> Path | None:
    """$FRAME_STORE_DIR, else ``<media_dir or dataset_dir>/frames``, absolute; None when $FRAME_STORE_DIR is off."""
    explicit = os.environ.get(FRAME_STORE_ENV)
    if explicit == DISABLED:
        return None
    root = explicit or Path(config.get("media_dir") or config.get("dataset_dir") or "data") / "frames"
    return Path(root).absolute()


def reads_store(plugin) -> bool:
    """Whether ``plugin`` (instance or class; None: no plugin) is one of ours, which read a frame store."""
    return hasattr(plugin, ROOT_FIELD)


def store_settings(config: dict, plugin) -> StoreSettings:
    """The settings that name the store ``plugin`` reads for ``config`` (its video settings, checked)."""
    video = check_video_settings(config)
    return StoreSettings.for_plugin(
        plugin,
        video_fps=video["video_fps"],
        video_maxlen=video["video_maxlen"],
        max_pixels=video["video_max_pixels"],
        min_pixels=video["video_min_pixels"],
    )


def frame_source(root: Path | None, config: dict, plugin) -> FrameSource:
    """The source ``plugin`` reads for ``config`` under ``root`` (store_root's answer)."""
    if root is None or not reads_store(plugin):
        return FrameSource(None, None)
    return FrameSource(root, store_dir(root, store_settings(config, plugin)))


def use_frame_source(plugin, config: dict) -> FrameSource:
    """Point ``plugin`` (the template's, which travels with it; None: no template) at ``config``'s source; returns
    that source. What each training process (the preflight, plugins.train, each torchrun rank's
    plugins.train_worker) calls before LLaMA-Factory builds its data."""
    return frame_source(store_root(config), config, plugin).attach(plugin)


def store_root_of(plugin) -> Path | None:
    """The store root ``plugin`` reads (None: it decodes every clip, or it is a stock plugin)."""
    return getattr(plugin, ROOT_FIELD, None)


def builder_plugin(plugin):
    """A copy of ``plugin`` that reads no store: what the store build decodes through (it writes the entries)."""
    return dataclasses.replace(plugin, **{ROOT_FIELD: None}) if reads_store(plugin) else plugin


def target_for_run(
    source: FrameSource,
    config: dict,
    plugin,
    codec: str | None = None,
    num_shards: int | None = None,
    shard_index: int | None = None,
) -> StoreTarget | None:
    """The store to build for ``plugin`` at ``config``'s settings under ``source`` (frame_source's answer); None
    where it reads none ($FRAME_STORE_DIR=off, or a stock plugin). ``codec`` and ``num_shards`` not given: those the
    directory was built with (e.g. by a job array), else zlib and 1 shard."""
    if source.directory is None:
        return None
    try:
        built = built_with(source.directory) or {}
    except StoreFileError:  # the build, which has to read it, names the file and the fix
        built = {}
    codec = codec or built.get("codec", DEFAULT_CODEC)
    num_shards = num_shards or built.get("num_shards", 1)
    settings = store_settings(config, plugin)
    return StoreTarget(source.directory, config.get("template") or "", settings, codec, num_shards, shard_index)
