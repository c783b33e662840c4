"""The predictions file (records read back as written, a torn last line dropped, LLaMA-Factory's file read) and
resuming: only the same run continues, the test set is identified by content, errored samples are retried."""

import json

import pytest

from data.eval_samples import Sample, load_test_set
from evaluation.predictions import Prediction, PredictionWriter, read_existing, read_jsonl
from evaluation.score_only import read_predictions_for_scoring
from tests.evaluation_fixtures import PROMPT, sharegpt_record

# ---------- predictions file ----------


def _prediction(sample_id: str, error: str | None = None, video_path: str | None = None) -> Prediction:
    """The base model's answer "x" to sample ``sample_id`` (clip /clips/ID.mp4), or its ``error``."""
    sample = Sample(sample_id, f"{sample_id}.mp4", video_path or f"/clips/{sample_id}.mp4", PROMPT, "ref")
    return Prediction.of_sample(sample, "base", None if error else "x", error, None)


def test_prediction_records_read_back_as_written():
    answered = Prediction.of_sample(Sample("a", "a.mp4", "/c/a.mp4", PROMPT, "A dog."), "adapter",
                                    "<|im_start|>assistant\nA dog runs.<|im_end|>", None, "frames/a.jpg",
                                    ["<|im_start|>", "<|im_end|>"])  # fmt: skip
    assert (answered.prediction, answered.status, answered.empty, answered.repetitive) == (
        "A dog runs.",
        "ok",
        False,
        False,
    )
    assert Prediction.from_json(json.loads(json.dumps(answered.to_json())), "f:1") == answered
    errored = _prediction("b", error="missing clip")
    assert (errored.status, errored.prediction, errored.empty) == ("error", None, None)
    assert Prediction.from_json(errored.to_json(), "f:2") == errored
    assert Prediction.from_json({"id": 7, "status": "ok", "reference": "r", "prediction": ""}, "f:3").empty


def test_writer_drops_torn_line_and_resume_reads_each_record_once(tmp_path):
    path = tmp_path / "predictions.jsonl"
    with PredictionWriter(path) as writer:
        writer.write(_prediction("a"))
        writer.write(_prediction("b"))
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"id": "c", "model": "ba')  # killed mid-line
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    with PredictionWriter(path) as writer:
        writer.write(_prediction("c"))
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]
    assert set(read_existing(tmp_path)) == {("base", "a"), ("base", "b"), ("base", "c")}


def test_reads_llamafactory_generated_predictions(tmp_path):
    path = tmp_path / "generated_predictions.jsonl"
    lines = [
        {"prompt": "p", "predict": "A dog runs<|im_end|>", "label": "A dog runs."},
        {"prompt": "p", "predict": "", "label": "A cat"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    records = read_predictions_for_scoring(path).records
    assert [(r["id"], r["prediction"], r["reference"]) for r in records] == [
        ("0", "A dog runs", "A dog runs."),
        ("1", "", "A cat"),
    ]


# ---------- resume ----------


def test_resume_only_continues_the_same_run(tmp_path):
    from dataclasses import replace

    from evaluation.run_identity import RUN_FILE, RunIdentity, check_same_run

    run = RunIdentity(
        settings={"base_model": "m"},
        generation={"num_beams": 1},
        models=("adapter",),
        adapter_sha256="aaa",
        test_set={"sha256": "t", "samples": 1},
    )
    check_same_run(tmp_path, run, write=True)
    assert RunIdentity.read(tmp_path) == replace(run, models=["adapter"])  # read back as JSON holds it
    (tmp_path / "predictions.jsonl").write_text('{"id": "1", "model": "adapter", "prediction": "x"}\n')
    check_same_run(tmp_path, RunIdentity.read(tmp_path), write=True)  # the same run resumes

    retrained = replace(run, adapter_sha256="bbb")
    with pytest.raises(SystemExit, match="changed: adapter_sha256"):
        check_same_run(tmp_path, retrained, write=True)

    (tmp_path / RUN_FILE).unlink()
    with pytest.raises(SystemExit, match="no run.json"):
        check_same_run(tmp_path, run, write=True)


def test_test_set_is_identified_by_content_not_path(tmp_path):
    from evaluation.run_identity import fingerprint_test_set

    records = [sharegpt_record("a/1.mp4", "one", "v1"), sharegpt_record("a/2.mp4", "two", "v2")]
    (tmp_path / "t.json").write_text(json.dumps(records))
    (tmp_path / "moved.json").write_text(json.dumps(records, indent=2))  # same records, other file and layout
    (tmp_path / "a").mkdir()
    same = fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path))
    assert fingerprint_test_set(load_test_set(tmp_path / "moved.json", tmp_path / "a")) == same  # any --video-dir
    records[1]["messages"][1]["content"] = "two, corrected"
    (tmp_path / "t.json").write_text(json.dumps(records))
    assert fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path))["sha256"] != same["sha256"]
    assert fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path, num_samples=1))["samples"] == 1


def test_prepare_resume_keeps_answers_and_drops_errors_for_a_retry(tmp_path):
    from evaluation.predictions import prepare_resume

    samples = [Sample(i, f"{i}.mp4", f"/clips/{i}.mp4", PROMPT, "ref") for i in ("a", "b", "c")]
    with PredictionWriter(tmp_path / "predictions.jsonl") as writer:
        writer.write(_prediction("a"))
        writer.write(_prediction("b", error="missing"))
        writer.write(_prediction("c", video_path="/elsewhere/c.mp4"))  # made with another --video-dir
    with PredictionWriter(tmp_path / "predictions.rank1.jsonl") as writer:  # a shard left by a killed torchrun
        writer.write(_prediction("b", error="missing"))
    resumed = prepare_resume(tmp_path, samples, ["base"])
    assert (resumed.kept, resumed.retried, resumed.redone) == (1, 1, 1)
    assert [r["id"] for r in read_jsonl(tmp_path / "predictions.jsonl")] == ["a"]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))
    assert set(read_existing(tmp_path)) == {("base", "a")}
