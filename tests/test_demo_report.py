"""The demo's attribute table, read from the predictions.jsonl files evaluate_model.py writes."""

import json

import pytest

from demo_report import attribute_table, attributes_markdown, verdict

REFERENCE = "A red circle moves left on a blue background"


def _predictions(folder, rows):
    folder.mkdir()
    lines = [
        json.dumps({"model": model, "prediction": prediction, "reference": REFERENCE}) for model, prediction in rows
    ]
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_each_run_is_scored_from_its_own_model_rows(tmp_path):
    evaluation = _predictions(tmp_path / "eval", [
        ("base", "darC darC"), ("adapter", REFERENCE),
        ("base", "upupup"), ("adapter", "A red square moves right on a blue background")])  # fmt: skip
    # the reversed run: adapter rows only; an errored sample has prediction None
    reversed_run = _predictions(tmp_path / "rev", [
        ("adapter", "A red circle moves right on a blue background"), ("adapter", None)])  # fmt: skip

    table = attribute_table({"eval": evaluation, "reversed": reversed_run})

    assert table["clips"] == 2
    assert table["base"] == {"colour": 0.0, "shape": 0.0, "direction": 0.0, "background": 0.0}
    assert table["finetuned"] == {"colour": 1.0, "shape": 0.5, "direction": 0.5, "background": 1.0}
    assert table["finetuned_reversed"] == {"colour": 0.5, "shape": 0.5, "direction": 0.0, "background": 0.5}
    assert table["chance"]["shape"] == pytest.approx(1 / 3)
    assert "| direction | 25 | 0 | 50 | 0 |" in attributes_markdown(table)


def test_runs_over_different_clips_are_refused(tmp_path):
    evaluation = _predictions(tmp_path / "eval", [("base", "x"), ("adapter", REFERENCE)])
    reversed_run = _predictions(tmp_path / "rev", [("adapter", REFERENCE), ("adapter", REFERENCE)])
    with pytest.raises(ValueError, match="different numbers of clips"):
        attribute_table({"eval": evaluation, "reversed": reversed_run})


def test_verdict_names_what_is_read_and_what_the_control_shows():
    chance = {"colour": 0.25, "shape": 1 / 3, "direction": 0.25, "background": 0.25}
    read_all = {"colour": 1.0, "shape": 0.7, "direction": 0.9, "background": 1.0}
    table = {"chance": chance, "finetuned": read_all, "finetuned_reversed": {**read_all, "direction": 0.1}}
    assert verdict(table) == (
        "At least twice chance: colour, shape, direction, background; below: none. "
        "Reversing the frames changes direction accuracy by -80 points."
    )
    table["finetuned"] = {**read_all, "shape": 0.3, "direction": 0.3}
    assert verdict(table).startswith("At least twice chance: colour, background; below: shape, direction.")
    assert "cannot show that frame order is used" in verdict(table)


def test_demo_sections_show_the_attribute_table_with_the_reversed_control_and_the_loss():
    from demo_report import demo_sections_html

    chance = {"colour": 0.25, "shape": 1 / 3, "direction": 0.25, "background": 0.25}
    table = {"chance": chance, "clips": 12, "base": dict.fromkeys(chance, 0.0),
             "finetuned": {**chance, "direction": 0.9}, "finetuned_reversed": {**chance, "direction": 0.1}}  # fmt: skip
    page = demo_sections_html(table, "loss.png")
    assert "<th>fine-tuned, frames reversed</th>" in page
    assert "<tr><td>direction</td><td>25</td><td>0</td><td>90</td><td>10</td></tr>" in page
    assert "Reversing the frames changes direction accuracy by -80 points." in page
    assert "<img class='loss' src='loss.png'" in page and "12 clips" in page
