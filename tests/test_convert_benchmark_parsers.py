"""Each benchmark parser on small in-memory files: which clips, which captions, which lines are refused."""

import json

import pytest

from data.benchmarks import (
    AnnotatedClip,
    AnnotationSkip,
    DroppedReference,
    ScreenedClip,
    screen_references,
)
from data.benchmarks.msrvtt import read_msrvtt
from data.benchmarks.msvd import read_mapping, read_msvd
from data.benchmarks.vatex import read_vatex


def test_msrvtt_val_is_msrvtts_validate_split(tmp_path):
    path = tmp_path / "train_val_videodatainfo.json"
    videos = [{"video_id": "video0", "split": "train"}, {"video_id": "video7010", "split": "validate"}]
    sentences = [{"video_id": "video7010", "caption": "val caption", "sen_id": 1}]
    path.write_text(json.dumps({"videos": videos, "sentences": sentences}))
    assert list(read_msrvtt(path, "val")) == [AnnotatedClip(2, "video7010", ("video7010",), ((1, "val caption"),))]
    assert list(read_msrvtt(path, "test")) == []


def test_msrvtt_refuses_another_json(tmp_path):
    path = tmp_path / "vatex.json"
    path.write_text(json.dumps([{"videoID": "a", "enCap": []}]))
    with pytest.raises(ValueError, match="videodatainfo"):
        list(read_msrvtt(path, "test"))


def test_msvd_original_csv_keeps_english_rows_only(tmp_path):
    path = tmp_path / "MSR Video Description Corpus.csv"
    path.write_text(
        "VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n"
        "mv89psg6zh4,33,46,1,clean,17,English,A bird is bathing in a sink.\n"
        "mv89psg6zh4,33,46,2,unverified,25,French,Un oiseau se baigne.\n"
        'mv89psg6zh4,33,46,3,clean,9,English,"A bird splashes, in water."\n',
        encoding="utf-8",
    )
    clips = list(read_msvd(path, "all", None))
    assert clips == [
        AnnotatedClip(
            2,
            "mv89psg6zh4_33_46",
            ("mv89psg6zh4_33_46",),
            ((2, "A bird is bathing in a sink."), (4, "A bird splashes, in water.")),
        )
    ]


def test_msvd_text_file_groups_lines_by_clip_and_refuses_broken_lines(tmp_path):
    path = tmp_path / "AllVideoDescriptions.txt"
    path.write_bytes(b"# comment\n\nxyz_1_2 first\nuvw_0_3 other\nxyz_1_2 second\nxyz_1_2 bad \xff byte\n")
    items = list(read_msvd(path, "all", None))
    assert items == [
        DroppedReference(6, "xyz_1_2", "malformed_row", "no caption after the name, or not UTF-8"),
        AnnotatedClip(3, "xyz_1_2", ("xyz_1_2",), ((3, "first"), (5, "second"))),
        AnnotatedClip(4, "uvw_0_3", ("uvw_0_3",), ((4, "other"),)),
    ]


def test_msvd_mapping_lines_are_checked(tmp_path):
    path = tmp_path / "youtube_mapping.txt"
    path.write_text("abc_1_2 vid1\nabc_1_2 vid2\n")
    with pytest.raises(ValueError, match="line 2"):
        read_mapping(path)
    path.write_text("abc_1_2 vid1\n\ndef_0_1 vid2\n")
    assert read_mapping(path) == {"abc_1_2": "vid1", "def_0_1": "vid2"}


def test_vatex_reads_only_english_captions(tmp_path):
    path = tmp_path / "vatex_validation_v1.0.json"
    path.write_text(json.dumps([{"videoID": "a_000001_000011", "enCap": ["one", "two"], "chCap": ["一", "二"]}]))
    assert list(read_vatex(path)) == [
        AnnotatedClip(1, "a_000001_000011", ("a_000001_000011",), ((1, "one"), (1, "two")))
    ]
    path.write_text(json.dumps({"videoID": "a"}))
    with pytest.raises(ValueError, match="VATEX"):
        list(read_vatex(path))


def test_screening_drops_bad_captions_and_skips_clips_left_without_any():
    clips = [
        AnnotatedClip(1, "a", ("a",), ((1, "  good one  "), (2, "   "), (3, "bad <|im_start|> one"))),
        AnnotatedClip(4, "b", ("b",), ((4, "<image>"),)),
        AnnotatedClip(5, "a", ("a",), ((5, "again"),)),
        AnnotatedClip(6, "c", ("c",), ()),
    ]
    items = list(screen_references(clips))
    assert [type(item).__name__ for item in items] == [
        "DroppedReference", "DroppedReference", "ScreenedClip", "DroppedReference", "AnnotationSkip",
        "AnnotationSkip", "AnnotationSkip",
    ]  # fmt: skip
    assert items[2] == ScreenedClip(1, "a", ("a",), ("good one",))
    assert [(item.line, item.reason) for item in items if isinstance(item, DroppedReference)] == [
        (2, "empty_caption"), (3, "chat_markup"), (4, "chat_markup"),
    ]  # fmt: skip
    assert [(item.clip_id, item.reason) for item in items if isinstance(item, AnnotationSkip)] == [
        ("b", "no_captions"), ("a", "duplicate_id"), ("c", "no_captions"),
    ]  # fmt: skip


def test_screening_makes_each_reference_one_line():
    """As the WebVid converter does: every line break and whitespace control becomes one space."""
    captions = ((1, "a man\r\ncuts\x0bbread"), (2, "a\x0cdog\x85runs\u2028fast\u2029now"), (3, "two\x1cspaces \t here"))
    (clip,) = screen_references([AnnotatedClip(1, "a", ("a",), captions)])
    assert clip.references == ("a man cuts bread", "a dog runs fast now", "two spaces here")
