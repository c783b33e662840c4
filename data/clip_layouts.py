"""Find a WebVid row's clip on disk, whichever downloader wrote the folder.

Layouts, tried in this order for every row:
  page           ``{video_dir}/{page_dir}/{videoid}.mp4``   (the original WebVid downloader)
  flat           ``{video_dir}/{videoid}.mp4``
  video2dataset  ``{key}.mp4`` next to ``{key}.json`` (folders) or inside ``{shard}.tar`` shards; matched to the
                 row by the json's ``videoid`` (``save_additional_columns``) or else its ``url`` = ``contentUrl``.
                 Shard members are extracted once into ``extract_dir/{shard}/{key}.mp4`` so LLaMA-Factory can
                 open them; an existing extracted file of the right size is reused.
IDs and page dirs are single path components: anything that could leave ``video_dir`` (``..``, separators,
absolute paths) is rejected before the filesystem is touched, and so are unsafe tar member names.
"""

import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from tqdm import tqdm

PAGE, FLAT, VIDEO2DATASET = "page", "flat", "video2dataset"
CLIP_SUFFIX = ".mp4"


class PathEscapeError(ValueError):
    """A videoid or page_dir that is not one plain path component."""


@dataclass(frozen=True)
class LocatedClip:
    path: str  # absolute
    layout: str
    size: int
    mtime_ns: int


def check_path_component(value: str, field: str) -> str:
    """``value`` if it is one plain file name component; raises PathEscapeError otherwise."""
    if (
        not value
        or value in (".", "..")
        or "/" in value
        or "\\" in value
        or "\0" in value
        or value[1:2] == ":"  # a Windows drive
    ):
        raise PathEscapeError(f"{field} {value!r} is not a plain file name and could escape the video directory")
    return value


def _stat_file(path: str) -> os.stat_result | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat if S_ISREG(stat.st_mode) else None


class ClipLocator:
    """Maps rows to clip paths under ``video_dir``; builds the video2dataset index once, on first need."""

    def __init__(self, video_dir: Path, extract_dir: Path):
        self.video_dir = Path(os.path.abspath(video_dir))
        self.extract_dir = Path(os.path.abspath(extract_dir))
        self._video_dir = str(self.video_dir)  # string joins: this runs once per row of a 10 M-row CSV
        self._by_videoid: dict[str, Path] | None = None
        self._by_url: dict[str, Path] = {}
        if not self.video_dir.is_dir():
            raise FileNotFoundError(f"video directory {self.video_dir} does not exist; pass --video-dir DIR")

    def locate(self, videoid: str, page_dir: str | None, content_url: str | None) -> LocatedClip | None:
        """The clip for this row, or None when no layout has it. Raises PathEscapeError on unsafe ids."""
        check_path_component(videoid, "videoid")
        name = videoid + CLIP_SUFFIX
        if page_dir is not None:
            path = os.path.join(self._video_dir, check_path_component(page_dir, "page_dir"), name)
            if stat := _stat_file(path):
                return LocatedClip(path, PAGE, stat.st_size, stat.st_mtime_ns)
        path = os.path.join(self._video_dir, name)
        if stat := _stat_file(path):
            return LocatedClip(path, FLAT, stat.st_size, stat.st_mtime_ns)
        found = self._video2dataset_path(videoid, content_url)
        stat = _stat_file(str(found)) if found is not None else None
        return LocatedClip(str(found), VIDEO2DATASET, stat.st_size, stat.st_mtime_ns) if stat else None

    def _video2dataset_path(self, videoid: str, content_url: str | None) -> Path | None:
        if self._by_videoid is None:
            self._build_video2dataset_index()
        return self._by_videoid.get(videoid) or (self._by_url.get(content_url) if content_url else None)

    def _add(self, meta: dict, clip: Path) -> None:
        if meta.get("status", "success") != "success":
            return
        if meta.get("videoid") is not None:
            self._by_videoid.setdefault(str(meta["videoid"]), clip)
        if meta.get("url"):
            self._by_url.setdefault(str(meta["url"]), clip)

    def _build_video2dataset_index(self) -> None:
        """Read every ``{key}.json`` (folders) and shard, extracting shard clips. Runs once, only if needed."""
        self._by_videoid = {}
        shards, sidecars = [], []
        for folder, _, files in os.walk(self.video_dir):  # one walk: the folder may hold millions of clips
            for name in files:
                if name.endswith(".tar"):
                    shards.append(Path(folder, name))
                elif name.endswith(".json"):
                    sidecars.append(Path(folder, name))
        shards.sort()
        sidecars.sort()
        for sidecar in tqdm(sidecars, desc="indexing video2dataset folders", unit="clip", disable=not sidecars):
            clip = sidecar.with_suffix(CLIP_SUFFIX)
            if clip.is_file():
                try:
                    self._add(json.loads(sidecar.read_text(encoding="utf-8")), clip)
                except (ValueError, UnicodeDecodeError):
                    continue  # an unreadable sidecar: the row then counts as a missing clip
        for shard in tqdm(shards, desc="indexing video2dataset shards", unit="shard", disable=not shards):
            self._index_shard(shard)

    def _index_shard(self, shard: Path) -> None:
        target_dir = self.extract_dir / check_path_component(shard.stem, "shard name")
        metas: dict[str, dict] = {}
        clips: dict[str, Path] = {}
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                base = os.path.basename(member.name)
                key, suffix = os.path.splitext(base)
                try:
                    check_path_component(base, "tar member")
                except PathEscapeError:
                    continue
                if suffix == ".json":
                    try:
                        metas[key] = json.loads(tar.extractfile(member).read().decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        continue
                elif suffix == CLIP_SUFFIX:
                    clips[key] = _extract_member(tar, member, target_dir / base)
        for key, clip in clips.items():
            self._add(metas.get(key, {}), clip)


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> Path:
    """Write one shard member to ``destination`` (atomically) unless an equal-sized copy is already there."""
    if destination.is_file() and destination.stat().st_size == member.size:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with tar.extractfile(member) as source, open(partial, "wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    partial.replace(destination)
    return destination
