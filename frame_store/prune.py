"""List the store directories under a config's store root, and delete those it does not read.

    python -m plugins.frames prune CONFIG.yaml [key=value ...]                  # list them: size, settings, status
    python -m plugins.frames prune CONFIG.yaml [key=value ...] --delete stale   # those no config can read
    python -m plugins.frames prune CONFIG.yaml [key=value ...] --delete unread  # also other settings' stores
    python -m plugins.frames prune CONFIG.yaml --delete stale --yes             # no question (scripts, no terminal)
    prune(root, read_by_config, delete_kind="stale", yes=True)                  # from Python

A delete lists what it removes first and asks on a terminal; off a terminal it needs --yes.

A store directory is keyed by everything that decides the frames (frame_store.key), so a changed setting, a library
upgrade or a fix to our reader starts a new directory and the old one is never read again by this config; at
WebVid-10M scale each holds terabytes. Statuses: "read by this config"; "other settings" (another config's frame
count, rate, pixel budget or family: that config may still read it, so only ``--delete unread`` removes it);
"stale" (built by another version of the reader, the decoding libraries or the store format: no config of this
checkout can read it). A folder without a store's settings.json is listed as "not a store", one whose settings.json
is damaged as such; neither is ever touched.
A directory is renamed to .deleting-<name> before it is removed, so no reader opens it half deleted; one a killed
delete left behind is listed and removed by the next --delete.
"""

import importlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from frame_store.disk import directory_bytes, human
from frame_store.key import FORMAT_VERSION, StoreFileError, StoreSettings, built_with, reader_fingerprint

READ, OTHER, STALE, NOT_A_STORE = "read by this config", "other settings", "stale", "not a store"
HALF_DELETED = "half deleted (a delete was killed)"
DAMAGED = "settings.json damaged: builds stop on it; check and delete it by hand"
DELETING = ".deleting-"  # the name a directory takes while it is removed; readers skip names starting with "."
DELETABLE = {"stale": {STALE, HALF_DELETED}, "unread": {STALE, OTHER, HALF_DELETED}}


@dataclass(frozen=True)
class StoreDirectory:
    path: Path
    status: str
    bytes: int
    clips: int | None  # indexed entries (None: never merged)
    settings: str  # what it was built with, in words


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
    if saved.version != FORMAT_VERSION or kind is None or saved.code != reader_fingerprint():
        return STALE
    return OTHER


def survey(root: Path, read_by_config: Path) -> list[StoreDirectory]:
    """Every directory under the store ``root``, with its status against the directory the config reads."""
    found = []
    for directory in sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else ():
        if directory.name.startswith(DELETING):
            found.append(StoreDirectory(directory, HALF_DELETED, directory_bytes(directory), None, ""))
            continue
        try:
            saved = StoreSettings(**built_with(directory)["settings"])
        except StoreFileError:  # not JSON: a store whose record of its settings is damaged
            found.append(StoreDirectory(directory, DAMAGED, directory_bytes(directory), None, ""))
            continue
        except (OSError, ValueError, KeyError, TypeError):  # none (None is not subscriptable: TypeError), or damaged
            found.append(StoreDirectory(directory, NOT_A_STORE, directory_bytes(directory), None, ""))
            continue
        try:
            clips = json.loads((directory / "manifest.json").read_text())["entries"]
        except (OSError, ValueError, KeyError, TypeError):
            clips = None
        words = (f"{saved.family.rpartition('.')[2]}, video_fps {saved.video_fps:g}, video_maxlen {saved.video_maxlen}"
                 f", video_max_pixels {saved.max_pixels}, video_min_pixels {saved.min_pixels}")  # fmt: skip
        status = _status(saved, directory, read_by_config)
        found.append(StoreDirectory(directory, status, directory_bytes(directory), clips, words))
    return found


def delete(directory: Path) -> None:
    """Rename ``directory`` out of the store root's listing, then remove it."""
    doomed = directory if directory.name.startswith(DELETING) else directory.with_name(DELETING + directory.name)
    if doomed != directory:
        os.replace(directory, doomed)
    shutil.rmtree(doomed)


def confirmed(doomed: list[StoreDirectory], which: str, yes: bool) -> bool:
    """List what ``--delete which`` removes, then: --yes, or the person's answer on a terminal; off a terminal
    without --yes, exit naming the flag (a script must say it means it)."""
    print(f"--delete {which} removes {len(doomed)} directories, {human(sum(found.bytes for found in doomed))}:")
    for found in doomed:
        print(f"  {found.path}  ({found.status}, {human(found.bytes)})")
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SystemExit(f"frame store prune: not deleting these {len(doomed)} directories without a confirmation "
                         f"(no terminal to ask on): rerun with --delete {which} --yes")  # fmt: skip
    try:
        return input("delete them? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # Ctrl-D: no
        return False


def prune(root: Path, read_by_config: Path, delete_kind: str | None = None, yes: bool = False) -> None:
    """Print the directories under the store ``root`` (``read_by_config``: the one the config reads); with
    ``delete_kind`` (a key of DELETABLE) list those of its statuses and delete them once confirmed (``yes``, or
    the person's answer on a terminal; see confirmed)."""
    directories = survey(root, read_by_config)
    print(f"frame store root {root}: {len(directories)} directories")
    for found in directories:
        clips = "not merged" if found.clips is None else f"{found.clips} clips"
        print(f"  {found.path.name}  {human(found.bytes):>10}  {clips:<12}  {found.status}  {found.settings}")
    doomed = [found for found in directories if delete_kind and found.status in DELETABLE[delete_kind]]
    if doomed and not confirmed(doomed, delete_kind, yes):
        print("nothing deleted")
        return
    for found in doomed:
        delete(found.path)
        print(f"deleted {found.path} ({found.status}, {human(found.bytes)})")
    if delete_kind:
        print(f"freed {human(sum(found.bytes for found in doomed))}")
    elif any(found.status in DELETABLE["unread"] for found in directories):
        print("delete with --delete stale (no config can read them) or --delete unread (also other settings)")
