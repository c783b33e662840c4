"""The converter on video2dataset output: clipped shards keep each clip's own caption; a broken shard is named."""

import csv
import io
import json
import tarfile

import pytest

from data.convert_webvid import ConvertOptions, convert, main
from tests.clips import make_clip


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("v2d") / "clip.mp4", n_frames=36, fps=24, width=64, height=48).read_bytes()


def write_shard(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def clipped_members(clip_bytes, source: int, captions: list[str]):
    """video2dataset clipping: clips KEY_00000, KEY_00001, ... of one source share its url and videoid."""
    members = []
    for number, caption in enumerate(captions):
        key = f"{source:07d}_{number:05d}"
        meta = {"videoid": str(source), "url": f"http://v/{source}", "caption": caption, "status": "success"}
        members += [
            (f"{key}.mp4", clip_bytes),
            (f"{key}.txt", caption.encode()),
            (f"{key}.json", json.dumps(meta).encode()),
        ]
    return members


def test_clipped_shards_keep_each_clips_caption_and_a_broken_shard_is_named(tmp_path, clip_bytes):
    shards = tmp_path / "shards"
    shards.mkdir()
    write_shard(shards / "00000.tar", clipped_members(clip_bytes, 8, ["a dog runs", "the dog sleeps", "a dog eats"]))
    (shards / "00001.tar").write_bytes(b"")  # a download that never started
    rows = [
        ("0000008_00000", "a dog runs", "http://v/8"),
        ("0000008_00001", "the dog sleeps", "http://v/8"),
        ("0000008_00002", "a dog eats", "http://v/8"),
        ("8", "the source video", "http://v/8"),
        ("0000009_00000", "in the empty shard", "http://v/9"),
    ]
    csv_path = tmp_path / "webvid.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["videoid", "name", "contentUrl"])
        writer.writerows(rows)
    out = tmp_path / "out"
    report = convert(ConvertOptions(csv=csv_path, video_dir=shards, out_dir=out, val_ratio=0, test_ratio=0, workers=1))
    records = json.loads((out / "webvid_train.json").read_text())
    pairs = {
        record["id"]: (record["messages"][1]["content"], record["videos"][0].rsplit("/", 1)[1]) for record in records
    }
    assert pairs == {key: (caption, f"{key}.mp4") for key, caption, _ in rows[:3]}  # each clip its own caption
    assert report["skipped_by_reason"] == {"ambiguous_clip": 1, "missing": 1}
    with open(out / "skipped.csv", newline="") as f:
        skipped = {row["videoid"]: row for row in csv.DictReader(f)}
    assert "shared by 3 clips" in skipped["8"]["detail"]
    assert "00001.tar" in skipped["0000009_00000"]["detail"]
    assert [shard["path"] for shard in report["broken_shards"]] == [str(shards / "00001.tar")]
    assert "empty file" in report["broken_shards"][0]["error"]


def test_without_a_csv_captions_come_from_the_shards(tmp_path, clip_bytes, capsys):
    """How video2dataset users hold WebVid: shards only. One record per clip key, captioned by its .txt or json."""
    shards = tmp_path / "shards"
    shards.mkdir()
    members = clipped_members(clip_bytes, 8, ["a dog runs", "the dog sleeps"])
    members += [
        ("0000009_00000.mp4", clip_bytes),
        ("0000009_00000.json", json.dumps({"caption": "a cat"}).encode()),
        ("0000010_00000.mp4", clip_bytes),
        ("0000010_00000.json", json.dumps({"url": "u"}).encode()),
    ]
    write_shard(shards / "00000.tar", members)
    out = tmp_path / "out"
    main(["--video-dir", str(shards), "--out-dir", str(out), "--val-ratio", "0", "--test-ratio", "0", "--workers", "1"])
    records = json.loads((out / "webvid_train.json").read_text())
    assert [(record["id"], record["messages"][1]["content"]) for record in records] == [
        ("0000008_00000", "a dog runs"),
        ("0000008_00001", "the dog sleeps"),
        ("0000009_00000", "a cat"),
    ]
    assert all(record["videos"][0].endswith(f"/00000/{record['id']}.mp4") for record in records)
    report = json.loads((out / "report.json").read_text())
    assert (report["rows_read"], report["kept"], report["skipped_by_reason"]) == (4, 3, {"malformed_row": 1})
    assert report["csv"] is None and "captions from the video2dataset clips" in capsys.readouterr().out


def test_without_a_csv_a_folder_with_no_video2dataset_clips_is_a_clear_error(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "1.mp4").write_bytes(b"a flat clip has no caption")
    with pytest.raises(FileNotFoundError, match="no video2dataset clips .* pass --csv"):
        convert(ConvertOptions(csv=None, video_dir=tmp_path / "videos", out_dir=tmp_path / "out"))
