"""The benchmark converter's split handling and clip finding: VATEX's split from its file name, yt-dlp's
containers, one report per split in a shared --out-dir, and YouCook2 segments that end just past a short download."""

import csv
import json
import shutil

import pytest

from data.convert_benchmark import main
from tests.clips import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    options = {"n_frames": 12, "fps": 12, "width": 64, "height": 48}
    codecs = {".mp4": "libx264", ".mkv": "libx264", ".webm": "libvpx"}  # WebM holds VP8/VP9 only
    return {ext: make_clip(folder / f"clip{ext}", codec=codec, **options) for ext, codec in codecs.items()}


def run(tmp_path, *args):
    out = tmp_path / "out"
    main([*args, "--out-dir", str(out), "--media-dir", str(tmp_path), "--workers", "1"])
    return out


def vatex(tmp_path, clips, file_name):
    videos = tmp_path / "vatex"
    videos.mkdir(exist_ok=True)
    records = []
    for number, ext in enumerate((".mp4", ".mkv", ".webm")):
        video_id = f"v{number}_000001_000011"
        shutil.copy(clips[ext], videos / f"{video_id}{ext}")
        records.append({"videoID": video_id, "enCap": [f"caption {number}"]})
    annotations = tmp_path / file_name
    annotations.write_text(json.dumps(records))
    return ["--format", "vatex", "--annotations", str(annotations), "--video-dir", str(videos)]


def test_vatex_finds_yt_dlp_containers(tmp_path, clips):
    out = run(tmp_path, *vatex(tmp_path, clips, "vatex_public_test_english_v1.1.json"))
    written = json.loads((out / "vatex_test.json").read_text())
    assert [record["videos"][0] for record in written] == [
        "vatex/v0_000001_000011.mp4", "vatex/v1_000001_000011.mkv", "vatex/v2_000001_000011.webm",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("file_name", "dataset"),
    [("vatex_training_v1.0.json", "vatex_train"), ("vatex_validation_v1.0.json", "vatex_val"),
     ("vatex_public_test_english_v1.1.json", "vatex_test")],
)  # fmt: skip
def test_vatex_split_comes_from_the_file(tmp_path, clips, file_name, dataset):
    out = run(tmp_path, *vatex(tmp_path, clips, file_name))
    assert (out / f"{dataset}.json").is_file()
    assert list(json.loads((out / "dataset_info.json").read_text())) == [dataset]


def test_vatex_file_of_unknown_split_needs_split(tmp_path, clips):
    args = vatex(tmp_path, clips, "captions.json")
    with pytest.raises(SystemExit, match="--split"):
        run(tmp_path, *args)
    assert not (tmp_path / "out" / "vatex_test.json").exists()
    out = run(tmp_path, *args, "--split", "val")
    assert (out / "vatex_val.json").is_file()


def test_vatex_split_that_contradicts_the_file_is_refused(tmp_path, clips):
    with pytest.raises(SystemExit, match="vatex_training_v1.0.json.*train"):
        run(tmp_path, *vatex(tmp_path, clips, "vatex_training_v1.0.json"), "--split", "test")


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["videoid"], row["reason"]) for row in csv.DictReader(f)]


def test_two_splits_in_one_out_dir_keep_their_own_reports(tmp_path, clips):
    videos = tmp_path / "msrvtt"
    videos.mkdir()
    for name in ("video0", "video7010"):
        shutil.copy(clips[".mp4"], videos / f"{name}.mp4")
    videos_info = [{"video_id": f"video{i}", "split": split} for i, split in
                   ((0, "train"), (1, "train"), (7010, "validate"), (7011, "validate"))]  # fmt: skip
    sentences = [{"video_id": video["video_id"], "caption": f"caption of {video['video_id']}", "sen_id": i}
                 for i, video in enumerate(videos_info)]  # fmt: skip
    annotations = tmp_path / "train_val_videodatainfo.json"
    annotations.write_text(json.dumps({"videos": videos_info, "sentences": sentences}))
    args = ["--format", "msrvtt", "--annotations", str(annotations), "--video-dir", str(videos)]

    run(tmp_path, *args, "--split", "train")
    out = run(tmp_path, *args, "--split", "val")

    assert read_csv(out / "msrvtt_train_skipped.csv") == [("video1", "missing")]
    assert read_csv(out / "msrvtt_val_skipped.csv") == [("video7011", "missing")]
    assert json.loads((out / "msrvtt_train_report.json").read_text())["dataset"] == "msrvtt_train"
    assert json.loads((out / "msrvtt_val_report.json").read_text())["dataset"] == "msrvtt_val"
    assert (out / "msrvtt_train_dropped_references.csv").is_file()
    assert not (out / "report.json").exists() and not (out / "skipped.csv").exists()
    assert set(json.loads((out / "dataset_info.json").read_text())) == {"msrvtt_train", "msrvtt_val"}


def test_youcook2_segment_ending_just_past_a_short_download_is_clamped_and_counted(tmp_path):
    """The download is 3.0 s; the annotation says 3.5 s. A segment ending within 1 s of the file's end keeps its
    frames up to the end (and is counted); one ending further out is still a bad span."""
    videos = tmp_path / "raw_videos"
    make_clip(videos / "vidA.mp4", n_frames=36, fps=12, width=64, height=48)
    segments = [
        {"id": 0, "segment": [0, 1], "sentence": "whole"},
        {"id": 1, "segment": [2, 3.5], "sentence": "ends 0.5 s after the file"},
        {"id": 2, "segment": [2.5, 4.5], "sentence": "ends 1.5 s after the file"},
    ]
    database = {"vidA": {"subset": "validation", "recipe_type": "1", "duration": 4.5, "annotations": segments}}
    annotations = tmp_path / "youcookii_annotations_trainval.json"
    annotations.write_text(json.dumps({"database": database}))

    out = run(tmp_path, "--format", "youcook2", "--annotations", str(annotations), "--video-dir", str(videos),
              "--split", "val")  # fmt: skip

    records = json.loads((out / "youcook2_val.json").read_text())
    assert [record["videos"][0] for record in records] == [
        "raw_videos/vidA.mp4#t=0.0,1.0",
        "raw_videos/vidA.mp4#t=2.0,3.0",
    ]
    assert read_csv(out / "youcook2_val_skipped.csv") == [("vidA_2", "bad_span")]
    report = json.loads((out / "youcook2_val_report.json").read_text())
    assert report["segments_clamped"] == 1
