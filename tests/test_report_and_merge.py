"""Fast tests on in-memory records: the report names the run, shows every model's answer beside all the references
with per-sample scores, metrics ×100, errors and flags, escaped; shards written by several ranks merge into one
predictions.jsonl in test-set order."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from data.eval_samples import Sample
from evaluation.frames import save_frame_strip, strip_layout
from evaluation.metrics import METRIC_KEYS, caption_metrics
from evaluation.predictions import PREDICTIONS_FILE, Prediction, PredictionWriter, merge_predictions
from evaluation.report import write_report
from evaluation.run_identity import RunIdentity, check_same_run, fingerprint_test_set
from evaluation.sample_scores import sample_scores


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
    assert "<tr><td>distinct_2</td><td>n/a</td><td>n/a</td><td></td></tr>" in page
    assert "<tr><td>bleu_4</td><td>12.34</td><td>24.68</td><td>+12.34</td></tr>" in page  # adapter − base
    assert "upupup  [repetitive]" in markdown and "ERROR: boom" in markdown and "(empty)" in markdown
    assert "reference of a" in markdown and "frames/a.jpg" in markdown
    assert "<script>circle" not in page and "\\u003cscript>circle" in page  # data, never markup
    assert page.count('"frames":"frames/') == 2  # one strip per sample, not per model


def test_report_shows_a_change_that_rounds_to_nothing_unsigned(tmp_path):
    summary = summary_of(["base", "adapter"])
    summary["results"]["adapter"]["metrics"]["cider"] = summary["results"]["base"]["metrics"]["cider"] - 1e-9
    _, html_path = write_report(tmp_path, [prediction("a", "base", "x").to_json()], summary)
    assert "<tr><td>cider</td><td>12.34</td><td>12.34</td><td>0.00</td></tr>" in html_path.read_text()


@pytest.mark.slow  # a JVM scoring pass (~10 s): make test runs it, make test-fast does not
def test_report_shows_every_reference_and_per_sample_scores(tmp_path):
    """Each answer is scored against all its sample's references; the CIDEr-D values average to the corpus one."""
    references = {
        "a": ("a red circle moves up", "a red ball rises", "red round shape going up"),
        "b": ("a blue square moves left", "blue box sliding left"),
        "c": ("a green triangle moves down",),
    }
    answers = {"a": "a red ball rises", "b": "a blue square moves right", "c": "something else entirely"}
    records = [
        prediction(i, "adapter", answers[i], reference=refs[0], references=refs).to_json()
        for i, refs in references.items()
    ]
    scores = sample_scores(records)
    corpus = caption_metrics({i: list(r) for i, r in references.items()}, {"adapter": answers})["adapter"]
    assert sum(scores[("adapter", i)]["cider"] for i in references) / 3 == pytest.approx(corpus["cider"])
    assert scores[("adapter", "a")]["bleu_4"] == pytest.approx(1.0)  # equals its second reference
    markdown_path, html_path = write_report(tmp_path, records, summary_of(["adapter"]))
    markdown, page = markdown_path.read_text(), html_path.read_text()
    assert all(f"{n}. {ref}" in markdown for refs in references.values() if len(refs) > 1 for n, ref in
               enumerate(refs, 1))  # fmt: skip
    assert "- **reference**: a green triangle moves down" in markdown
    cider_a = 100 * scores[("adapter", "a")]["cider"]
    assert f"- **adapter**: a red ball rises  (CIDEr-D {cider_a:.1f}, BLEU-4 100.0)" in markdown
    assert '"refs":["a red circle moves up","a red ball rises","red round shape going up"]' in page


def test_report_names_the_run_it_reports(tmp_path):
    """Models, adapter and its hash, video settings, the test set with its content hash and size, and the date."""
    records = [prediction("a", "adapter", "a red circle").to_json()]
    samples = [Sample("a", "a.mp4", "/clips/a.mp4", "<video>Describe.", "reference of a")]
    run = RunIdentity(
        {"base_model": "Qwen/Qwen2-VL-7B-Instruct"}, {}, ["adapter"], "f" * 64, fingerprint_test_set(samples)
    )
    check_same_run(tmp_path, run, write=True)
    summary = {
        **summary_of(["adapter"]),
        "settings": {"template": "qwen2_vl", "video_fps": 2.0, "video_maxlen": 8, "video_max_pixels": 50176,
                     "test_data": "data/webvid/webvid_test.json", "num_samples": 1, "num_beams": 1},
        "identity": {"base_model": "Qwen/Qwen2-VL-7B-Instruct",
                     "adapter": {"path": "saves/qwen2vl_7b_lora_sft", "sha256": "f" * 64}},
    }  # fmt: skip
    markdown_path, html_path = write_report(tmp_path, records, summary)
    markdown, page = markdown_path.read_text(), html_path.read_text()
    for label, value in [
        ("base model", "Qwen/Qwen2-VL-7B-Instruct"),
        ("adapter", "saves/qwen2vl_7b_lora_sft"),
        ("adapter sha256", "f" * 64),
        ("video", "video_fps 2.0, video_maxlen 8, video_max_pixels 50176"),
        ("test set", "data/webvid/webvid_test.json"),
        ("test set sha256", run.test_set["sha256"]),
        ("samples", "1"),
    ]:
        assert f"- **{label}**: {value}" in markdown and f"<dt>{label}</dt><dd>{value}</dd>" in page
    (tmp_path / "rescored").mkdir()
    scored_file = {"score_only": {"predictions": str(tmp_path / "predictions.jsonl")}}
    rescored = write_report(tmp_path / "rescored", records, {**summary, **scored_file})
    assert f"- **test set sha256**: {run.test_set['sha256']}" in rescored[0].read_text()  # --score-only: the run's
    assert re.search(r"<dt>report written</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d UTC</dd>", page)


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


def test_a_strip_records_how_many_frames_it_holds(tmp_path):
    """The page lays frames out one by one from this; strips without the count (or missing) say None."""
    frames = np.zeros((3, 20, 30, 3), dtype=np.uint8)
    assert strip_layout(save_frame_strip(frames, tmp_path / "frames" / "a.jpg")) == (3, 30, 20)
    Image.new("RGB", (90, 20)).save(tmp_path / "plain.jpg")
    assert strip_layout(tmp_path / "plain.jpg") is None and strip_layout(tmp_path / "missing.jpg") is None
