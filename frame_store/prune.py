"""List the store directories under a config's store root, and delete those it does not read.

    python -m plugins.frames prune CONFIG.yaml [key=value ...]                  # list them: size, settings, status
    python -m plugins.frames prune CONFIG.yaml [key=value ...] --delete stale   # those no config can read
    python -m plugins.frames prune CONFIG.yaml [key=value ...] --delete unread  # also other settings' stores
    prune(root, read_by_config, delete="stale")                                 # from Python

A store directory is keyed by everything that decides the frames (frame_store.key), so a changed setting, a library
upgrade or a fix to our reader starts a new directory and the old one is never read again by this config; at
WebVid-10M scale each holds terabytes. Statuses: "read by this config"; "other settings" (another config's frame
count, rate, pixel budget or family: that config may still read it, so only ``--delete unread`` removes it);
"stale" (built by another version of the reader, the decoding libraries or the store format: no config of this
checkout can read it). A folder without a store's settings.json is listed as "not a store" and never touched.
A directory is renamed to .deleting-<name> before it is removed, so no reader opens it half deleted; one a killed
delete left behind is listed and removed by the next --delete.
"""

import importlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from frame_store.key import FORMAT_VERSION, StoreSettings, built_with, reader_fingerprint

READ, OTHER, STALE, NOT_A_STORE = "read by this config", "other settings", "stale", "not a store"
HALF_DELETED = "half deleted (a delete was killed)"
DELETING = ".deleting-"  # the name a directory takes while it is removed; readers skip names starting with "."
DELETABLE = {"stale": {STALE, HALF_DELETED}, "unread": {STALE, OTHER, HALF_DELETED}}


@dataclass(frozen=True)
class StoreDirectory:
    path: Path
    status: str
    bytes: int
    clips: int | None  # indexed entries (None: never merged)
    settings: str  # what it was built with, in words


def _size(directory: Path) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file(follow_symlinks=False))


def _plugin_class(family: str):
    """The plugin class named module.qualname, or None where this checkout has none by that name."""
    module_name, _, qualname = family.rpartition(".")
    try:
        found = importlib.import_module(module_name)
        for name in qualname.split("."):
            found = getattr(found, name)
    except (ImportError, AttributeError, ValueError):
        return None
    return found


def _status(saved: StoreSettings, directory: Path, read_by_config: Path) -> str:
    if directory.resolve() == read_by_config.resolve():
        return READ
    kind = _plugin_class(saved.family)
    if saved.version != FORMAT_VERSION or kind is None or saved.code != reader_fingerprint(kind):
        return STALE
    return OTHER


def survey(root: Path, read_by_config: Path) -> list[StoreDirectory]:
    """Every directory under the store ``root``, with its status against the directory the config reads."""
    found = []
    for directory in sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else ():
        if directory.name.startswith(DELETING):
            found.append(StoreDirectory(directory, HALF_DELETED, _size(directory), None, ""))
            continue
        try:
            saved = StoreSettings(**built_with(directory)["settings"])
        except (OSError, ValueError, KeyError, TypeError):  # none (None is not subscriptable: TypeError), or damaged
            found.append(StoreDirectory(directory, NOT_A_STORE, _size(directory), None, ""))
            continue
        try:
            clips = json.loads((directory / "manifest.json").read_text())["entries"]
        except (OSError, ValueError, KeyError):
            clips = None
        words = (f"{saved.family.rpartition('.')[2]}, video_fps {saved.video_fps:g}, video_maxlen {saved.video_maxlen}"
                 f", video_max_pixels {saved.max_pixels}, video_min_pixels {saved.min_pixels}")  # fmt: skip
        status = _status(saved, directory, read_by_config)
        found.append(StoreDirectory(directory, status, _size(directory), clips, words))
    return found


def delete(directory: Path) -> None:
    """Rename ``directory`` out of the store root's listing, then remove it."""
    doomed = directory if directory.name.startswith(DELETING) else directory.with_name(DELETING + directory.name)
    if doomed != directory:
        os.replace(directory, doomed)
    shutil.rmtree(doomed)


def _human(size: int) -> str:
    """e.g. 1.23 TB, 3.00 MB (decimal units, as disks are sold)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size / 1e3:.2f} kB"


def prune(root: Path, read_by_config: Path, delete_kind: str | None = None) -> None:
    """Print the directories under the store ``root`` (``read_by_config``: the one the config reads); with
    ``delete_kind`` (a key of DELETABLE) delete those of its statuses."""
    directories = survey(root, read_by_config)
    print(f"frame store root {root}: {len(directories)} directories")
    for found in directories:
        clips = "not merged" if found.clips is None else f"{found.clips} clips"
        print(f"  {found.path.name}  {_human(found.bytes):>10}  {clips:<12}  {found.status}  {found.settings}")
    doomed = [found for found in directories if delete_kind and found.status in DELETABLE[delete_kind]]
    for found in doomed:
        delete(found.path)
        print(f"deleted {found.path} ({found.status}, {_human(found.bytes)})")
    if delete_kind:
        print(f"freed {_human(sum(found.bytes for found in doomed))}")
    elif any(found.status in DELETABLE["unread"] for found in directories):
        print("delete with --delete stale (no config can read them) or --delete unread (also other settings)")
