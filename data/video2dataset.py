"""video2dataset output: ``{key}.mp4`` with ``{key}.json`` / ``{key}.txt`` in folders or in ``.tar`` shards.

    index = Video2DatasetIndex.build(video_dir, extract_dir)    # walks the folder once, extracts shard clips
    index.find(videoid, url)     # a CSV row's clip: its key, else a json videoid or url naming exactly one clip
    index.broken_shards          # shards (or folders) not readable to the end: named, with why (the rest is indexed)
    for item in video2dataset_rows(index): ...   # no CSV: one WebVidRow per clip (videoid = key), or a CsvSkip

The key identifies a clip. video2dataset's clipping writes several keys for one source video (``0000008_00000``,
``0000008_00001``) whose json all carry that video's ``url`` (and ``videoid``), so a url or json videoid is used
only when no other clip has it; one that several clips share raises AmbiguousClipError (a counted skip).
Shard members are extracted once into ``extract_dir/{shard}/{key}.mp4`` so LLaMA-Factory can open them; an existing
extracted file of the right size is reused.
"""

import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from data.clip_paths import AmbiguousClipError, PathEscapeError, check_path_component
from data.webvid_csv import MALFORMED_ROW, CsvSkip, WebVidRow
from data.webvid_csv import _row_from_fields as row_from_fields  # the CSV reader's own row checks

CLIP_SUFFIX = ".mp4"
SIDECARS = (".json", ".txt")
TAR_END_BYTES = 1024  # a complete tar ends with two zero blocks


@dataclass(frozen=True)
class ShardClip:
    """One clip of the output and what its sidecars say about it."""

    key: str
    path: Path  # the clip on disk (shard members extracted)
    origin: str  # the folder or shard it came from, for messages
    meta: dict = field(default_factory=dict)  # the json sidecar ({} when absent or unreadable)
    text: str | None = None  # the txt sidecar

    @property
    def caption(self) -> str | None:
        caption = self.text if self.text is not None else self.meta.get("caption")
        return caption.strip() if isinstance(caption, str) and caption.strip() else None

    @property
    def downloaded(self) -> bool:
        return self.meta.get("status", "success") == "success"


@dataclass(frozen=True)
class BrokenShard:
    """A shard (or folder) that could not be read to its end; the clips before the damage are indexed."""

    path: str
    error: str
    clips_indexed: int


class _Lookup:
    """name -> the one clip with that name; names several clips share are remembered as ambiguous."""

    def __init__(self):
        self.clips: dict[str, ShardClip] = {}
        self.shared: dict[str, int] = {}  # name -> how many clips have it (only names with more than one)

    def add(self, name, clip: ShardClip) -> None:
        if name is None or name == "":
            return
        name = str(name)
        if name in self.clips:
            self.shared[name] = self.shared.get(name, 1) + 1
        else:
            self.clips[name] = clip

    def get(self, name: str | None, what: str) -> ShardClip | None:
        if name is None or name not in self.clips:
            return None
        if name in self.shared:
            raise AmbiguousClipError(
                f"video2dataset {what} {name!r} is shared by {self.shared[name]} clips (a clipped video?), e.g. "
                f"{self.clips[name].key}: not guessing; put each clip's key in the CSV's videoid column"
            )
        return self.clips[name]


