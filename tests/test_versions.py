"""Library versions travel with a run: run_inputs.json and metrics.json record them, and evaluation under other
versions than training says so in one line."""

import json
from importlib.metadata import version

from evaluation.scoring import write_metrics
from evaluation.settings import resolve_run
from plugins.run_inputs import RUN_INPUTS_FILE, read_run_inputs, write_run_inputs
from plugins.versions import PACKAGES, version_note, versions

SETTINGS = {"model_name_or_path": "Org/Model", "template": "qwen2_vl_exact", "video_maxlen": 8, "video_fps": 8.0}


def test_versions_name_every_library_that_decides_a_run():
    found = versions()
    assert set(found) == {"torch", "transformers", "llamafactory", "peft", "av", "deepspeed"} == set(PACKAGES)
    assert found["transformers"] == version("transformers") and found["llamafactory"] == version("llamafactory")


def test_run_inputs_record_the_versions(tmp_path):
    path = write_run_inputs(tmp_path, SETTINGS, source=["train.yaml"])
    assert json.loads(path.read_text())["versions"] == versions()
    assert read_run_inputs(tmp_path).versions == versions()


def test_metrics_record_the_versions(tmp_path):
    results = {"adapter": {"metrics": {}, "counts": {}, "diagnostics": {}}}
    summary = write_metrics(tmp_path, results, settings={}, identity={})
    assert summary["versions"] == versions() == json.loads((tmp_path / "metrics.json").read_text())["versions"]


def test_the_note_names_each_differing_library_only():
    trained = {**versions(), "transformers": "5.5.0"}
    note = version_note(trained)
    assert note == (
        f"evaluating under other library versions than training: transformers {version('transformers')} "
        "(trained with 5.5.0)"
    )
    assert version_note(versions()) is None
    assert version_note({}) is None  # a record written before versions were recorded


def test_evaluation_says_when_it_runs_under_other_versions(tmp_path, tiny_model_dir):
    write_run_inputs(tmp_path / "adapter", {**SETTINGS, "model_name_or_path": str(tiny_model_dir)}, ["train.yaml"])
    record_path = tmp_path / "adapter" / RUN_INPUTS_FILE
    record = json.loads(record_path.read_text())
    assert not [note for note in resolve_run(None, adapter_path=str(tmp_path / "adapter")).notes if "versions" in note]
    record["versions"]["peft"] = "0.0.1"
    record_path.write_text(json.dumps(record))
    notes = [note for note in resolve_run(None, adapter_path=str(tmp_path / "adapter")).notes if "versions" in note]
    assert notes == [
        f"evaluating under other library versions than training: peft {version('peft')} (trained with 0.0.1)"
    ]
