"""evaluation.compare: runs matched by test-set content, refused when it differs; paired differences end to end."""

import json
from pathlib import Path

import pytest

from evaluation.bootstrap import INTERVAL_KEYS
from evaluation.compare import CompareError, check_same_samples, compare_runs, main

REFERENCES = {
    "s1": ["a cat sits on a mat", "a grey cat on a mat"],
    "s2": ["a dog runs in the park"],
    "s3": ["a red ball rolls on grass", "a ball on the grass"],
    "s4": ["a man cooks pasta in a kitchen"],
    "s5": ["two people dance on a stage"],
}


def record(sample_id, prediction, model="adapter", references=None, video=None):
    refs = references or REFERENCES[sample_id]
    return {"id": sample_id, "model": model, "video": video or f"clips/{sample_id}.mp4", "reference": refs[0],
            "references": refs, "prediction": prediction, "status": "ok"}  # fmt: skip


def write_run(folder, records):
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_samples_shared_by_content_in_the_first_runs_order():
    first = [record(key, "a") for key in ("s1", "s2", "s3")]
    second = [record(key, "b") for key in ("s3", "s2", "s4")]
    assert check_same_samples(["a", "b"], [first, second]) == ["s2", "s3"]


def test_a_sample_with_other_references_is_refused_naming_it():
    first = [record("s1", "a"), record("s2", "a")]
    second = [record("s1", "b"), record("s2", "b", references=["a dog sleeps"])]
    with pytest.raises(CompareError, match=r"b was made on another test set than a: sample 's2' differs \(references"):
        check_same_samples(["a", "b"], [first, second])


def test_a_sample_with_another_clip_is_refused():
    with pytest.raises(CompareError, match="clip 'clips/s1.mp4' vs 'other/s1.mp4'"):
        check_same_samples(["a", "b"], [[record("s1", "a")], [record("s1", "b", video="other/s1.mp4")]])


def test_runs_without_a_common_sample_are_refused():
    with pytest.raises(CompareError, match="no sample id in common"):
        check_same_samples(["a", "b"], [[record("s1", "a")], [record("s2", "b")]])


def test_a_folder_without_predictions_is_one_clear_error(tmp_path, capsys):
    write_run(tmp_path / "a", [record("s1", "a")])
    (tmp_path / "b").mkdir()
    with pytest.raises(SystemExit, match=r"error: .*b has no predictions.jsonl"):
        main([str(tmp_path / "a"), str(tmp_path / "b")])


@pytest.mark.slow
def test_compare_scores_every_run_on_the_shared_samples_with_paired_differences(tmp_path):
    good = {key: refs[0] for key, refs in REFERENCES.items()}
    poor = {"s1": "a cat", "s2": "an animal", "s3": "", "s4": "a man", "s5": "people"}
    run_a = write_run(tmp_path / "run_a", [record(k, poor[k], "base") for k in REFERENCES]
                      + [record(k, good[k]) for k in REFERENCES])  # fmt: skip
    run_b = write_run(tmp_path / "run_b", [record(k, good[k]) for k in list(REFERENCES)[:4]])  # a subset
    output = tmp_path / "comparison.json"
    comparison = main([str(run_a), str(run_b), "--bootstrap", "200", "--output", str(output)])
    assert json.loads(output.read_text()) == json.loads(json.dumps(comparison))
    assert comparison["samples"] == 4
    results = comparison["results"]
    assert list(results) == ["run_a:base", "run_a:adapter", "run_b"]
    assert results["run_b"]["counts"]["scored"] == 4
    for key in INTERVAL_KEYS:  # run_b answered as run_a's adapter did: same answers, same resamples
        assert results["run_b"]["metrics"][key] == results["run_a:adapter"]["metrics"][key]
        assert results["run_b"]["intervals"][key] == results["run_a:adapter"]["intervals"][key]
    paired = results["run_b"]["paired"]
    assert paired["against"] == "run_a:base"
    # above zero except on resamples that draw one sample 4 times (~1.6 %): every n-gram then has idf 0, CIDEr-D 0
    assert paired["metrics"]["cider"]["difference"] > 0 and paired["metrics"]["cider"]["above_zero"] > 0.95
    assert compare_runs([run_a, run_b], resamples=0)["results"]["run_b"]["intervals"]["cider"] is None


def test_runs_with_the_same_folder_name_are_labelled_by_the_shortest_path_that_tells_them_apart():
    from evaluation.compare import run_labels

    assert run_labels([Path("/tmp/outA/eval"), Path("/tmp/outB/eval")]) == ["outA/eval", "outB/eval"]
    assert run_labels([Path("runs/a"), Path("runs/b")]) == ["a", "b"]
    assert run_labels([Path("x/a/eval"), Path("y/a/eval")]) == ["x/a/eval", "y/a/eval"]
    assert run_labels([Path("eval"), Path("../eval")]) == ["eval", "../eval"]  # nothing shorter tells them apart
