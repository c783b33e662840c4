"""Fast tests on in-memory data: a test record's ``references`` list (the assistant turn first) reaches the sample,
every predictions.jsonl line and the run identity; old files with one ``reference`` still read.

The scores over all references are checked against pycocoevalcap in tests/test_metrics.py."""

import hashlib
import json

import pytest

from data.eval_samples import InvalidTestSetError, Sample, load_test_set
from evaluation.predictions import Prediction, PredictionsFileError
from evaluation.run_identity import fingerprint_test_set
from tests.evaluation_fixtures import PROMPT, sharegpt_record

REFERENCES = ["A dog runs.", "A puppy is running on grass.", "dog running"]


def write_records(tmp_path, *records: dict):
    path = tmp_path / "test.json"
    path.write_text(json.dumps(list(records)))
    return path


def multi_reference_record(references: list[str], record_id: str = "v1") -> dict:
    return {**sharegpt_record("a.mp4", references[0], record_id), "references": references}


def test_references_list_reaches_the_sample_first_reference_is_the_assistant_turn(tmp_path):
    path = write_records(tmp_path, multi_reference_record(REFERENCES), sharegpt_record("b.mp4", "A cat.", "v2"))
    multi, single = load_test_set(path, tmp_path)
    assert multi.references == tuple(REFERENCES) and multi.reference == REFERENCES[0]
    assert single.references == ("A cat.",) and single.reference == "A cat."


@pytest.mark.parametrize(
    ("references", "message"),
    [
        (["Another caption.", "A dog runs."], "must equal the assistant turn"),
        ([], "non-empty list"),
        ("A dog runs.", "non-empty list"),
        (["A dog runs.", 3], "non-empty list"),
    ],
)
def test_references_that_disagree_with_the_assistant_turn_are_refused(tmp_path, references, message):
    record = {**sharegpt_record("a.mp4", "A dog runs.", "v1"), "references": references}
    with pytest.raises(InvalidTestSetError, match=f"record 0: .*{message}"):
        load_test_set(write_records(tmp_path, record), tmp_path)


def test_sample_built_in_code_has_its_reference_as_the_only_one():
    assert Sample("a", "a.mp4", "/c/a.mp4", PROMPT, "ref").references == ("ref",)
    with pytest.raises(ValueError, match="first of references"):
        Sample("a", "a.mp4", "/c/a.mp4", PROMPT, "ref", ("other", "ref"))


def test_every_prediction_line_keeps_all_references_and_old_lines_read_as_one():
    sample = Sample("a", "a.mp4", "/c/a.mp4", PROMPT, REFERENCES[0], tuple(REFERENCES))
    line = json.loads(json.dumps(Prediction.of_sample(sample, "adapter", "A dog.", None, None).to_json()))
    assert line["references"] == REFERENCES and line["reference"] == REFERENCES[0] and line["prediction"] == "A dog."
    assert Prediction.from_json(line, "f:1").references == tuple(REFERENCES)
    old = {"id": "a", "status": "ok", "reference": "r", "prediction": "x"}  # written before multi-reference sets
    assert Prediction.from_json(old, "f:2").references == ("r",)
    with pytest.raises(PredictionsFileError, match="f:3: the first of 'references' must equal 'reference'"):
        Prediction.from_json({**old, "references": ["other", "r"]}, "f:3")
    with pytest.raises(PredictionsFileError, match="f:4: field 'references' must be a non-empty list"):
        Prediction.from_json({**old, "references": "r"}, "f:4")


def test_run_identity_covers_every_reference_and_single_reference_sets_hash_as_before(tmp_path):
    path = write_records(tmp_path, multi_reference_record(REFERENCES))
    before = fingerprint_test_set(load_test_set(path, tmp_path))
    path = write_records(tmp_path, multi_reference_record([*REFERENCES[:2], "dog running fast"]))
    assert fingerprint_test_set(load_test_set(path, tmp_path))["sha256"] != before["sha256"]  # a later reference

    single = load_test_set(write_records(tmp_path, sharegpt_record("a.mp4", "A cat.", "v2")), tmp_path)
    content = json.dumps([["v2", "a.mp4", PROMPT, "A cat."]], ensure_ascii=False)  # the earlier content hash
    assert fingerprint_test_set(single)["sha256"] == hashlib.sha256(content.encode("utf-8")).hexdigest()
