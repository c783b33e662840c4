"""The converter end to end on a synthetic folder holding one clip for every skip reason."""

import csv
import json
import shutil

import av
import pytest

from data.convert_report import SKIP_REASONS
from data.convert_webvid import ConvertOptions, convert, main
from data.sharegpt import caption_record_json
from data.webvid_csv import MissingColumnsError
from tests.clips import make_clip, remux_mp4
from video import REASONS

HEADER = "videoid,name,page_idx,page_dir,duration,contentUrl\n"
PAGE = "000001_000050"


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory):
    """A 1.5 s, 36-frame clip: long enough for 8 frames at video_fps 8."""
    return make_clip(tmp_path_factory.mktemp("clips") / "good.mp4", n_frames=36, fps=24, width=64, height=48)


def cut_between_packets(path, keep_packets):
    with av.open(str(path)) as container:
        offsets = [packet.pos for packet in container.demux(container.streams.video[0]) if packet.size]
    data = path.read_bytes()
    path.write_bytes(data[: offsets[keep_packets]])


def build_dataset(root, good_clip):
    """CSV + videos/ with one row per skip reason, plus good rows. Returns (csv, videos, expected reasons)."""
    videos = root / "videos"
    (videos / PAGE).mkdir(parents=True)
    for videoid in ("1", "2", "10"):
        shutil.copy(good_clip, videos / PAGE / f"{videoid}.mp4")
    shutil.copy(good_clip, videos / "3.mp4")  # flat layout
    (videos / PAGE / "5.mp4").write_bytes(b"")
    (videos / PAGE / "6.mp4").write_bytes(good_clip.read_bytes()[: good_clip.stat().st_size // 2])
    cut = remux_mp4(good_clip, videos / PAGE / "7.mp4", "faststart")  # index first, as web downloads are
    cut_between_packets(cut, keep_packets=20)
    (videos / PAGE / "8.mp4").write_text("<html>403 Forbidden</html>")
    make_clip(videos / PAGE / "9.mp4", n_frames=6, fps=24, width=64, height=48)
    rows = [
        '1,"Good, with ""quotes"" and é",1,{p},PT00H00M02S,u1',
        "2,second good,1,{p},PT00H00M02S,u2",
        "3,flat layout,1,{p},PT00H00M02S,u3",
        "4,missing file,1,{p},PT00H00M02S,u4",
        "5,zero bytes,1,{p},PT00H00M02S,u5",
        "6,truncated index,1,{p},PT00H00M02S,u6",
        "7,cut between packets,1,{p},PT00H00M02S,u7",
        "8,html saved as mp4,1,{p},PT00H00M02S,u8",
        "9,too short,1,{p},PT00H00M01S,u9",
        "../1,escape,1,{p},PT00H00M02S,u",
        "2,duplicate of 2,1,{p},PT00H00M02S,u2",
        "11,missing fields",
        "10,good after everything,1,{p},PT00H00M02S,u10",
    ]
    csv_path = root / "webvid.csv"
    csv_path.write_text(HEADER + "\n".join(row.format(p=PAGE) for row in rows) + "\n", encoding="utf-8")
    expected = {
        5: "missing",
        6: "empty",
        7: "truncated",
        8: "truncated",
        9: "not_a_video",
        10: "too_short",
        11: "path_escape",
        12: "duplicate_id",
        13: "malformed_row",
    }
    return csv_path, videos, expected


def read_split(out_dir, split):
    return json.loads((out_dir / f"webvid_{split}.json").read_text(encoding="utf-8"))


def test_every_skip_reason_is_counted_and_listed(tmp_path, good_clip, capsys):
    csv_path, videos, expected = build_dataset(tmp_path, good_clip)
    out_dir = tmp_path / "out"
    info_path = tmp_path / "dataset_info.json"
    info_path.write_text(json.dumps({"other": {"file_name": "x.json"}}))
    main(
        [
            "--csv",
            str(csv_path),
            "--video-dir",
            str(videos),
            "--out-dir",
            str(out_dir),
            "--media-dir",
            str(tmp_path),
            "--dataset-info",
            str(info_path),
            "--val-ratio",
            "0",
            "--test-ratio",
            "0",
            "--workers",
            "2",
        ]
    )

    with open(out_dir / "skipped.csv", newline="", encoding="utf-8") as f:
        skipped = {int(row["row"]): row for row in csv.DictReader(f)}
    assert {line: row["reason"] for line, row in skipped.items()} == expected
    assert skipped[12]["detail"] == "first seen on line 3"
    assert "20 present" in skipped[8]["detail"]  # cut between packets: demuxes cleanly, but frames are missing

    report = json.loads((out_dir / "report.json").read_text())
    assert report["rows_read"] == 13 and report["kept"] == 4 and report["skipped"] == 9
    assert report["skipped_by_reason"] == {
        reason: list(expected.values()).count(reason) for reason in SKIP_REASONS if reason in expected.values()
    }
    assert report["layouts"] == {"page": 3, "flat": 1}

    records = read_split(out_dir, "train")
    assert [record["id"] for record in records] == ["1", "2", "3", "10"]
    first = records[0]
    assert json.dumps(first, ensure_ascii=False) == caption_record_json(
        "1", 'Good, with "quotes" and é', f"videos/{PAGE}/1.mp4"
    )  # the fast serialiser is exactly json.dumps
    assert first["messages"] == [
        {"role": "user", "content": "<video>Describe this video in one sentence."},
        {"role": "assistant", "content": 'Good, with "quotes" and é'},
    ]
    assert first["videos"] == [f"videos/{PAGE}/1.mp4"]  # relative to --media-dir
    assert read_split(out_dir, "val") == [] and read_split(out_dir, "test") == []
    assert set(json.loads(info_path.read_text())) == {"other", "webvid_train", "webvid_val", "webvid_test"}

    printed = capsys.readouterr().out
    assert "kept                 4" in printed and "duplicate_id" in printed and "skipped.csv" in printed
    assert REASONS["truncated"] in printed and REASONS["not_a_video"] in printed  # one vocabulary with the reader


def test_rerun_probes_only_new_clips(tmp_path, good_clip):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(good_clip, videos / "1.mp4")
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text(HEADER + "1,one,1,p,PT00H00M02S,u\n")
    options = ConvertOptions(
        csv=csv_path, video_dir=videos, out_dir=tmp_path / "out", dataset_info=tmp_path / "di.json", workers=1
    )
    assert convert(options)["probed"] == 1
    shutil.copy(good_clip, videos / "2.mp4")
    csv_path.write_text(HEADER + "1,one,1,p,PT00H00M02S,u\n2,two,1,p,PT00H00M02S,u\n")
    report = convert(options)
    assert (report["probed"], report["probe_cache_hits"], report["kept"]) == (1, 1, 2)
    (videos / "1.mp4").write_bytes(b"")  # a changed file is looked at again, not served from the cache
    assert convert(options)["skipped_by_reason"] == {"empty": 1}


def test_no_probe_checks_existence_and_csv_duration(tmp_path, good_clip):
    csv_path, videos, _ = build_dataset(tmp_path, good_clip)
    report = convert(
        ConvertOptions(
            csv=csv_path,
            video_dir=videos,
            out_dir=tmp_path / "out",
            probe=False,
            dataset_info=tmp_path / "di.json",
            min_duration_s=1.5,
        )
    )
    assert report["skipped_by_reason"]["too_short"] == 1  # row 9's CSV duration, 1 s
    assert "truncated" not in report["skipped_by_reason"] and report["probed"] == 0


def test_missing_columns_fail_before_writing(tmp_path):
    csv_path = tmp_path / "webvid.csv"
    csv_path.write_text("id,caption\n1,x\n")
    (tmp_path / "videos").mkdir()
    with pytest.raises(MissingColumnsError, match="videoid, name"):
        convert(
            ConvertOptions(
                csv=csv_path, video_dir=tmp_path / "videos", out_dir=tmp_path / "out", dataset_info=tmp_path / "di.json"
            )
        )
    assert not (tmp_path / "out" / "report.json").exists()
