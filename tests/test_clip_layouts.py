"""Finding clips: page, flat, video2dataset folders and tar shards; ids that could escape are refused."""

import io
import json
import tarfile

import pytest

from data.clip_layouts import FLAT, PAGE, VIDEO2DATASET, ClipLocator, PathEscapeError, check_path_component


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
        str(flat_clip), FLAT)
    assert locator.locate("13", "000001_000050", None) is None


def test_video2dataset_folders_match_by_videoid_or_url(tmp_path):
    videos = tmp_path / "v2d"
    by_id = touch(videos / "00000" / "000000000.mp4")
    (videos / "00000" / "000000000.json").write_text(json.dumps({"videoid": 21, "url": "http://a", "status": "success"}))
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


@pytest.mark.parametrize("videoid, page_dir", [("../secret", None), ("/etc/passwd", None), ("a/b", None),
                                               ("..", None), ("1", "../.."), ("1", "/abs"), ("c:evil", None)])
def test_escaping_ids_and_page_dirs_are_refused(tmp_path, videoid, page_dir):
    touch(tmp_path / "secret.mp4")
    (tmp_path / "videos").mkdir()
    locator = ClipLocator(tmp_path / "videos", tmp_path / "x")
    with pytest.raises(PathEscapeError, match="could escape the video directory"):
        locator.locate(videoid, page_dir, None)


def test_plain_names_pass():
    assert check_path_component("1000001", "videoid") == "1000001"
    assert check_path_component("027701_027750", "page_dir") == "027701_027750"
