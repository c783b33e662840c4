"""Intervals and paired differences end to end: --score-only writes them to metrics.json and the console table.

One scoring call (PTB tokenizer and METEOR run Java) on a base + adapter predictions file where the adapter
repeats the reference and the base answers badly; a second where both models answered the same. The interval
arithmetic itself is checked against pycocoevalcap in tests/test_bootstrap.py (fast, no Java).
"""

import json

import pytest

from evaluation.bootstrap import INTERVAL_KEYS
from evaluation.metrics import METRIC_KEYS
from evaluation.score_only import score_only
from evaluation.summary_table import format_paired, summary_table

pytestmark = pytest.mark.slow  # three scoring runs, each starting METEOR's JVM

REFERENCES = {
    f"s{i}": [caption, f"a clip showing {caption}"]
    for i, caption in enumerate(
        [
            "a cat sits on a mat",
            "a dog runs in the park",
            "a red ball rolls on grass",
            "a man cooks pasta in a kitchen",
            "two people dance on a stage",
            "a car drives down a dark road",
            "a woman plays the piano",
            "children swim in a pool",
        ]
    )
}
POOR = ["a cat", "an animal", "", "a man", "people", "a car a car", "music", "water"]


def write_predictions(path, answers_by_model):
    lines = [
        {"id": key, "model": model, "reference": refs[0], "references": refs, "prediction": answers[i],
         "status": "ok"}
        for model, answers in answers_by_model.items()
        for i, (key, refs) in enumerate(REFERENCES.items())
    ]  # fmt: skip
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compared")
    good = [refs[0] for refs in REFERENCES.values()]
    predictions = write_predictions(root / "run" / "predictions.jsonl", {"base": POOR, "adapter": good})
    summary = score_only(predictions, root / "scored", resamples=300)
    return summary, json.loads((root / "scored" / "metrics.json").read_text()), root / "scored"


def test_metrics_json_has_an_interval_per_metric_holding_the_score(compared):
    _, metrics, _ = compared
    for model in ("base", "adapter"):
        result = metrics["results"][model]
        assert set(result["intervals"]) == set(METRIC_KEYS) == set(INTERVAL_KEYS)
        for key in INTERVAL_KEYS:
            low, high = result["intervals"][key]
            assert low <= result["metrics"][key] + 1e-12 and result["metrics"][key] <= high + 1e-12, (model, key)
    assert metrics["intervals"] == metrics["results"]["adapter"]["intervals"]
    assert metrics["bootstrap"]["resamples"] == 300
    assert "no_interval" not in metrics["bootstrap"]


def test_paired_difference_adapter_minus_base(compared):
    _, metrics, _ = compared
    paired = metrics["paired"]
    assert paired["against"] == "base"
    results = metrics["results"]
    for key in INTERVAL_KEYS:
        entry = paired["metrics"][key]
        expected = results["adapter"]["metrics"][key] - results["base"]["metrics"][key]
        assert entry["difference"] == pytest.approx(expected, abs=1e-12), key
        assert entry["interval"][0] <= entry["interval"][1]
    for key in ("cider", "meteor"):  # the adapter repeats a reference on every sample
        assert paired["metrics"][key]["above_zero"] == 1.0, key
        assert paired["metrics"][key]["interval"][0] > 0, key


def test_console_table_shows_intervals_and_the_paired_column(compared):
    summary, _, _ = compared
    table = summary_table(summary["results"])
    header, *lines = table.splitlines()
    assert "adapter − base" in header
    adapter = summary["results"]["adapter"]
    for key in ("cider", "meteor"):
        line = next(line for line in lines if line.startswith(key))
        low, high = adapter["intervals"][key]
        assert f"{100 * adapter['metrics'][key]:.2f} [{100 * low:.2f}, {100 * high:.2f}]" in line
        assert ">0 in 100.0%" in line


def test_same_answers_differ_by_exactly_zero_and_bootstrap_zero_is_off(tmp_path):
    answers = [refs[1] for refs in REFERENCES.values()]
    predictions = write_predictions(tmp_path / "run" / "predictions.jsonl", {"base": answers, "adapter": answers})
    metrics = score_only(predictions, tmp_path / "scored", resamples=200)
    for key in INTERVAL_KEYS:
        assert metrics["paired"]["metrics"][key] == {"difference": 0.0, "interval": [0.0, 0.0], "above_zero": 0.0}
    off = score_only(predictions, tmp_path / "off", resamples=0)
    assert off["paired"] is None and off["bootstrap"]["resamples"] == 0
    assert all(value is None for value in off["intervals"].values())
    assert off["metrics"] == metrics["metrics"]


def test_reports_show_the_intervals_and_the_paired_column(compared):
    summary, _, scored = compared
    adapter = summary["results"]["adapter"]
    page = (scored / "report.html").read_text()
    markdown = (scored / "report.md").read_text()
    for key in ("bleu_4", "meteor"):
        low, high = adapter["intervals"][key]
        cell = f"{100 * adapter['metrics'][key]:.2f} [{100 * low:.2f}, {100 * high:.2f}]"
        assert f"<td>{cell}</td>" in page and f"| {cell} |" in markdown, key
    meteor = summary["results"]["adapter"]["paired"]["metrics"]["meteor"]
    assert format_paired("meteor", meteor) in page and format_paired("meteor", meteor) in markdown
    assert "300 resamples" in page and "adapter − base" in page and ">0 in 100.0%" in page
    assert "adapter − base" in markdown and "300 resamples" in markdown
