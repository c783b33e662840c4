"""Finding clips: page, flat, video2dataset folders and tar shards; ids that could escape are refused."""

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from data.clip_layouts import (
    FLAT,
    PAGE,
    VIDEO2DATASET,
    ClipLocator,
    ClipLookupError,
    PathEscapeError,
    check_path_component,
)
from data.video2dataset import video2dataset_rows
from data.webvid_csv import CsvSkip, WebVidRow


def touch(path, data=b"video bytes"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_page_then_flat_layout(tmp_path):
    videos = tmp_path / "videos"
    page_clip = touch(videos / "000001_000050" / "11.mp4")
    flat_clip = touch(videos / "12.mp4")
    locator = ClipLocator(videos, tmp_path / "extract")
    found = locator.locate("11", "000001_000050", None)
    assert (found.path, found.layout, found.size) == (str(page_clip), PAGE, len(b"video bytes"))
    assert (locator.locate("12", "000001_000050", None).path, locator.locate("12", None, None).layout) == (
        str(flat_clip),
        FLAT,
    )
    assert locator.locate("13", "000001_000050", None) is None


def test_video2dataset_folders_match_by_videoid_or_url(tmp_path):
    videos = tmp_path / "v2d"
    by_id = touch(videos / "00000" / "000000000.mp4")
    (videos / "00000" / "000000000.json").write_text(
        json.dumps({"videoid": 21, "url": "http://a", "status": "success"})
    )
    (videos / "00000" / "000000000.txt").write_text("caption")
    by_url = touch(videos / "00000" / "000000001.mp4")
    (videos / "00000" / "000000001.json").write_text(json.dumps({"url": "http://b", "status": "success"}))
    failed = touch(videos / "00000" / "000000002.mp4")
    (videos / "00000" / "000000002.json").write_text(json.dumps({"videoid": "23", "status": "failed_to_download"}))
    locator = ClipLocator(videos, tmp_path / "extract")
    assert locator.locate("21", None, None).path == str(by_id)  # int videoid in the json matched as a string
    assert locator.locate("22", "000001_000050", "http://b").layout == VIDEO2DATASET
    assert locator.locate("22", None, "http://b").path == str(by_url)
    assert locator.locate("23", None, None) is None and failed.exists()


def add_member(tar, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_video2dataset_tar_shards_are_extracted(tmp_path):
    videos = tmp_path / "shards"
    videos.mkdir()
    with tarfile.open(videos / "00000.tar", "w") as tar:
        add_member(tar, "000000000.mp4", b"clip zero")
        add_member(tar, "000000000.json", json.dumps({"videoid": "31", "url": "http://c"}).encode())
        add_member(tar, "000000000.txt", b"caption")
        add_member(tar, "../../evil.mp4", b"escape attempt")
    extract = tmp_path / "extract"
    found = ClipLocator(videos, extract).locate("31", None, None)
    assert found.path == str(extract / "00000" / "000000000.mp4")
    assert (extract / "00000" / "000000000.mp4").read_bytes() == b"clip zero"
    assert not (tmp_path / "evil.mp4").exists() and not (extract / "evil.mp4").exists()
    mtime = found.mtime_ns
    assert ClipLocator(videos, extract).locate("31", None, None).mtime_ns == mtime  # not extracted twice


@pytest.mark.parametrize(
    "videoid, page_dir",
    [
        ("../secret", None),
        ("/etc/passwd", None),
        ("a/b", None),
        ("..", None),
        ("1", "../.."),
        ("1", "/abs"),
        ("c:evil", None),
    ],
)
def test_escaping_ids_and_page_dirs_are_refused(tmp_path, videoid, page_dir):
    touch(tmp_path / "secret.mp4")
    (tmp_path / "videos").mkdir()
    locator = ClipLocator(tmp_path / "videos", tmp_path / "x")
    with pytest.raises(PathEscapeError, match="could escape the video directory"):
        locator.locate(videoid, page_dir, None)


def test_plain_names_pass():
    assert check_path_component("1000001", "videoid") == "1000001"
    assert check_path_component("027701_027750", "page_dir") == "027701_027750"


def test_a_name_too_long_for_the_filesystem_is_unreadable_not_missing(tmp_path):
    """os.stat's ENAMETOOLONG was hidden as 'missing'; any error but 'not there' now names itself."""
    (tmp_path / "videos").mkdir()
    locator = ClipLocator(tmp_path / "videos", tmp_path / "x")
    with pytest.raises(ClipLookupError, match="name too long") as caught:
        locator.locate("9" * 300, "000001_000050", None)
    assert caught.value.reason == "unreadable" and "9" * 300 in str(caught.value)


def write_shard(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            add_member(tar, name, data)
    return path


def test_broken_shards_are_named_and_the_rest_indexed(tmp_path):
    videos = tmp_path / "shards"
    videos.mkdir()
    write_shard(
        videos / "00000.tar",
        [("000000000.mp4", b"clip zero"), ("000000000.json", json.dumps({"videoid": "31"}).encode())],
    )
    (videos / "00001.tar").write_bytes(b"")
    cut = write_shard(
        videos / "00002.tar",
        [
            ("000020000.mp4", b"complete clip"),
            ("000020000.json", json.dumps({"videoid": "41"}).encode()),
            ("000020001.mp4", b"x" * 5000),
            ("000020001.json", json.dumps({"videoid": "42"}).encode()),
        ],
    )
    cut.write_bytes(cut.read_bytes()[:3000])  # ends inside the second clip
    (videos / "00003.tar").write_bytes(b"<html>502 Bad Gateway</html>")
    locator = ClipLocator(videos, tmp_path / "extract")
    assert locator.locate("31", None, None).path.endswith("00000/000000000.mp4")
    assert locator.locate("41", None, None).path.endswith("00002/000020000.mp4")  # before the cut: indexed
    assert locator.locate("42", None, None) is None
    broken = {Path(shard.path).name: shard for shard in locator.video2dataset().broken_shards}
    assert sorted(broken) == ["00001.tar", "00002.tar", "00003.tar"]
    assert broken["00002.tar"].clips_indexed == 1 and "unexpected end of data" in broken["00002.tar"].error
    assert not list((tmp_path / "extract").rglob("*.partial"))


def clipped_shard(videos):
    """video2dataset with clipping: two clips cut from source video 8 share its url and videoid; clip 9 does not."""
    members = []
    for key, caption in (("0000008_00000", "a dog runs"), ("0000008_00001", "the dog sleeps")):
        members += [
            (f"{key}.mp4", f"clip {key}".encode()),
            (f"{key}.txt", caption.encode()),
            (
                f"{key}.json",
                json.dumps({"videoid": "8", "url": "http://v/8", "caption": caption, "status": "success"}).encode(),
            ),
        ]
    members += [
        ("0000009_00000.mp4", b"clip nine"),
        ("0000009_00000.json", json.dumps({"url": "http://v/9", "caption": "a cat"}).encode()),
        ("0000010_00000.mp4", b"no caption"),
        ("0000010_00000.json", json.dumps({"url": "u"}).encode()),
    ]
    return write_shard(videos / "00000.tar", members)


def test_clipped_shards_match_each_clip_by_its_key_never_by_a_shared_url(tmp_path):
    """Every clip of a clipped video used to get the first clip's file (matched by the url they share)."""
    videos = tmp_path / "shards"
    videos.mkdir()
    clipped_shard(videos)
    extract = tmp_path / "extract"
    locator = ClipLocator(videos, extract)
    second = locator.locate("0000008_00001", None, "http://v/8")
    assert (second.path, second.layout) == (str(extract / "00000" / "0000008_00001.mp4"), VIDEO2DATASET)
    assert Path(locator.locate("0000008_00000", None, "http://v/8").path).name == "0000008_00000.mp4"
    assert Path(locator.locate("77", None, "http://v/9").path).name == "0000009_00000.mp4"  # unique url: used
    for videoid, shared in (("8", "videoid '8'"), ("80", "url 'http://v/8'")):  # name two clips: not guessed
        with pytest.raises(ClipLookupError, match=f"{shared} is shared by 2 clips") as caught:
            locator.locate(videoid, None, "http://v/8")
        assert caught.value.reason == "ambiguous_clip"


def test_video2dataset_rows_take_captions_from_the_shards(tmp_path):
    """No CSV: one row per clip, keyed by the shard key, captioned from KEY.txt or else the json's caption."""
    videos = tmp_path / "shards"
    videos.mkdir()
    clipped_shard(videos)
    locator = ClipLocator(videos, tmp_path / "extract")
    items = list(video2dataset_rows(locator.video2dataset()))
    rows = [(item.videoid, item.caption) for item in items if isinstance(item, WebVidRow)]
    assert rows == [("0000008_00000", "a dog runs"), ("0000008_00001", "the dog sleeps"), ("0000009_00000", "a cat")]
    skips = [item for item in items if isinstance(item, CsvSkip)]
    assert [(skip.videoid, skip.reason) for skip in skips] == [("0000010_00000", "malformed_row")]
    assert "00000.tar" in skips[0].detail and "no caption" in skips[0].detail
    assert [item.line for item in items] == [1, 2, 3, 4]
    assert all(locator.locate(videoid, None, None) for videoid, _ in rows)


def test_a_folder_the_walk_cannot_enter_is_named_not_skipped_silently(tmp_path):
    """os.walk drops folders it cannot list unless asked; a path past PATH_MAX is one any user (root too) can make."""
    videos = tmp_path / "v2d"
    videos.mkdir()
    fd = os.open(videos, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 250 characters: listing the deepest folder by its full path fails
            os.mkdir("d" * 250, dir_fd=fd)
            deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
    finally:
        os.close(fd)
    index = ClipLocator(videos, tmp_path / "extract").video2dataset()
    # PATH_MAX (4096) counts the terminating NUL: a path of 4096 characters is already too long
    assert [(len(broken.path) >= 4096, "too long" in broken.error) for broken in index.broken_shards] == [(True, True)]
