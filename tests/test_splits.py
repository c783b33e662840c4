"""Splits by videoid hash (stable as rows are added) and dataset_info.json merging."""

import json

import pytest

from data.dataset_info import registered_splits
from data.splits import assign_split, check_ratios


def test_split_depends_on_videoid_only_and_matches_ratios():
    ids = [str(1_000_000 + i) for i in range(20_000)]
    first = {videoid: assign_split(videoid, 0.1, 0.2) for videoid in ids}
    more = ids + [str(5_000_000 + i) for i in range(5_000)]
    again = {videoid: assign_split(videoid, 0.1, 0.2) for videoid in reversed(more)}
    assert all(again[videoid] == split for videoid, split in first.items())  # adding rows never moves a clip
    counts = {split: list(first.values()).count(split) / len(ids) for split in ("train", "val", "test")}
    assert counts["val"] == pytest.approx(0.1, abs=0.01) and counts["test"] == pytest.approx(0.2, abs=0.01)


def test_salt_reshuffles_and_zero_ratios_keep_all_in_train():
    ids = [str(i) for i in range(1000)]
    assert [assign_split(i, 0.5, 0.0) for i in ids] != [assign_split(i, 0.5, 0.0, salt="x") for i in ids]
    assert {assign_split(i, 0.0, 0.0) for i in ids} == {"train"}


@pytest.mark.parametrize("val, test", [(-0.1, 0.1), (0.6, 0.4), (1.2, 0.0)])
def test_bad_ratios_rejected(val, test):
    with pytest.raises(ValueError, match="--val-ratio"):
        check_ratios(val, test)


def test_registered_splits_keep_other_entries(tmp_path):
    info_path = tmp_path / "dataset_info.json"
    other = {"mllm_demo": {"file_name": "mllm_demo.json", "formatting": "sharegpt"}}
    stale = {"webvid_train": {"file_name": "old.json"}}
    info_path.write_text(json.dumps({**other, **stale}))
    merged, _ = registered_splits(info_path, tmp_path / "data" / "webvid")
    assert merged["mllm_demo"] == other["mllm_demo"]
    assert set(merged) == {"mllm_demo", "webvid_train", "webvid_val", "webvid_test"}
    assert merged["webvid_train"]["file_name"] == "data/webvid/webvid_train.json"  # relative to dataset_dir
    assert merged["webvid_val"]["columns"] == {"messages": "messages", "videos": "videos"}
    assert merged["webvid_test"]["tags"]["assistant_tag"] == "assistant"


def test_registered_splits_outside_dataset_dir_use_absolute_paths(tmp_path):
    info_path = tmp_path / "repo" / "dataset_info.json"
    info_path.parent.mkdir()
    _, entries = registered_splits(info_path, tmp_path / "elsewhere")
    assert entries["webvid_test"]["file_name"] == str(tmp_path / "elsewhere" / "webvid_test.json")


def test_registered_splits_refuse_broken_json(tmp_path):
    info_path = tmp_path / "dataset_info.json"
    info_path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        registered_splits(info_path, tmp_path)


def test_committed_dataset_info_registers_webvid(tmp_path):
    from tests.conftest import REPO_ROOT

    info = json.loads((REPO_ROOT / "dataset_info.json").read_text())
    for split in ("train", "val", "test"):
        assert info[f"webvid_{split}"]["file_name"] == f"data/webvid/webvid_{split}.json"
        assert info[f"webvid_{split}"]["formatting"] == "sharegpt"
