"""Fast tests on in-memory answers: diagnostics beside the metrics (length, distinct-1/2) pinned on hand-counted
cases, and the console table that shows every metric, diagnostic and count for base and adapter side by side."""

import json

import pytest

from evaluation.diagnostics import DIAGNOSTIC_KEYS, caption_diagnostics
from evaluation.metrics import METRIC_KEYS
from evaluation.report import COUNT_KEYS
from evaluation.scoring import write_metrics
from evaluation.summary_table import summary_table


def test_length_and_distinct_n_over_all_answers():
    # words: [a red ball rolls] [a red ball] [] -> 7 words over 3 answers (the empty one counts)
    diagnostics = caption_diagnostics(["A red ball rolls.", "a red ball", ""])
    assert diagnostics["mean_words"] == pytest.approx(7 / 3)
    assert diagnostics["distinct_1"] == pytest.approx(4 / 7)  # a, red, ball, rolls
    # bigrams: (a red)(red ball)(ball rolls) + (a red)(red ball): 3 unique of 5, none across answers
    assert diagnostics["distinct_2"] == pytest.approx(3 / 5)
    assert tuple(diagnostics) == DIAGNOSTIC_KEYS


def test_one_template_answer_has_low_distinct_n_and_nothing_measured_is_none():
    same = caption_diagnostics(["a dog runs"] * 4)
    assert same["distinct_1"] == pytest.approx(3 / 12) and same["distinct_2"] == pytest.approx(2 / 8)
    assert caption_diagnostics(["", ""]) == {"mean_words": 0.0, "distinct_1": None, "distinct_2": None}
    assert caption_diagnostics(["one", "two"])["distinct_2"] is None  # no answer has two words
    assert caption_diagnostics([]) == dict.fromkeys(DIAGNOSTIC_KEYS)


def results_of(models: list[str]) -> dict:
    return {
        model: {
            "metrics": {key: 0.1234 * (i + 1) for key in METRIC_KEYS},
            "diagnostics": {"mean_words": 9.34 + i, "distinct_1": 0.5, "distinct_2": None},
            "counts": {"samples": 12, "scored": 10, "empty": i, "repetitive": 3, "errors": 2},
        }
        for i, model in enumerate(models)
    }


def test_table_has_every_metric_diagnostic_and_count_for_both_models_aligned():
    lines = summary_table(results_of(["base", "adapter"])).splitlines()
    assert lines[0].split()[-2:] == ["base", "adapter"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == [*METRIC_KEYS, *DIAGNOSTIC_KEYS, *COUNT_KEYS]
    assert rows["bleu_4"] == ["12.34", "24.68"]  # scores ×100, like the report
    assert rows["mean_words"] == ["9.3", "10.3"] and rows["distinct_1"] == ["50.00", "50.00"]  # words as is
    assert rows["distinct_2"] == ["n/a", "n/a"] and rows["empty"] == ["0", "1"]
    assert len({len(line) for line in lines}) == 1  # right-aligned columns: every line ends at the same place


def test_metrics_json_keeps_its_keys_and_gains_each_models_diagnostics(tmp_path):
    results = results_of(["base", "adapter"])
    write_metrics(tmp_path, results, {"batch_size": 2}, {"base_model": "B"})
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"metrics", "counts", "primary", "results", "metric_tool", "settings", "identity"} <= set(metrics)
    assert metrics["primary"] == "adapter" and metrics["diagnostics"] == results["adapter"]["diagnostics"]
    for model in ("base", "adapter"):
        assert metrics["results"][model]["diagnostics"] == results[model]["diagnostics"]
