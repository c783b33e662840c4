"""Reruns into one output folder on the tiny model: errored samples are retried once their clip is fixed (answers
already made are kept, nothing is duplicated), and a test set whose records changed is refused, not scored with
the old references."""

import json
import shutil

import pytest

from tests.evaluation_fixtures import REPO_ROOT, evaluate_cli, sharegpt_record, write_test_set

DECODING = ["--batch-size", "2", "--max-new-tokens", "3", "--num-workers", "0"]


def _records(output_dir):
    return [json.loads(line) for line in (output_dir / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_rerun_retries_errored_samples_and_refuses_a_changed_test_set(tiny_model_dir, sample_dir, tmp_path):
    clip_set = json.loads(write_test_set(tmp_path, sample_dir, 1, with_bad_clips=False).read_text())
    late_clip = tmp_path / "late" / "clip.mp4"  # not there on the first run (e.g. a download still running)
    test_data = tmp_path / "test.json"
    test_data.write_text(json.dumps([*clip_set, sharegpt_record(str(late_clip), "A late clip.", "late")]))
    output_dir = tmp_path / "results"
    args = [
        "--base-model",
        str(tiny_model_dir),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(output_dir),
        *DECODING,
    ]

    first = evaluate_cli(*args)
    records = _records(output_dir)
    assert [r["status"] for r in records] == ["ok", "error"], first.stderr[-3000:]
    assert first.returncode == 1 and "1 of 2 samples errored" in first.stderr  # outputs written, run not clean
    assert (output_dir / "metrics.json").is_file()
    # mark the answer already made: a rerun must keep it, not generate it again
    records[0]["prediction"] = "kept from the first run"
    (output_dir / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    late_clip.parent.mkdir()
    shutil.copy2(REPO_ROOT / clip_set[0]["videos"][0], late_clip)
    second = evaluate_cli(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    records = _records(output_dir)
    assert [(r["id"], r["status"]) for r in records] == [(clip_set[0]["id"], "ok"), ("late", "ok")]
    assert records[0]["prediction"] == "kept from the first run"
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["counts"]["errors"] == 0 and metrics["counts"]["scored"] == 2

    edited = json.loads(test_data.read_text())
    edited[0]["messages"][1]["content"] = "A corrected reference."
    test_data.write_text(json.dumps(edited))  # same path, other content
    third = evaluate_cli(*args)
    assert third.returncode != 0
    assert str(test_data) in third.stderr and "test set" in third.stderr, third.stderr[-3000:]
    assert json.loads((output_dir / "metrics.json").read_text()) == metrics  # nothing re-scored
