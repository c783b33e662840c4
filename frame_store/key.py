"""What decides a clip's stored frames: the run's settings (one store directory each) and the clip's identity.

    settings = StoreSettings.for_plugin(plugin, video_fps=8.0, video_maxlen=8, max_pixels=50176, min_pixels=256)
    store_dir(root, settings)                      # <root>/<settings hash>/ (root: plugins.frame_source)
    clip_key("videos/a.mp4")                       # 16 bytes: blake2b of the resolved path

A store directory holds frames for one combination of format version, plugin class (the family's resize rule),
the four video settings LLaMA-Factory hands the plugin and the decoder (video.FRAMES_VERSION, our declared version
of the frames our reader and plugins return, and the versions of the libraries that decide pixels), so a changed
setting, upgrade or frame-changing fix reads another directory and never stale frames, while an edit that leaves
frames alone (a comment, a refactor) keeps the store. tests/test_frames_golden.py fails until a change that alters
frames bumps FRAMES_VERSION. Inside a directory, a clip is found by its resolved path; its identity (size,
mtime_ns and a hash of its first and last 64 KiB, kept in the entry) must match the clip on disk: a rewritten,
touched or replaced clip is decoded again (docs/frame-store-format.md says exactly what is checked).
"""

import functools
import hashlib
import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import av

import video
from frame_store.codec import DEFAULT_CODEC
from video.clip_span import clip_file, clip_reference, split_clip_reference
from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

FORMAT_VERSION = 2  # bump when the entry layout or what a reader returns changes
SETTINGS_FILE = "settings.json"  # in each store directory: what it was built with (build.write_settings)
# LLaMA-Factory 0.9.5's get_mm_inputs hands the plugin these, from the processor, with these defaults (the video
# pixel budgets under the resize's image_* names).
LLAMAFACTORY_READ_DEFAULTS = {
    "image_max_pixels": LLAMAFACTORY_DEFAULTS["video_max_pixels"],
    "image_min_pixels": LLAMAFACTORY_DEFAULTS["video_min_pixels"],
    "video_fps": LLAMAFACTORY_DEFAULTS["video_fps"],
    "video_maxlen": LLAMAFACTORY_DEFAULTS["video_maxlen"],
}


@dataclass(frozen=True)
class StoreSettings:
    """Everything besides the clip that decides the frames the plugin hands the processor."""

    family: str  # the plugin class (module.qualname): its read and resize rule
    video_fps: float
    video_maxlen: int
    max_pixels: int  # video_max_pixels (LLaMA-Factory passes it to the resize as image_max_pixels)
    min_pixels: int  # video_min_pixels
    code: str = ""  # the decoder: reader_fingerprint()
    version: int = FORMAT_VERSION

    @classmethod
    def for_plugin(cls, plugin, *, video_fps, video_maxlen, max_pixels, min_pixels) -> "StoreSettings":
        kind = type(plugin) if not isinstance(plugin, type) else plugin
        return cls(f"{kind.__module__}.{kind.__qualname__}", float(video_fps), int(video_maxlen), int(max_pixels),
                   int(min_pixels), reader_fingerprint())  # fmt: skip

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
        return settings_digest(self.as_dict())

    def same_sampling(self, other: "StoreSettings") -> bool:
        """Whether both sample the same frame indices (token counts do not depend on the pixel budget)."""
        fields = ("family", "video_fps", "video_maxlen", "code", "version")
        return all(getattr(self, name) == getattr(other, name) for name in fields)


