"""Counts the memory plan reuses (activations, LoRA placement), kept in one JSON file so `make plan` is fast again.

    from plugins.plan_cache import cached
    figures = cached({"what": "activations", ...}, lambda: {...})   # computed once per key, then read back

The key names what decides the figures: the model config, the settings, and COUNT_VERSION (plugins.activation_count),
which a change to what is counted bumps. The file lives in the user's cache directory (XDG_CACHE_HOME, else
~/.cache) and is replaced atomically, so a killed plan leaves the previous good file.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from plugins.activation_count import COUNT_VERSION

CACHE_FILE = "qwen-video-plan/counts.json"


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / CACHE_FILE


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: counted again


def _write(path: Path, entries: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as file:
        json.dump(entries, file, indent=1, sort_keys=True)
        file.flush()
        os.fsync(file.fileno())
    os.replace(file.name, path)


def cached(key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()``'s figures for ``key``, computed only if this key has none cached."""
    digest = hashlib.sha256(json.dumps({**key, "version": COUNT_VERSION}, sort_keys=True).encode()).hexdigest()
    path = cache_path()
    entries = _read(path)
    if digest not in entries:
        entries[digest] = compute()
        try:
            _write(path, entries)
        except OSError:
            pass  # a read-only home: the plan is still right, only slower next time
    return entries[digest]
