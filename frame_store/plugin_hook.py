"""What an mm plugin calls to read frames and token metadata from a store root it was given (every Qwen-VL family).

    def read_videos(self, videos, **settings):
        return read_through_store(self.frame_store_root, self, videos, settings, self.decode_videos)
    def clip_metadata(self, video, video_fps, video_maxlen):
        return stored_metadata(self.frame_store_root, self, video, video_fps, video_maxlen) or <probe the clip>

The root is a value the caller passes (the plugin holds it, set from the run config: plugins/frame_source.py);
nothing here reads the environment. No root, no merged store or a clip not in it: the plugin decodes as before.
"""

import functools
import os
from pathlib import Path

from frame_store.key import StoreSettings, store_dir
from frame_store.reader import FrameStore
from video.clip_span import clip_file


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=16)
def _open(directory: Path, stamp: int | None) -> FrameStore | None:
    return FrameStore.open(directory) if stamp is not None else None


def open_store(directory: Path) -> FrameStore | None:
    """The merged store in ``directory``, opened once per process and again after a new merge."""
    return _open(Path(directory), _stamp(Path(directory) / "manifest.json"))


def store_for(root: Path | None, plugin, settings: dict) -> FrameStore | None:
    """The store under ``root`` for ``plugin`` at the read settings LLaMA-Factory passes read_videos, or None."""
    if root is None:
        return None
    return open_store(store_dir(root, StoreSettings.from_read_settings(plugin, settings)))


def read_through_store(root: Path | None, plugin, videos: list, settings: dict, decode) -> dict[str, list]:
    """``decode(videos, **settings)``'s result, with every clip the store under ``root`` holds read from it
    instead."""
    store = store_for(root, plugin, settings)
    if store is None:
        return decode(videos, **settings)
    results: dict[str, list] = {}
    for video in videos:
        stored = store.get(video) if isinstance(video, (str, os.PathLike)) else None
        part = stored.as_results() if stored is not None else decode([video], **settings)
        for key, values in part.items():
            results.setdefault(key, []).extend(values)
    return results or decode(videos, **settings)


@functools.lru_cache(maxsize=16)
def _listed(root: Path, stamp: int | None) -> tuple[Path, ...]:
    if stamp is None:
        return ()
    # a name starting with "." is being deleted (frame_store.prune renames it first): never read
    return tuple(sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")))


def _stores(root: Path):
    """The merged stores under ``root``; listed again when a directory is added or removed (the root's mtime)."""
    for directory in _listed(Path(root), _stamp(Path(root))):
        store = open_store(directory)
        if store is not None:
            yield store


def clip_available(path: str | os.PathLike, root: Path | None) -> bool:
    """The clip is on disk (a span's whole video), or a store under ``root`` holds its frames (it can be read
    without it)."""
    if os.path.isfile(clip_file(path)):
        return True
    return root is not None and any(store.holds(path) for store in _stores(root))


def stored_metadata(root: Path | None, plugin, video, video_fps: float, video_maxlen: int) -> dict | None:
    """The clip's token metadata from any store under ``root`` sampled alike (the pixel budget does not change
    it)."""
    if root is None or not isinstance(video, (str, os.PathLike)):
        return None
    wanted = StoreSettings.for_plugin(plugin, video_fps=video_fps, video_maxlen=video_maxlen, max_pixels=0,
                                      min_pixels=0)  # fmt: skip
    for store in _stores(root):
        if store.settings is not None and store.settings.same_sampling(wanted):
            stored = store.metadata(video)
            if stored is not None:
                return stored
    return None
