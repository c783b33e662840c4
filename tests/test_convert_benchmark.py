"""The benchmark converter end to end: a small annotation file in each format, with one clip per kind of problem."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from data.convert_benchmark import main
from data.eval_samples import load_test_set
from data.sharegpt import caption_record
from tests.clips import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", n_frames=12, fps=12, width=64, height=48)


@pytest.fixture(scope="module")
def avi_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.avi", n_frames=12, fps=12, width=64, height=48)


def run(tmp_path, *args):
    out = tmp_path / "out"
    main([*args, "--out-dir", str(out), "--media-dir", str(tmp_path), "--workers", "1"])
    return out


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(int(row["row"]), row["videoid"], row["reason"]) for row in csv.DictReader(f)]


def test_msrvtt_keeps_every_reference_of_the_split(tmp_path, clip):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("video0", "video3", "video4", "video6"):
        shutil.copy(clip, videos / f"{name}.mp4")
    (videos / "video5.mp4").write_bytes(b"not a video at all" * 10)
    annotations = tmp_path / "test_videodatainfo.json"
    split = {"video0": "test", "video1": "test", "video2": "test", "video3": "train", "video4": "test"}
    split.update({"video5": "test", "video6": "test"})
    video_records = [
        {"video_id": video_id, "split": value, "id": i} for i, (video_id, value) in enumerate(split.items())
    ]
    video_records.insert(1, {"video_id": "video0", "split": "test"})  # duplicate: record 2
    video_records.insert(2, {"split": "test"})  # no id: record 3
    sentences = [
        {"video_id": "video0", "caption": "a man is cooking", "sen_id": 0},
        {"video_id": "video3", "caption": "a train clip", "sen_id": 1},
        {"video_id": "video0", "caption": "someone cooks <|im_end|> food", "sen_id": 2},
        {"video_id": "video0", "caption": None, "sen_id": 3},
        {"video_id": "video0", "caption": " a person prepares food ", "sen_id": 4},
        {"video_id": "video2", "caption": "its clip is missing", "sen_id": 5},
        {"video_id": "video4", "caption": "<video> only markup", "sen_id": 6},
        {"video_id": "video5", "caption": "a broken clip", "sen_id": 7},
        {"video_id": "video6", "caption": "a dog runs", "sen_id": 8},
    ]
    annotations.write_text(json.dumps({"info": {}, "videos": video_records, "sentences": sentences}))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "dataset_info.json").write_text(json.dumps({"webvid_test": {"file_name": "w.json"}}))

    out = run(tmp_path, "--format", "msrvtt", "--annotations", str(annotations), "--video-dir", str(videos))

    records = json.loads((out / "msrvtt_test.json").read_text())
    assert [record["id"] for record in records] == ["video0", "video6"]
    expected = caption_record("video0", "a man is cooking", "videos/video0.mp4")
    assert records[0] == {**expected, "references": ["a man is cooking", "a person prepares food"]}
    assert records[1]["references"] == ["a dog runs"] and records[1]["videos"] == ["videos/video6.mp4"]
    assert read_csv(out / "msrvtt_test_skipped.csv") == [
        (2, "video0", "duplicate_id"),
        (3, "", "malformed_row"),
        (4, "video1", "no_captions"),
        (5, "video2", "missing"),
        (7, "video4", "no_captions"),
        (8, "video5", "not_a_video"),
    ]
    assert read_csv(out / "msrvtt_test_dropped_references.csv") == [
        (4, "video0", "malformed_row"),
        (3, "video0", "chat_markup"),
        (7, "video4", "chat_markup"),
    ]
    report = json.loads((out / "msrvtt_test_report.json").read_text())
    assert (report["rows_read"], report["kept"], report["references"]) == (8, 2, 3)
    assert report["skipped_by_reason"] == {
        "malformed_row": 1, "duplicate_id": 1, "no_captions": 2, "missing": 1, "not_a_video": 1,
    }  # fmt: skip
    assert report["references_dropped"] == {"malformed_row": 1, "chat_markup": 2}
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"webvid_test", "msrvtt_test"}
    assert info["msrvtt_test"]["file_name"] == "msrvtt_test.json"


MSVD_DESCRIPTIONS = """# MSVD English descriptions
# VIDEONAME description
abc_1_5 a cat plays
abc_1_5 a cat is playing
def_2_8 a dog runs
def_2_8
ghi_0_4 <video> spam
abc_1_5 the cat <|im_end|> plays
jkl_3_9 a bird flies
mno_1_2 a training clip
pqr_0_1 a clip the mapping lacks
"""
MSVD_MAPPING = "abc_1_5 vid1301\ndef_2_8 vid1302\nghi_0_4 vid1303\njkl_3_9 vid1304\nmno_1_2 vid5\n"


def msvd_files(tmp_path, avi_clip):
    videos = tmp_path / "YouTubeClips"
    videos.mkdir()
    shutil.copy(avi_clip, videos / "vid1301.avi")  # named by the mapping
    shutil.copy(avi_clip, videos / "def_2_8.avi")  # named by the description file
    shutil.copy(avi_clip, videos / "mno_1_2.avi")
    descriptions = tmp_path / "AllVideoDescriptions.txt"
    descriptions.write_text(MSVD_DESCRIPTIONS)
    mapping = tmp_path / "youtube_mapping.txt"
    mapping.write_text(MSVD_MAPPING)
    return descriptions, mapping, videos


def test_msvd_test_split_from_the_mapping_either_clip_name(tmp_path, avi_clip):
    descriptions, mapping, videos = msvd_files(tmp_path, avi_clip)
    args = ["--format", "msvd", "--annotations", str(descriptions), "--video-dir", str(videos)]

    out = run(tmp_path, *args, "--mapping", str(mapping))

    records = json.loads((out / "msvd_test.json").read_text())
    assert [(r["id"], r["videos"], r["references"]) for r in records] == [
        ("abc_1_5", ["YouTubeClips/vid1301.avi"], ["a cat plays", "a cat is playing"]),
        ("def_2_8", ["YouTubeClips/def_2_8.avi"], ["a dog runs"]),
    ]
    assert records[0]["messages"][1]["content"] == "a cat plays"
    samples = load_test_set(out / "msvd_test.json", tmp_path)  # as evaluation reads it: every reference scored
    assert [sample.references for sample in samples] == [("a cat plays", "a cat is playing"), ("a dog runs",)]
    assert all(Path(sample.video_path).is_file() for sample in samples)
    assert read_csv(out / "msvd_test_skipped.csv") == [
        (7, "ghi_0_4", "no_captions"),
        (9, "jkl_3_9", "missing"),
        (11, "pqr_0_1", "not_in_mapping"),
    ]
    assert read_csv(out / "msvd_test_dropped_references.csv") == [
        (8, "abc_1_5", "chat_markup"),
        (6, "def_2_8", "malformed_row"),
        (7, "ghi_0_4", "chat_markup"),
    ]
    report = json.loads((out / "msvd_test_report.json").read_text())
    assert report["layouts"] == {"{mapped name}.avi": 1, "{id}.avi": 1}
    assert json.loads((out / "dataset_info.json").read_text())["msvd_test"]["file_name"] == "msvd_test.json"


def test_msvd_split_without_mapping_names_the_fix(tmp_path, avi_clip):
    descriptions, _, videos = msvd_files(tmp_path, avi_clip)
    with pytest.raises(SystemExit, match="youtube_mapping.txt"):
        run(tmp_path, "--format", "msvd", "--annotations", str(descriptions), "--video-dir", str(videos))
    assert not (tmp_path / "out" / "msvd_test.json").exists()


def test_vatex_keeps_the_english_captions(tmp_path, clip):
    videos = tmp_path / "vatex"
    videos.mkdir()
    shutil.copy(clip, videos / "Ptf_2VRj-V0_000122_000132.mp4")
    shutil.copy(clip, videos / "bbb_000002_000012.mp4")
    english = [f"caption number {i}" for i in range(10)]
    english[3] = "a caption with <image> in it"
    annotations = tmp_path / "vatex_public_test_english_v1.1.json"
    records = [
        {"videoID": "Ptf_2VRj-V0_000122_000132", "enCap": english, "chCap": ["一个人"] * 10},
        {"videoID": "bbb_000002_000012", "enCap": []},
        {"videoID": "Ptf_2VRj-V0_000122_000132", "enCap": ["again"]},
        {"enCap": ["no id"]},
        {"videoID": "../escape_000001_000002", "enCap": ["bad name"]},
        {"videoID": "ccc_000003_000013", "enCap": ["not downloaded", 7]},
    ]
    annotations.write_text(json.dumps(records, ensure_ascii=False))

    out = run(tmp_path, "--format", "vatex", "--annotations", str(annotations), "--video-dir", str(videos))

    written = json.loads((out / "vatex_test.json").read_text())
    assert len(written) == 1
    assert written[0]["references"] == english[:3] + english[4:]
    assert written[0]["messages"][1]["content"] == "caption number 0"
    assert read_csv(out / "vatex_test_skipped.csv") == [
        (2, "bbb_000002_000012", "no_captions"),
        (3, "Ptf_2VRj-V0_000122_000132", "duplicate_id"),
        (4, "", "malformed_row"),
        (5, "../escape_000001_000002", "path_escape"),
        (6, "ccc_000003_000013", "missing"),
    ]
    assert read_csv(out / "vatex_test_dropped_references.csv") == [
        (1, "Ptf_2VRj-V0_000122_000132", "chat_markup"),
        (6, "ccc_000003_000013", "malformed_row"),
    ]
    report = json.loads((out / "vatex_test_report.json").read_text())
    assert (report["rows_read"], report["kept"], report["references"]) == (6, 1, 9)


def test_nothing_kept_exits_1_and_keeps_the_previous_outputs(tmp_path, clip):
    videos = tmp_path / "vatex"
    videos.mkdir()
    shutil.copy(clip, videos / "aaa_000001_000011.mp4")
    annotations = tmp_path / "vatex.json"
    annotations.write_text(json.dumps([{"videoID": "aaa_000001_000011", "enCap": ["a good caption"]}]))
    args = ["--format", "vatex", "--annotations", str(annotations), "--split", "test"]
    out = run(tmp_path, *args, "--video-dir", str(videos), "--no-probe")
    published = ("vatex_test.json", "vatex_test_report.json", "vatex_test_skipped.csv",
                 "vatex_test_dropped_references.csv", "dataset_info.json")  # fmt: skip
    before = {name: (out / name).read_bytes() for name in published}

    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, *args, "--video-dir", str(tmp_path / "elsewhere"))

    assert "not found under --video-dir" in str(exit_info.value.code)
    assert {name: (out / name).read_bytes() for name in published} == before
    assert not [path for path in out.iterdir() if path.name.startswith(".incomplete-")]
