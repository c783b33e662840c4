"""What an mm plugin calls to read frames and token metadata from the run's store (every Qwen-VL family class).

    def read_videos(self, videos, **settings):
        return read_through_store(self, videos, settings, self.decode_videos)
    def clip_metadata(self, video, video_fps, video_maxlen):
        return stored_metadata(self, video, video_fps, video_maxlen) or <probe the clip>

The store root is $FRAME_STORE_DIR (the preflight, the store build and evaluation set it from the config:
use_store_of), so the collator's data workers and torchrun's children find it too. No variable, no
merged store or a clip not in it: the plugin decodes as before.
"""

import functools
import os
from pathlib import Path

from frame_store.key import DISABLED, FRAME_STORE_ENV, StoreSettings, default_root, store_dir
from frame_store.reader import FrameStore
from video.clip_span import clip_file


def use_store_of(config: dict) -> Path | None:
    """Point this process's readers (and its children) at the config's store root, unless $FRAME_STORE_DIR is set;
    returns the root (None: the store is off)."""
    root = default_root(config)
    if root is not None:
        os.environ.setdefault(FRAME_STORE_ENV, str(Path(root).absolute()))
    return _root()


def _root() -> Path | None:
    root = os.environ.get(FRAME_STORE_ENV)
    return Path(root) if root and root != DISABLED else None


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
    return _open(directory, _stamp(directory / "manifest.json"))


def store_for(plugin, settings: dict) -> FrameStore | None:
    """The run's store for ``plugin`` at the read settings LLaMA-Factory passes read_videos, or None."""
    root = _root()
    return open_store(store_dir(root, StoreSettings.from_read_settings(plugin, settings))) if root else None


def read_through_store(plugin, videos: list, settings: dict, decode) -> dict[str, list]:
    """``decode(videos, **settings)``'s result, with every clip the store holds read from it instead."""
    store = store_for(plugin, settings)
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
    for directory in _listed(root, _stamp(root)):
        store = open_store(directory)
        if store is not None:
            yield store


def clip_available(path: str | os.PathLike) -> bool:
    """The clip is on disk (a span's whole video), or a store of the run holds its frames (it can be read without
    it)."""
    if os.path.isfile(clip_file(path)):
        return True
    root = _root()
    return root is not None and any(store.holds(path) for store in _stores(root))


def stored_metadata(plugin, video, video_fps: float, video_maxlen: int) -> dict | None:
    """The clip's token metadata from any store of the run sampled alike (the pixel budget does not change it)."""
    root = _root()
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
