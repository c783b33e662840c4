"""Find a WebVid row's clip on disk, whichever downloader wrote the folder.

Layouts, tried in this order for every row:
  page           ``{video_dir}/{page_dir}/{videoid}.mp4``   (the original WebVid downloader)
  flat           ``{video_dir}/{videoid}.mp4``
  video2dataset  ``{key}.mp4`` next to ``{key}.json``/``{key}.txt`` (folders) or inside ``{shard}.tar`` shards
                 (data/video2dataset.py): the row's videoid is the clip's key, or else a json ``videoid`` or ``url``
                 (= ``contentUrl``) that names exactly one clip. Shard clips are extracted under ``extract_dir``.
IDs and page dirs are single path components: anything that could leave ``video_dir`` (``..``, separators,
absolute paths) is rejected before the filesystem is touched, and so are unsafe tar member names. A lookup that
fails for a reason other than "not there" raises a ClipLookupError subclass naming it (data/clip_paths.py).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from data.clip_paths import (  # noqa: F401 - PathEscapeError, check_path_component: this module's API too
    AmbiguousClipError,
    ClipLookupError,
    PathEscapeError,
    UnreadablePathError,
    check_path_component,
    stat_file,
)
from data.video2dataset import CLIP_SUFFIX, BrokenShard, Video2DatasetIndex

PAGE, FLAT, VIDEO2DATASET = "page", "flat", "video2dataset"


@dataclass(frozen=True)
class LocatedClip:
    path: str  # absolute
    layout: str
    size: int
    mtime_ns: int


class ClipLocator:
    """Maps rows to clip paths under ``video_dir``; builds the video2dataset index once, on first need."""

    def __init__(self, video_dir: Path, extract_dir: Path):
        self.video_dir = Path(os.path.abspath(video_dir))
        self.extract_dir = Path(os.path.abspath(extract_dir))
        self._video_dir = str(self.video_dir)  # string joins: this runs once per row of a 10 M-row CSV
        self._video2dataset: Video2DatasetIndex | None = None
        if not self.video_dir.is_dir():
            raise FileNotFoundError(f"video directory {self.video_dir} does not exist; pass --video-dir DIR")

    def locate(self, videoid: str, page_dir: str | None, content_url: str | None) -> LocatedClip | None:
        """The clip for this row, or None when no layout has it.

        Raises a ClipLookupError (its ``reason`` the skip reason) for an unsafe id, a path the filesystem refuses,
        or a video2dataset url/videoid shared by several clips.
        """
        check_path_component(videoid, "videoid")
        name = videoid + CLIP_SUFFIX
        if page_dir is not None:
            path = os.path.join(self._video_dir, check_path_component(page_dir, "page_dir"), name)
            if stat := stat_file(path):
                return LocatedClip(path, PAGE, stat.st_size, stat.st_mtime_ns)
        path = os.path.join(self._video_dir, name)
        if stat := stat_file(path):
            return LocatedClip(path, FLAT, stat.st_size, stat.st_mtime_ns)
        found = self.video2dataset().find(videoid, content_url)
        stat = stat_file(str(found.path)) if found is not None else None
        return LocatedClip(str(found.path), VIDEO2DATASET, stat.st_size, stat.st_mtime_ns) if stat else None

    def video2dataset(self) -> Video2DatasetIndex:
        """The video2dataset clips under video_dir (built on the first call: walks the folder, extracts shards)."""
        if self._video2dataset is None:
            self._video2dataset = Video2DatasetIndex.build(self.video_dir, self.extract_dir)
        return self._video2dataset

    @property
    def broken_shards(self) -> list[BrokenShard]:
        """video2dataset shards that could not be read to the end (none until the index is built)."""
        return self._video2dataset.broken_shards if self._video2dataset is not None else []

    def broken_shards_note(self) -> str:
        """For a missing clip's message: the video2dataset shards that could not be read to the end, if any."""
        broken = self.broken_shards
        if not broken:
            return ""
        names = ", ".join(os.path.basename(shard.path) for shard in broken[:3]) + (", ..." if len(broken) > 3 else "")
        return f" ({len(broken)} video2dataset shards could not be read to the end: {names}; see report.json)"