class Video2DatasetIndex:
    """Every clip of a video2dataset output under one folder, looked up by key, json videoid or url."""

    def __init__(self):
        self.clips: list[ShardClip] = []
        self.broken_shards: list[BrokenShard] = []
        self._by_key, self._by_videoid, self._by_url = _Lookup(), _Lookup(), _Lookup()

    @classmethod
    def build(cls, video_dir: Path, extract_dir: Path) -> "Video2DatasetIndex":
        """Walk ``video_dir`` once: sidecar folders, then ``.tar`` shards (their clips extracted to extract_dir)."""
        index = cls()
        shards, folders = [], []

        def unreadable(error: OSError) -> None:  # os.walk would skip such a folder without a word
            index.broken_shards.append(BrokenShard(str(error.filename), f"cannot list folder: {error.strerror}", 0))

        for folder, _, files in os.walk(video_dir, onerror=unreadable):  # one walk: there may be millions of clips
            names = set(files)
            shards += [Path(folder, name) for name in files if name.endswith(".tar")]
            folders += [
                Path(folder, name)
                for name in files
                if name.endswith(CLIP_SUFFIX)
                and any(name[: -len(CLIP_SUFFIX)] + suffix in names for suffix in SIDECARS)
            ]
        for clip in tqdm(sorted(folders), desc="indexing video2dataset folders", unit="clip", disable=not folders):
            index._add(
                ShardClip(
                    clip.stem,
                    clip,
                    str(clip.parent),
                    _read_json(clip.with_suffix(".json")),
                    _read_text(clip.with_suffix(".txt")),
                )
            )
        for shard in tqdm(sorted(shards), desc="indexing video2dataset shards", unit="shard", disable=not shards):
            index._index_shard(shard, Path(extract_dir))
        return index

    def find(self, videoid: str, url: str | None) -> ShardClip | None:
        """The clip whose key is ``videoid``, else the only clip with that json videoid, else with that url.

        Raises AmbiguousClipError when the name that matches is shared by several clips.
        """
        return (
            self._by_key.get(videoid, "key") or self._by_videoid.get(videoid, "videoid") or self._by_url.get(url, "url")
        )

    def _add(self, clip: ShardClip) -> None:
        self.clips.append(clip)
        if clip.downloaded:
            self._by_key.add(clip.key, clip)
            self._by_videoid.add(clip.meta.get("videoid"), clip)
            self._by_url.add(clip.meta.get("url"), clip)

    def _index_shard(self, shard: Path, extract_dir: Path) -> None:
        """Index one shard; one that is empty, not a tar or cut short is recorded in broken_shards, never raised."""
        try:
            target_dir = extract_dir / check_path_component(shard.stem, "shard name")
        except PathEscapeError as error:
            self.broken_shards.append(BrokenShard(str(shard), str(error), 0))
            return
        members: dict[str, dict] = {}
        error = None
        try:
            with tarfile.open(shard, "r:") as tar:  # video2dataset writes plain tars
                for member in tar:
                    _read_member(tar, member, target_dir, members)
                if not _ends_cleanly(shard, tar.offset):
                    error = f"no end-of-archive marker after byte {tar.offset}: cut short or still being written"
        except (tarfile.TarError, OSError, EOFError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        clips = [
            ShardClip(key, parts[CLIP_SUFFIX], str(shard), _parse_json(parts.get(".json")), _decode(parts.get(".txt")))
            for key, parts in members.items()
            if CLIP_SUFFIX in parts
        ]
        for clip in clips:
            self._add(clip)
        if error is not None:
            self.broken_shards.append(BrokenShard(str(shard), error, len(clips)))


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target_dir: Path, members: dict) -> None:
    """Remember a sidecar's bytes, or extract a clip; unsafe names and other files are ignored."""
    if not member.isfile():
        return
    base = os.path.basename(member.name)
    key, suffix = os.path.splitext(base)
    try:
        check_path_component(base, "tar member")
    except PathEscapeError:
        return
    if suffix in SIDECARS:
        members.setdefault(key, {})[suffix] = tar.extractfile(member).read()
    elif suffix == CLIP_SUFFIX:
        path = _extract_member(tar, member, target_dir / base)
        members.setdefault(key, {})[suffix] = path


def _ends_cleanly(shard: Path, offset: int) -> bool:
    """The tar's last header is followed by the zero blocks a complete archive ends with."""
    with open(shard, "rb") as f:
        f.seek(offset)
        tail = f.read(TAR_END_BYTES)
    return len(tail) == TAR_END_BYTES and not tail.strip(b"\0")


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> Path:
    """Write one shard member to ``destination`` (atomically) unless an equal-sized copy is already there."""
    if destination.is_file() and destination.stat().st_size == member.size:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        with tar.extractfile(member) as source, open(partial, "wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(destination)
    return destination


def _decode(data: bytes | None) -> str | None:
    try:
        return data.decode("utf-8") if data is not None else None
    except UnicodeDecodeError:
        return None


def _parse_json(data: bytes | None) -> dict:
    """A sidecar's json object; {} when absent or unreadable (the clip is then found by its key only)."""
    try:
        meta = json.loads(data.decode("utf-8")) if data is not None else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _read_json(path: Path) -> dict:
    return _parse_json(path.read_bytes()) if path.is_file() else {}


def _read_text(path: Path) -> str | None:
    return _decode(path.read_bytes()) if path.is_file() else None


def video2dataset_rows(index: Video2DatasetIndex) -> Iterator[WebVidRow | CsvSkip]:
    """One row per clip, as if from a CSV: videoid = key, caption from ``{key}.txt`` or else the json's caption.

    ``line`` numbers the clips in key order. Captions get the CSV reader's checks (empty, control characters, chat
    markup); a clip without a caption, or whose download failed, is a CsvSkip naming its shard and key.
    """
    columns = {"videoid": 0, "name": 1, "contentUrl": 2}
    for line, clip in enumerate(sorted(index.clips, key=lambda clip: (clip.key, clip.origin)), 1):
        where = f"{clip.origin}: {clip.key}{CLIP_SUFFIX}"
        if not clip.downloaded:
            yield CsvSkip(line, clip.key, "missing", f"{where}: status {clip.meta.get('status')!r} in its json")
            continue
        if clip.caption is None:
            yield CsvSkip(line, clip.key, MALFORMED_ROW, f"{where}: no caption ({clip.key}.txt or json 'caption')")
            continue
        url = clip.meta.get("url")
        item = row_from_fields(line, [clip.key, clip.caption, url if isinstance(url, str) else ""], columns, 3)
        yield (
            CsvSkip(item.line, item.videoid, item.reason, f"{where}: {item.detail}")
            if isinstance(item, CsvSkip)
            else item
        )
