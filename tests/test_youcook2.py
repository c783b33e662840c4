"""YouCook2 segments end to end: a small youcookii_annotations_trainval.json with one segment per kind of problem.

Each kept segment is a record whose video is its span (``video.mp4#t=START,END``); the test set loads, and the
span's frames are what a reader returns for it.
"""

import csv
import json
import shutil

import pytest

from data.benchmarks import AnnotatedClip, AnnotationSkip, DroppedReference
from data.benchmarks.youcook2 import read_youcook2
from data.convert_benchmark import main
from data.eval_samples import load_test_set
from data.sharegpt import caption_record
from tests.clips import make_clip
from video import ClipSpan, read_sampled_frames


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory):
    """A 6 s video (72 frames at 12 fps) as MP4 and MKV."""
    folder = tmp_path_factory.mktemp("youcook2")
    return {ext: make_clip(folder / f"long{ext}", n_frames=72, fps=12, width=64, height=48) for ext in (".mp4", ".mkv")}


def _segment(number, start, end, sentence):
    return {"id": number, "segment": [start, end], "sentence": sentence}


def annotations_file(tmp_path):
    validation = {"subset": "validation", "recipe_type": "113", "video_url": "https://www.youtube.com/watch?v=x"}
    database = {
        "vidTrain": {**validation, "subset": "training", "duration": 6.0, "annotations": [_segment(0, 1, 2, "t")]},
        "vidA": {**validation, "duration": 6.0, "annotations": [
            _segment(0, 1, 3, "crack the eggs into a bowl"),           # 2: kept ({subset}/{recipe_type}/ layout)
            _segment(1, 2.5, 5, "whisk <|im_end|> them"),             # 3: chat markup dropped: no captions left
            _segment(2, 4, 9, "past the annotated duration"),         # 4: bad_span (annotation's 6 s)
            _segment(3, 3, 2, "ends before it starts"),               # 5: bad_span
            _segment(4, "a", 2, "not a time"),                        # 6: malformed_row
            _segment(0, 0, 1, "same id again"),                       # 7: duplicate_id
            _segment(5, 5, 6, None),                                  # 8: sentence not text: dropped, no captions
            {"segment": [0, 1], "sentence": "no id"},                  # 9: malformed_row
        ]},
        "vidB": {**validation, "recipe_type": "201", "duration": 10.0, "annotations": [
            _segment(0, 0, 2.5, "  pour the batter into the pan "),  # 10: kept (flat {video}.mkv)
            _segment(1, 5, 8, "the video is only 6 s long"),          # 11: bad_span (the probe: past the video's end)
        ]},
        "vidC": {**validation, "duration": 5.0, "annotations": [_segment(0, 0, 1, "not downloaded")]},  # 12: missing
        "../escape": {**validation, "duration": 5.0, "annotations": [_segment(0, 0, 1, "x")]},  # 13: path_escape
        "vidD": {**validation, "annotations": "none"},  # 14: malformed_row
    }  # fmt: skip
    path = tmp_path / "youcookii_annotations_trainval.json"
    path.write_text(json.dumps({"database": database}))
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(int(row["row"]), row["videoid"], row["reason"]) for row in csv.DictReader(f)]


def test_youcook2_segments_become_span_records_with_counted_skips(tmp_path, long_clips):
    videos = tmp_path / "raw_videos"
    (videos / "validation" / "113").mkdir(parents=True)
    shutil.copy(long_clips[".mp4"], videos / "validation" / "113" / "vidA.mp4")
    shutil.copy(long_clips[".mkv"], videos / "vidB.mkv")
    annotations = annotations_file(tmp_path)
    out = tmp_path / "out"
    args = ["--format", "youcook2", "--annotations", str(annotations), "--video-dir", str(videos), "--split", "val"]
    main([*args, "--out-dir", str(out), "--media-dir", str(tmp_path), "--workers", "1"])

    records = json.loads((out / "youcook2_val.json").read_text())
    expected = caption_record("vidA_0", "crack the eggs into a bowl", "raw_videos/validation/113/vidA.mp4#t=1.0,3.0")
    assert records[0] == {**expected, "references": ["crack the eggs into a bowl"]}
    assert records[1]["videos"] == ["raw_videos/vidB.mkv#t=0.0,2.5"] and records[1]["id"] == "vidB_0"
    assert records[1]["references"] == ["pour the batter into the pan"] and len(records) == 2
    assert read_csv(out / "youcook2_val_skipped.csv") == [
        (3, "vidA_1", "no_captions"),
        (4, "vidA_2", "bad_span"),
        (5, "vidA_3", "bad_span"),
        (6, "vidA_4", "malformed_row"),
        (7, "vidA_0", "duplicate_id"),
        (8, "vidA_5", "no_captions"),
        (9, "vidA", "malformed_row"),
        (12, "vidC_0", "missing"),
        (13, "../escape_0", "path_escape"),
        (14, "vidD", "malformed_row"),
        (11, "vidB_1", "bad_span"),  # found by probing, after the annotation's own checks
    ]
    assert read_csv(out / "youcook2_val_dropped_references.csv") == [
        (3, "vidA_1", "chat_markup"),
        (8, "vidA_5", "malformed_row"),
    ]
    report = json.loads((out / "youcook2_val_report.json").read_text())
    assert (report["rows_read"], report["kept"], report["references"]) == (13, 2, 2)
    assert report["skipped_by_reason"] == {
        "malformed_row": 3, "duplicate_id": 1, "no_captions": 2, "path_escape": 1, "missing": 1, "bad_span": 3,
    }  # fmt: skip
    assert json.loads((out / "dataset_info.json").read_text())["youcook2_val"]["file_name"] == "youcook2_val.json"

    samples = load_test_set(out / "youcook2_val.json", tmp_path)
    assert [sample.video_path for sample in samples] == [
        f"{tmp_path}/raw_videos/validation/113/vidA.mp4#t=1.0,3.0",
        f"{tmp_path}/raw_videos/vidB.mkv#t=0.0,2.5",
    ]
    info, indices, frames = read_sampled_frames(samples[0].video_path, video_fps=2.0, video_maxlen=8)
    assert (info.n_frames, info.duration_s, len(frames)) == (24, 2.0, 4)  # frames 12..35 of the video: 2 s


def test_the_parser_reads_segments_of_the_split_in_file_order(tmp_path):
    items = list(read_youcook2(annotations_file(tmp_path), "train"))
    assert items == [AnnotatedClip(1, "vidTrain_0", ("training/113/vidTrain", "vidTrain"), ((1, "t"),), ClipSpan(1, 2))]
    val = list(read_youcook2(annotations_file(tmp_path), "val"))
    assert [type(item) for item in val].count(AnnotatedClip) == 8 and isinstance(val[-1], AnnotationSkip)
    assert DroppedReference(8, "vidA_5", "malformed_row", "sentence is None, not text") in val


@pytest.mark.parametrize(
    "content, message",
    [("not json", "is not a JSON file"), ('{"videos": []}', "has no 'database' object")],
)
def test_another_file_is_refused_naming_it(tmp_path, content, message):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        list(read_youcook2(path, "val"))


def test_the_unpublished_test_split_says_which_to_use(tmp_path):
    args = ["--format", "youcook2", "--annotations", str(annotations_file(tmp_path)), "--video-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out-dir", str(tmp_path / "out")])  # --split defaults to test
    expected = "youcook2 has val, train (its test captions are not published: papers report --split val)"
    assert expected in str(exit_info.value.code)
