"""What decides a clip's stored frames: the run's settings (one store directory each) and the clip's identity.

    settings = StoreSettings.for_plugin(plugin, video_fps=8.0, video_maxlen=8, max_pixels=50176, min_pixels=256)
    store_dir(root, settings)                      # <root>/<settings hash>/ (root: plugins.frame_source)
    clip_key("videos/a.mp4")                       # 16 bytes: blake2b of the resolved path

A store directory holds frames for one combination of format version, plugin class (the family's resize rule),
the four video settings LLaMA-Factory hands the plugin and the decoding code (library versions and our reader's
source), so a changed setting, upgrade or reader fix reads another directory and never stale frames. Inside it,
a clip is found by its resolved path; its size and mtime_ns, kept in the entry, must match the clip on disk (a
rewritten or touched clip is decoded again).
"""

import functools
import hashlib
import inspect
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from frame_store.codec import DEFAULT_CODEC
from video.clip_span import clip_file, clip_reference, split_clip_reference

FORMAT_VERSION = 1  # bump when the entry layout or what a reader returns changes
SETTINGS_FILE = "settings.json"  # in each store directory: what it was built with (build.write_settings)
# LLaMA-Factory 0.9.5's get_mm_inputs hands the plugin these, from the processor, with these defaults.
LLAMAFACTORY_READ_DEFAULTS = {"image_max_pixels": 256 * 256, "image_min_pixels": 16 * 16, "video_fps": 2.0,
                              "video_maxlen": 128}  # fmt: skip


@dataclass(frozen=True)
class StoreSettings:
    """Everything besides the clip that decides the frames the plugin hands the processor."""

    family: str  # the plugin class (module.qualname): its read and resize rule
    video_fps: float
    video_maxlen: int
    max_pixels: int  # video_max_pixels (LLaMA-Factory passes it to the resize as image_max_pixels)
    min_pixels: int  # video_min_pixels
    code: str = ""  # the decoding code: reader_fingerprint()
    version: int = FORMAT_VERSION

    @classmethod
    def for_plugin(cls, plugin, *, video_fps, video_maxlen, max_pixels, min_pixels) -> "StoreSettings":
        kind = type(plugin) if not isinstance(plugin, type) else plugin
        return cls(f"{kind.__module__}.{kind.__qualname__}", float(video_fps), int(video_maxlen), int(max_pixels),
                   int(min_pixels), reader_fingerprint(kind))  # fmt: skip

    @classmethod
    def from_read_settings(cls, plugin, settings: dict) -> "StoreSettings":
        """From the keyword arguments LLaMA-Factory passes the plugin's read_videos."""
        merged = {**LLAMAFACTORY_READ_DEFAULTS, **settings}
        return cls.for_plugin(plugin, video_fps=merged["video_fps"], video_maxlen=merged["video_maxlen"],
                              max_pixels=merged["image_max_pixels"], min_pixels=merged["image_min_pixels"])  # fmt: skip

    def read_settings(self) -> dict:
        """The keyword arguments for the plugin's read_videos."""
        return {"image_max_pixels": self.max_pixels, "image_min_pixels": self.min_pixels,
                "video_fps": self.video_fps, "video_maxlen": self.video_maxlen}  # fmt: skip

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def digest(self) -> str:
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def same_sampling(self, other: "StoreSettings") -> bool:
        """Whether both sample the same frame indices (token counts do not depend on the pixel budget)."""
        fields = ("family", "video_fps", "video_maxlen", "code", "version")
        return all(getattr(self, name) == getattr(other, name) for name in fields)


@functools.lru_cache(maxsize=8)
def reader_fingerprint(kind: type) -> str:
    """What else decides the pixels: the versions of LLaMA-Factory (its resize), Pillow (the resampling) and PyAV
    (FFmpeg's decoders), and the source of our reader (the video package and the plugin's own modules)."""
    from importlib.metadata import version

    import video

    digest = hashlib.blake2b(digest_size=8)
    for package in ("llamafactory", "pillow", "av"):
        digest.update(f"{package}=={version(package)};".encode())
    sources = sorted(Path(video.__file__).parent.glob("*.py"))
    ours = {Path(inspect.getsourcefile(cls)) for cls in kind.__mro__ if cls.__module__.startswith("plugins")}
    sources += sorted(ours)
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def store_dir(root: str | os.PathLike, settings: StoreSettings) -> Path:
    return Path(root) / settings.digest


def resolved(path: str | os.PathLike) -> str:
    """The clip's identity: its file's real path, plus the span for a span of a longer video (``#t=START,END``,
    video/clip_span.py, in one canonical spelling), so each span of one video is a clip of its own."""
    file, span = split_clip_reference(path)
    return clip_reference(os.path.realpath(file), span)


def clip_key(path: str | os.PathLike) -> bytes:
    """16 bytes naming the clip inside a store directory: blake2b of its resolved path."""
    return key_of_resolved(resolved(path))


def key_of_resolved(resolved_path: str) -> bytes:
    """clip_key of a path resolved() already returned (a lookup resolves each path once: realpath costs syscalls)."""
    return hashlib.blake2b(resolved_path.encode(), digest_size=16).digest()


def key_number(key: bytes) -> int:
    """The first 8 bytes of a key as an integer: the sorted index's column, and the hashed shard partition."""
    return int.from_bytes(key[:8], "little")


def clip_identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(size, mtime_ns) of the clip's file on disk (a span's: the whole video's), or None where it is gone."""
    try:
        stat = os.stat(clip_file(path))
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def built_with(directory: str | os.PathLike) -> dict | None:
    """A store directory's settings.json ({"settings", "codec", "num_shards"}: what build wrote), or None where it
    has none."""
    try:
        return json.loads((Path(directory) / SETTINGS_FILE).read_text())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class StoreTarget:
    """Where and how to build: a store directory for one template's plugin and one set of video settings."""

    directory: Path
    template: str  # the LLaMA-Factory template whose mm plugin reads the frames
    settings: StoreSettings
    codec: str = DEFAULT_CODEC
    num_shards: int = 1
    shard_index: int | None = None  # None: every shard here, then the merge