def settings_digest(settings: dict) -> str:
    """The store directory's name for a StoreSettings.as_dict() (also for a settings dict this checkout cannot
    parse: a later format's)."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


SETTING_WORDS = {"family": "family", "video_fps": "video_fps", "video_maxlen": "video_maxlen",
                 "max_pixels": "video_max_pixels", "min_pixels": "video_min_pixels", "code": "decoder",
                 "version": "format version"}  # fmt: skip


def settings_in_words(settings: dict, only=None) -> str:
    """e.g. "video_maxlen 4, video_fps 8.0" (the fields named in ``only``, else all)."""
    names = [name for name in SETTING_WORDS if only is None or name in only]
    return ", ".join(f"{SETTING_WORDS[name]} {settings.get(name)}" for name in names)


def settings_difference(found: dict, wanted: dict) -> str:
    """The fields in which two settings dicts differ, each side in words: "video_maxlen 4 (asked for: 8)"."""
    differ = [name for name in sorted(set(found) | set(wanted)) if found.get(name) != wanted.get(name)]
    return ", ".join(f"{SETTING_WORDS.get(name, name)} {found.get(name)} (asked for: {wanted.get(name)})"
                     for name in differ)  # fmt: skip


def decoder_versions() -> dict[str, str]:
    """What decides the pixels besides the settings: our declared FRAMES_VERSION (video/__init__.py), and the
    versions of LLaMA-Factory (its resize), Pillow (the resampling), PyAV and the FFmpeg libraries it runs
    (decoders, demuxers, the YUV-to-RGB conversion)."""
    found = {"frames": str(video.FRAMES_VERSION)}
    found.update({package: importlib.metadata.version(package) for package in ("llamafactory", "pillow", "av")})
    for library in ("libavcodec", "libavformat", "libavutil", "libswscale"):
        found[library] = ".".join(map(str, av.library_versions[library]))
    return found


@functools.lru_cache(maxsize=1)
def reader_fingerprint() -> str:
    """decoder_versions() as one string ("frames=1;llamafactory=0.9.5;..."): a store setting. Source text is not
    part of it: an edit that leaves frames alone keeps every store."""
    return ";".join(f"{name}={value}" for name, value in decoder_versions().items())


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


SAMPLE_BYTES = 64 * 1024  # hashed from each end of a clip: its header, first frames and (MP4) its sample tables


class ClipIdentity(NamedTuple):
    """What must match between a clip on disk and its stored entry for the entry to be served."""

    size: int
    mtime_ns: int
    sample: str  # blake2b of the first and last SAMPLE_BYTES: catches a replaced file whose mtime was restored

    def fields(self) -> dict:
        """As kept in an entry's header and its shard line."""
        return self._asdict()

    @classmethod
    def of(cls, record: dict) -> "ClipIdentity | None":
        """The identity kept in an entry header or shard line (None for one written without it)."""
        try:
            return cls(record["size"], record["mtime_ns"], record["sample"])
        except KeyError:
            return None


def clip_identity(path: str | os.PathLike) -> ClipIdentity | None:
    """The identity of the clip's file on disk (a span's: the whole video's), or None where it is gone.

    Costs a stat and at most two 64 KiB reads, of bytes the decoder reads anyway (the container header, the
    first packets, MP4's moov at the end)."""
    try:
        with open(clip_file(path), "rb") as clip:
            stat = os.fstat(clip.fileno())
            digest = hashlib.blake2b(clip.read(SAMPLE_BYTES), digest_size=16)
            if stat.st_size > SAMPLE_BYTES:
                clip.seek(max(SAMPLE_BYTES, stat.st_size - SAMPLE_BYTES))
                digest.update(clip.read(SAMPLE_BYTES))
    except OSError:
        return None
    return ClipIdentity(stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def built_with(directory: str | os.PathLike) -> dict | None:
    """A store directory's settings.json ({"settings", "codec", "num_shards"}: what build wrote), or None where it
    has none."""
    path = Path(directory) / SETTINGS_FILE
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as error:
        raise StoreFileError(
            f"{path} cannot be read ({error}): delete {path.parent} (make frames-prune lists it; make frames "
            "rebuilds it) or set FRAME_STORE_DIR to another folder"
        ) from None
    if not isinstance(found, dict):
        raise StoreFileError(f"{path} is not a store's settings (a JSON object): delete {path.parent} and rebuild")
    return found


class StoreFileError(ValueError):
    """A store file that cannot be read (settings.json not JSON); names it and what to do."""


@dataclass(frozen=True)
class StoreTarget:
    """Where and how to build: a store directory for one template's plugin and one set of video settings."""

    directory: Path
    template: str  # the LLaMA-Factory template whose mm plugin reads the frames
    settings: StoreSettings
    codec: str = DEFAULT_CODEC
    num_shards: int = 1
    shard_index: int | None = None  # None: every shard here, then the merge
