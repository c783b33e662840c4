"""Fast tests on in-memory records: the report shows every model's answer beside the reference, scores ×100, errors
and flags, escaped; shards written by several ranks merge into one predictions.jsonl in test-set order."""

import json

import pytest

from evaluation.metrics import METRIC_KEYS
from evaluation.predictions import PREDICTIONS_FILE, Prediction, PredictionWriter, merge_predictions
from evaluation.report import write_report


def prediction(sample_id: str, model: str, answer: str | None, **fields) -> Prediction:
    values = {
        "id": sample_id,
        "model": model,
        "video": f"{sample_id}.mp4",
        "video_path": f"/clips/{sample_id}.mp4",
        "prompt": "Describe.",
        "reference": f"reference of {sample_id}",
        "references": (f"reference of {sample_id}",),
        "prediction": answer,
        "status": "ok" if answer is not None else "error",
        "error": None if answer is not None else "boom",
        "raw": answer,
        "empty": answer == "",
        "repetitive": False,
        "frames": f"frames/{sample_id}.jpg",
    }
    return Prediction(**{**values, **fields})


def summary_of(models: list[str]) -> dict:
    results = {
        model: {"metrics": {key: 0.1234 * (i + 1) for key in METRIC_KEYS},
                "diagnostics": {"mean_words": 9.34, "distinct_1": 0.5, "distinct_2": None},
                "counts": {"samples": 2, "scored": 1, "empty": 0, "repetitive": 1, "errors": 1}}
        for i, model in enumerate(models)
    }  # fmt: skip
    return {"results": results, "metric_tool": "pycocoevalcap 1.2"}


def test_report_puts_each_models_answer_beside_the_reference(tmp_path):
    records = [
        prediction("a", "base", "upupup", repetitive=True).to_json(),
        prediction("a", "adapter", "A red <script>circle</script>").to_json(),
        prediction("b", "base", None).to_json(),
        prediction("b", "adapter", "").to_json(),
    ]
    markdown_path, html_path = write_report(tmp_path, records, summary_of(["base", "adapter"]))
    markdown, page = markdown_path.read_text(), html_path.read_text()
    assert "| metric | base | adapter |" in markdown and "| bleu_4 | 12.34 | 24.68 |" in markdown
    assert "| repetitive | 1 | 1 |" in markdown
    assert "| mean_words | 9.3 | 9.3 |" in markdown and "| distinct_1 | 50.00 | 50.00 |" in markdown  # diagnostics
    assert "<tr><td>distinct_2</td><td>n/a</td><td>n/a</td></tr>" in page
    assert "upupup  [repetitive]" in markdown and "ERROR: boom" in markdown and "(empty)" in markdown
    assert "reference of a" in markdown and "frames/a.jpg" in markdown
    assert "<script>" not in page and "&lt;script&gt;circle&lt;/script&gt;" in page
    assert page.count('<img src="frames/') == 2  # one strip per sample, not per model


def test_shards_merge_in_test_set_order_and_are_removed(tmp_path):
    with PredictionWriter(tmp_path / "predictions.rank1.jsonl") as writer:
        writer.write(prediction("b", "adapter", "second"))
    with PredictionWriter(tmp_path / "predictions.rank0.jsonl") as writer:
        writer.write(prediction("c", "adapter", "third"))
        writer.write(prediction("a", "adapter", "first"))
    records = merge_predictions(tmp_path, ["a", "b", "c"], ["adapter"])
    assert [record["prediction"] for record in records] == ["first", "second", "third"]
    lines = (tmp_path / PREDICTIONS_FILE).read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))


def test_merge_refuses_a_missing_answer(tmp_path):
    with PredictionWriter(tmp_path / PREDICTIONS_FILE) as writer:
        writer.write(prediction("a", "adapter", "first"))
    with pytest.raises(RuntimeError, match="no prediction for 1"):
        merge_predictions(tmp_path, ["a", "b"], ["adapter"])
